// The operator command grammar as plain data, shared by the `lodestone` subcommands and
// the interactive shell, and a pure resolver over it: unique-prefix matching of
// keywords ("sh ba" = "show backends"), the candidates when a prefix is ambiguous,
// tab completion (keywords, flags and live object names), and "?" help listing what
// can come next. No I/O here: object names come from a NameSource the caller fills.

export type ArgKind = "frontend" | "service" | "pool" | "backend" | "weight";
export type FlagValue = ArgKind | "type" | "level" | "count";

export interface FlagSpec {
  name: string;
  /** The flag takes a value of this kind ("--backend web-1"); a switch when absent. */
  value?: FlagValue;
  help: string;
}

export interface GrammarNode {
  /** A keyword, matched by unique prefix. */
  word?: string;
  /** Or a value (an object name or a number). */
  arg?: { name: string; kind: ArgKind };
  help: string;
  children?: GrammarNode[];
  /** The command is complete here. */
  action?: string;
  flags?: FlagSpec[];
}

const JSON_FLAG: FlagSpec = { name: "--json", help: "print JSON instead of a table" };
const FLUSH: FlagSpec = { name: "--flush", help: "end open connections now instead of letting them drain" };

const leaf = (word: string, help: string, action: string, flags: FlagSpec[] = []): GrammarNode => ({
  word,
  help,
  action,
  flags: [...flags, JSON_FLAG],
});

const named = (word: string, kind: ArgKind, help: string, action: string): GrammarNode => ({
  word,
  help,
  children: [{ arg: { name: kind, kind }, help: `a ${kind} name`, action, flags: [JSON_FLAG] }],
});

export const GRAMMAR: GrammarNode = {
  help: "lodestone",
  children: [
    {
      word: "show",
      help: "show objects and their state",
      children: [
        leaf("frontends", "every frontend: state, active pool, connections", "show.frontends"),
        named("frontend", "frontend", "one frontend", "show.frontend"),
        leaf("services", "every service: pools, active pool, weights", "show.services"),
        named("service", "service", "one service", "show.service"),
        leaf("backends", "every backend: state, last transition, last probe", "show.backends"),
        named("backend", "backend", "one backend with its transition history", "show.backend"),
        leaf("healthchecks", "health checks and the backends using them", "show.healthchecks"),
        leaf("version", "version of the running lodestone", "show.version"),
      ],
    },
    {
      word: "set",
      help: "change operator state",
      children: [
        {
          word: "backend",
          help: "pause, resume, enable or disable a backend",
          children: [
            {
              arg: { name: "backend", kind: "backend" },
              help: "a backend name",
              children: [
                leaf("pause", "stop probing; keep the current state", "set.backend.pause"),
                leaf("resume", "probe again (unknown until the next probe)", "set.backend.resume"),
                leaf("enable", "back in service (unknown until probed)", "set.backend.enable"),
                leaf("disable", "out of service; open flows drain unless --flush", "set.backend.disable", [
                  FLUSH,
                ]),
              ],
            },
          ],
        },
        {
          word: "service",
          help: "override a pool member's weight",
          children: [
            {
              arg: { name: "service", kind: "service" },
              help: "a service name",
              children: [
                {
                  word: "pool",
                  help: "a pool of the service",
                  children: [
                    {
                      arg: { name: "pool", kind: "pool" },
                      help: "a pool name",
                      children: [
                        {
                          word: "backend",
                          help: "a member of the pool",
                          children: [
                            {
                              arg: { name: "backend", kind: "backend" },
                              help: "a backend name",
                              children: [
                                {
                                  word: "weight",
                                  help: "set the member's weight",
                                  children: [
                                    {
                                      arg: { name: "weight", kind: "weight" },
                                      help: "0..100",
                                      action: "set.weight",
                                      flags: [FLUSH, JSON_FLAG],
                                    },
                                  ],
                                },
                              ],
                            },
                          ],
                        },
                      ],
                    },
                  ],
                },
              ],
            },
          ],
        },
      ],
    },
    {
      word: "config",
      help: "check or reload the configuration",
      children: [
        leaf(
          "check",
          "validate the config file as a reload would and show what it would change",
          "config.check",
        ),
        leaf("reload", "re-read the config file and apply it", "config.reload"),
      ],
    },
    {
      word: "watch",
      help: "follow live events",
      children: [
        leaf("events", "stream control-plane events (reconnects with Last-Event-ID)", "watch.events", [
          { name: "--backend", value: "backend", help: "only events about this backend" },
          { name: "--frontend", value: "frontend", help: "only events about this frontend" },
          { name: "--level", value: "level", help: "log events at or above info|warn|error" },
          { name: "--type", value: "type", help: "event types, comma-separated" },
          { name: "--count", value: "count", help: "exit after this many events" },
        ]),
      ],
    },
  ],
};

