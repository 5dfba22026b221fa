// The health state machine of one backend: HAProxy's single rise/fall counter,
// as pure functions (no timers, no sockets) so it can be tested exhaustively.
//
// The counter lives in [0, top] with top = rise + fall - 1. It is split in two
// bands: "down" owns [0, rise-1], "up" owns [rise, top].
//   - A pass adds one (capped at top), a fail takes one away (floored at 0).
//   - Crossing into the other band is a transition, and the counter jumps to the
//     far end of the new band (top when going up, 0 when going down), exactly as
//     HAProxy does. So from any up state it takes `fall` consecutive failures
//     to go down, and from any down state `rise` consecutive passes to go up,
//     including right after a transition.
//   - unknown (start, resume, enable) presets the counter to rise-1, on the
//     boundary: one pass takes it up, one fail takes it down.
//   - paused and disabled ignore probe results; the counter is frozen.
import type { ProbeTiming } from "../config/types.ts";
import { LodestoneError } from "../errors.ts";
import type { HealthState } from "./state.ts";

/** The states a live backend can be in (removed is the checker's business). */
export type BackendState = Exclude<HealthState, "removed">;

export interface BackendHealth {
  readonly state: BackendState;
  /** The rise/fall counter, in [0, rise + fall - 1]. */
  readonly counter: number;
}

export interface HealthLimits {
  rise: number;
  fall: number;
}

export interface StateChange {
  from: BackendState;
  to: BackendState;
}

/** The outcome of one event: the new health, and the state change if there was one. */
export interface HealthStep {
  health: BackendHealth;
  transition?: StateChange;
}

export type OperatorAction = "pause" | "resume" | "disable" | "enable";

function checkLimits(limits: HealthLimits): void {
  const { rise, fall } = limits;
  if (!Number.isInteger(rise) || rise < 1 || !Number.isInteger(fall) || fall < 1) {
    throw new LodestoneError(
      "HEALTH_BAD_LIMITS",
      `rise and fall must be positive integers (got rise=${rise}, fall=${fall})`,
    );
  }
}

/** The highest counter value: rise + fall - 1. */
export function counterTop(limits: HealthLimits): number {
  return limits.rise + limits.fall - 1;
}

/** A freshly checked backend: unknown, counter on the boundary so the first probe decides. */
export function initialHealth(rise: number, fall: number): BackendHealth {
  checkLimits({ rise, fall });
  return { state: "unknown", counter: rise - 1 };
}

/** A backend without a health check: up at once, and it stays up (nothing probes it). */
export function staticHealth(limits: HealthLimits = { rise: 1, fall: 1 }): BackendHealth {
  checkLimits(limits);
  return { state: "up", counter: counterTop(limits) };
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}

function step(h: BackendHealth, next: BackendHealth): HealthStep {
  if (next.state === h.state) return { health: next };
  return { health: next, transition: { from: h.state, to: next.state } };
}

/** Apply one probe result. Results arriving while paused or disabled change nothing. */
export function applyResult(h: BackendHealth, ok: boolean, limits: HealthLimits): HealthStep {
  checkLimits(limits);
  const top = counterTop(limits);
  const { rise } = limits;
  switch (h.state) {
    case "paused":
    case "disabled":
      return { health: h };
    case "unknown":
      return step(h, ok ? { state: "up", counter: top } : { state: "down", counter: 0 });
    case "up": {
      // Normalise into the up band so the function is total over any counter.
      const c = clamp(h.counter, rise, top);
      if (ok) return { health: { state: "up", counter: Math.min(c + 1, top) } };
      return c - 1 >= rise
        ? { health: { state: "up", counter: c - 1 } }
        : step(h, { state: "down", counter: 0 });
    }
    case "down": {
      const c = clamp(h.counter, 0, rise - 1);
      if (!ok) return { health: { state: "down", counter: Math.max(c - 1, 0) } };
      return c + 1 >= rise
        ? step(h, { state: "up", counter: top })
        : { health: { state: "down", counter: c + 1 } };
    }
  }
}

/**
 * Apply an operator action. pause freezes probing and state (not on a disabled
 * backend: disable wins); resume (from paused) and enable (from disabled) go to
 * unknown with the counter preset so one probe decides. A static backend (no
 * health check, so no probe will ever decide) goes straight back to up instead.
 * Actions that do not apply to the current state change nothing.
 */
export function applyOperator(
  h: BackendHealth,
  action: OperatorAction,
  limits: HealthLimits,
  isStatic = false,
): HealthStep {
  checkLimits(limits);
  const back: BackendHealth = isStatic
    ? { state: "up", counter: counterTop(limits) }
    : { state: "unknown", counter: limits.rise - 1 };
  switch (action) {
    case "pause":
      return h.state === "paused" || h.state === "disabled"
        ? { health: h }
        : step(h, { ...h, state: "paused" });
    case "resume":
      return h.state === "paused" ? step(h, back) : { health: h };
    case "disable":
      return h.state === "disabled" ? { health: h } : step(h, { ...h, state: "disabled" });
    case "enable":
      return h.state === "disabled" ? step(h, back) : { health: h };
  }
}

/** Whether probes run in this state at all. */
export function isProbing(h: BackendHealth): boolean {
  return h.state === "unknown" || h.state === "up" || h.state === "down";
}

/** Between states: unknown, an up backend that has failed, or a down backend that has passed. */
export function inTransition(h: BackendHealth, limits: HealthLimits): boolean {
  if (h.state === "unknown") return true;
  if (h.state === "up") return h.counter < counterTop(limits);
  if (h.state === "down") return h.counter > 0;
  return false;
}

/**
 * Delay before the next probe, ms: `interval` while steadily up, `fastInterval`
 * while in transition (so a verdict comes quickly), `downInterval` while
 * steadily down; each spread by +-jitter (a fraction) so probes of many backends
 * do not bunch up. Infinity when the state does not probe (paused, disabled).
 * `random` returns [0, 1).
 */
export function nextInterval(h: BackendHealth, timing: ProbeTiming, random: () => number): number {
  if (!isProbing(h)) return Number.POSITIVE_INFINITY;
  let base: number;
  if (inTransition(h, timing)) base = timing.fastInterval;
  else if (h.state === "up") base = timing.interval;
  else base = timing.downInterval;
  const jitter = clamp(timing.jitter, 0, 0.5);
  const spread = base * jitter * (2 * random() - 1);
  return Math.max(1, Math.round(base + spread));
}
