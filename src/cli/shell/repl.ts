// `lodestone shell`: an interactive prompt over the same grammar as the subcommands.
// Tab completes keywords, flags and live object names (fetched from the admin API,
// cached for two seconds); "?" at the end of a line lists what can come next; unique
// prefixes are enough ("sh ba"); history is kept in memory and in ~/.lodestone_history
// when that file is writable.
import { appendFileSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
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
  const style = { color: o.color };
  const write = (s: string) => o.output.write(s);
  let running: AbortController | null = null;
  rl.on("SIGINT", () => {
    if (running) running.abort();
    else {
      write("^C\n");
      rl.write(null, { ctrl: true, name: "u" });
      rl.prompt();
    }
  });

  // Take lines from now on: a line typed while names are being fetched must not be lost.
  const lines = rl[Symbol.asyncIterator]();
  const prompt = paint(style, "bold", "lodestone> ");
  rl.setPrompt(prompt);
  write(
    `lodestone shell on ${o.client.connection.base}: "?" lists what can come next, Tab completes, "exit" leaves\n`,
  );
  await refresh();
  rl.prompt();

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
      rl.prompt();
      continue;
    }
    if (line === "help" || line.endsWith("?")) {
      const before = line === "help" ? "" : raw.slice(0, raw.lastIndexOf("?"));
      await refresh();
      const lines = helpFor(before, names, GRAMMAR);
      if (lines.length === 0) write(`nothing can follow "${before.trim()}"\n`);
      const w = Math.max(0, ...lines.map((l) => l.text.length));
      for (const l of lines) write(`  ${l.text.padEnd(w)}  ${l.help}\n`);
      rl.prompt();
      // Like a router CLI: give the line back to keep typing.
      if (o.input.isTTY && before.trim() !== "") rl.write(before);
      continue;
    }
    running = new AbortController();
    const io: Io = { out: write, err: write, style, signal: running.signal };
    await execute(tokenize(line), o.client, io);
    running = null;
    fetchedAt = 0; // names may have changed (a reload)
    rl.prompt();
  }
  rl.close();
  return 0;
}
