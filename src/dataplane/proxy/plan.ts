// What apply() must do to each frontend, as a pure function of what runs and what
// is desired: the diff is decided here (and truth-table tested); dataplane.ts only
// carries it out.
import type { HostPort, Protocol } from "../../config/types.ts";

export interface Binding {
  protocol: Protocol;
  listen: HostPort;
}

export type FrontendAction =
  /** Not running yet: build and bind a listener. */
  | { kind: "start"; name: string }
  /** Running with the same protocol and address: hand it the new state. */
  | { kind: "update"; name: string }
  /** Running, but protocol or listen address changed: retire the old listener (a "start" follows). */
  | { kind: "replace"; name: string }
  /** Running but no longer desired: stop accepting and drain. */
  | { kind: "remove"; name: string };

export function sameBinding(a: Binding, b: Binding): boolean {
  return a.protocol === b.protocol && a.listen.host === b.listen.host && a.listen.port === b.listen.port;
}

/**
 * The actions in the order they must run: removals and replacements first (they
 * release addresses), then updates, then starts (a replaced frontend is started
 * again there); within each phase, in the order the frontends appear (running
 * ones for removals and replacements, desired ones otherwise).
 */
export function planApply(
  running: ReadonlyMap<string, Binding>,
  desired: Readonly<Record<string, Binding>>,
): FrontendAction[] {
  const retire: FrontendAction[] = [];
  const update: FrontendAction[] = [];
  const start: FrontendAction[] = [];
  for (const [name, r] of running) {
    const d = Object.hasOwn(desired, name) ? desired[name] : undefined;
    if (d === undefined) retire.push({ kind: "remove", name });
    else if (!sameBinding(r, d)) retire.push({ kind: "replace", name });
  }
  for (const [name, d] of Object.entries(desired)) {
    const r = running.get(name);
    if (r !== undefined && sameBinding(r, d)) update.push({ kind: "update", name });
    else start.push({ kind: "start", name });
  }
  return [...retire, ...update, ...start];
}
