// One operator command from tokens to exit code: resolve against the grammar, run the
// action, turn every failure into one clear line on stderr (never a stack trace).
import { type ApiClient, CliError, EXIT_SERVER, EXIT_USAGE } from "../client.ts";
import { type Io, runAction } from "./actions.ts";
import { type GrammarNode, resolve } from "./grammar.ts";

/** Why the tokens are not a command, in one line; null when they resolve. */
export function usageError(tokens: readonly string[]): string | null {
  const r = resolve(tokens);
  switch (r.kind) {
    case "ok":
      return null;
    case "ambiguous":
      return `"${r.token}" is ambiguous${after(r.words)}: could be ${r.candidates.join(", ")}`;
    case "unknown":
      // A complete command followed by one word too many has nothing to expect.
      return r.expected.length > 0
        ? `unknown word "${r.token}"${after(r.words)}: expected ${r.expected.join(", ")}`
        : `unexpected word "${r.token}": "${r.words.join(" ")}" takes nothing more`;
    case "incomplete":
      return `incomplete command "${r.words.join(" ")}": expected ${next(r.node)}`;
    case "bad-flag":
      return r.message;
  }
}

const after = (words: string[]) => (words.length > 0 ? ` after "${words.join(" ")}"` : "");
const next = (node: GrammarNode) => (node.children ?? []).map((c) => c.word ?? `<${c.arg!.name}>`).join(", ");

export async function execute(tokens: readonly string[], client: ApiClient, io: Io): Promise<number> {
  const r = resolve(tokens);
  if (r.kind !== "ok") {
    io.err(`lodestone: ${usageError(tokens)}\n`);
    return EXIT_USAGE;
  }
  try {
    return await runAction(r, client, io);
  } catch (err) {
    if (err instanceof CliError) {
      io.err(`lodestone ${r.words.join(" ")}: ${err.message}\n`);
      return err.exitCode;
    }
    io.err(`lodestone ${r.words.join(" ")}: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT_SERVER;
  }
}
