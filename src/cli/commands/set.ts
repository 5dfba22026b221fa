// `lodestone set ...`: see cli/shell/grammar.ts for the words it takes.
import type { Command } from "commander";
import { registerGrammarCommand } from "../shell/command.ts";

export function register(program: Command): void {
  registerGrammarCommand(program, "set");
}
