// Shared pieces of the L7 integration tests: desired-state builders, real backends
// on loopback port 0, a raw-socket client and a curl runner.
import { execFile } from "node:child_process";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { connect, createServer, type Server as NetServer, type Socket } from "node:net";
import { HTTP_DEFAULTS, type HttpSettings } from "../../../src/config/routes.ts";
import type { FrontendConfig } from "../../../src/config/types.ts";
import { createHttpListener, type HttpListener } from "../../../src/dataplane/proxy/http/index.ts";
import type { DesiredBackend, DesiredFrontend } from "../../../src/model/desired.ts";

export interface BackendSpec {
  name: string;
  port: number;
  weight?: number;
  address?: string;
}

export function desiredBackends(specs: BackendSpec[]): DesiredBackend[] {
  return specs
    .map((s) => ({
      name: s.name,
      address: s.address ?? "127.0.0.1",
      port: s.port,
      pool: "primary",
      poolIndex: 0,
      state: "up" as const,
      configuredWeight: s.weight ?? 100,
      weight: s.weight ?? 100,
      flush: false,
    }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

export interface FrontendOptions {
  routes?: unknown[];
  http?: Partial<HttpSettings>;
  connectTimeout?: number;
  idleTimeout?: number;
  connectRetries?: number;
  routeServices?: Record<string, BackendSpec[]>;
  algorithm?: DesiredFrontend["algorithm"];
}

export function desiredFrontend(backends: BackendSpec[], o: FrontendOptions = {}): DesiredFrontend {
  const settings: FrontendConfig = {
    name: "www",
    listen: { host: "127.0.0.1", port: 0 },
    protocol: "http",
    service: "web",
    dataplane: "proxy",
    connectTimeout: o.connectTimeout ?? 1000,
    idleTimeout: o.idleTimeout ?? 30_000,
    maxConnections: 0,
    connectRetries: o.connectRetries ?? 2,
    proxyProtocol: "none",
    udp: { sessionTimeout: 30_000, maxSessions: 100 },
    routes: o.routes ?? [],
    http: o.http === undefined ? undefined : { ...HTTP_DEFAULTS, ...o.http },
  };
  const algorithm = o.algorithm ?? "round-robin";
  const fe: DesiredFrontend = {
    name: "www",
    protocol: "http",
    listen: settings.listen,
    service: "web",
    algorithm,
    hashOn: "client-address",
    activePool: 0,
    backends: desiredBackends(backends),
    maglev: null,
    maglevSeed: 0,
    settings,
  };
  if (o.routeServices) {
    fe.routeServices = {};
    for (const [name, specs] of Object.entries(o.routeServices)) {
      fe.routeServices[name] = {
        algorithm,
        hashOn: "client-address",
        activePool: 0,
        backends: desiredBackends(specs),
        maglev: null,
        maglevSeed: 0,
      };
    }
  }
  return fe;
}

export async function startProxy(frontend: DesiredFrontend): Promise<{ proxy: HttpListener; port: number }> {
  const proxy = createHttpListener(frontend);
  await proxy.start();
  return { proxy, port: proxy.address()!.port };
}

/** A node:http backend that counts the TCP connections it accepted. */
export interface HttpBackend {
  server: Server;
  port: number;
  connections: number;
  requests: IncomingMessage[];
  close(): Promise<void>;
}

export async function startHttpBackend(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<HttpBackend> {
  const b: HttpBackend = {
    server: createHttpServer({ keepAliveTimeout: 10_000 }, (req, res) => {
      b.requests.push(req);
      handler(req, res);
    }),
    port: 0,
    connections: 0,
    requests: [],
    close: async () => {
      b.server.closeAllConnections();
      await new Promise<void>((r) => b.server.close(() => r()));
    },
  };
  b.server.on("connection", (s: Socket) => {
    b.connections++;
    s.on("error", () => {});
  });
  await new Promise<void>((r) => b.server.listen(0, "127.0.0.1", () => r()));
  b.port = (b.server.address() as { port: number }).port;
  return b;
}

/** A raw TCP backend: records every byte it receives, answers with `reply(data)` when given. */
export interface RawBackend {
  server: NetServer;
  port: number;
  received: Buffer[];
  connections: number;
  close(): Promise<void>;
}

export async function startRawBackend(
  onConnection?: (s: Socket, b: RawBackend) => void,
): Promise<RawBackend> {
  const sockets = new Set<Socket>();
  const b: RawBackend = {
    server: createServer((s) => {
      b.connections++;
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => sockets.delete(s));
      s.on("data", (d: Buffer) => b.received.push(d));
      onConnection?.(s, b);
    }),
    port: 0,
    received: [],
    connections: 0,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => b.server.close(() => r()));
    },
  };
  await new Promise<void>((r) => b.server.listen(0, "127.0.0.1", () => r()));
  b.port = (b.server.address() as { port: number }).port;
  return b;
}

/**
 * Send raw bytes, collect everything until the server closes (or `until` says the
 * reply is complete, or the timeout passes). Returns the reply as latin1 text.
 */
export function rawRequest(
  port: number,
  data: string | Buffer | (string | Buffer)[],
  opts: { until?: (text: string) => boolean; timeout?: number; endAfterWrite?: boolean } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      resolve(Buffer.concat(chunks).toString("latin1"));
    }, opts.timeout ?? 3000);
    s.on("connect", () => {
      for (const d of Array.isArray(data) ? data : [data]) s.write(d);
      if (opts.endAfterWrite) s.end();
    });
    s.on("data", (d: Buffer) => {
      chunks.push(d);
      if (opts.until?.(Buffer.concat(chunks).toString("latin1"))) {
        clearTimeout(timer);
        s.destroy();
        resolve(Buffer.concat(chunks).toString("latin1"));
      }
    });
    s.on("error", (err) => {
      clearTimeout(timer);
      if (chunks.length > 0) resolve(Buffer.concat(chunks).toString("latin1"));
      else reject(err);
    });
    s.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString("latin1"));
    });
  });
}

/** Number of complete HTTP responses (status lines) in a raw reply. */
export function statusLines(reply: string): number[] {
  return [...reply.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}

export function curl(
  args: string[],
  timeoutMs = 20_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      "curl",
      ["--silent", "--show-error", "--noproxy", "*", ...args],
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: "utf8" },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A loopback port with nothing listening (bound, then closed): connects are refused. */
export async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
