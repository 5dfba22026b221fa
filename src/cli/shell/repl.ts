// `lodestone shell`: an interactive prompt over the same grammar as the subcommands.
// Tab completes keywords, flags and live object names (fetched from the admin API,
// cached for two seconds); "?" at the end of a line lists what can come next; unique
// prefixes are enough ("sh ba"); history is kept in memory and in ~/.lodestone_history
// when that file is writable.
import { appendFileSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { createInterface, type Interface } from "node:readline";
import type { serviceViews } from "../../api/views.ts";
import type { ApiClient } from "../client.ts";
import type { Io } from "./actions.ts";
import { execute } from "./execute.ts";
import { paint } from "./format.ts";
import { complete, type FlagValue, GRAMMAR, helpFor, type NameSource, tokenize } from "./grammar.ts";

type Service = ReturnType<typeof serviceViews>[number];

interface Names {
  frontends: string[];
  backends: string[];
  services: Service[];
}

/** Object names for completion, from one snapshot of the API. */
export function nameSource(n: Names): NameSource {
  return {
    names(kind: FlagValue, args: Readonly<Record<string, string>>): readonly string[] {
      switch (kind) {
        case "frontend":
          return n.frontends;
        case "service":
          return n.services.map((s) => s.name);
        case "pool": {
          const svc = n.services.find((s) => s.name === args.service);
          return (svc ? [svc] : n.services).flatMap((s) => s.pools.map((p) => p.name));
        }
        case "backend": {
          const pool = n.services
            .find((s) => s.name === args.service)
            ?.pools.find((p) => p.name === args.pool);
          return pool ? pool.members.map((m) => m.backend) : n.backends;
        }
        case "weight":
          return ["0", "50", "100"];
        default:
          return [];
      }
    },
  };
}

export interface ShellOptions {
  client: ApiClient;
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  output: NodeJS.WritableStream & { isTTY?: boolean };
  color: boolean;
  historyFile?: string | null;
}

export async function runShell(o: ShellOptions): Promise<number> {
  const historyFile = o.historyFile === undefined ? join(homedir(), ".lodestone_history") : o.historyFile;
  let history: string[] = [];
  if (historyFile) {
    try {
      history = readFileSync(historyFile, "utf8").split("\n").filter(Boolean).slice(-500).reverse();
    } catch {}
  }
  let names: NameSource = nameSource({ frontends: [], backends: [], services: [] });
  let fetchedAt = 0;
  const refresh = async () => {
    if (Date.now() - fetchedAt < 2000) return;
    try {
      const [frontends, backends, services] = await Promise.all([
        o.client.get<{ name: string }[]>("/api/v1/frontends"),
        o.client.get<{ name: string }[]>("/api/v1/backends"),
        o.client.get<Service[]>("/api/v1/services"),
      ]);
      names = nameSource({
        frontends: frontends.map((f) => f.name),
        backends: backends.map((b) => b.name),
        services,
      });
      fetchedAt = Date.now();
    } catch {
      // Completion of names is a convenience: without the API it offers keywords only.
    }
  };

  const rl = createInterface({
    input: o.input,
    output: o.output,
    terminal: o.input.isTTY === true,
    history,
    historySize: 500,
    removeHistoryDuplicates: true,
    completer: (line: string, cb: (err: null, result: [string[], string]) => void) => {
      refresh().then(() => cb(null, complete(line, names)));
    },
  });
  // Piped input can end (and close readline) while a command is still running.
  let closed = false;
  rl.on("close", () => {
    closed = true;
  });
  const reprompt = (preserveCursor = false) => {
    if (!closed) rl.prompt(preserveCursor);
  };
  const style = { color: o.color };
  const write = (s: string) => o.output.write(s);
  let running: AbortController | null = null;
  rl.on("SIGINT", () => {
    if (running) running.abort();
    else {
      write("^C\n");
      rl.write(null, { ctrl: true, name: "u" });
      reprompt();
    }
  });

  const helpText = (before: string): string => {
    const lines = helpFor(before, names, GRAMMAR);
    if (lines.length === 0) return `nothing can follow "${before.trim()}"\n`;
    const w = Math.max(0, ...lines.map((l) => l.text.length));
    return lines.map((l) => `  ${l.text.padEnd(w)}  ${l.help}\n`).join("");
  };
  // On a terminal "?" answers at once, like a router CLI, without Enter: the key is
  // taken before readline inserts it, the help printed, the line redrawn as it was.
  // (Piped input, or a Node whose readline hides the hook, gets "?" + Enter instead.)
  interceptKey(rl, "?", () => {
    const before = rl.line.slice(0, rl.cursor);
    refresh().then(() => {
      write(`?\n${helpText(before)}`);
      reprompt(true);
    });
  });

  // Take lines from now on: a line typed while names are being fetched must not be lost.
  const lines = rl[Symbol.asyncIterator]();
  const prompt = paint(style, "bold", "lodestone> ");
  rl.setPrompt(prompt);
  write(
    `lodestone shell on ${o.client.connection.base}: "?" lists what can come next, Tab completes, "exit" leaves\n`,
  );
  await refresh();
  reprompt();

  for (;;) {
    const next = await lines.next();
    if (next.done) break;
    const raw: string = next.value;
    const line = raw.trim();
    if (line !== "" && historyFile) {
      try {
        appendFileSync(historyFile, `${line}\n`, { mode: 0o600 });
      } catch {}
    }
    if (line === "exit" || line === "quit") break;
    if (line === "") {
      reprompt();
      continue;
    }
    if (line === "help" || line.endsWith("?")) {
      const before = line === "help" ? "" : raw.slice(0, raw.lastIndexOf("?"));
      await refresh();
      write(helpText(before));
      reprompt();
      // Like a router CLI: give the line back to keep typing.
      if (o.input.isTTY && !closed && before.trim() !== "") rl.write(before);
      continue;
    }
    running = new AbortController();
    const io: Io = { out: write, err: write, style, signal: running.signal };
    await execute(tokenize(line), o.client, io);
    running = null;
    fetchedAt = 0; // names may have changed (a reload)
    reprompt();
  }
  rl.close();
  return 0;
}

/**
 * Run `handler` instead of inserting `key` when it is typed on a terminal. Uses
 * readline's internal key handler (looked up by its symbol's name, since it is not
 * public); returns false, leaving readline untouched, where it cannot be found.
 */
function interceptKey(rl: Interface, key: string, handler: () => void): boolean {
  if (!rl.terminal) return false;
  for (let proto = Object.getPrototypeOf(rl); proto; proto = Object.getPrototypeOf(proto)) {
    const sym = Object.getOwnPropertySymbols(proto).find((s) => s.description === "_ttyWrite");
    if (!sym) continue;
    const target = rl as unknown as Record<symbol, (s: string, k: unknown) => void>;
    const original = target[sym];
    if (typeof original !== "function") return false;
    try {
      Object.defineProperty(rl, sym, {
        configurable: true,
        writable: true,
        value(this: Interface, s: string, k: unknown) {
          if (s === key) return handler();
          return original.call(this, s, k);
        },
      });
    } catch {
      return false;
    }
    return true;
  }
  return false;
}
