import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { describe, test } from "node:test";
import type { BackendConfig, HealthCheckConfig } from "../../../src/config/types.ts";
import { HealthChecker } from "../../../src/health/checker.ts";
import type { ProbeResult, Transition } from "../../../src/health/types.ts";
import { waitFor } from "../../helpers/wait.ts";
import { httpCheck, startHttp, startTcp, tcpCheck } from "./servers.ts";

type Logged = { kind: "probe"; ok: boolean; reason: string } | { kind: "transition"; t: Transition };

function record(checker: HealthChecker, name: string): Logged[] {
  const log: Logged[] = [];
  checker.on("probe", (n, r: ProbeResult) => {
    if (n === name) log.push({ kind: "probe", ok: r.ok, reason: r.reason });
  });
  checker.on("transition", (n, t) => {
    if (n === name) log.push({ kind: "transition", t });
  });
  return log;
}

/** A TCP server that can be stopped and started again on the same port. */
async function restartableServer() {
  let server: Server | null = null;
  const sockets = new Set<Socket>();
  let port = 0;
  const start = async () => {
    server = createServer((s) => {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => sockets.delete(s));
    });
    server.listen(port, "127.0.0.1");
    await once(server, "listening");
    const addr = server.address();
    port = typeof addr === "object" && addr ? addr.port : 0;
  };
  const stop = async () => {
    if (!server) return;
    for (const s of sockets) s.destroy();
    const s = server;
    server = null;
    await new Promise<void>((r) => s.close(() => r()));
  };
  await start();
  return { port: () => port, start, stop };
}

const checks = (check: HealthCheckConfig): Record<string, HealthCheckConfig> => ({ [check.name]: check });
const backend = (name: string, port: number, healthcheck?: string): BackendConfig =>
  healthcheck ? { name, address: "127.0.0.1", port, healthcheck } : { name, address: "127.0.0.1", port };

/** The run of consecutive probe results right before the transition at `index`. */
function streakBefore(log: Logged[], index: number): { ok: boolean; n: number } {
  let i = index - 1;
  const first = log[i] as { kind: "probe"; ok: boolean };
  let n = 0;
  while (i >= 0 && log[i]!.kind === "probe" && (log[i] as { ok: boolean }).ok === first.ok) {
    n++;
    i--;
  }
  return { ok: first.ok, n };
}

