// `lodestone run` with 2 worker processes: a backend answering 500s is ejected by an
// http frontend's outlier detection inside a worker, and `lodestone watch events
// --type backend-ejected` (the admin API's event filter) shows it.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { LodestoneCommand } from "../../helpers/lodestone-cli.ts";
import { getStatus as get, outlierConfig, statusBackend } from "../../helpers/outlier.ts";
import { parsePrometheus, sampleValue } from "../../helpers/prom-parse.ts";
import { waitFor } from "../../helpers/wait.ts";
import { Cleanup, startLodestoneOnFreePorts } from "./helpers.ts";

const cleanup = new Cleanup();
after(() => cleanup.run());

async function httpBackend(name: string, status: number): Promise<number> {
  const backend = await statusBackend(name, status);
  cleanup.add(`backend ${name}`, () => backend.close());
  return backend.port;
}

test("a worker's outlier ejection is shown by watch events --type backend-ejected", async () => {
  const bad = await httpBackend("bad", 500);
  const good = await httpBackend("good", 200);
  const {
    lb,
    ports: [port],
  } = await startLodestoneOnFreePorts(cleanup, ([p]) =>
    outlierConfig({ bad, good, port: p, ejectionTime: "30s", workers: 2, logLevel: "info" }),
  );
  const watch = new LodestoneCommand([
    "watch",
    "events",
    "--json",
    "--type",
    "backend-ejected",
    "--config",
    lb.file,
  ]);
  cleanup.add("watch", () => watch.kill());
  const events = () =>
    watch.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; frontend: string; backend: string; ejected: boolean });
  // Requests (bounded) until the watcher has printed an ejection.
  for (let i = 0; i < 200 && events().length === 0 && watch.running; i++) await get(port);
  const first = await waitFor(() => events()[0], 5000, "an event line from watch", 20);
  assert.deepEqual(
    [first.type, first.frontend, first.backend, first.ejected],
    ["backend-ejected", "www", "bad", true],
  );
  // The filter let nothing else through (there were transitions and weight changes at start).
  assert.ok(events().every((e) => e.type === "backend-ejected"));
  // The daemon logged it too.
  const logged = await lb.waitForMsg("backend ejected", 5000);
  assert.equal(logged.backend, "bad");
  // And /metrics counts it per frontend and backend.
  const admin = /^admin: \{ listen: (\S+) \}$/m.exec(lb.yaml)?.[1];
  const text = await (await fetch(`http://${admin}/metrics`)).text();
  const ejections = sampleValue(parsePrometheus(text), "lodestone_backend_outlier_ejections_total", {
    frontend: "www",
    backend: "bad",
  });
  assert.ok((ejections ?? 0) >= 1, `ejections counted: ${ejections}`);
});
