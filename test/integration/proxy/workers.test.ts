import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { WorkerPoolDataplane } from "../../../src/dataplane/proxy/workers.ts";
import { desiredFrontend, desiredState } from "../../helpers/desired.ts";
import { freePort } from "../../helpers/ports.ts";
import { connectTo, readBytes, tcpServer, udpClient, udpEcho } from "../../helpers/proxy-peers.ts";
import { waitFor } from "../../helpers/wait.ts";

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

async function roundTrip(port: number, text: string): Promise<string> {
  const s = await connectTo(port);
  s.write(text);
  const reply = await readBytes(s, text.length);
  s.destroy();
  return reply.toString();
}

describe("worker pool dataplane", { timeout: 60000 }, () => {
  it("serves one TCP port from 2 worker processes and sums their stats", async () => {
    const echo = await tcpServer();
    cleanups.push(() => echo.close());
    const pool = new WorkerPoolDataplane({ workers: 2 });
    cleanups.push(() => pool.stop(1000));
    const port = await freePort();
    const fe = desiredFrontend({
      listen: { host: "127.0.0.1", port },
      backends: [{ name: "echo", port: echo.port }],
    });
    await pool.apply(desiredState([fe]));
    const n = 24;
    for (let i = 0; i < n; i++) assert.equal(await roundTrip(port, `msg-${i}`), `msg-${i}`);
    // Connections close asynchronously in the workers; poll until they are all counted.
    const stats = await waitFor(
      async () => {
        const s = await pool.collectStats();
        return s.frontends.fe.connectionsActive === 0 ? s : null;
      },
      3000,
      "every connection to close in the workers",
      20,
    );
    assert.equal(stats.frontends.fe.connectionsTotal, n);
    assert.equal(stats.frontends.fe.connectionsActive, 0);
    assert.equal(stats.frontends.fe.backends.echo.connectionsTotal, n);
    const perWorker = pool.workerStats().map((w) => w.frontends.fe?.connectionsTotal ?? 0);
    assert.equal(perWorker.length, 2);
    assert.equal(perWorker[0] + perWorker[1], n);
    assert.ok(perWorker[0] > 0 && perWorker[1] > 0, `both workers took connections: ${perWorker}`);
    assert.deepEqual(pool.stats(), stats, "stats() returns the last collected sum");
  });

  it("serves UDP from every worker with reusePort", async () => {
    const backend = await udpEcho("u:");
    cleanups.push(() => backend.close());
    const pool = new WorkerPoolDataplane({ workers: 2 });
    cleanups.push(() => pool.stop(1000));
    const port = await freePort();
    await pool.apply(
      desiredState([
        desiredFrontend({
          protocol: "udp",
          listen: { host: "127.0.0.1", port },
          backends: [{ name: "b", port: backend.port }],
        }),
      ]),
    );
    const clients = [];
    for (let i = 0; i < 8; i++) {
      const c = await udpClient();
      cleanups.push(() => c.close());
      clients.push(c);
      const reply = await c.request(`hello-${i}`, port);
      assert.equal(reply.text, `u:hello-${i}`);
      assert.equal(reply.port, port);
    }
    const stats = await pool.collectStats();
    assert.equal(stats.frontends.fe.connectionsTotal, 8);
  });

  it("restarts a worker that dies, with the last desired state", async () => {
    const echo = await tcpServer();
    cleanups.push(() => echo.close());
    const pool = new WorkerPoolDataplane({ workers: 2 });
    cleanups.push(() => pool.stop(1000));
    const port = await freePort();
    await pool.apply(
      desiredState([
        desiredFrontend({
          listen: { host: "127.0.0.1", port },
          backends: [{ name: "echo", port: echo.port }],
        }),
      ]),
    );
    assert.equal(await roundTrip(port, "before"), "before");
    await pool.collectStats();
    const before = pool.stats().frontends.fe.connectionsTotal;
    const [victim] = pool.pids();
    process.kill(victim, "SIGKILL");
    await waitFor(
      () => pool.pids()[0] !== victim && pool.pids()[0] !== 0,
      5000,
      "the worker to be restarted",
    );
    // Every connection is served (by the survivor while the restart is under way, then by both).
    for (let i = 0; i < 10; i++) assert.equal(await roundTrip(port, `after-${i}`), `after-${i}`);
    await waitFor(
      () => (pool.workerStats()[0].frontends.fe?.connectionsTotal ?? -1) >= 0,
      5000,
      "restarted worker to listen",
    );
    const total = (await pool.collectStats()).frontends.fe.connectionsTotal;
    assert.ok(total >= before + 10, `totals keep the dead worker's count (${total} >= ${before + 10})`);
  });

  it("rejects apply with the workers' error code when the port is taken", async () => {
    const squatter = await tcpServer();
    cleanups.push(() => squatter.close());
    const pool = new WorkerPoolDataplane({ workers: 2, logLevel: "silent" });
    cleanups.push(() => pool.stop(500));
    await assert.rejects(
      pool.apply(
        desiredState([
          desiredFrontend({
            listen: { host: "127.0.0.1", port: squatter.port },
            backends: [{ name: "x", port: 1 }],
          }),
        ]),
      ),
      { code: "LISTEN_FAILED", message: /EADDRINUSE/ },
    );
  });

  it("workers leave SIGINT/SIGTERM to the pool; stop() drains and the processes exit", async () => {
    const pool = new WorkerPoolDataplane({ workers: 2 });
    const pids = pool.pids();
    await pool.apply(desiredState([]));
    for (const pid of pids) {
      process.kill(pid, "SIGINT");
      process.kill(pid, "SIGTERM");
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(
      pool.pids(),
      pids,
      "a terminal's Ctrl+C does not kill the workers behind the pool's back",
    );
    for (const pid of pids) process.kill(pid, 0);
    await pool.stop(500);
    for (const pid of pids) {
      assert.throws(() => process.kill(pid, 0), { code: "ESRCH" }, `worker ${pid} has exited`);
    }
  });
});
