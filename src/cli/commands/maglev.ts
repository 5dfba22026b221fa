import type { Command } from "commander";

// Placeholder: replaced by the module that implements `lodestone maglev`.
export function register(program: Command): void {
  program
    .command("maglev")
    .description("(not implemented yet)")
    .action(() => {
      process.stderr.write("lodestone maglev: not implemented yet\n");
      process.exitCode = 2;
    });
}
