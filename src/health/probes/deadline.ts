// What every probe shares: a deadline (the check's timeout), cancellation by the
// checker's AbortSignal, exactly-once settlement with cleanup, and error
// messages turned into short readable reasons.
import { performance } from "node:perf_hooks";
import type { AgentReport, ProbeResult } from "../types.ts";

export type Settle = (ok: boolean, reason: string, agent?: AgentReport) => void;

/**
 * Run `start` under a deadline. `start` opens its sockets, calls `settle` once it
 * knows the answer, and returns a cleanup that closes whatever is still open.
 * The first of (settle, timeout, abort) wins; the promise never rejects.
 */
export function withDeadline(
  timeoutMs: number,
  signal: AbortSignal,
  start: (settle: Settle) => () => void,
): Promise<ProbeResult> {
  const t0 = performance.now();
  if (signal.aborted) return Promise.resolve({ ok: false, reason: "aborted", latencyMs: 0 });
  return new Promise<ProbeResult>((resolve) => {
    let done = false;
    let cleanup: (() => void) | undefined;
    const settle: Settle = (ok, reason, agent) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      const latencyMs = Math.round((performance.now() - t0) * 1000) / 1000;
      const result: ProbeResult = agent ? { ok, reason, latencyMs, agent } : { ok, reason, latencyMs };
      resolve(result);
      // Cleanup after resolving: a cleanup that throws must not lose the verdict.
      try {
        cleanup?.();
      } catch {
        // closing an already-broken socket may throw; nothing left to do
      }
    };
    const onAbort = () => settle(false, "aborted");
    const timer = setTimeout(() => settle(false, `timeout after ${timeoutMs}ms`), timeoutMs);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      cleanup = start(settle);
    } catch (err) {
      settle(false, describeError(err));
    }
    // settle may have run synchronously inside start, before cleanup was known
    if (done) {
      try {
        cleanup?.();
      } catch {
        // see above
      }
    }
  });
}

const CERT_CODES = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS|ERR_SSL/;

/** Turn a socket/TLS/HTTP error into a short reason: "connect ECONNREFUSED", "tls ...", "read ECONNRESET". */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as NodeJS.ErrnoException;
  const code = typeof e.code === "string" ? e.code : undefined;
  if (code && CERT_CODES.test(code)) return `tls ${code}: ${e.message}`;
  if (code?.startsWith("HPE_")) return `bad HTTP response (${code})`;
  if (code === "ECONNRESET" && !e.syscall) return "connection closed before a response";
  if (code && e.syscall) return `${e.syscall} ${code}`;
  if (code) return `${code}: ${e.message}`;
  return e.message;
}
