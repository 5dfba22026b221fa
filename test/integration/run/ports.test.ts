// The run tests' guard against the free-port race: a port taken between the pick and
// lodestone's bind makes the run exit on EADDRINUSE, and the helper starts it again.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, test } from "node:test";
import {
  backendPorts,
  Cleanup,
  startBackends,
  startLodestoneOnFreePorts,
  whoAnswers,
  yamlConfig,
} from "./helpers.ts";

const cleanup = new Cleanup();
after(() => cleanup.run());

test("a run whose frontend port was taken before the bind starts again on a new port", async () => {
  const [a] = await startBackends(cleanup, "a");
  // Someone else holds this port: the first start must fail on it.
  const busy = createServer();
  busy.on("error", () => {});
  await new Promise<void>((r) => busy.listen(0, "127.0.0.1", () => r()));
  cleanup.add("busy", () => new Promise((r) => busy.close(() => r(undefined))));
  const taken = (busy.address() as { port: number }).port;
  const tried: number[] = [];
  const { lb, ports } = await startLodestoneOnFreePorts(cleanup, ([p]) => {
    const port = tried.length === 0 ? taken : p;
    tried.push(port);
    return yamlConfig({ frontendPort: port, ports: backendPorts([a]), pools: [["main", { a: 100 }]] });
  });
  assert.deepEqual(tried.length, 2);
  assert.equal(tried[0], taken);
  assert.equal(tried[1], ports[0]);
  assert.equal(await whoAnswers(ports[0]), "a");
  assert.equal(lb.child.exitCode, null);
});

test("a run that fails for another reason is not started again", async () => {
  let calls = 0;
  await assert.rejects(
    startLodestoneOnFreePorts(cleanup, ([p]) => {
      calls++;
      return `frontends:\n  f: { listen: 127.0.0.1:${p}, protocol: tcp, service: missing }\n`;
    }),
  );
  assert.equal(calls, 1);
});
