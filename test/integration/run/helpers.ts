// Real parts for `lodestone run` tests: TCP backends that say who they are, a client
// that asks, and a spawned `bin/lodestone run -c <temp yaml>` whose JSON log lines can
// be awaited. Everything on loopback, every port from the OS.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const BIN = new URL("../../../bin/lodestone", import.meta.url).pathname;

/** A port that was free a moment ago (bind 0, read, close). */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A TCP backend: greets every connection with "<name>\n", then echoes. */
export class NamedBackend {
  readonly name: string;
  port = 0;
  connections = 0;
  readonly sockets = new Set<Socket>();
  #server: Server | undefined;

  constructor(name: string) {
    this.name = name;
  }

  /** Listen (on the same port again after a kill, when it had one). */
  async start(): Promise<this> {
    const server = createServer((sock) => {
      this.connections++;
      this.sockets.add(sock);
      sock.on("error", () => {});
      sock.on("close", () => this.sockets.delete(sock));
      sock.write(`${this.name}\n`);
      sock.on("data", (d) => sock.write(d));
      sock.on("end", () => sock.end());
    });
    server.on("error", () => {});
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.#server = server;
    return this;
  }

  /** Stop listening and cut every open connection: a crashed backend. */
  async kill(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Connect through the balancer and return who answered, or null (refused, closed, timeout). */
export function whoAnswers(port: number, host = "127.0.0.1", timeoutMs = 2000): Promise<string | null> {
  return new Promise((resolve) => {
    const sock = connect({ port, host });
    let buf = "";
    const done = (v: string | null) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    sock.on("error", () => done(null));
    sock.on("close", () => done(null));
    sock.on("data", (d) => {
      buf += d.toString();
      const nl = buf.indexOf("\n");
      if (nl >= 0) done(buf.slice(0, nl));
    });
  });
}

/** Tally who answers `n` sequential connections. */
export async function tally(port: number, n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const who = (await whoAnswers(port)) ?? "none";
    counts[who] = (counts[who] ?? 0) + 1;
  }
  return counts;
}

/** Poll until `fn` returns a truthy value or the deadline passes. */
export async function eventually<T>(fn: () => Promise<T> | T, timeoutMs: number, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs}ms`);
    await new Promise((r) => setTimeout(r, stepMs));
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

export interface YamlSpec {
  frontendPort: number;
  protocol?: "tcp" | "udp";
  algorithm?: string;
  /** Pools in priority order: [pool name, { backend name: weight }]. */
  pools: [string, Record<string, number>][];
  /** Backend name -> port. */
  ports: Record<string, number>;
  /** Checked backends use a tcp check with these ms timings (none: static backends). */
  check?: { interval: number; rise: number; fall: number; type?: "tcp" | "udp" };
  runtime?: string;
  frontendExtra?: string;
}

/** A lodestone.yaml for the tests: one service, one frontend. */
export function yamlConfig(s: YamlSpec): string {
  const c = s.check;
  const lines: string[] = [];
  if (c) {
    const ms = (n: number) => `${n}ms`;
    const extra = c.type === "udp" ? ", send: ping" : "";
    lines.push(
      "healthchecks:",
      `  chk: { type: ${c.type ?? "tcp"}, interval: ${ms(c.interval)}, fast-interval: ${ms(c.interval)}, down-interval: ${ms(c.interval)}, timeout: ${ms(c.interval)}, rise: ${c.rise}, fall: ${c.fall}, jitter: 0${extra} }`,
    );
  }
  lines.push("backends:");
  for (const [name, port] of Object.entries(s.ports)) {
    lines.push(`  ${name}: { address: 127.0.0.1, port: ${port}${c ? ", healthcheck: chk" : ""} }`);
  }
  lines.push("services:", "  svc:", `    algorithm: ${s.algorithm ?? "round-robin"}`, "    pools:");
  for (const [pool, members] of s.pools) {
    const m = Object.entries(members)
      .map(([b, w]) => `${b}: { weight: ${w} }`)
      .join(", ");
    lines.push(`      - { name: ${pool}, backends: { ${m} } }`);
  }
  lines.push(
    "frontends:",
    "  fe:",
    `    listen: 127.0.0.1:${s.frontendPort}`,
    `    protocol: ${s.protocol ?? "tcp"}`,
    "    service: svc",
  );
  if (s.frontendExtra) lines.push(...s.frontendExtra.split("\n").map((l) => `    ${l}`));
  lines.push(s.runtime ?? "runtime: { warmup: { max-wait: 3s }, drain-timeout: 2s, log-level: info }");
  return `${lines.join("\n")}\n`;
}

/**
 * Cleanup steps run in reverse order, each bounded in time, so one stuck close can
 * never hang the test file (a step that overruns is reported on stderr).
 */
export class Cleanup {
  readonly #steps: { label: string; fn: () => Promise<unknown> | unknown }[] = [];

  add(label: string, fn: () => Promise<unknown> | unknown): void {
    this.#steps.push({ label, fn });
  }

  async run(stepTimeoutMs = 5000): Promise<void> {
    for (const { label, fn } of this.#steps.splice(0).reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), stepTimeoutMs);
      });
      try {
        const r = await Promise.race([Promise.resolve().then(fn), timeout]);
        if (r === "timeout")
          process.stderr.write(`cleanup step "${label}" took over ${stepTimeoutMs}ms; moving on\n`);
      } catch (err) {
        process.stderr.write(`cleanup step "${label}" failed: ${(err as Error).message}\n`);
      } finally {
        clearTimeout(timer);
      }
    }
  }
}
