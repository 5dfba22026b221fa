// Effective weights and priority failover: pure functions, no I/O.
//
// One function, `effectiveWeight`, maps what is known about a backend — its health
// state, what the operator asked for, what its agent reported — to the two numbers a
// dataplane needs: the weight new flows are spread by, and whether flows already
// on the backend are ended now (flush) or allowed to finish (drain). It is locked
// down by the truth table in test/unit/balance/weights.test.ts.
//
// Decisions (see docs/operations.md):
//   up        -> configured weight (after operator override and agent scaling) if in
//                the active pool, else 0 without flush (a standby pool drains).
//   paused    -> probing is stopped and the traffic state is FROZEN: a backend paused
//                while up keeps serving as if up; paused while anything else serves 0.
//                (vpp-maglev: weight follows the frozen state.)
//   down      -> 0, no flush (HAProxy's default: open connections may finish).
//   unknown   -> 0, no flush (probes have not decided; warmup keeps this from ever
//                being programmed as "everything down" at start).
//   disabled  -> 0; flush only when the operator asked for it with the disable.
//   removed   -> 0, no flush (gone after a reload; its flows drain).
//   agent "drain" -> 0, no flush; agent "N%" scales the configured weight.
//   operator setWeight(w, flush) replaces the configured weight; flush applies only
//   when the result is 0 because of that override.
import type { HealthState } from "../model/state.ts";

/** What the agent-check last reported for a backend. */
export interface AgentReport {
  drain?: boolean;
  /** 0..100: percentage of the configured weight. */
  weightPercent?: number;
}

/** An operator weight override for one pool member. */
export interface WeightOverride {
  /** 0..100, replaces the configured weight. */
  weight: number;
  /** When the override brings the weight to 0: end existing flows now. */
  flush: boolean;
}

export interface WeightInput {
  state: HealthState;
  /** For a paused backend: the state it was in when it was paused. */
  frozenState?: HealthState;
  /** The pool member's configured weight, 0..100. */
  configuredWeight: number;
  override?: WeightOverride;
  /** The operator disabled the backend asking for its flows to be ended. */
  disableFlush?: boolean;
  agent?: AgentReport;
}

export interface WeightResult {
  /** Configured weight after an operator override (what status pages show as "configured"). */
  configuredWeight: number;
  /** What balancers use. */
  weight: number;
  /** Weight is 0 and existing flows must be ended now. */
  flush: boolean;
}

/**
 * The state that decides traffic: a paused backend keeps the state it was frozen in
 * (unknown when that is not known). Every other state stands for itself.
 */
export function trafficState(state: HealthState, frozenState?: HealthState): HealthState {
  if (state !== "paused") return state;
  if (frozenState === undefined || frozenState === "paused") return "unknown";
  return frozenState;
}

/** Scale a weight by an agent percentage; a positive percentage never rounds a positive weight to 0. */
export function scaleWeight(weight: number, percent: number): number {
  const pct = Math.min(100, Math.max(0, percent));
  if (pct === 0 || weight === 0) return 0;
  return Math.max(1, Math.round((weight * pct) / 100));
}

/**
 * The weight a backend would get if its pool were active: 0 unless it serves
 * traffic (up, or paused while up), after operator override and agent report.
 * This is also what decides whether a pool can be active.
 */
export function candidateWeight(input: WeightInput): number {
  if (trafficState(input.state, input.frozenState) !== "up") return 0;
  if (input.agent?.drain) return 0;
  const base = input.override ? input.override.weight : input.configuredWeight;
  if (input.agent?.weightPercent !== undefined) return scaleWeight(base, input.agent.weightPercent);
  return base;
}

/** The one mapping from (state, pool, operator, agent) to (weight, flush). */
export function effectiveWeight(input: WeightInput, inActivePool: boolean): WeightResult {
  const configuredWeight = input.override ? input.override.weight : input.configuredWeight;
  const candidate = candidateWeight(input);
  const weight = inActivePool ? candidate : 0;
  // Flush is only ever an explicit operator request; health, pool failover and the
  // agent always drain.
  const flush =
    weight === 0 &&
    ((input.state === "disabled" && input.disableFlush === true) ||
      (input.override !== undefined && input.override.weight === 0 && input.override.flush));
  return { configuredWeight, weight, flush };
}

/**
 * Priority failover: the index of the first pool holding a member that is up with
 * weight > 0, or -1 when no pool has one. `weightOf` is the member's candidate
 * weight (see candidateWeight); `stateOf` its traffic state.
 */
export function activePool<M>(
  pools: readonly (readonly M[])[],
  stateOf: (member: M) => HealthState,
  weightOf: (member: M) => number,
): number {
  for (let i = 0; i < pools.length; i++) {
    for (const member of pools[i]) {
      if (stateOf(member) === "up" && weightOf(member) > 0) return i;
    }
  }
  return -1;
}
