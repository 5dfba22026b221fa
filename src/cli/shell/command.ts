// Registers a grammar subtree ("show", "set", "config", "watch") as a `lodestone`
// subcommand: commander takes the connection options, the words and remaining flags
// go through the same resolver the shell uses.
import type { Command } from "commander";
import { ApiClient, CliError, type ConnectionOptions, EXIT_USAGE, resolveConnection } from "../client.ts";
import { execute } from "./execute.ts";
import { useColor } from "./format.ts";
import { GRAMMAR } from "./grammar.ts";

export function connectionOptions(cmd: Command): Command {
  return cmd
    .option("--admin <address>", "admin API address (default $LODESTONE_ADMIN or 127.0.0.1:9700)")
    .option("--token <token>", "bearer token for changes (default $LODESTONE_TOKEN)")
    .option("-c, --config <file>", "read the admin address and token from this config file");
}

/**
 * A subcommand that handles some forms itself before the grammar (`config check FILE`):
 * `options` adds its flags, `run` returns an exit code, or null to go on with the grammar.
 */
export interface GrammarExtension<O> {
  options(cmd: Command): Command;
  run(words: string[], opts: ConnectionOptions & { json?: boolean } & O): Promise<number | null>;
}

export function registerGrammarCommand<O = object>(
  program: Command,
  word: string,
  extension?: GrammarExtension<O>,
): void {
  const node = GRAMMAR.children!.find((c) => c.word === word)!;
  const usage = (node.children ?? []).map((c) => c.word).join("|");
  const cmd = connectionOptions(program.command(word))
    .description(`${node.help} (${usage}); unique prefixes work: "${word} ${usage.slice(0, 3)}"`)
    .argument("[words...]", "the rest of the command")
    .option("--json", "print JSON");
  (extension ? extension.options(cmd) : cmd)
    .allowUnknownOption()
    .allowExcessArguments()
    // commander's own usage errors (e.g. --admin without a value) exit 2 like ours.
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE))
    .action(async (words: string[], opts: ConnectionOptions & { json?: boolean } & O) => {
      const own = extension ? await extension.run(words, opts) : null;
      process.exitCode = own ?? (await runFromCli([word, ...words, ...(opts.json ? ["--json"] : [])], opts));
    });
}

export async function runFromCli(tokens: string[], opts: ConnectionOptions): Promise<number> {
  const io = {
    out: (s: string) => process.stdout.write(s),
    err: (s: string) => process.stderr.write(s),
    style: { color: useColor(process.stdout) },
  };
  let client: ApiClient;
  try {
    client = new ApiClient(await resolveConnection(opts));
  } catch (err) {
    io.err(`lodestone: ${(err as Error).message}\n`);
    return err instanceof CliError ? err.exitCode : 2;
  }
  const abort = new AbortController();
  const onInt = () => abort.abort();
  process.once("SIGINT", onInt);
  try {
    return await execute(tokens, client, { ...io, signal: abort.signal });
  } finally {
    process.off("SIGINT", onInt);
  }
}
