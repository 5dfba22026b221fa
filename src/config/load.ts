// Loading lodestone.yaml: YAML (with positions) -> schema, entry by entry -> semantic
// checks -> every issue with file:line:column, sorted, all at once.
import { readFile } from "node:fs/promises";
import { type Document, LineCounter, parseDocument } from "yaml";
import type * as z from "zod";
import { LodestoneError } from "../errors.ts";
import {
  type ConfigIssue,
  compareIssues,
  describeValue,
  formatPath,
  friendlyError,
  type PathSegment,
  type PendingIssue,
  unknownKeyMessage,
} from "./issues.ts";
import { locate } from "./positions.ts";
import {
  ALLOWED_KEYS_MARKER,
  admin,
  entrySchemas,
  NAME_PATTERN,
  NAME_RULE,
  runtime,
  SECTION_NAMES,
  TOP_LEVEL_KEYS,
} from "./schema.ts";
import { checkReferences, checkSemantics } from "./semantic.ts";
import type { Config } from "./types.ts";

// The whole public API is reachable from this module (index.ts re-exports the same).
export { type ConfigDiff, diffConfig, isEmpty, type SectionDiff } from "./diff.ts";
export { type ConfigIssue, formatIssue } from "./issues.ts";
export { configJsonSchema } from "./json-schema.ts";

export type ConfigResult = { ok: true; config: Config } | { ok: false; errors: ConfigIssue[] };

/** Refuse absurd inputs before parsing: a config is kilobytes, not a log file. */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** YAML syntax errors shown at most; past the first few they are consequences of the first. */
const MAX_SYNTAX_ERRORS = 20;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** zod issues -> pending issues under `prefix`; an unknown-keys issue becomes one issue per key, at the key. */
function fromZod(prefix: PathSegment[], error: z.ZodError): PendingIssue[] {
  const out: PendingIssue[] = [];
  for (const iss of error.issues) {
    const path = [...prefix, ...(iss.path as PathSegment[])];
    if (iss.code === "unrecognized_keys") {
      const at = iss.message.indexOf(ALLOWED_KEYS_MARKER);
      const allowed = at >= 0 ? iss.message.slice(at + ALLOWED_KEYS_MARKER.length).split(", ") : [];
      for (const key of iss.keys) {
        out.push({
          path: [...path, key],
          message: unknownKeyMessage(key, allowed, ALLOWED_KEYS_MARKER),
          at: "key",
        });
      }
    } else {
      out.push({ path, message: iss.message });
    }
  }
  return out;
}

function parseOptions() {
  return { reportInput: true, error: friendlyError } as const;
}

interface Parsed {
  config: Config;
  issues: PendingIssue[];
}

/** Schema stage on plain data (already out of YAML): partial config + issues. */
export function parseData(raw: unknown): Parsed {
  const issues: PendingIssue[] = [];
  const config: Config = {
    healthchecks: {},
    backends: {},
    services: {},
    frontends: {},
    admin: admin.parse({}),
    runtime: runtime.parse({}),
  };
  let adminParsed = false;
  let runtimeParsed = false;

  const top = raw ?? {};
  if (!isPlainObject(top)) {
    issues.push({
      path: [],
      message: `expected a mapping with the sections ${TOP_LEVEL_KEYS.join(", ")}, got ${describeValue(top)}`,
    });
    return { config, issues };
  }

  for (const key of Object.keys(top)) {
    if (!(TOP_LEVEL_KEYS as readonly string[]).includes(key)) {
      issues.push({
        path: [key],
        message: unknownKeyMessage(key, TOP_LEVEL_KEYS, ALLOWED_KEYS_MARKER),
        at: "key",
      });
    }
  }

  for (const section of SECTION_NAMES) {
    const value = top[section] ?? {};
    if (!isPlainObject(value)) {
      issues.push({
        path: [section],
        message: `expected a mapping of name -> settings, got ${describeValue(value)}`,
      });
      continue;
    }
    const schema = entrySchemas[section];
    for (const [entryName, entry] of Object.entries(value)) {
      if (!NAME_PATTERN.test(entryName)) {
        issues.push({ path: [section, entryName], message: `"${entryName}" is not ${NAME_RULE}`, at: "key" });
        continue;
      }
      const r = schema.safeParse(entry, parseOptions());
      if (r.success) {
        (config[section] as Record<string, unknown>)[entryName] = { name: entryName, ...r.data };
      } else {
        issues.push(...fromZod([section, entryName], r.error));
      }
    }
  }

  // `admin:` / `runtime:` with nothing under them (YAML null) mean "all defaults", like empty sections.
  const a = admin.safeParse(top.admin ?? undefined, parseOptions());
  if (a.success) {
    config.admin = a.data;
    adminParsed = true;
  } else {
    issues.push(...fromZod(["admin"], a.error));
  }
  const rt = runtime.safeParse(top.runtime ?? undefined, parseOptions());
  if (rt.success) {
    config.runtime = rt.data;
    runtimeParsed = true;
  } else {
    issues.push(...fromZod(["runtime"], rt.error));
  }

  issues.push(...checkReferences(top));
  issues.push(...checkSemantics({ config, adminParsed, runtimeParsed }));
  return { config, issues };
}

