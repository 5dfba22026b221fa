// A running Daemon plus its admin API in the test process, with real TCP backends on
// loopback. The dataplane is a small real TCP proxy (round-robin over weight > 0,
// counting like the proxy dataplane does) so these tests depend on the admin API and
// the control plane only, not on which production dataplane has landed.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { type AdminServer, type AdminServerOptions, startAdminServer } from "../../src/api/server.ts";
import { Daemon } from "../../src/control/daemon.ts";
import type { Dataplane, DataplaneStats, TrafficCounters } from "../../src/dataplane/types.ts";
import type { DesiredFrontend, DesiredState } from "../../src/model/desired.ts";
import { NamedBackend } from "../integration/run/helpers.ts";
import { freePort } from "./ports.ts";

const zero = (): TrafficCounters => ({
  connectionsTotal: 0,
  connectionsActive: 0,
  bytesIn: 0,
  bytesOut: 0,
  connectErrors: 0,
});

class TestFrontend {
  fe: DesiredFrontend;
  readonly server: Server;
  readonly counters = zero();
  readonly backends: Record<string, TrafficCounters> = {};
  readonly sockets = new Set<Socket>();
  #rr = 0;

  constructor(fe: DesiredFrontend) {
    this.fe = fe;
    this.server = createServer((c) => this.#accept(c));
    this.server.on("error", () => {});
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.fe.listen.port, this.fe.listen.host, () => resolve());
    });
  }

  #accept(client: Socket): void {
    client.on("error", () => {});
    this.sockets.add(client);
    client.on("close", () => this.sockets.delete(client));
    const eligible = this.fe.backends.filter((b) => b.weight > 0);
    this.counters.connectionsTotal++;
    if (eligible.length === 0) {
      client.destroy();
      return;
    }
    const b = eligible[this.#rr++ % eligible.length];
    this.backends[b.name] ??= zero();
    const bc = this.backends[b.name];
    bc.connectionsTotal++;
    this.counters.connectionsActive++;
    bc.connectionsActive++;
    const up = connect(b.port, b.address);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      this.counters.connectionsActive--;
      bc.connectionsActive--;
      client.destroy();
      up.destroy();
    };
    up.on("error", () => {
      if (!up.remoteAddress) {
        this.counters.connectErrors++;
        bc.connectErrors++;
      }
      finish();
    });
    client.on("close", finish);
    up.on("close", finish);
    client.on("data", (d: Buffer) => {
      this.counters.bytesIn += d.length;
      bc.bytesIn += d.length;
      up.write(d);
    });
    up.on("data", (d: Buffer) => {
      this.counters.bytesOut += d.length;
      bc.bytesOut += d.length;
      client.write(d);
    });
  }

  stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export class TestTcpDataplane implements Dataplane {
  readonly name = "test-tcp";
  readonly #frontends = new Map<string, TestFrontend>();

  async apply(desired: DesiredState): Promise<void> {
    for (const [name, fe] of Object.entries(desired.frontends)) {
      const have = this.#frontends.get(name);
      if (have) {
        have.fe = fe;
        continue;
      }
      const f = new TestFrontend(fe);
      await f.start();
      this.#frontends.set(name, f);
    }
    for (const [name, f] of this.#frontends) {
      if (!desired.frontends[name]) {
        await f.stop();
        this.#frontends.delete(name);
      }
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#frontends.values()].map((f) => f.stop()));
    this.#frontends.clear();
  }

  stats(): DataplaneStats {
    const out: DataplaneStats = { frontends: {} };
    for (const [name, f] of this.#frontends) {
      const backends: Record<string, TrafficCounters> = {};
      for (const [b, c] of Object.entries(f.backends)) backends[b] = { ...c };
      out.frontends[name] = { ...f.counters, backends };
    }
    return out;
  }
}

export interface Fixture {
  daemon: Daemon;
  admin: AdminServer;
  url: string;
  frontendPort: number;
  backends: Record<"a" | "b" | "c", NamedBackend>;
  dir: string;
  file: string;
  /** The YAML the daemon was started with (tests rewrite the file to reload). */
  yaml: string;
  close(): Promise<void>;
}

/**
 * Service "web": pool "main" {a: 100, b: 50} (tcp-checked every 100 ms, rise 1 fall 1),
 * pool "spare" {c} (static). Frontend "www" (tcp) in front of it.
 */
export function fixtureYaml(frontendPort: number, ports: { a: number; b: number; c: number }): string {
  return [
    "healthchecks:",
    "  tcp-fast: { type: tcp, interval: 100ms, fast-interval: 100ms, down-interval: 100ms, timeout: 100ms, rise: 1, fall: 1, jitter: 0 }",
    "backends:",
    `  a: { address: 127.0.0.1, port: ${ports.a}, healthcheck: tcp-fast }`,
    `  b: { address: 127.0.0.1, port: ${ports.b}, healthcheck: tcp-fast }`,
    `  c: { address: 127.0.0.1, port: ${ports.c} }`,
    "services:",
    "  web:",
    "    algorithm: round-robin",
    "    pools:",
    "      - { name: main, backends: { a: { weight: 100 }, b: { weight: 50 } } }",
    "      - { name: spare, backends: { c: {} } }",
    "frontends:",
    "  www:",
    `    listen: 127.0.0.1:${frontendPort}`,
    "    protocol: tcp",
    "    service: web",
    "runtime: { drain-timeout: 200ms, warmup: { max-wait: 2s } }",
    "",
  ].join("\n");
}

export async function startFixture(options: AdminServerOptions = {}): Promise<Fixture> {
  const a = await new NamedBackend("a").start();
  const b = await new NamedBackend("b").start();
  const c = await new NamedBackend("c").start();
  const frontendPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "lodestone-admin-"));
  const file = join(dir, "lodestone.yaml");
  const yaml = fixtureYaml(frontendPort, { a: a.port, b: b.port, c: c.port });
  writeFileSync(file, yaml);
  const daemon = await Daemon.start({
    source: { path: file },
    logger: pino({ level: "silent" }),
    createDataplanes: () => [new TestTcpDataplane()],
  });
  const admin = await startAdminServer(daemon, {
    listen: { host: "127.0.0.1", port: 0 },
    token: null,
    processMetrics: false,
    ...options,
  });
  return {
    daemon,
    admin,
    url: admin.url,
    frontendPort,
    backends: { a, b, c },
    dir,
    file,
    yaml,
    async close() {
      await admin.close();
      await daemon.stop();
      for (const x of [a, b, c]) await x.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
