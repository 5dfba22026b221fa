// L7 passive outlier detection reaches the control plane: an http frontend in front
// of a backend answering 500s ejects it, and the daemon turns that into a
// `backend-ejected` event (and back when the ejection time is over), in-process and
// from worker processes.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { pino } from "pino";
import { Daemon } from "../../../src/control/daemon.ts";
import type { ControlEvent } from "../../../src/control/events.ts";
import { getStatus as get, outlierConfig, type StatusBackend, statusBackend } from "../../helpers/outlier.ts";
import { freePort } from "../../helpers/ports.ts";
import { waitFor } from "../../helpers/wait.ts";

const dir = mkdtempSync(join(tmpdir(), "lodestone-outlier-"));
const backends: StatusBackend[] = [];
const daemons: Daemon[] = [];

after(async () => {
  for (const d of daemons) await d.stop();
  for (const b of backends) await b.close();
  rmSync(dir, { recursive: true, force: true });
});

async function httpBackend(name: string, status: number): Promise<number> {
  const backend = await statusBackend(name, status);
  backends.push(backend);
  return backend.port;
}

async function startDaemon(workers: number): Promise<{ daemon: Daemon; port: number }> {
  const bad = await httpBackend("bad", 500);
  const good = await httpBackend("good", 200);
  // Config rules refuse port 0: a port found free may be taken before the bind, so retry.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const file = join(dir, `w${workers}-${attempt}.yaml`);
    writeFileSync(
      file,
      outlierConfig({ bad, good, port, ejectionTime: "300ms", workers, logLevel: "error" }),
    );
    try {
      const daemon = await Daemon.start({ source: { path: file }, logger: pino({ level: "silent" }) });
      daemons.push(daemon);
      return { daemon, port };
    } catch (err) {
      if (attempt >= 4 || !/EADDRINUSE/.test(String((err as Error).message))) throw err;
    }
  }
}

const ejections = (d: Daemon) =>
  d.events
    .since(0)
    .filter((e): e is Extract<ControlEvent, { type: "backend-ejected" }> => e.type === "backend-ejected");

/** Send requests (bounded) until the daemon has published an ejection. */
async function driveUntilEjected(daemon: Daemon, port: number): Promise<void> {
  for (let i = 0; i < 200 && !ejections(daemon).some((e) => e.ejected); i++) await get(port);
}

test("an ejection by outlier detection becomes a backend-ejected event, then a return event", async () => {
  const { daemon, port } = await startDaemon(1);
  await driveUntilEjected(daemon, port);
  const out = ejections(daemon).find((e) => e.ejected);
  assert.ok(out, "an ejection event");
  assert.equal(out.frontend, "www");
  assert.equal(out.backend, "bad");
  assert.equal(typeof out.reason, "string");
  assert.ok(out.reason.length > 0);
  // While it is out, only the good backend answers.
  for (let i = 0; i < 4; i++) assert.equal(await get(port), 200);
  const back = await waitFor(
    () => ejections(daemon).find((e) => !e.ejected && e.id > out.id),
    5000,
    "the return event",
    20,
  );
  assert.equal(back.backend, "bad");
  assert.equal(back.frontend, "www");
  // The good backend, answering 200, was never ejected.
  assert.equal(
    ejections(daemon).some((e) => e.backend === "good"),
    false,
  );
});

test("with 2 worker processes, a worker's ejection reaches the parent's event bus", async () => {
  const { daemon, port } = await startDaemon(2);
  await driveUntilEjected(daemon, port);
  const out = ejections(daemon).find((e) => e.ejected);
  assert.ok(out, "an ejection event from a worker");
  assert.deepEqual([out.frontend, out.backend], ["www", "bad"]);
  await waitFor(
    () => ejections(daemon).find((e) => !e.ejected && e.backend === "bad"),
    5000,
    "the return event from a worker",
    20,
  );
});
