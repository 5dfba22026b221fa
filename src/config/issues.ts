// Config errors as users see them: "file:line:col: key.path: what is expected".
import type * as z from "zod";

export interface ConfigIssue {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  /** Key path in the YAML, e.g. `services.web.pools[0].backends.web-1.weight`; "" for the whole file. */
  path: string;
  message: string;
}

export type PathSegment = string | number;

/** An issue before it has a position: the key path as segments, and whether it is about the key or its value. */
export interface PendingIssue {
  path: PathSegment[];
  message: string;
  /** "key": point at the key itself (unknown key, bad name); "value" (default): at its value. */
  at?: "key" | "value";
}

/** `services.web.pools[0].backends.web-1.weight`; odd keys are quoted: `backends["a b"]`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

export function formatIssue(i: ConfigIssue): string {
  // Line 0 marks a problem of the whole file (unreadable, too large): no position to show.
  const where = i.line > 0 ? `${i.file}:${i.line}:${i.column}` : i.file;
  return i.path === "" ? `${where}: ${i.message}` : `${where}: ${i.path}: ${i.message}`;
}

/** Order for reporting: by position, then path, then message (stable across runs). */
export function compareIssues(a: ConfigIssue, b: ConfigIssue): number {
  return (
    a.line - b.line ||
    a.column - b.column ||
    (a.path < b.path ? -1 : a.path > b.path ? 1 : 0) ||
    (a.message < b.message ? -1 : a.message > b.message ? 1 : 0)
  );
}

/** How a YAML value reads in a message. */
export function describeValue(v: unknown): string {
  if (v === null) return "an empty value";
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  return String(v);
}

const TYPE_WORDS: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  object: "a mapping",
  record: "a mapping",
  array: "a list",
};

/**
 * Parse-time error map: plain wording for the zod issues a schema did not word itself
 * (schemas' own `error` options take precedence over this).
 */
export const friendlyError: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case "invalid_type": {
      const want = TYPE_WORDS[iss.expected] ?? iss.expected;
      return iss.input === undefined
        ? `required: ${want}`
        : `expected ${want}, got ${describeValue(iss.input)}`;
    }
    case "too_small":
      if (iss.origin === "array")
        return `expected at least ${iss.minimum} item${iss.minimum === 1 ? "" : "s"}`;
      if (iss.origin === "string") return "must not be empty";
      return `expected at least ${iss.minimum}`;
    case "too_big":
      if (iss.origin === "array") return `expected at most ${iss.maximum} items`;
      return `expected at most ${iss.maximum}`;
    case "invalid_value":
      return `expected ${iss.values.map((v) => JSON.stringify(v)).join(" or ")}, got ${describeValue(iss.input)}`;
    default:
      return undefined;
  }
};

/**
 * The allowed key an unknown key was most likely meant to be, or undefined: a typo
 * (`protocoll`, `conect-timeout`), `_` for `-`, other case, or a missing plural `s`.
 * Close means at most 2 edits, and fewer than half the key, so short keys do not
 * "suggest" unrelated ones.
 */
export function closestKey(key: string, allowed: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replaceAll("_", "-");
  const k = norm(key);
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of allowed) {
    const d = editDistance(k, norm(candidate));
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= 2 && bestDistance * 2 < k.length ? best : undefined;
}

/** Levenshtein distance (insert, delete, substitute), two rows. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

/** `unknown key "protocoll" (did you mean "protocol"?); allowed keys: ...`. */
export function unknownKeyMessage(key: string, allowed: readonly string[], marker: string): string {
  const guess = closestKey(key, allowed);
  const hint = guess !== undefined && guess !== key ? ` (did you mean "${guess}"?)` : "";
  return `unknown key "${key}"${hint}${allowed.length > 0 ? `; ${marker}${allowed.join(", ")}` : ""}`;
}
