// `lodestone run` with 2 worker processes: a backend answering 500s is ejected by an
// http frontend's outlier detection inside a worker, and `lodestone watch events
// --type backend-ejected` (the admin API's event filter) shows it.
import assert from "node:assert/strict";
import { createServer, request, type Server } from "node:http";
import { after, test } from "node:test";
import { LodestoneCommand } from "../../helpers/lodestone-cli.ts";
import { parsePrometheus, sampleValue } from "../../helpers/prom-parse.ts";
import { waitFor } from "../../helpers/wait.ts";
import { Cleanup, startLodestoneOnFreePorts } from "./helpers.ts";

const cleanup = new Cleanup();
after(() => cleanup.run());

async function httpBackend(name: string, status: number): Promise<number> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(status, { "content-type": "text/plain" });
    res.end(name);
  });
  server.on("clientError", (_err, sock) => sock.destroy());
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  cleanup.add(`backend ${name}`, () => {
    server.closeAllConnections();
    return new Promise((r) => server.close(() => r(undefined)));
  });
  return (server.address() as { port: number }).port;
}

function get(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/", agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? null));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(null));
    req.end();
  });
}

test("a worker's outlier ejection is shown by watch events --type backend-ejected", async () => {
  const bad = await httpBackend("bad", 500);
  const good = await httpBackend("good", 200);
  const {
    lb,
    ports: [port],
  } = await startLodestoneOnFreePorts(
    cleanup,
    ([p]) => `backends:
  bad: { address: 127.0.0.1, port: ${bad} }
  good: { address: 127.0.0.1, port: ${good} }
services:
  web: { algorithm: round-robin, pools: [ { name: main, backends: { bad: {}, good: {} } } ] }
frontends:
  www:
    listen: 127.0.0.1:${p}
    protocol: http
    service: web
    http:
      retries: 0
      outlier-detection: { consecutive-errors: 2, base-ejection-time: 30s, max-ejected-percent: 50 }
runtime: { workers: 2, drain-timeout: 1s, log-level: info }
`,
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
