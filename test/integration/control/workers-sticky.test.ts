// With runtime.workers: 2 and a sticky cookie without key-file, a cookie set by one
// worker process must be honoured by the other: the kernel spreads new connections
// over the workers (SO_REUSEPORT), so a client's next request may land on either.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { pino } from "pino";
import { Daemon } from "../../../src/control/daemon.ts";
import { freePort } from "../../helpers/ports.ts";

const dir = mkdtempSync(join(tmpdir(), "lodestone-workers-sticky-"));
const cleanups: (() => Promise<void>)[] = [];

after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

/** An HTTP backend answering its name. */
async function backend(name: string): Promise<number> {
  const server: Server = createServer((_req, res) => res.end(name));
  server.on("error", () => {});
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  cleanups.push(
    () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  );
  return (server.address() as { port: number }).port;
}

/** One request on a new connection (so the kernel picks a worker each time). */
async function get(port: number, cookie?: string): Promise<{ who: string; setCookie: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}/`, {
    headers: { connection: "close", ...(cookie ? { cookie } : {}) },
  });
  return { who: await res.text(), setCookie: res.headers.get("set-cookie") };
}

test("a sticky cookie set by one worker is honoured by every worker (workers: 2, no key-file)", async () => {
  const ports = { a: await backend("a"), b: await backend("b"), c: await backend("c") };
  let daemon: Daemon | undefined;
  let port = 0;
  for (let attempt = 1; daemon === undefined; attempt++) {
    port = await freePort();
    const file = join(dir, `sticky-${attempt}.yaml`);
    writeFileSync(
      file,
      `backends:
  a: { address: 127.0.0.1, port: ${ports.a} }
  b: { address: 127.0.0.1, port: ${ports.b} }
  c: { address: 127.0.0.1, port: ${ports.c} }
services:
  web: { algorithm: round-robin, pools: [ { name: main, backends: { a: {}, b: {}, c: {} } } ] }
frontends:
  www:
    listen: 127.0.0.1:${port}
    protocol: http
    service: web
    http: { sticky: { cookie: { name: lb, ttl: 1h } } }
runtime: { workers: 2, log-level: error, drain-timeout: 1s }
`,
    );
    try {
      daemon = await Daemon.start({ source: { path: file }, logger: pino({ level: "silent" }) });
    } catch (err) {
      if (attempt >= 4 || !/EADDRINUSE/.test((err as Error).message)) throw err;
    }
  }
  const d = daemon;
  cleanups.push(() => d.stop());

  const first = await get(port);
  assert.ok(first.setCookie, "the first answer pins the client");
  const cookie = first.setCookie.split(";")[0];
  // 24 new connections: with one key per worker about half would land on a worker
  // that rejects the cookie and balances them round-robin (and re-issues a cookie).
  const answers: string[] = [];
  const reissued: string[] = [];
  for (let i = 0; i < 24; i++) {
    const r = await get(port, cookie);
    answers.push(r.who);
    if (r.setCookie !== null) reissued.push(r.setCookie);
  }
  assert.deepEqual(new Set(answers), new Set([first.who]), `every request stays on ${first.who}`);
  assert.deepEqual(reissued, [], "no worker rejects the cookie and issues another");
});
