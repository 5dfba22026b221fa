import type { Command } from "commander";

// Placeholder: replaced by the module that implements `lodestone validate`.
export function register(program: Command): void {
  program
    .command("validate")
    .description("(not implemented yet)")
    .action(() => {
      process.stderr.write("lodestone validate: not implemented yet\n");
      process.exitCode = 2;
    });
}