/** Live object names for completion; pool and backend names may depend on the service/pool chosen. */
export interface NameSource {
  names(kind: FlagValue, args: Readonly<Record<string, string>>): readonly string[];
}

export const NO_NAMES: NameSource = { names: () => [] };

const FIXED: Partial<Record<FlagValue, readonly string[]>> = {
  level: ["info", "warn", "error"],
  type: ["backend-transition", "frontend-transition", "weight-change", "backend-ejected", "reload", "log"],
};

export type Resolution =
  | {
      kind: "ok";
      action: string;
      /** Words as typed, keywords expanded: ["show", "backends"]. */
      words: string[];
      args: Record<string, string>;
      flags: Record<string, string | true>;
    }
  | { kind: "incomplete"; words: string[]; node: GrammarNode }
  | { kind: "ambiguous"; token: string; candidates: string[]; words: string[] }
  | { kind: "unknown"; token: string; expected: string[]; words: string[] }
  | { kind: "bad-flag"; message: string };

/** Split a line into tokens on whitespace; double quotes group. */
export function tokenize(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) out.push(m[1] ?? m[2]);
  return out;
}

/**
 * Keyword children of a node whose word starts with `token` (an exact match alone
 * wins). When several match, what follows decides if it can: with nothing after it
 * only complete commands qualify ("sh ba" = "show backends"), with more words only
 * keywords that take more ("sh ba web-1" = "show backend web-1").
 */
export function matchWord(node: GrammarNode, token: string, more?: boolean): GrammarNode[] {
  const words = (node.children ?? []).filter((c) => c.word !== undefined);
  const exact = words.find((c) => c.word === token);
  if (exact) return [exact];
  const hits = words.filter((c) => c.word!.startsWith(token));
  if (hits.length < 2 || more === undefined) return hits;
  const fitting = hits.filter((c) => (more ? (c.children?.length ?? 0) > 0 : c.action !== undefined));
  return fitting.length === 1 ? fitting : hits;
}

/** Which tokens are words (not flags, not flag values). */
function wordMask(tokens: readonly string[], flags: Map<string, FlagSpec>): boolean[] {
  const mask = tokens.map(() => true);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (!t.startsWith("--")) continue;
    mask[i] = false;
    if (flags.get(t)?.value && !t.includes("=") && i + 1 < tokens.length) mask[++i] = false;
  }
  return mask;
}

function expected(node: GrammarNode): string[] {
  return (node.children ?? []).map((c) => c.word ?? `<${c.arg!.name}>`);
}

/** Walk the tree: keywords by unique prefix, values taken as typed, flags collected anywhere. */
export function resolve(tokens: readonly string[], root: GrammarNode = GRAMMAR): Resolution {
  let node = root;
  const words: string[] = [];
  const args: Record<string, string> = {};
  const flags: Record<string, string | true> = {};
  const pendingFlags: string[] = [];
  const mask = wordMask(tokens, allFlags(root));
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.startsWith("--") && t.length > 2) {
      const eq = t.indexOf("=");
      const name = eq > 0 ? t.slice(0, eq) : t;
      const spec = allFlags(root).get(name);
      if (!spec) return { kind: "bad-flag", message: `unknown option ${name}` };
      if (spec.value) {
        const value = eq > 0 ? t.slice(eq + 1) : tokens[++i];
        if (value === undefined || value === "") {
          return { kind: "bad-flag", message: `${name} needs a value (${spec.value})` };
        }
        flags[name.slice(2)] = value;
      } else {
        flags[name.slice(2)] = true;
      }
      pendingFlags.push(name);
      continue;
    }
    const children = node.children ?? [];
    const argChild = children.find((c) => c.arg);
    if (argChild) {
      args[argChild.arg!.name] = t;
      words.push(t);
      node = argChild;
      continue;
    }
    const hits = matchWord(node, t, mask.slice(i + 1).includes(true));
    if (hits.length === 1) {
      words.push(hits[0].word!);
      node = hits[0];
      continue;
    }
    if (hits.length > 1) return { kind: "ambiguous", token: t, candidates: hits.map((h) => h.word!), words };
    return { kind: "unknown", token: t, expected: expected(node), words };
  }
  if (!node.action) return { kind: "incomplete", words, node };
  const allowed = new Set((node.flags ?? []).map((f) => f.name));
  for (const f of pendingFlags) {
    if (!allowed.has(f)) return { kind: "bad-flag", message: `${f} does not apply to "${words.join(" ")}"` };
  }
  return { kind: "ok", action: node.action, words, args, flags };
}

