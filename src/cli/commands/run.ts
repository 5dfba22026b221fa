import type { Command } from "commander";

// Placeholder: replaced by the module that implements `lodestone run`.
export function register(program: Command): void {
  program
    .command("run")
    .description("(not implemented yet)")
    .action(() => {
      process.stderr.write("lodestone run: not implemented yet\n");
      process.exitCode = 2;
    });
}
