// `lodestone config check`: like `nginx -t`, validate a configuration and say what a
// reload would change — frontends, services, backends and health checks added,
// removed, changed (the same pure diff the daemon's reload computes, config/diff.ts).
//   config check                       the daemon validates its own config source and
//                                      diffs it against what it runs (admin API)
//   config check FILE                  validate FILE here, diff against the config the
//                                      daemon runs (GET /api/v1/config)
//   config check FILE --against OTHER  offline: validate FILE, diff against OTHER
// Exit codes: 0 valid, 1 invalid (or the API refused), 2 unreadable file, usage error
// or the API cannot be reached, 3 the API had a server error.
import { type ConfigDiff, diffConfig, formatIssue, isEmpty, loadConfigFile } from "../config/index.ts";
import type { Config } from "../config/types.ts";
import { startIssues } from "../control/start-checks.ts";
import { LodestoneError } from "../errors.ts";
import { type ApiClient, CliError, EXIT_OK, EXIT_REFUSED, EXIT_USAGE } from "./client.ts";
import { summary } from "./commands/validate.ts";

const SECTIONS = ["frontends", "services", "backends", "healthchecks"] as const;

/** The lines that tell an operator what a reload would change (pure). */
export function formatConfigDiff(diff: ConfigDiff): string {
  if (isEmpty(diff)) return "a reload would change nothing\n";
  let out = "a reload would change:\n";
  for (const section of SECTIONS) {
    const s = diff[section];
    const parts = [
      s.added.length > 0 ? `added ${s.added.join(", ")}` : "",
      s.removed.length > 0 ? `removed ${s.removed.join(", ")}` : "",
      s.changed.length > 0 ? `changed ${s.changed.join(", ")}` : "",
    ].filter((p) => p !== "");
    if (parts.length > 0) out += `  ${`${section}:`.padEnd(14)}${parts.join("; ")}\n`;
  }
  if (diff.admin) out += `  ${"admin:".padEnd(14)}changed\n`;
  if (diff.runtime) out += `  ${"runtime:".padEnd(14)}changed (runtime.workers only at restart)\n`;
  return out;
}

export interface CheckIo {
  out(text: string): void;
  err(text: string): void;
}

type Loaded = { ok: true; config: Config } | { ok: false; code: number };

/** Load and validate `file` as `run` would; errors go to stderr. */
async function load(file: string, io: CheckIo, json: boolean): Promise<Loaded> {
  try {
    const result = await loadConfigFile(file);
    const errors = result.ok ? await startIssues({ path: file }, result.config) : result.errors;
    if (result.ok && errors.length === 0) return { ok: true, config: result.config };
    if (json)
      io.out(
        `${JSON.stringify({ ok: false, file, errors: errors.map((e) => ({ ...e, text: formatIssue(e) })) }, null, 2)}\n`,
      );
    else {
      for (const issue of errors) io.err(`${formatIssue(issue)}\n`);
      io.err(`${file}: ${errors.length} error${errors.length === 1 ? "" : "s"}\n`);
    }
    return { ok: false, code: EXIT_REFUSED };
  } catch (e) {
    if (!(e instanceof LodestoneError)) throw e;
    io.err(`lodestone config check: ${e.message}\n`);
    return { ok: false, code: EXIT_USAGE };
  }
}

function report(
  io: CheckIo,
  json: boolean,
  file: string,
  config: Config,
  against: string,
  diff: ConfigDiff,
): void {
  if (json) {
    io.out(`${JSON.stringify({ ok: true, file, against, changed: !isEmpty(diff), diff }, null, 2)}\n`);
    return;
  }
  io.out(`${file}: ok (${summary(config)})\ncompared with ${against}: ${formatConfigDiff(diff)}`);
}

/** `config check FILE --against OTHER`: no daemon involved. */
export async function checkFiles(file: string, against: string, io: CheckIo, json: boolean): Promise<number> {
  const next = await load(file, io, json);
  if (!next.ok) return next.code;
  const base = await load(against, io, json);
  if (!base.ok) return base.code;
  report(io, json, file, next.config, against, diffConfig(base.config, next.config));
  return EXIT_OK;
}

/** `config check FILE`: validated here, compared with the configuration the daemon runs. */
export async function checkFileAgainstDaemon(
  file: string,
  client: () => Promise<ApiClient>,
  io: CheckIo,
  json: boolean,
): Promise<number> {
  const next = await load(file, io, json);
  if (!next.ok) return next.code;
  let running: { source: string; config: Config };
  try {
    running = await (await client()).get<{ source: string; config: Config }>("/api/v1/config");
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    io.err(
      `lodestone config check: ${file} is valid, but there is nothing to compare it with: ${err.message} (use --against FILE to compare offline)\n`,
    );
    return err.exitCode;
  }
  report(
    io,
    json,
    file,
    next.config,
    `the running config (${running.source})`,
    diffConfig(running.config, next.config),
  );
  return EXIT_OK;
}
