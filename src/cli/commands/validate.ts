// `lodestone validate FILE`: exit 0 and "FILE: ok" when valid; every error on stderr
// and exit 1 when invalid; exit 2 when the file cannot be read. Never a stack trace.
import type { Command } from "commander";
import { formatIssue, loadConfigFile } from "../../config/index.ts";
import type { Config } from "../../config/types.ts";
import { startIssues } from "../../control/start-checks.ts";
import { LodestoneError } from "../../errors.ts";

export function summary(config: Config): string {
  const n = (o: object) => Object.keys(o).length;
  const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? "" : "s"}`;
  return [
    plural(n(config.frontends), "frontend"),
    plural(n(config.services), "service"),
    plural(n(config.backends), "backend"),
    plural(n(config.healthchecks), "healthcheck"),
  ].join(", ");
}

/** Returns the exit code; output goes to the given writers (the process streams by default). */
export async function validate(
  file: string,
  out: (s: string) => void = (s) => process.stdout.write(s),
  err: (s: string) => void = (s) => process.stderr.write(s),
): Promise<number> {
  try {
    const result = await loadConfigFile(file);
    // What `lodestone run` would also refuse at start (an unreadable admin token).
    const errors = result.ok ? await startIssues({ path: file }, result.config) : result.errors;
    if (result.ok && errors.length === 0) {
      out(`${file}: ok (${summary(result.config)})\n`);
      return 0;
    }
    for (const issue of errors) err(`${formatIssue(issue)}\n`);
    err(`${file}: ${errors.length} error${errors.length === 1 ? "" : "s"}\n`);
    return 1;
  } catch (e) {
    if (e instanceof LodestoneError) {
      err(`lodestone validate: ${e.message}\n`);
      return 2;
    }
    // Not expected: still one line, not a stack trace, and a distinct exit code.
    err(`lodestone validate: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 3;
  }
}

export function register(program: Command): void {
  program
    .command("validate")
    .description("Check a lodestone.yaml: prints every error with file:line:column, exits 1 if any")
    .argument("<file>", "configuration file")
    .action(async (file: string) => {
      process.exitCode = await validate(file);
    });
}
