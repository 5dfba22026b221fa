// The daemon's structured log: pino, one JSON object per line on stdout, written
// synchronously so lines are never lost on exit and arrive in order for whoever
// reads them (an operator's terminal, journald, the integration tests).
import { pino } from "pino";
import type { RuntimeConfig } from "../config/types.ts";

export type Logger = pino.Logger;

export function createLogger(level: RuntimeConfig["logLevel"] = "info", fd = 1): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ fd, sync: true }),
  );
}
