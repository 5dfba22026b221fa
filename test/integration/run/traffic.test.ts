// `lodestone run` as a user runs it: a real process, real backends, real connections.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import {
  backendPorts,
  Cleanup,
  startBackends,
  startLodestoneOnFreePort,
  tally,
  yamlConfig,
} from "./helpers.ts";

const cleanup = new Cleanup();
after(() => cleanup.run());

const backends = (...names: string[]) => startBackends(cleanup, ...names);
/** `lodestone run` on a fresh frontend port (a new one if it was taken before the bind). */
const lodestoneOn = (
  build: (port: number) => string,
  until?: Parameters<typeof startLodestoneOnFreePort>[2],
) => startLodestoneOnFreePort(cleanup, build, until);

describe("lodestone run: traffic", () => {
  test("new connections spread by configured weight; weight 0 gets none", async () => {
    const list = await backends("w100", "w50", "w0");
    const { lb, port } = await lodestoneOn((p) =>
      yamlConfig({
        frontendPort: p,
        algorithm: "weighted-round-robin",
        ports: backendPorts(list),
        pools: [["main", { w100: 100, w50: 50, w0: 0 }]],
      }),
    );
    await lb.ready();
    const counts = await tally(port, 150);
    assert.equal(counts.w0 ?? 0, 0);
    assert.equal(counts.none ?? 0, 0);
    assert.ok(Math.abs(counts.w100 - 100) <= 5, JSON.stringify(counts));
    assert.ok(Math.abs(counts.w50 - 50) <= 5, JSON.stringify(counts));
  });

  test("a killed backend is taken out after fall x interval and comes back after rise", async () => {
    const [a, b] = await backends("a", "b");
    const interval = 100;
    const { lb, port } = await lodestoneOn((p) =>
      yamlConfig({
        frontendPort: p,
        ports: backendPorts([a, b]),
        pools: [["main", { a: 100, b: 100 }]],
        check: { interval, rise: 2, fall: 2 },
      }),
    );
    await lb.ready();
    const before = await tally(port, 20);
    assert.deepEqual(before, { a: 10, b: 10 });

    let mark = lb.mark();
    const killedAt = Date.now();
    await b.kill();
    const down = await lb.waitFor(
      (l) => l.msg === "backend transition" && l.backend === "b" && l.to === "down",
      5000,
      mark,
    );
    const downAfter = Date.parse(String(down.time)) - killedAt;
    // fall=2 failures at interval 100ms (probe timeout 100ms): well under a second.
    assert.ok(downAfter >= interval && downAfter < 1500, `down after ${downAfter}ms`);
    await lb.waitFor((l) => l.msg === "weight change" && l.backend === "b" && l.to === 0, 5000, mark);
    const during = await tally(port, 20);
    assert.deepEqual(during, { a: 20 });

    mark = lb.mark();
    await b.start(); // same port again
    await lb.waitFor((l) => l.msg === "backend transition" && l.backend === "b" && l.to === "up", 5000, mark);
    await lb.waitFor((l) => l.msg === "weight change" && l.backend === "b" && l.to === 100, 5000, mark);
    const back = await tally(port, 20);
    assert.deepEqual(back, { a: 10, b: 10 });
  });

  test("primary pool fails over to the fallback pool and back", async () => {
    const [p1, p2, spare] = await backends("p1", "p2", "spare");
    const { lb, port } = await lodestoneOn((p) =>
      yamlConfig({
        frontendPort: p,
        ports: backendPorts([p1, p2, spare]),
        pools: [
          ["primary", { p1: 100, p2: 100 }],
          ["fallback", { spare: 100 }],
        ],
        check: { interval: 100, rise: 2, fall: 2 },
      }),
    );
    await lb.ready();
    const first = await tally(port, 10);
    assert.deepEqual(first, { p1: 5, p2: 5 });

    let mark = lb.mark();
    await p1.kill();
    await lb.waitFor((l) => l.msg === "weight change" && l.backend === "p1" && l.to === 0, 5000, mark);
    assert.deepEqual(await tally(port, 6), { p2: 6 }, "one primary left: still the primary pool");

    mark = lb.mark();
    await p2.kill();
    const failover = await lb.waitFor(
      (l) => l.msg === "frontend active pool" && l.toPoolName === "fallback",
      5000,
      mark,
    );
    assert.equal(failover.fromPoolName, "primary");
    assert.deepEqual(await tally(port, 6), { spare: 6 });

    mark = lb.mark();
    await p1.start();
    await lb.waitFor((l) => l.msg === "frontend active pool" && l.toPoolName === "primary", 5000, mark);
    assert.deepEqual(
      await tally(port, 6),
      { p1: 6 },
      "the fallback pool gets nothing once the primary is back",
    );
  });
});

