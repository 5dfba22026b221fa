// The Daemon class in-process (what the admin API will call): operator actions move
// real traffic through a real proxy dataplane on loopback.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { Daemon } from "../../../src/control/daemon.ts";
import { LodestoneError } from "../../../src/errors.ts";
import { freePort } from "../../helpers/ports.ts";
import { waitFor } from "../../helpers/wait.ts";
import { NamedBackend, tally, whoAnswers, yamlConfig } from "../run/helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "lodestone-daemon-"));
const file = join(dir, "lodestone.yaml");
let a: NamedBackend;
let b: NamedBackend;
let c: NamedBackend;
let port: number;
let daemon: Daemon;

function config(withC = false): string {
  return yamlConfig({
    frontendPort: port,
    ports: { a: a.port, b: b.port, ...(withC ? { c: c.port } : {}) },
    pools: [["main", { a: 100, b: 100, ...(withC ? { c: 100 } : {}) }]],
    check: { interval: 100, rise: 1, fall: 1 },
    runtime: "runtime: { drain-timeout: 1s }",
  });
}

before(async () => {
  a = await new NamedBackend("a").start();
  b = await new NamedBackend("b").start();
  c = await new NamedBackend("c").start();
  // Config rules refuse port 0: a port found free can be taken before the daemon binds
  // it, and the start then fails with EADDRINUSE — pick another and start again.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    writeFileSync(file, config());
    try {
      daemon = await Daemon.start({ source: { path: file }, logger: pino({ level: "silent" }) });
      break;
    } catch (err) {
      if (attempt >= 4 || !/EADDRINUSE/.test((err as Error).message)) throw err;
    }
  }
});

after(async () => {
  await daemon?.stop();
  for (const x of [a, b, c]) await x?.kill();
  rmSync(dir, { recursive: true, force: true });
});

/** A connection through the balancer to a given backend (retrying until it lands there). */
async function connectionTo(name: string): Promise<Socket> {
  for (let i = 0; i < 20; i++) {
    const sock = await new Promise<{ sock: Socket; who: string }>((resolve, reject) => {
      const s = connect({ port, host: "127.0.0.1" });
      s.setEncoding("utf8");
      s.once("error", reject);
      s.once("data", (d: string) => resolve({ sock: s, who: d.trim() }));
    });
    sock.sock.on("error", () => {});
    if (sock.who === name) return sock.sock;
    sock.sock.destroy();
  }
  throw new Error(`never reached ${name}`);
}

function alive(sock: Socket, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    if (sock.destroyed) return resolve(false);
    const timer = setTimeout(() => finish(false), timeoutMs);
    const onData = () => finish(true);
    const onClose = () => finish(false);
    const finish = (v: boolean) => {
      clearTimeout(timer);
      sock.off("data", onData);
      sock.off("close", onClose);
      resolve(v);
    };
    sock.on("data", onData);
    sock.on("close", onClose);
    sock.write("ping");
  });
}

/** A backend's state as the daemon reports it. */
function stateOf(name: string): string | undefined {
  return daemon.status().backends.find((x) => x.name === name)?.state;
}

/** Wait (3s at most) until the daemon reports the backend up. */
async function untilUp(name: string): Promise<void> {
  await waitFor(() => stateOf(name) === "up", 3000, `${name} up`, 20);
}

