// Checks that only make sense when starting, shared by `lodestone validate` and
// `lodestone run` so validate never passes a config run refuses. They need I/O (the
// admin token), and a reload must not apply them: a reload with an unreadable token
// file keeps the old token (docs/admin-api.md), so they stay out of the pure semantic
// checks the reload path uses.
import { readFile } from "node:fs/promises";
import { loadAdminToken } from "../api/auth.ts";
import type { PendingIssue } from "../config/issues.ts";
import { type ConfigIssue, locateIssues } from "../config/load.ts";
import type { Config } from "../config/types.ts";
import { LodestoneError } from "../errors.ts";
import type { ConfigSource } from "./daemon.ts";

/** What keeps `config` (loaded from `source`) from starting; [] when it can start. */
export async function startIssues(
  source: ConfigSource,
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ConfigIssue[]> {
  const pending: PendingIssue[] = [];
  try {
    await loadAdminToken(config.admin, env);
  } catch (err) {
    if (!(err instanceof LodestoneError)) throw err;
    // loadAdminToken only fails on the file when one is set (the variable falls back to it).
    const key = config.admin.tokenFile !== undefined ? "token-file" : "token-env";
    pending.push({ path: ["admin", key], message: err.message, at: "key" });
  }
  if (pending.length === 0) return [];
  const file = "path" in source ? source.path : source.file;
  let text: string;
  try {
    text = "path" in source ? await readFile(source.path, "utf8") : source.text;
  } catch {
    // The file went away since it was loaded: the issues still count, without a position.
    return pending.map((i) => ({ file, line: 0, column: 0, path: `admin.${i.path[1]}`, message: i.message }));
  }
  return locateIssues(text, file, pending);
}