describe("lodestone run: worker processes", () => {
  test("runtime.workers 2 serves one port from two processes, follows weights, and stops with 0", async () => {
    const list = await backends("x", "y", "z");
    const { lb, port } = await lodestoneOn(
      (p) =>
        yamlConfig({
          frontendPort: p,
          ports: backendPorts(list),
          pools: [["main", { x: 100, y: 100, z: 0 }]],
          runtime: "runtime: { workers: 2, drain-timeout: 1s }",
        }),
      // Worker processes take longer to start on a loaded machine.
      (p) => p.waitForMsg("admin API listening", 15_000),
    );
    await lb.ready(15_000);
    const starting = await lb.waitForMsg("starting");
    assert.equal(starting.workers, 2);
    const counts = await tally(port, 40);
    assert.equal(counts.none ?? 0, 0, JSON.stringify(counts));
    assert.equal(counts.z ?? 0, 0);
    assert.ok(counts.x > 0 && counts.y > 0, JSON.stringify(counts));
    lb.signal("SIGTERM");
    assert.equal(await lb.exited, 0);
  });
});

describe("lodestone run: agent check", () => {
  test("an agent saying 'drain' takes new connections away; 'ready 50%' brings it back at half share", async () => {
    const [a, b] = await backends("a", "b");
    let reply = "up";
    const { createServer } = await import("node:net");
    const agent = createServer((s) => {
      s.on("error", () => {});
      s.end(`${reply}\n`);
    });
    await new Promise<void>((r) => agent.listen(0, "127.0.0.1", () => r()));
    cleanup.add("agent server", () => new Promise((r) => agent.close(() => r(undefined))));
    const agentPort = (agent.address() as { port: number }).port;
    const yaml = (port: number) => `healthchecks:
  agt: { type: agent, port: ${agentPort}, interval: 100ms, fast-interval: 100ms, down-interval: 100ms, timeout: 100ms, rise: 1, fall: 1, jitter: 0 }
backends:
  a: { address: 127.0.0.1, port: ${a.port}, healthcheck: agt }
  b: { address: 127.0.0.1, port: ${b.port} }
services:
  svc: { algorithm: weighted-round-robin, pools: [ { name: main, backends: { a: {}, b: {} } } ] }
frontends:
  fe: { listen: 127.0.0.1:${port}, protocol: tcp, service: svc }
`;
    const { lb, port } = await lodestoneOn(yaml);
    await lb.ready();
    assert.deepEqual(await tally(port, 10), { a: 5, b: 5 });

    let mark = lb.mark();
    reply = "drain";
    await lb.waitFor((l) => l.msg === "weight change" && l.backend === "a" && l.to === 0, 5000, mark);
    assert.deepEqual(await tally(port, 6), { b: 6 });

    mark = lb.mark();
    reply = "ready 50%"; // HAProxy: only "ready" ends a drain
    await lb.waitFor((l) => l.msg === "weight change" && l.backend === "a" && l.to === 50, 5000, mark);
    const counts = await tally(port, 30);
    assert.deepEqual(counts, { a: 10, b: 20 });
  });
});
