// The IPC messages between the worker pool (workers.ts) and each worker process
// (worker-main.ts). Sent with `serialization: "advanced"`, so the desired state's
// Int32Array Maglev tables arrive as Int32Arrays.
import type { DesiredState } from "../../model/desired.ts";
import type { ProxyStats } from "./counters.ts";

export type ToWorker =
  /**
   * drainTimeout: for frontends this apply removes or replaces, ms (absent: the worker's
   * start value). stickyKey: the pool's random sticky-cookie key, the same for every
   * worker (absent: the worker's own).
   */
  | { type: "apply"; id: number; desired: DesiredState; drainTimeout?: number; stickyKey?: Uint8Array }
  | { type: "stats"; id: number }
  | { type: "stop"; id: number; drainTimeout: number };

export type FromWorker =
  | { type: "ready" }
  /** The worker's L7 outlier detection ejected (true) or returned (false) a backend. */
  | { type: "outlier"; frontend: string; backend: string; ejected: boolean; reason: string }
  | { type: "reply"; id: number; ok: true; stats?: ProxyStats }
  | { type: "reply"; id: number; ok: false; error: { code: string; message: string } };

/** Environment variables the pool sets for its workers. */
export const WORKER_INDEX_ENV = "LODESTONE_WORKER_INDEX";
export const WORKER_LOG_LEVEL_ENV = "LODESTONE_WORKER_LOG_LEVEL";
export const WORKER_DRAIN_ENV = "LODESTONE_WORKER_DRAIN_TIMEOUT";
