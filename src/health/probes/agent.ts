// Agent probe (HAProxy agent-check): connect to the agent port, read one line
// (up to 1 KiB, or whatever arrived before the agent closed), and let
// agent-reply.ts say what it means.
import { connect } from "node:net";
import type { HealthCheckConfig } from "../../config/types.ts";
import type { ProbeResult, ProbeTarget } from "../types.ts";
import { agentVerdict } from "./agent-reply.ts";
import { describeError, withDeadline } from "./deadline.ts";

export const MAX_AGENT_LINE = 1024;

export function probeAgent(
  target: ProbeTarget,
  check: HealthCheckConfig,
  signal: AbortSignal,
): Promise<ProbeResult> {
  return withDeadline(check.timeout, signal, (settle) => {
    const socket = connect({ host: target.address, port: target.port });
    const chunks: Buffer[] = [];
    let size = 0;
    const decide = () => {
      const text = Buffer.concat(chunks, Math.min(size, MAX_AGENT_LINE)).toString("latin1");
      const line = text.split(/\r?\n/, 1)[0]!;
      const v = agentVerdict(line);
      settle(v.ok, v.reason, v.report);
    };
    socket.on("error", (err) => settle(false, describeError(err)));
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= MAX_AGENT_LINE || chunk.includes(10)) decide();
    });
    socket.on("end", decide);
    return () => socket.destroy();
  });
}
