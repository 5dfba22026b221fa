// The daemon's structured log: pino, one JSON object per line on stdout, written
// synchronously so lines are never lost on exit and arrive in order for whoever
// reads them (an operator's terminal, journald, the integration tests).
import { pino } from "pino";
import type { RuntimeConfig } from "../config/types.ts";
import { LodestoneError } from "../errors.ts";

/**
 * Errors that describe the operator's environment or config (a port already in use),
 * not a bug: the message says everything, so a stack trace would only bury it.
 */
const OPERATOR_ERROR_CODES: ReadonlySet<string> = new Set([
  "LISTEN_FAILED",
  "PROTOCOL_UNSUPPORTED",
  "DATAPLANE_STOPPED",
]);

function isOperatorError(err: unknown): err is LodestoneError {
  if (!(err instanceof LodestoneError)) return false;
  if (OPERATOR_ERROR_CODES.has(err.code)) return true;
  // Several frontends failed at once: plain only when every one of them is plain.
  return err.code === "APPLY_FAILED" && Array.isArray(err.cause) && err.cause.every(isOperatorError);
}

/** `err` fields: code and message for operator errors, pino's full form (with stack) otherwise. */
export function serializeError(err: unknown): unknown {
  if (isOperatorError(err)) return { type: err.name, code: err.code, message: err.message };
  return pino.stdSerializers.err(err as Error);
}

export type Logger = pino.Logger;

export function createLogger(level: RuntimeConfig["logLevel"] = "info", fd = 1): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: serializeError },
    },
    pino.destination({ fd, sync: true }),
  );
}
