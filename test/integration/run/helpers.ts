// Real parts for `lodestone run` tests: TCP backends that say who they are, a client
// that asks, the one-service YAML they run, and bounded cleanup. Everything on
// loopback, every port from the OS. The spawned daemon itself is
// test/helpers/lodestone-cli.ts.
import { connect, createServer, type Server, type Socket } from "node:net";
import { LodestoneProcess } from "../../helpers/lodestone-cli.ts";
import { freePort } from "../../helpers/ports.ts";

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

/** Named backends, started now and stopped by `cleanup`. */
export async function startBackends(cleanup: Cleanup, ...names: string[]): Promise<NamedBackend[]> {
  const list = await Promise.all(names.map((n) => new NamedBackend(n).start()));
  for (const b of list) cleanup.add(`backend ${b.name}`, () => b.kill());
  return list;
}

/** `lodestone run` on this YAML, killed by `cleanup`. */
export async function startLodestone(cleanup: Cleanup, yaml: string): Promise<LodestoneProcess> {
  const p = await LodestoneProcess.spawn(yaml);
  cleanup.add("lodestone", () => p.close());
  return p;
}

/** Did this run end because an address it had to bind was taken (EADDRINUSE)? */
export function exitedOnBindError(p: LodestoneProcess): boolean {
  if (p.child.exitCode === null && p.child.signalCode === null) return false;
  return /EADDRINUSE|address already in use/i.test(`${p.stderr}\n${p.stdout}`);
}

/**
 * `lodestone run` on a config naming ports picked now (config rules refuse port 0, so
 * the test must name them). A port found free can be taken by a parallel test before
 * lodestone binds it: when the run then exits on a bind error, it starts again on new
 * ports (at most `attempts` times). `until` is what must succeed for the start to count
 * (default: the `admin API listening` line, bound after the frontends); its failures
 * other than a bind error are thrown.
 */
export async function startLodestoneOnFreePorts(
  cleanup: Cleanup,
  build: (ports: number[]) => string,
  options: {
    ports?: number;
    until?: (p: LodestoneProcess, ports: number[]) => Promise<unknown>;
    attempts?: number;
    /** How a port is picked (default: a free TCP port; freeUdpPort for UDP frontends). */
    pick?: () => Promise<number>;
  } = {},
): Promise<{ lb: LodestoneProcess; ports: number[] }> {
  const attempts = options.attempts ?? 4;
  const until = options.until ?? ((p: LodestoneProcess) => p.waitForMsg("admin API listening"));
  for (let attempt = 1; ; attempt++) {
    const ports: number[] = [];
    for (let i = 0; i < (options.ports ?? 1); i++) ports.push(await (options.pick ?? freePort)());
    const lb = await LodestoneProcess.spawn(build(ports));
    cleanup.add("lodestone", () => lb.close());
    try {
      await until(lb, ports);
      return { lb, ports };
    } catch (err) {
      // The exit may land just after the failed wait: give it a moment to show.
      await Promise.race([lb.exited, new Promise((r) => setTimeout(r, 500))]);
      if (attempt >= attempts || !exitedOnBindError(lb)) throw err;
      process.stderr.write(
        `lodestone run: a port was taken before it bound (attempt ${attempt}); new ports\n`,
      );
      await lb.close();
    }
  }
}

/** startLodestoneOnFreePorts for a config naming one picked port (the frontend's). */
export async function startLodestoneOnFreePort(
  cleanup: Cleanup,
  build: (port: number) => string,
  until?: (p: LodestoneProcess, port: number) => Promise<unknown>,
): Promise<{ lb: LodestoneProcess; port: number }> {
  const { lb, ports } = await startLodestoneOnFreePorts(cleanup, ([p]) => build(p), {
    until: until && ((p, [port]) => until(p, port)),
  });
  return { lb, port: ports[0] };
}

/** Backend name -> port, as yamlConfig's `ports` takes them. */
export const backendPorts = (list: NamedBackend[]): Record<string, number> =>
  Object.fromEntries(list.map((b) => [b.name, b.port]));
