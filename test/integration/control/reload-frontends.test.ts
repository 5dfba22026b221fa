// A reload that removes a frontend: the daemon publishes a frontend-transition for it
// (removed, pool -> none), and its open connections drain for the runtime.drain-timeout
// of the configuration being applied (not the one at start), in-process and in workers.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { pino } from "pino";
import { Daemon } from "../../../src/control/daemon.ts";
import type { ControlEvent } from "../../../src/control/events.ts";
import { freePort } from "../../helpers/ports.ts";
import { NamedBackend, whoAnswers } from "../run/helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "lodestone-reload-fe-"));
const backends: NamedBackend[] = [];
const daemons: Daemon[] = [];

after(async () => {
  for (const d of daemons) await d.stop();
  for (const b of backends) await b.kill();
  rmSync(dir, { recursive: true, force: true });
});

function yaml(
  a: number,
  ports: [number, number],
  withSecond: boolean,
  drain: string,
  workers: number,
): string {
  return `backends:
  a: { address: 127.0.0.1, port: ${a} }
services:
  svc: { algorithm: round-robin, pools: [ { name: main, backends: { a: {} } } ] }
frontends:
  one: { listen: 127.0.0.1:${ports[0]}, protocol: tcp, service: svc }
${withSecond ? `  two: { listen: 127.0.0.1:${ports[1]}, protocol: tcp, service: svc }\n` : ""}runtime: { workers: ${workers}, drain-timeout: ${drain}, log-level: error }
`;
}

/** Start on two fresh ports; a port taken between the pick and the bind means new ports. */
async function start(
  workers: number,
): Promise<{ daemon: Daemon; file: string; a: number; ports: [number, number] }> {
  const backend = await new NamedBackend("a").start();
  backends.push(backend);
  for (let attempt = 1; ; attempt++) {
    const ports: [number, number] = [await freePort(), await freePort()];
    const file = join(dir, `w${workers}-${attempt}.yaml`);
    writeFileSync(file, yaml(backend.port, ports, true, "20s", workers));
    try {
      const daemon = await Daemon.start({ source: { path: file }, logger: pino({ level: "silent" }) });
      daemons.push(daemon);
      return { daemon, file, a: backend.port, ports };
    } catch (err) {
      if (attempt >= 4 || !/EADDRINUSE/.test(String((err as Error).message))) throw err;
    }
  }
}

/** A connection through the balancer that has read the backend's greeting. */
function openClient(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect({ port, host: "127.0.0.1" });
    sock.once("error", reject);
    sock.once("data", () => {
      sock.on("error", () => {});
      resolve(sock);
    });
  });
}

for (const workers of [1, 2]) {
  describe(`reload removing a frontend (workers: ${workers})`, () => {
    test("publishes a frontend-transition marked removed and drains for the new drain-timeout", async () => {
      const { daemon, file, a, ports } = await start(workers);
      assert.equal(await whoAnswers(ports[1]), "a");
      const sock = await openClient(ports[1]);
      const closed = new Promise<number>((resolve) => sock.on("close", () => resolve(Date.now())));
      // The start config drains for 20 s; the reload asks for 300 ms.
      writeFileSync(file, yaml(a, ports, false, "300ms", workers));
      const t0 = Date.now();
      const r = await daemon.reload();
      assert.equal(r.ok, true);
      const removed = daemon.events
        .since(0)
        .filter(
          (e): e is Extract<ControlEvent, { type: "frontend-transition" }> =>
            e.type === "frontend-transition" && e.frontend === "two" && e.toPool === -1,
        );
      assert.equal(removed.length, 1);
      assert.deepEqual(
        [removed[0].fromPool, removed[0].fromPoolName, removed[0].toPoolName, removed[0].removed],
        [0, "main", null, true],
      );
      // The frontend that stays got no such event.
      assert.equal(
        daemon.events
          .since(0)
          .some((e) => e.type === "frontend-transition" && e.frontend === "one" && e.toPool < 0),
        false,
      );
      const at = await Promise.race([closed, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
      assert.ok(at !== null, "the open connection was cut well before the start config's 20 s");
      assert.ok(at - t0 >= 250, `cut after ${at - t0}ms, not before the drain-timeout`);
      assert.equal(await whoAnswers(ports[1]), null, "the removed frontend no longer accepts");
      assert.equal(await whoAnswers(ports[0]), "a", "the other frontend still serves");
    });
  });
}
