// Reload, graceful stop and warmup of a real `lodestone run` process.
import assert from "node:assert/strict";
import { connect, createServer, type Socket } from "node:net";
import { after, describe, test } from "node:test";
import type { LodestoneProcess } from "../../helpers/lodestone-cli.ts";
import {
  backendPorts,
  Cleanup,
  startBackends,
  startLodestoneOnFreePort,
  tally,
  whoAnswers,
  yamlConfig,
} from "./helpers.ts";

const cleanup = new Cleanup();
after(() => cleanup.run());

const backends = (...names: string[]) => startBackends(cleanup, ...names);
/**
 * `lodestone run` on a config built for a fresh frontend port: when the port is taken
 * between the pick and the bind, it starts again on a new one (see helpers.ts).
 */
const lodestoneOn = (
  build: (port: number) => string,
  until?: (p: LodestoneProcess, port: number) => Promise<unknown>,
) => startLodestoneOnFreePort(cleanup, build, until);

/** `lodestone run` in front of one backend "a" (weight 100), with the given runtime line. */
async function lodestoneOnA(
  runtime: string,
  until?: (p: LodestoneProcess, port: number) => Promise<unknown>,
) {
  const [a] = await backends("a");
  return lodestoneOn(
    (p) => yamlConfig({ frontendPort: p, ports: backendPorts([a]), pools: [["main", { a: 100 }]], runtime }),
    until,
  );
}

/** A client connection through the balancer that has read its greeting. */
function openClient(port: number): Promise<{ sock: Socket; greeting: string }> {
  return new Promise((resolve, reject) => {
    const sock = connect({ port, host: "127.0.0.1" });
    sock.setEncoding("utf8");
    sock.once("error", reject);
    sock.once("data", (d: string) => resolve({ sock, greeting: d.trim() }));
  });
}

function echo(sock: Socket, text: string, timeoutMs = 2000): Promise<string | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(null), timeoutMs);
    const onData = (d: string) => done(d);
    const onEnd = () => done(null);
    const done = (v: string | null) => {
      clearTimeout(timer);
      sock.off("data", onData);
      sock.off("close", onEnd);
      resolve(v);
    };
    sock.on("data", onData);
    sock.on("close", onEnd);
    sock.write(text);
  });
}

describe("lodestone run: reload (SIGHUP)", () => {
  test("a valid new file applies, keeping the health state of backends that stay", async () => {
    const [a, b, c] = await backends("a", "b", "c");
    const specFor = (frontendPort: number) => ({
      frontendPort,
      ports: backendPorts([a, b]),
      pools: [["main", { a: 100, b: 100 }]] as [string, Record<string, number>][],
      check: { interval: 100, rise: 2, fall: 2 },
    });
    const { lb, port } = await lodestoneOn((p) => yamlConfig(specFor(p)));
    const spec = specFor(port);
    await lb.ready();
    assert.deepEqual(await tally(port, 4), { a: 2, b: 2 });
    const linesBefore = lb.mark();

    lb.rewrite(
      yamlConfig({ ...spec, ports: backendPorts([a, b, c]), pools: [["main", { a: 100, b: 100, c: 100 }]] }),
    );
    lb.signal("SIGHUP");
    const reload = await lb.waitForMsg(/^reload: /, 5000, linesBefore);
    assert.match(reload.msg, /backends \+c/);
    await lb.waitFor(
      (l) => l.msg === "weight change" && l.backend === "c" && l.to === 100,
      5000,
      linesBefore,
    );
    const after = lb.lines.slice(linesBefore);
    const restarted = after.filter(
      (l) => l.msg === "backend transition" && (l.backend === "a" || l.backend === "b"),
    );
    assert.deepEqual(restarted, [], "a and b keep their state across the reload");
    assert.deepEqual(await tally(port, 6), { a: 2, b: 2, c: 2 });
  });

  test("an invalid file is refused with file:line:column errors and the old config keeps serving", async () => {
    const [a] = await backends("a");
    let good = "";
    const { lb, port } = await lodestoneOn((p) => {
      good = yamlConfig({ frontendPort: p, ports: backendPorts([a]), pools: [["main", { a: 100 }]] });
      return good;
    });
    await lb.ready();
    lb.rewrite(good.replace("weight: 100", "weight: 500").replace("service: svc", "service: nope"));
    lb.signal("SIGHUP");
    const refused = await lb.waitForMsg(/reload refused/);
    assert.equal(refused.level, "error");
    const errors = lb.lines.filter(
      (l) => l.level === "error" && typeof l.msg === "string" && l.msg.startsWith(lb.file),
    );
    assert.ok(errors.length >= 2, JSON.stringify(errors));
    for (const e of errors) assert.match(e.msg, /^.+lodestone\.yaml:\d+:\d+: /);
    assert.ok(errors.some((e) => /weight/.test(e.msg)));
    assert.deepEqual(await tally(port, 3), { a: 3 });
    assert.equal(lb.child.exitCode, null, "still running");
  });
});

