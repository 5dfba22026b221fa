// The Error a socket call's failure becomes, shaped like Node's own socket errors
// (errno, code, syscall, "connect ECONNREFUSED 127.0.0.1:80: connection refused"), so
// the callers' logs and tests read the same whichever layer the socket lives in.
import { getSystemErrorMessage, getSystemErrorName } from "node:util";

/** `status` is negative, as libuv and Node report it (-errno on Linux). */
export function socketError(status: number, syscall: string, detail?: string): NodeJS.ErrnoException {
  const code = getSystemErrorName(status);
  const err: NodeJS.ErrnoException = new Error(
    `${syscall} ${code}${detail === undefined ? "" : ` ${detail}`}: ${getSystemErrorMessage(status)}`,
  );
  err.errno = status;
  err.code = code;
  err.syscall = syscall;
  return err;
}
