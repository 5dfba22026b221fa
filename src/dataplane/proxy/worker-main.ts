// Entry point of one proxy worker process (forked by workers.ts). It runs a
// ProxyDataplane whose listeners bind with SO_REUSEPORT, so every worker holds
// the same addresses and the kernel spreads connections and UDP flows over them.
// It does only what the pool asks over IPC, and exits when the pool goes away.
import { pino } from "pino";
import { LodestoneError } from "../../errors.ts";
import { ProxyDataplane } from "./dataplane.ts";
import { useProcessKey } from "./http/sticky.ts";
import type { FromWorker, ToWorker } from "./worker-protocol.ts";
import { WORKER_DRAIN_ENV, WORKER_INDEX_ENV, WORKER_LOG_LEVEL_ENV } from "./worker-protocol.ts";

const index = Number(process.env[WORKER_INDEX_ENV] ?? 0);
const log = pino(
  { level: process.env[WORKER_LOG_LEVEL_ENV] ?? "warn", base: { worker: index, pid: process.pid } },
  pino.destination(2),
);
// Each apply may carry the pool's current drain timeout (it follows reloads).
let drainTimeout = Number(process.env[WORKER_DRAIN_ENV] ?? 10000);
const dataplane = new ProxyDataplane({
  reusePort: true,
  log,
  drainTimeout: () => drainTimeout,
  onOutlier: (frontend, backend, ejected, reason) =>
    send({ type: "outlier", frontend, backend, ejected, reason }),
});

function send(message: FromWorker): void {
  if (process.connected) process.send?.(message);
}

function errorOf(err: unknown): { code: string; message: string } {
  if (err instanceof LodestoneError) return { code: err.code, message: err.message };
  if (err instanceof Error)
    return { code: (err as NodeJS.ErrnoException).code ?? "WORKER_ERROR", message: err.message };
  return { code: "WORKER_ERROR", message: String(err) };
}

async function handle(message: ToWorker): Promise<void> {
  try {
    switch (message.type) {
      case "apply":
        if (message.drainTimeout !== undefined) drainTimeout = message.drainTimeout;
        if (message.stickyKey !== undefined) useProcessKey(message.stickyKey);
        await dataplane.apply(message.desired);
        send({ type: "reply", id: message.id, ok: true });
        return;
      case "stats":
        send({ type: "reply", id: message.id, ok: true, stats: dataplane.stats() });
        return;
      case "stop":
        await dataplane.stop(message.drainTimeout);
        send({ type: "reply", id: message.id, ok: true, stats: dataplane.stats() });
        return;
    }
  } catch (err) {
    send({ type: "reply", id: message.id, ok: false, error: errorOf(err) });
  }
}

process.on("message", (message: ToWorker) => void handle(message));
// The pool closed the channel (stop finished, or the parent died): leave.
process.on("disconnect", () => {
  void dataplane.stop(0).finally(() => process.exit(0));
});
// A terminal's Ctrl+C (or a process-group SIGTERM) reaches the workers too; the pool
// decides when they stop and drain, so the signals are left to the parent.
process.on("SIGINT", () => log.debug({}, "SIGINT ignored: the pool stops workers"));
process.on("SIGTERM", () => log.debug({}, "SIGTERM ignored: the pool stops workers"));
process.on("uncaughtException", (err) => {
  log.fatal({ err }, "worker crashed");
  process.exit(70);
});
send({ type: "ready" });
