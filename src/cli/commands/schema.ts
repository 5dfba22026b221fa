// `lodestone schema`: the JSON Schema of lodestone.yaml on stdout, for editors.
import type { Command } from "commander";
import { configJsonSchema } from "../../config/index.ts";

export function register(program: Command): void {
  program
    .command("schema")
    .description("Print the JSON Schema of lodestone.yaml (for editor completion)")
    .action(() => {
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    });
}
