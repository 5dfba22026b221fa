// `bin/lodestone` as the user runs it: one command to completion (runLodestone), or a
// long-running `lodestone run -c <temp yaml>` whose JSON log lines can be awaited
// (LodestoneProcess). Every run is bounded in time.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./ports.ts";

export const BIN = fileURLToPath(new URL("../../bin/lodestone", import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** What the CLI runs with: the caller's environment, never pointing at a user's admin API or token. */
function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, LODESTONE_ADMIN: "", LODESTONE_TOKEN: "", NO_COLOR: "1", ...extra };
}

/**
 * `bin/lodestone ...args` left running (e.g. `watch events`): its output so far and its
 * exit. The caller bounds it: kill() in a finally.
 */
export class LodestoneCommand {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  /** The exit code once stdout and stderr have been read to the end. */
  readonly exited: Promise<number | null>;

  constructor(args: string[], env: Record<string, string> = {}) {
    const child = spawn(BIN, args, { env: cliEnv(env), stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      this.stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      this.stderr += d;
    });
    this.exited = new Promise((resolve, reject) => {
      child.on("error", reject);
      // close, not exit: by then stdout and stderr have been read to the end.
      child.on("close", (code) => resolve(code));
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  kill(): void {
    if (this.running) this.child.kill("SIGKILL");
  }
}

export interface RunOptions {
  /** Added to the environment. */
  env?: Record<string, string>;
  /** A run still going after this is killed and the promise rejects. Default 15 s. */
  timeoutMs?: number;
}

/** Run `bin/lodestone ...args` to completion and collect its exit code and output. */
export async function runLodestone(args: string[], options: RunOptions = {}): Promise<CliResult> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const command = new LodestoneCommand(args, options.env);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      command.kill();
      reject(
        new Error(
          `lodestone ${args.join(" ")} did not exit in ${timeoutMs}ms; stdout ${command.stdout} stderr ${command.stderr}`,
        ),
      );
    }, timeoutMs);
  });
  try {
    const code = await Promise.race([command.exited, timedOut]);
    return { code, stdout: command.stdout, stderr: command.stderr };
  } finally {
    clearTimeout(timer);
  }
}

export interface LogLine {
  level: string;
  msg: string;
  [key: string]: unknown;
}

/** `bin/lodestone run -c <file>` as a child process with its log lines parsed. */
export class LodestoneProcess {
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  stdout = "";
  stderr = "";
  readonly exited: Promise<number | null>;
  readonly dir: string;
  readonly file: string;
  readonly yaml: string;
  #waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];

  /**
   * Spawn `lodestone run` on this YAML. Without an `admin:` section one is added on a
   * free port, so parallel processes never fight over the default admin port.
   */
  static async spawn(yaml: string, args: string[] = []): Promise<LodestoneProcess> {
    const withAdmin = /^admin:/m.test(yaml)
      ? yaml
      : `${yaml}admin: { listen: 127.0.0.1:${await freePort()} }\n`;
    return new LodestoneProcess(withAdmin, args);
  }

  constructor(yaml: string, args: string[] = []) {
    this.dir = mkdtempSync(join(tmpdir(), "lodestone-run-"));
    this.file = join(this.dir, "lodestone.yaml");
    writeFileSync(this.file, yaml);
    this.yaml = yaml;
    this.child = spawn(BIN, ["run", "-c", this.file, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let partial = "";
    this.child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      this.stdout += chunk;
      partial += chunk;
      let nl = partial.indexOf("\n");
      while (nl >= 0) {
        const raw = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        nl = partial.indexOf("\n");
        let line: LogLine;
        try {
          line = JSON.parse(raw) as LogLine;
        } catch {
          continue;
        }
        this.lines.push(line);
        this.#waiters = this.#waiters.filter((w) => {
          if (!w.pred(line)) return true;
          w.resolve(line);
          return false;
        });
      }
    });
    this.child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
  }

  /** A position in the log: pass it to waitFor to only look at lines after it. */
  mark(): number {
    return this.lines.length;
  }

  /** Resolve with the first log line at index >= `from` (past or future) matching `pred`. */
  waitFor(pred: (l: LogLine) => boolean, timeoutMs = 10_000, from = 0): Promise<LogLine> {
    const seen = this.lines.slice(from).find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `no matching log line within ${timeoutMs}ms; stderr: ${this.stderr}\nstdout: ${this.stdout}`,
          ),
        );
      }, timeoutMs);
      this.#waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
      this.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`lodestone exited; stderr: ${this.stderr}\nstdout: ${this.stdout}`));
      });
    });
  }

  waitForMsg(msg: string | RegExp, timeoutMs?: number, from = 0): Promise<LogLine> {
    return this.waitFor((l) => (typeof msg === "string" ? l.msg === msg : msg.test(l.msg)), timeoutMs, from);
  }

  ready(timeoutMs = 10_000): Promise<LogLine> {
    return this.waitForMsg("ready", timeoutMs);
  }

  /** Replace the config file (keeping the admin section spawn() added, if the new text has none). */
  rewrite(yaml: string): void {
    const admin = /^admin:.*$/m.exec(this.yaml)?.[0];
    writeFileSync(this.file, admin && !/^admin:/m.test(yaml) ? `${yaml}${admin}\n` : yaml);
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  /** Kill if still running and remove the temp dir. */
  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGKILL");
      await this.exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
