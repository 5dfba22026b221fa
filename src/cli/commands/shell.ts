// `lodestone shell`: the interactive operator prompt (see cli/shell/repl.ts).
import type { Command } from "commander";
import { ApiClient, CliError, type ConnectionOptions, resolveConnection } from "../client.ts";
import { connectionOptions } from "../shell/command.ts";
import { useColor } from "../shell/format.ts";
import { runShell } from "../shell/repl.ts";

export function register(program: Command): void {
  connectionOptions(program.command("shell"))
    .description("interactive prompt: Tab completes commands and names, ? lists what can come next")
    .option("--no-history", "do not read or write ~/.lodestone_history")
    .action(async (opts: ConnectionOptions & { history: boolean }) => {
      let client: ApiClient;
      try {
        client = new ApiClient(await resolveConnection(opts));
      } catch (err) {
        process.stderr.write(`lodestone shell: ${(err as Error).message}\n`);
        process.exitCode = err instanceof CliError ? err.exitCode : 2;
        return;
      }
      process.exitCode = await runShell({
        client,
        input: process.stdin,
        output: process.stdout,
        color: useColor(process.stdout),
        historyFile: opts.history ? undefined : null,
      });
    });
}