describe("lodestone run: graceful stop (SIGTERM)", () => {
  test("stops accepting, lets an open connection finish, then exits 0", async () => {
    const { lb, port } = await lodestoneOnA("runtime: { drain-timeout: 5s }");
    await lb.ready();
    const { sock, greeting } = await openClient(port);
    sock.on("error", () => {});
    assert.equal(greeting, "a");
    const t0 = Date.now();
    lb.signal("SIGTERM");
    await lb.waitForMsg(/stopping/);
    // New connections are refused while the open one keeps working.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await whoAnswers(port), null);
    assert.equal(await echo(sock, "still here"), "still here");
    assert.equal(lb.child.exitCode, null, "waits for the open connection");
    sock.end();
    const code = await lb.exited;
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 < 4000, "exits once the connection is done, before the drain timeout");
  });

  test("cuts connections still open at the drain timeout and exits 0", async () => {
    const { lb, port } = await lodestoneOnA("runtime: { drain-timeout: 300ms }");
    await lb.ready();
    const { sock } = await openClient(port);
    sock.on("error", () => {});
    const closed = new Promise<number>((resolve) => sock.on("close", () => resolve(Date.now())));
    const t0 = Date.now();
    lb.signal("SIGTERM");
    assert.equal(await lb.exited, 0);
    const closedAt = await closed;
    assert.ok(closedAt - t0 >= 250, `closed after ${closedAt - t0}ms`);
  });
});

describe("lodestone run: warmup", () => {
  test("SIGTERM during warmup ends the start cleanly with exit 0", async () => {
    const { lb } = await lodestoneOnA("runtime: { warmup: { min-delay: 10s, max-wait: 10s } }", (p) =>
      p.waitForMsg("starting"),
    );
    await lb.waitForMsg("starting");
    const t0 = Date.now();
    lb.signal("SIGTERM");
    assert.equal(await lb.exited, 0);
    assert.ok(Date.now() - t0 < 3000, "does not wait for the end of warmup");
    assert.equal(
      lb.lines.some((l) => l.msg === "applied desired state"),
      false,
    );
  });

  test("the first programmed state is not 'all down' while probes have not answered", async () => {
    const [a, b] = await backends("a", "b");
    const { lb } = await lodestoneOn((p) =>
      yamlConfig({
        frontendPort: p,
        ports: backendPorts([a, b]),
        pools: [["main", { a: 100, b: 100 }]],
        check: { interval: 400, rise: 3, fall: 3 },
        runtime: "runtime: { warmup: { min-delay: 0s, max-wait: 5s } }",
      }),
    );
    await lb.ready();
    const applied = lb.lines.filter((l) => l.msg === "applied desired state");
    assert.equal(applied[0].version, 1);
    const first = lb.lines.find(
      (l) => l.msg === "frontend active pool" || l.msg === "frontend has no backend to serve",
    );
    assert.equal(first?.msg, "frontend active pool");
    assert.equal(first?.toPool, 0);
    const v1weights = lb.lines.filter((l) => l.msg === "weight change").map((l) => [l.backend, l.to]);
    assert.deepEqual(v1weights.sort(), [
      ["a", 100],
      ["b", 100],
    ]);
    const warm = lb.lines.findIndex((l) => l.msg === "warmup done");
    assert.ok(warm >= 0 && warm < lb.lines.indexOf(applied[0]), "nothing applied before warmup ends");
    assert.match(String(lb.lines[warm].reason), /every checked backend/);
  });

  test("min-delay holds programming (the listener is not bound) until it has passed", async () => {
    let held = 0;
    const { port } = await lodestoneOnA("runtime: { warmup: { min-delay: 1500ms } }", async (lb, port) => {
      const starting = await lb.waitForMsg("starting");
      assert.equal(await whoAnswers(port), null, "nothing listens during warmup");
      const ready = await lb.ready();
      held = Date.parse(String(ready.time)) - Date.parse(String(starting.time));
      await lb.waitForMsg("admin API listening");
    });
    assert.ok(held >= 1400, `programmed after ${held}ms`);
    assert.equal(await whoAnswers(port), "a");
  });

  test("max-wait ends warmup with a silent backend still unknown (weight 0) and the others serving", async () => {
    const [a] = await backends("a");
    // Accepts connections and never answers: an http check against it can only time out.
    const silentSockets = new Set<Socket>();
    const silent = createServer((s) => {
      silentSockets.add(s);
      s.on("error", () => {});
      s.on("close", () => silentSockets.delete(s));
    });
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    cleanup.add("silent server", () => {
      for (const s of silentSockets) s.destroy();
      return new Promise((r) => silent.close(() => r(undefined)));
    });
    const silentPort = (silent.address() as { port: number }).port;
    const yaml = (port: number) => `healthchecks:
  slow: { type: http, path: /, interval: 3s, timeout: 3s, rise: 1, fall: 1 }
backends:
  a: { address: 127.0.0.1, port: ${a.port} }
  s: { address: 127.0.0.1, port: ${silentPort}, healthcheck: slow }
services:
  svc: { algorithm: round-robin, pools: [ { name: main, backends: { a: {}, s: {} } } ] }
frontends:
  fe: { listen: 127.0.0.1:${port}, protocol: tcp, service: svc }
runtime: { warmup: { max-wait: 400ms } }
`;
    const { lb, port } = await lodestoneOn(yaml);
    const ready = await lb.ready(5000);
    const warm = await lb.waitForMsg("warmup done");
    assert.match(String(warm.reason), /max-wait 400ms passed with 1 backend\(s\) still unknown/);
    assert.ok(ready);
    assert.deepEqual(await tally(port, 4), { a: 4 });
  });
});
