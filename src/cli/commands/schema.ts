import type { Command } from "commander";

// Placeholder: replaced by the module that implements `lodestone schema`.
export function register(program: Command): void {
  program
    .command("schema")
    .description("(not implemented yet)")
    .action(() => {
      process.stderr.write("lodestone schema: not implemented yet\n");
      process.exitCode = 2;
    });
}
