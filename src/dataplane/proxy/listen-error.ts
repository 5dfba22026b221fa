// One clear error for "this frontend cannot bind its address", whatever the cause.
import { LodestoneError } from "../../errors.ts";

const HINTS: Record<string, string> = {
  EADDRINUSE: "address already in use",
  EACCES: "permission denied (ports below 1024 need privileges)",
  EADDRNOTAVAIL: "address not available on this host",
  EINVAL: "invalid address",
};

export function listenError(
  frontend: string,
  transport: "tcp" | "udp",
  host: string,
  port: number,
  err: NodeJS.ErrnoException,
): LodestoneError {
  const where = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  const why =
    err.code === undefined ? err.message : `${err.code}${HINTS[err.code] ? ` (${HINTS[err.code]})` : ""}`;
  return new LodestoneError(
    "LISTEN_FAILED",
    `frontend "${frontend}": cannot listen on ${transport} ${where}: ${why}`,
    {
      cause: err,
    },
  );
}
