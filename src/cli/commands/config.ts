// `lodestone config ...`: see cli/shell/grammar.ts for the words it takes. `config
// check FILE [--against OTHER]` is handled here (cli/config-check.ts): it reads files
// on this machine, which the shell grammar (daemon calls only) does not do.
import type { Command } from "commander";
import { ApiClient, EXIT_USAGE, resolveConnection } from "../client.ts";
import { checkFileAgainstDaemon, checkFiles } from "../config-check.ts";
import { registerGrammarCommand } from "../shell/command.ts";

export function register(program: Command): void {
  registerGrammarCommand<{ against?: string }>(program, "config", {
    options: (cmd) =>
      cmd.option(
        "--against <file>",
        "with `check FILE`: compare FILE with this file offline instead of the running daemon",
      ),
    run: async (words, opts) => {
      const io = {
        out: (s: string) => process.stdout.write(s),
        err: (s: string) => process.stderr.write(s),
      };
      // "check" by unique prefix, like every command word.
      const isCheck = words.length > 0 && words[0] !== "" && "check".startsWith(words[0]);
      if (isCheck && words.length === 2) {
        const json = opts.json === true;
        if (opts.against !== undefined) return checkFiles(words[1], opts.against, io, json);
        return checkFileAgainstDaemon(
          words[1],
          async () => new ApiClient(await resolveConnection(opts)),
          io,
          json,
        );
      }
      if (opts.against !== undefined) {
        io.err("lodestone config: --against needs a file to check: config check FILE --against OTHER\n");
        return EXIT_USAGE;
      }
      return null;
    },
  });
}
