// One log line for a reload's config diff.
import { type ConfigDiff, isEmpty } from "../config/index.ts";

/** "backends +web-3 -web-1 ~web-2; runtime changed" — one line for the log. */
export function summarizeDiff(diff: ConfigDiff): string {
  if (isEmpty(diff)) return "no changes";
  const parts: string[] = [];
  for (const section of ["healthchecks", "backends", "services", "frontends"] as const) {
    const s = diff[section];
    const items = [
      ...s.added.map((n) => `+${n}`),
      ...s.removed.map((n) => `-${n}`),
      ...s.changed.map((n) => `~${n}`),
    ];
    if (items.length > 0) parts.push(`${section} ${items.join(" ")}`);
  }
  if (diff.admin) parts.push("admin changed");
  if (diff.runtime) parts.push("runtime changed");
  return parts.join("; ");
}
