// Backend health states (after HAProxy and vpp-maglev).
//   unknown  - at start, after enable/resume: probes have not decided yet
//   up/down  - decided by the rise/fall counter (or static: up at once)
//   paused   - operator: probing stopped, state frozen for traffic purposes
//   disabled - operator: out of service
//   removed  - gone after a reload
export type HealthState = "unknown" | "up" | "down" | "paused" | "disabled" | "removed";

export const HEALTH_STATES: readonly HealthState[] = [
  "unknown",
  "up",
  "down",
  "paused",
  "disabled",
  "removed",
];