describe("Daemon operator actions", () => {
  test("status() reports frontends, services with active pool and weights, and backends", () => {
    const s = daemon.status();
    assert.ok(s.version >= 1);
    assert.equal(s.warmup.done, true);
    assert.deepEqual(s.frontends, [
      {
        name: "fe",
        listen: `127.0.0.1:${port}`,
        protocol: "tcp",
        service: "svc",
        activePool: 0,
        activePoolName: "main",
      },
    ]);
    const members = s.services[0].pools[0].members.map((m) => [
      m.backend,
      m.state,
      m.configuredWeight,
      m.effectiveWeight,
    ]);
    assert.deepEqual(members, [
      ["a", "up", 100, 100],
      ["b", "up", 100, 100],
    ]);
    assert.deepEqual(
      s.backends.map((x) => [x.name, x.state]),
      [
        ["a", "up"],
        ["b", "up"],
      ],
    );
    assert.ok(s.backends[0].history.length >= 1);
  });

  test("weight 0 without flush drains: the open connection lives, new ones avoid the backend", async () => {
    const held = await connectionTo("a");
    daemon.setWeight("svc", "main", "a", 0, false);
    await daemon.settled();
    assert.deepEqual(await tally(port, 6), { b: 6 });
    assert.equal(await alive(held), true);
    held.destroy();
    daemon.clearWeight("svc", "main", "a");
    await daemon.settled();
    assert.deepEqual(await tally(port, 4), { a: 2, b: 2 });
  });

  test("weight 0 with flush ends the open connection", async () => {
    const held = await connectionTo("a");
    const closed = new Promise<void>((r) => held.on("close", () => r()));
    daemon.setWeight("svc", "main", "a", 0, true);
    await daemon.settled();
    await closed;
    assert.deepEqual(await tally(port, 4), { b: 4 });
    daemon.clearWeight("svc", "main", "a");
    await daemon.settled();
  });

  test("disable drains by default and flushes when asked; enable brings it back", async () => {
    const seen = daemon.events.lastId;
    const held = await connectionTo("b");
    daemon.disable("b");
    await daemon.settled();
    assert.equal(await alive(held), true);
    assert.deepEqual(await tally(port, 4), { a: 4 });
    const closed = new Promise<void>((r) => held.on("close", () => r()));
    daemon.disable("b", { flush: true });
    await daemon.settled();
    await closed;
    assert.equal(stateOf("b"), "disabled");
    daemon.enable("b");
    // Back to unknown; the next probe (interval 100ms, rise 1) takes it up.
    await untilUp("b");
    await daemon.settled();
    assert.deepEqual(await tally(port, 4), { a: 2, b: 2 });
    // Only real weight moves are weight-change events: the flush flag setting (disable
    // --flush at weight 0) and clearing (enable, still 0 while unknown) is no "0 -> 0".
    const weights = daemon.events
      .since(seen)
      .flatMap((e) => (e.type === "weight-change" && e.backend === "b" ? [[e.from, e.to]] : []));
    assert.deepEqual(weights, [
      [100, 0],
      [0, 100],
    ]);
  });

  test("pause while up keeps the backend serving; resume probes again", async () => {
    daemon.pause("a");
    await daemon.settled();
    const s = daemon.status();
    const member = s.services[0].pools[0].members.find((m) => m.backend === "a")!;
    assert.deepEqual([member.state, member.effectiveWeight], ["paused", 100]);
    assert.deepEqual(await tally(port, 4), { a: 2, b: 2 });
    daemon.resume("a");
    await untilUp("a");
    assert.equal(stateOf("a"), "up");
  });

  test("operator actions on unknown names throw LodestoneError with a code", () => {
    assert.throws(
      () => daemon.pause("nope"),
      (e: unknown) => e instanceof LodestoneError && e.code === "UNKNOWN_BACKEND",
    );
    assert.throws(
      () => daemon.setWeight("svc", "main", "a", 101),
      (e: unknown) => e instanceof LodestoneError && e.code === "INVALID_WEIGHT",
    );
    assert.throws(
      () => daemon.setWeight("svc", "nope", "a", 1),
      (e: unknown) => e instanceof LodestoneError && e.code === "UNKNOWN_POOL",
    );
  });
});

describe("Daemon reload", () => {
  test("keeps overrides for members that remain and applies additions", async () => {
    daemon.setWeight("svc", "main", "a", 0, false);
    await daemon.settled();
    writeFileSync(file, config(true));
    const r = await daemon.reload();
    assert.equal(r.ok, true);
    if (!r.ok) return;
    assert.deepEqual(r.diff.backends.added, ["c"]);
    assert.deepEqual(r.droppedOverrides, []);
    // c needs one probe (rise 1) after the reload.
    await untilUp("c");
    await daemon.settled();
    assert.deepEqual(await tally(port, 6), { b: 3, c: 3 });
    const events = daemon.events.since(0).filter((e) => e.type === "reload");
    assert.equal(events.at(-1)?.type === "reload" && events.at(-1)?.ok, true);
  });

  test("refuses an invalid file with positioned errors and changes nothing", async () => {
    const version = daemon.status().version;
    writeFileSync(file, "backends: [\n");
    const r = await daemon.reload();
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.ok(r.errors.length >= 1);
    assert.ok(r.errors[0].line >= 1);
    assert.equal(daemon.status().version, version);
    assert.deepEqual(await tally(port, 4), { b: 2, c: 2 });
    const check = await daemon.checkConfig();
    assert.equal(check.ok, false);
  });

  test("a disable survives a reload that moves the backend to another port", async () => {
    daemon.clearWeight("svc", "main", "a");
    daemon.disable("c");
    await daemon.settled();
    const moved = await new NamedBackend("c").start();
    try {
      const old = c.port;
      c.port = moved.port;
      writeFileSync(file, config(true));
      c.port = old;
      const r = await daemon.reload();
      assert.equal(r.ok, true);
      if (!r.ok) return;
      assert.deepEqual(r.diff.backends.changed, ["c"]);
      assert.equal(stateOf("c"), "disabled");
      await daemon.settled();
      assert.deepEqual(await tally(port, 4), { a: 2, b: 2 });
      daemon.enable("c");
      await untilUp("c");
      await daemon.settled();
      const before = moved.connections;
      const counts = await tally(port, 6);
      assert.deepEqual(counts, { a: 2, b: 2, c: 2 });
      assert.ok(moved.connections >= before + 2, "c is now reached on its new port");
    } finally {
      await moved.kill();
    }
  });

  test("the event bus recorded transitions, weight changes and reloads in id order", () => {
    const events = daemon.events.since(0);
    const ids = events.map((e) => e.id);
    assert.deepEqual(
      ids,
      [...ids].sort((x, y) => x - y),
    );
    const types = new Set(events.map((e) => e.type));
    for (const t of ["backend-transition", "weight-change", "reload", "frontend-transition"])
      assert.ok(types.has(t as never), t);
  });
});

test("whoAnswers sanity: the frontend is closed after stop", async () => {
  await daemon.stop();
  assert.equal(await whoAnswers(port), null);
});
