// TCP probe: the backend passes when a connection opens; it is closed at once.
import { connect } from "node:net";
import type { HealthCheckConfig } from "../../config/types.ts";
import type { ProbeResult, ProbeTarget } from "../types.ts";
import { describeError, withDeadline } from "./deadline.ts";

export function probeTcp(
  target: ProbeTarget,
  check: HealthCheckConfig,
  signal: AbortSignal,
): Promise<ProbeResult> {
  return withDeadline(check.timeout, signal, (settle) => {
    const socket = connect({ host: target.address, port: target.port });
    socket.on("error", (err) => settle(false, describeError(err)));
    socket.once("connect", () => settle(true, "connected"));
    return () => socket.destroy();
  });
}