describe("HealthChecker against real servers", () => {
  test("goes down after exactly `fall` failures and up after exactly `rise` passes", async (t) => {
    const srv = await restartableServer();
    t.after(srv.stop);
    const checker = new HealthChecker();
    t.after(() => checker.stop());
    const check = tcpCheck({ name: "tcp", rise: 2, fall: 3 });
    const log = record(checker, "web-1");
    checker.sync([backend("web-1", srv.port(), "tcp")], checks(check));
    assert.equal(checker.get("web-1")?.state, "unknown");

    await waitFor(() => checker.get("web-1")?.state === "up", 5000, "first up");
    // Let it settle at the top of the counter, then take the server away.
    await waitFor(() => checker.get("web-1")?.counter === 4, 5000, "steady up");
    await srv.stop();
    await waitFor(() => checker.get("web-1")?.state === "down", 5000, "down");
    await srv.start();
    await waitFor(() => checker.get("web-1")?.state === "up" && log.length > 0, 5000, "back up");
    await waitFor(() => log.filter((e) => e.kind === "transition").length >= 4, 5000, "four transitions");

    const transitions = log.flatMap((e, i) => (e.kind === "transition" ? [[i, e.t] as const] : []));
    assert.deepEqual(
      transitions.map(([, tr]) => `${tr.from}->${tr.to}`),
      ["removed->unknown", "unknown->up", "up->down", "down->up"],
    );
    // unknown -> up on the very first probe
    assert.deepEqual(streakBefore(log, transitions[1]![0]), { ok: true, n: 1 });
    // up -> down after exactly fall=3 consecutive failures, up again after exactly rise=2 passes
    assert.deepEqual(streakBefore(log, transitions[2]![0]), { ok: false, n: 3 });
    assert.deepEqual(streakBefore(log, transitions[3]![0]), { ok: true, n: 2 });

    const view = checker.get("web-1")!;
    const down = view.history.find((h) => h.to === "down")!;
    assert.equal(down.from, "up");
    assert.equal(down.reason, "connect ECONNREFUSED");
    assert.equal(view.history.at(-1)?.reason, "connected");
    assert.equal(view.lastProbe?.ok, true);
    assert.ok(view.since >= down.at);
  });

  test("an http backend answering 503 goes down with 'HTTP 503' in its history", async (t) => {
    const srv = await startHttp({ status: 200, body: "ok" });
    t.after(srv.close);
    const checker = new HealthChecker();
    t.after(() => checker.stop());
    const check = httpCheck({ name: "http", rise: 1, fall: 2 });
    checker.sync([backend("api", srv.port, "http")], checks(check));
    await waitFor(() => checker.get("api")?.state === "up", 5000, "up");
    srv.behaviour.status = 503;
    await waitFor(() => checker.get("api")?.state === "down", 5000, "down");
    const last = checker.get("api")!.history.at(-1)!;
    assert.deepEqual([last.from, last.to, last.reason], ["up", "down", "HTTP 503"]);
  });

  test("sync keeps state for unchanged backends, restarts changed ones, removes missing ones", async (t) => {
    const a = await startTcp();
    const b = await startTcp();
    t.after(a.close);
    t.after(b.close);
    const checker = new HealthChecker();
    t.after(() => checker.stop());
    const check = tcpCheck({ name: "tcp" });
    const events: [string, Transition][] = [];
    checker.on("transition", (n, tr) => events.push([n, tr]));
    checker.sync([backend("a", a.port, "tcp"), backend("b", b.port, "tcp")], checks(check));
    await waitFor(
      () => checker.all().every((v) => v.state === "up" && v.counter === 4),
      5000,
      "both steadily up",
    );
    const before = checker.get("a")!;

    // Same settings in fresh objects (a reload): kept as is.
    const kept = checker.sync(
      [backend("a", a.port, "tcp"), backend("b", b.port, "tcp")],
      checks({ ...check }),
    );
    assert.deepEqual(kept, { added: [], removed: [], restarted: [], kept: ["a", "b"] });
    assert.equal(checker.get("a")!.state, "up");
    assert.deepEqual(checker.get("a")!.history, before.history);
    assert.equal(checker.get("a")!.since, before.since);

    // b moves to a's port: restarted from unknown; a's check timing changes: restarted too.
    const slower = { ...check, interval: 150 };
    const changed = checker.sync([backend("a", a.port, "tcp"), backend("b", a.port, "tcp")], checks(slower));
    assert.deepEqual(changed.restarted.sort(), ["a", "b"]);
    assert.equal(checker.get("b")!.history.at(-1)!.reason, "restarted: address changed");
    assert.equal(checker.get("a")!.history.at(-1)!.reason, "restarted: health check changed");
    assert.equal(checker.get("b")!.state, "unknown");
    await waitFor(() => checker.get("b")?.state === "up", 5000, "b up again");

    // b gone: removed, with a transition event.
    const removed = checker.sync([backend("a", a.port, "tcp")], checks(slower));
    assert.deepEqual(removed, { added: [], removed: ["b"], restarted: [], kept: ["a"] });
    assert.equal(checker.get("b"), undefined);
    assert.deepEqual(
      checker.all().map((v) => v.name),
      ["a"],
    );
    const last = events.at(-1)!;
    assert.deepEqual(
      [last[0], last[1].to, last[1].reason],
      ["b", "removed", "removed from the configuration"],
    );
  });

  test("a backend listed by several services is probed once", async (t) => {
    const srv = await startTcp();
    t.after(srv.close);
    const check = tcpCheck({ name: "tcp", interval: 50, fastInterval: 50 });
    const probes = { shared: 0, twin1: 0, twin2: 0 } as Record<string, number>;
    const count = (c: HealthChecker) => c.on("probe", (n) => probes[n]!++);

    const one = new HealthChecker();
    t.after(() => one.stop());
    count(one);
    // The same backend reaches sync twice (once per service using it).
    one.sync([backend("shared", srv.port, "tcp"), backend("shared", srv.port, "tcp")], checks(check));
    assert.equal(one.all().length, 1);
    await new Promise((r) => setTimeout(r, 400));
    one.stop();
    // A probe reports once its side of the connection is up; the server may see the
    // accept a moment later, so let the server's count catch up before comparing.
    await waitFor(() => srv.connections() >= probes.shared!, 2000, "the server to see every probe");
    const sharedConnections = srv.connections();
    // stop() may abort one probe whose connection the server already accepted: its
    // result is dropped, so connections can exceed reported probes by that one.
    assert.ok(
      sharedConnections >= probes.shared! && sharedConnections <= probes.shared! + 1,
      `one connection per probe: ${sharedConnections} connections, ${probes.shared} probes`,
    );
    assert.ok(
      probes.shared! >= 2 && probes.shared! <= 10,
      `shared backend probed ${probes.shared} times in 400ms`,
    );

    // Control: two distinct backends on the same server are two targets.
    const two = new HealthChecker();
    t.after(() => two.stop());
    count(two);
    two.sync([backend("twin1", srv.port, "tcp"), backend("twin2", srv.port, "tcp")], checks(check));
    await new Promise((r) => setTimeout(r, 400));
    two.stop();
    const twinProbes = probes.twin1! + probes.twin2!;
    await waitFor(
      () => srv.connections() - sharedConnections >= twinProbes,
      2000,
      "the server to see every twin probe",
    );
    const twinConnections = srv.connections() - sharedConnections;
    assert.ok(
      twinConnections >= twinProbes && twinConnections <= twinProbes + 2,
      `${twinConnections} connections for ${twinProbes} probes of two targets`,
    );
    assert.ok(probes.twin1! >= 2 && probes.twin2! >= 2);
  });

  test("a backend without a health check is up at once and never probed", async (t) => {
    const srv = await startTcp();
    t.after(srv.close);
    const checker = new HealthChecker();
    t.after(() => checker.stop());
    checker.sync([backend("static", srv.port)], {});
    const view = checker.get("static")!;
    assert.equal(view.state, "up");
    assert.equal(view.check, null);
    assert.ok(checker.settled());
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(srv.connections(), 0);
  });

  test("pause stops probing and freezes state; resume probes at once and one probe decides", async (t) => {
    const srv = await startTcp();
    t.after(srv.close);
    const checker = new HealthChecker();
    t.after(() => checker.stop());
    checker.sync([backend("p", srv.port, "tcp")], checks(tcpCheck({ name: "tcp" })));
    await waitFor(() => checker.get("p")?.state === "up", 5000, "up");
    assert.equal(checker.pause("p"), true);
    assert.equal(checker.get("p")!.state, "paused");
    const frozen = srv.connections();
    await new Promise((r) => setTimeout(r, 250));
    assert.ok(srv.connections() <= frozen + 1, "at most the probe already in flight");
    assert.equal(checker.get("p")!.state, "paused");

    assert.equal(checker.resume("p"), true);
    assert.equal(checker.get("p")!.state, "unknown");
    await waitFor(() => checker.get("p")?.state === "up", 2000, "up after resume");
    const reasons = checker.get("p")!.history.map((h) => `${h.from}->${h.to}: ${h.reason}`);
    assert.deepEqual(reasons.slice(-3), [
      "up->paused: operator pause",
      "paused->unknown: operator resume",
      "unknown->up: connected",
    ]);
  });

  test("disable takes a backend out until enable; unknown names return false", async (t) => {
    const srv = await startTcp();
    t.after(srv.close);
    const checker = new HealthChecker();
    t.after(() => checker.stop());
    checker.sync([backend("d", srv.port, "tcp"), backend("s", srv.port)], checks(tcpCheck({ name: "tcp" })));
    await waitFor(() => checker.get("d")?.state === "up", 5000, "up");
    assert.equal(checker.disable("d"), true);
    assert.equal(checker.disable("s"), true);
    assert.deepEqual(
      checker.all().map((v) => v.state),
      ["disabled", "disabled"],
    );
    assert.equal(checker.enable("s"), true);
    assert.equal(checker.get("s")!.state, "up", "a static backend comes straight back up");
    assert.equal(checker.enable("d"), true);
    await waitFor(() => checker.get("d")?.state === "up", 2000, "d up after enable");
    for (const op of ["pause", "resume", "disable", "enable"] as const)
      assert.equal(checker[op]("nope"), false);
  });

  test("agent replies surface as agent status and events", async (t) => {
    let say = "drain\n";
    const agent = await startTcp((s) => s.end(say));
    t.after(agent.close);
    const checker = new HealthChecker();
    t.after(() => checker.stop());
    const agentEvents: unknown[] = [];
    checker.on("agent", (_n, status) => agentEvents.push(status));
    const check: HealthCheckConfig = { ...tcpCheck({ name: "agent" }), type: "agent", port: agent.port };
    // The backend's traffic port is elsewhere; the agent answers on the check's port.
    checker.sync([backend("w", 9, "agent")], checks(check));
    await waitFor(() => checker.get("w")?.agent?.drain === true, 5000, "drain");
    assert.equal(checker.get("w")!.state, "up", "drain is not down");
    say = "ready weight:50\n";
    await waitFor(() => checker.get("w")?.agent?.weightPercent === 50, 5000, "weight");
    assert.deepEqual(checker.get("w")!.agent, { drain: false, weightPercent: 50 });
    assert.deepEqual(agentEvents, [{ drain: true }, { drain: false, weightPercent: 50 }]);
    say = "down\n";
    await waitFor(() => checker.get("w")?.state === "down", 5000, "down");
    assert.equal(checker.get("w")!.history.at(-1)!.reason, "agent says down");
  });

  test("stop cancels in-flight probes and timers", async (t) => {
    const hang = await startHttp({ status: 200, body: "", hang: true });
    t.after(hang.close);
    const checker = new HealthChecker();
    const results: ProbeResult[] = [];
    checker.on("probe", (_n, r) => results.push(r));
    checker.sync([backend("h", hang.port, "http")], checks(httpCheck({ name: "http", timeout: 5000 })));
    await waitFor(() => hang.seen.connections === 1, 5000, "probe connected");
    checker.stop();
    await waitFor(() => hang.seen.closed === 1, 2000, "probe connection closed");
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(results.length, 0, "an aborted probe is not reported");
    assert.throws(() => checker.sync([], {}), { code: "HEALTH_STOPPED" });
  });

  test("inconsistent input is a clear error and changes nothing", () => {
    const checker = new HealthChecker();
    try {
      assert.throws(() => checker.sync([backend("x", 1, "missing")], {}), {
        code: "HEALTH_UNKNOWN_CHECK",
        message: /backend "x" uses health check "missing"/,
      });
      assert.throws(() => checker.sync([backend("x", 1), backend("x", 2)], {}), {
        code: "HEALTH_DUPLICATE_BACKEND",
      });
      assert.deepEqual(checker.all(), []);
    } finally {
      checker.stop();
    }
  });
});