function allFlags(root: GrammarNode): Map<string, FlagSpec> {
  const out = new Map<string, FlagSpec>();
  const walk = (n: GrammarNode) => {
    for (const f of n.flags ?? []) out.set(f.name, f);
    for (const c of n.children ?? []) walk(c);
  };
  walk(root);
  return out;
}

/** Where the walk over complete tokens ends (flags skipped), or null when it fails. */
function walkTo(
  tokens: readonly string[],
  root: GrammarNode,
): { node: GrammarNode; args: Record<string, string>; flagValue?: FlagValue } | null {
  let node = root;
  const args: Record<string, string> = {};
  const flags = allFlags(root);
  let flagValue: FlagValue | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.startsWith("--")) {
      const spec = flags.get(t);
      if (spec?.value && !t.includes("=")) {
        if (i + 1 < tokens.length) i++;
        else flagValue = spec.value;
      }
      continue;
    }
    const children = node.children ?? [];
    const argChild = children.find((c) => c.arg);
    if (argChild) {
      args[argChild.arg!.name] = t;
      node = argChild;
      continue;
    }
    // The walk stops before the word being completed, so more always follows.
    const hits = matchWord(node, t, true);
    if (hits.length !== 1) return null;
    node = hits[0];
  }
  return { node, args, flagValue };
}

/**
 * Tab completion: the candidates for the word under the cursor at the end of `line`,
 * and that partial word (readline's completer contract).
 */
export function complete(
  line: string,
  names: NameSource = NO_NAMES,
  root: GrammarNode = GRAMMAR,
): [string[], string] {
  const tokens = tokenize(line);
  const partial = /\s$/.test(line) || line === "" ? "" : (tokens.pop() ?? "");
  const at = walkTo(tokens, root);
  if (!at) return [[], partial];
  let options: string[];
  if (at.flagValue) {
    options = [...(FIXED[at.flagValue] ?? names.names(at.flagValue, at.args))];
  } else if (partial.startsWith("-")) {
    options = (at.node.flags ?? []).map((f) => f.name);
  } else {
    options = [];
    for (const c of at.node.children ?? []) {
      if (c.word) options.push(c.word);
      else if (c.arg) options.push(...names.names(c.arg.kind, at.args));
    }
  }
  const hits = [...new Set(options)].filter((o) => o.startsWith(partial)).sort();
  return [hits.length === 1 ? [`${hits[0]} `] : hits, partial];
}

export interface HelpLine {
  text: string;
  help: string;
}

/**
 * "?" help: what can come after `line`. A trailing partial word narrows the list to
 * the keywords it prefixes ("show b?" -> backend, backends).
 */
export function helpFor(line: string, names: NameSource = NO_NAMES, root: GrammarNode = GRAMMAR): HelpLine[] {
  const tokens = tokenize(line);
  const partial = /\s$/.test(line) || line === "" ? "" : (tokens.pop() ?? "");
  const at = walkTo(tokens, root);
  if (!at) return [];
  const out: HelpLine[] = [];
  for (const c of at.node.children ?? []) {
    if (c.word?.startsWith(partial)) out.push({ text: c.word, help: c.help });
    if (c.arg) {
      const known = names
        .names(c.arg.kind, at.args)
        .filter((n) => n.startsWith(partial))
        .sort();
      out.push({
        text: `<${c.arg.name}>`,
        help: known.length > 0 ? `${c.help}: ${known.join(", ")}` : c.help,
      });
    }
  }
  if (partial === "" && at.node.action) {
    out.push({ text: "<enter>", help: "run the command" });
    for (const f of at.node.flags ?? [])
      out.push({ text: f.value ? `${f.name} <${f.value}>` : f.name, help: f.help });
  }
  return out;
}
