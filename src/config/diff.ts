// What changed between two configs, for reloads: per named section the names added,
// removed and changed (any field differs), plus whether admin/runtime changed. Pure.
import type { Config } from "./types.ts";

export interface SectionDiff {
  added: string[];
  removed: string[];
  changed: string[];
}

export interface ConfigDiff {
  healthchecks: SectionDiff;
  backends: SectionDiff;
  services: SectionDiff;
  frontends: SectionDiff;
  admin: boolean;
  runtime: boolean;
}

export const DIFF_SECTIONS = ["healthchecks", "backends", "services", "frontends"] as const;

/** Structural equality for config data (plain objects, arrays, scalars). Key order does not matter. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  // Undefined-valued keys count as absent, like an omitted optional field.
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => Object.hasOwn(bo, k) && deepEqual(ao[k], bo[k]));
}

function diffSection(a: Record<string, unknown>, b: Record<string, unknown>): SectionDiff {
  const added = Object.keys(b).filter((k) => !Object.hasOwn(a, k));
  const removed = Object.keys(a).filter((k) => !Object.hasOwn(b, k));
  const changed = Object.keys(b).filter((k) => Object.hasOwn(a, k) && !deepEqual(a[k], b[k]));
  return { added: added.sort(), removed: removed.sort(), changed: changed.sort() };
}

/** Changes from `a` (running) to `b` (new); names sorted. */
export function diffConfig(a: Config, b: Config): ConfigDiff {
  return {
    healthchecks: diffSection(a.healthchecks, b.healthchecks),
    backends: diffSection(a.backends, b.backends),
    services: diffSection(a.services, b.services),
    frontends: diffSection(a.frontends, b.frontends),
    admin: !deepEqual(a.admin, b.admin),
    runtime: !deepEqual(a.runtime, b.runtime),
  };
}

export function isEmpty(diff: ConfigDiff): boolean {
  return (
    !diff.admin &&
    !diff.runtime &&
    DIFF_SECTIONS.every((s) => diff[s].added.length + diff[s].removed.length + diff[s].changed.length === 0)
  );
}
