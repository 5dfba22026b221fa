// One entry point for all probe types; the checker calls this.
import type { HealthCheckConfig } from "../config/types.ts";
import { probeAgent } from "./probes/agent.ts";
import { probeHttp } from "./probes/http.ts";
import { probeTcp } from "./probes/tcp.ts";
import { probeUdp } from "./probes/udp.ts";
import type { ProbeResult, ProbeTarget } from "./types.ts";

export function probe(
  target: ProbeTarget,
  check: HealthCheckConfig,
  signal: AbortSignal,
): Promise<ProbeResult> {
  switch (check.type) {
    case "tcp":
      return probeTcp(target, check, signal);
    case "http":
    case "https":
      return probeHttp(target, check, signal);
    case "udp":
      return probeUdp(target, check, signal);
    case "agent":
      return probeAgent(target, check, signal);
    default:
      // A config that slipped past validation: report, never throw.
      return Promise.resolve({
        ok: false,
        reason: `unknown check type ${JSON.stringify((check as { type: unknown }).type)}`,
        latencyMs: 0,
      });
  }
}
