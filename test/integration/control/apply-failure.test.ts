// A desired state the dataplane cannot take (a listen port already in use) must not be
// reported as applied: the log says the apply failed instead of "applied desired
// state", and no event announces a frontend that never listened. Once the port is
// free, the next trigger applies it and only then are its events published.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, test } from "node:test";
import { pino } from "pino";
import { Daemon } from "../../../src/control/daemon.ts";
import { freePort } from "../../helpers/ports.ts";
import { NamedBackend, whoAnswers } from "../run/helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "lodestone-apply-failure-"));
const cleanups: (() => Promise<void>)[] = [];

after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

/** A pino logger whose lines the test reads back. */
function capturingLogger(): { log: pino.Logger; lines: { msg: string; [k: string]: unknown }[] } {
  const lines: { msg: string }[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split("\n")) if (l.trim() !== "") lines.push(JSON.parse(l));
      done();
    },
  });
  return { log: pino({ level: "debug" }, stream), lines };
}

/** A server holding a loopback port, so binding it fails with EADDRINUSE. */
async function occupy(): Promise<{ port: number; server: Server }> {
  const server = createServer((s) => s.destroy());
  server.on("error", () => {});
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { port: (server.address() as { port: number }).port, server };
}

const close = (s: Server) => new Promise<void>((r) => s.close(() => r()));

/** One backend, one busy port, a capturing logger: what each test starts from. */
async function rig() {
  const backend = await new NamedBackend("a").start();
  cleanups.push(() => backend.kill());
  const busy = await occupy();
  cleanups.push(() => close(busy.server));
  return { backend, busy, ...capturingLogger() };
}

function yaml(backend: number, one: number, two?: number): string {
  return `backends:
  a: { address: 127.0.0.1, port: ${backend} }
services:
  svc: { algorithm: round-robin, pools: [ { name: main, backends: { a: {} } } ] }
frontends:
  one: { listen: 127.0.0.1:${one}, protocol: tcp, service: svc }
${two === undefined ? "" : `  two: { listen: 127.0.0.1:${two}, protocol: tcp, service: svc }\n`}`;
}

test("a reload whose new frontend cannot listen is logged as failed and publishes no event for it", async () => {
  const { backend, busy, log, lines } = await rig();
  const file = join(dir, "reload.yaml");
  let daemon: Daemon | undefined;
  let one = 0;
  for (let attempt = 1; daemon === undefined; attempt++) {
    one = await freePort();
    writeFileSync(file, yaml(backend.port, one));
    try {
      daemon = await Daemon.start({ source: { path: file }, logger: log });
    } catch (err) {
      if (attempt >= 4 || !/EADDRINUSE/.test((err as Error).message)) throw err;
    }
  }
  const d = daemon;
  cleanups.push(() => d.stop());
  const startVersion = d.status().version;
  const seen = d.events.lastId;
  const logged = lines.length;

  writeFileSync(file, yaml(backend.port, one, busy.port));
  const r = await d.reload();
  assert.equal(r.ok, true);
  if (!r.ok) return;
  assert.equal(r.applyErrors.length, 1);
  assert.match(r.applyErrors[0], /frontend "two".*EADDRINUSE/);
  const after = lines.slice(logged).map((l) => l.msg);
  assert.ok(after.includes("apply failed"), after.join(" | "));
  assert.ok(!after.includes("applied desired state"), "a failed apply is not logged as applied");
  assert.ok(after.includes("applied desired state except frontend(s) two"), after.join(" | "));
  const events = d.events.since(seen);
  const aboutTwo = events.filter((e) => "frontend" in e && e.frontend === "two");
  assert.deepEqual(aboutTwo, [], "no event for a frontend that never listened");
  const reload = events.find((e) => e.type === "reload");
  assert.equal(reload?.type === "reload" && reload.ok, false);
  assert.equal(d.desired?.frontends.two, undefined, "the state the daemon holds lacks the failed frontend");
  assert.ok(d.desired?.frontends.one);
  assert.equal(await whoAnswers(one), "a");

  // The port comes free: the next trigger (here the same reload again) binds it, and
  // now the frontend's events are published.
  await close(busy.server);
  const again = await d.reload();
  assert.equal(again.ok && again.applyErrors.length, 0);
  assert.equal(await whoAnswers(busy.port), "a");
  const later = d.events.since(seen).filter((e) => "frontend" in e && e.frontend === "two");
  assert.deepEqual(
    later.map((e) => e.type),
    ["frontend-transition", "weight-change"],
  );
  assert.ok(d.status().version > startVersion);
});

test("a start whose frontend cannot listen fails without logging the state as applied", async () => {
  const { backend, busy, log, lines } = await rig();
  const file = join(dir, "start.yaml");
  writeFileSync(file, yaml(backend.port, busy.port));
  await assert.rejects(
    Daemon.start({ source: { path: file }, logger: log }),
    (err: Error & { code?: string }) => err.code === "START_FAILED" && /EADDRINUSE/.test(err.message),
  );
  const msgs = lines.map((l) => l.msg);
  assert.ok(msgs.includes("apply failed"), msgs.join(" | "));
  assert.ok(!msgs.includes("applied desired state"), msgs.join(" | "));
  assert.ok(!msgs.includes("frontend active pool"), "no pool transition for a frontend that never listened");
  assert.ok(!msgs.includes("weight change"), "no weight change for a frontend that never listened");
});