function yamlIssues(doc: Document, lineCounter: LineCounter, file: string, text: string): ConfigIssue[] {
  return doc.errors.map((e) => {
    const { line, col } = lineCounter.linePos(e.pos[0]);
    // The yaml package's messages end with " at line X, column Y"; we print that ourselves.
    let message = e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
    const lineText = text.slice(
      lineCounter.lineStarts[line - 1] ?? 0,
      lineCounter.lineStarts[line] ?? text.length,
    );
    if (/\[[0-9a-fA-F:.]*\]:\d/.test(lineText)) message += ' (quote IPv6 listen addresses: "[::1]:8080")';
    return { file, line, column: col, path: "", message: `YAML syntax: ${message}` };
  });
}

/** Validate a lodestone.yaml text. `file` only labels the issues. Never throws on bad input. */
export function parseConfig(text: string, file: string): ConfigResult {
  const lineCounter = new LineCounter();
  const source = text.replace(/^\uFEFF/, "");
  const doc = parseDocument(source, {
    lineCounter,
    prettyErrors: false,
    merge: true,
    uniqueKeys: true,
  });
  if (doc.errors.length > 0) {
    // A broken document can repeat one error hundreds of times (deep nesting): dedupe and cap.
    const seen = new Set<string>();
    const unique = yamlIssues(doc, lineCounter, file, source)
      .sort(compareIssues)
      .filter((i) => {
        const key = `${i.line}:${i.column}:${i.message}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
    const shown = unique.slice(0, MAX_SYNTAX_ERRORS);
    if (unique.length > shown.length) {
      const last = shown[shown.length - 1];
      shown.push({ ...last, message: `YAML syntax: ${unique.length - shown.length} more errors not shown` });
    }
    return { ok: false, errors: shown };
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    // e.g. "Excessive alias count" (a billion-laughs document)
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, errors: [{ file, line: 1, column: 1, path: "", message: `YAML: ${message}` }] };
  }
  const { config, issues } = parseData(raw);
  if (issues.length === 0) return { ok: true, config };
  const errors = issues.map((i): ConfigIssue => {
    const pos = locate(doc, lineCounter, i.path, i.at);
    return { file, line: pos.line, column: pos.column, path: formatPath(i.path), message: i.message };
  });
  return { ok: false, errors: errors.sort(compareIssues) };
}

/**
 * Give issues found outside the loader (start-time checks that need I/O) the same
 * file:line:column form, by locating their key paths in the config text.
 */
export function locateIssues(text: string, file: string, pending: readonly PendingIssue[]): ConfigIssue[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text.replace(/^\uFEFF/, ""), { lineCounter, prettyErrors: false, merge: true });
  return pending
    .map((i): ConfigIssue => {
      const pos = locate(doc, lineCounter, i.path, i.at);
      return { file, line: pos.line, column: pos.column, path: formatPath(i.path), message: i.message };
    })
    .sort(compareIssues);
}

/**
 * Read and validate a config file. Throws LodestoneError "CONFIG_UNREADABLE" when the
 * file cannot be read (missing, a directory, no permission, too large); invalid content
 * is a normal result with errors.
 */
export async function loadConfigFile(path: string): Promise<ConfigResult> {
  let text: string;
  try {
    const buf = await readFile(path);
    if (buf.length > MAX_CONFIG_BYTES) {
      throw new LodestoneError("CONFIG_UNREADABLE", `${path}: file too large (${buf.length} bytes)`);
    }
    text = buf.toString("utf8");
  } catch (err) {
    if (err instanceof LodestoneError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === "ENOENT"
        ? "no such file"
        : code === "EISDIR"
          ? "is a directory"
          : code === "EACCES"
            ? "permission denied"
            : (err as Error).message;
    throw new LodestoneError("CONFIG_UNREADABLE", `cannot read ${path}: ${reason}`, { cause: err });
  }
  return parseConfig(text, path);
}
