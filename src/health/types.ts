// The health checker's public shapes: what a probe reports and what the checker
// shows about each backend. Consumers (reconciler, admin API, CLI) import these.
import type { HealthCheckConfig } from "../config/types.ts";
import type { HealthState } from "../model/state.ts";

/** Where a probe connects: the backend address and the check port (or the traffic port). */
export interface ProbeTarget {
  address: string;
  port: number;
}

/** States an agent-check reply can announce (HAProxy's words; "fail"/"stopped" read as down). */
export type AgentState = "up" | "down" | "drain" | "ready" | "maint";

export interface AgentReport {
  state?: AgentState;
  /** Relative weight announced by the agent, percent of the configured weight (0..100). */
  weightPercent?: number;
}

export interface ProbeResult {
  ok: boolean;
  /** Human-readable: "connected", "HTTP 200", "connect ECONNREFUSED", "timeout after 1000ms"... */
  reason: string;
  latencyMs: number;
  /** Agent checks only: what the agent said. */
  agent?: AgentReport;
}

/** One probe. Never throws: every failure is a result with ok=false and a reason. */
export type ProbeFn = (
  target: ProbeTarget,
  check: HealthCheckConfig,
  signal: AbortSignal,
) => Promise<ProbeResult>;

export interface Transition {
  /** Epoch ms. */
  at: number;
  from: HealthState;
  to: HealthState;
  reason: string;
}

/** What the agent has told us so far (sticky until it says otherwise). */
export interface AgentStatus {
  weightPercent?: number;
  drain?: boolean;
}

export interface LastProbe {
  ok: boolean;
  reason: string;
  latencyMs: number;
  /** Epoch ms when the result arrived. */
  at: number;
}

export interface BackendHealthView {
  name: string;
  address: string;
  port: number;
  /** Name of the health check, or null for a static backend (up at once, never probed). */
  check: string | null;
  state: HealthState;
  counter: number;
  rise: number;
  fall: number;
  /** Epoch ms of the last state change (or of the start of tracking). */
  since: number;
  lastProbe?: LastProbe;
  agent?: AgentStatus;
  /** The last 32 transitions, oldest first. */
  history: Transition[];
}
