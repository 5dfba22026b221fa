// The L7 FrontendListener: a TCP server whose connections speak HTTP/1.1, plus the
// per-frontend state every connection reads on each request (router, service
// targets, upstream pool, settings). update() swaps that state; requests already
// in flight keep the backend they were sent to.
import type { Http2Server, ServerHttp2Session } from "node:http2";
import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from "node:tls";
import type { HttpSettings, Route } from "../../../config/routes.ts";
import type { HostPort } from "../../../config/types.ts";
import { LodestoneError } from "../../../errors.ts";
import type { DesiredFrontend } from "../../../model/desired.ts";
import type { TrafficCounters } from "../../types.ts";
import { listenError } from "../listen-error.ts";
import type { FrontendListener, ListenerOptions } from "../listener.ts";
import { ClientConnection } from "./client-connection.ts";
import { adoptCleartext, createH2Server } from "./h2.ts";
import { DEFAULT_HEAD_LIMITS, type HeadLimits } from "./head-scanner.ts";
import { Router } from "./router.ts";
import { httpConfigOf } from "./settings.ts";
import { buildTargets, type ServiceTarget } from "./targets.ts";
import { type LoadedTls, loadTls } from "./tls.ts";
import { UpstreamPool } from "./upstream.ts";

export interface HttpListenerOptions extends ListenerOptions {
  /** Called for every refused request (malformed, oversized, timed out); for logs. */
  onBadRequest?: (err: unknown, clientAddress: string) => void;
  /** Called for every invalid backend response; for logs. */
  onBadResponse?: (err: unknown, backend: string) => void;
  /** Accept already-connected sockets instead of listening (TLS/HTTP2 front ends hand them over). */
  noListen?: boolean;
}

/** L7 counters beyond TrafficCounters, for metrics. */
export interface HttpCounters {
  requests: number;
  /** Requests refused as malformed/oversized (never forwarded). */
  rejected: number;
  /** Upstream connections opened (reuse keeps this low). */
  upstreamConnections: number;
  /** Proxy-generated error responses by status (408, 502, 503, 504...). */
  errors: Record<number, number>;
}

function zeroCounters(): TrafficCounters {
  return { connectionsTotal: 0, connectionsActive: 0, bytesIn: 0, bytesOut: 0, connectErrors: 0 };
}

export class HttpListener implements FrontendListener {
  readonly name: string;
  readonly proto: "http" | "https";
  settings!: HttpSettings;
  limits!: HeadLimits;
  /** Backend response heads: never tighter than the defaults (large Set-Cookie headers are normal). */
  responseLimits!: HeadLimits;
  idleTimeout = 0;
  connectTimeout = 0;
  connectRetries = 0;
  router!: Router;
  targets!: Map<string, ServiceTarget>;
  defaultTarget!: ServiceTarget;
  readonly pool: UpstreamPool;
  stopping = false;
  readonly counters: HttpCounters = { requests: 0, rejected: 0, upstreamConnections: 0, errors: {} };

  private frontend: DesiredFrontend;
  private readonly server: Server | TlsServer;
  private readonly tlsServer: TlsServer | null = null;
  private tls: LoadedTls | null = null;
  private tlsKey = "";
  /** Certificate sets loaded by update() after start (for tests and the admin API). */
  tlsReloads = 0;
  private h2: Http2Server | null = null;
  private readonly h2Sessions = new Set<ServerHttp2Session>();
  /** TLS handshakes that failed (bad client hello, protocol mismatch...). */
  tlsErrors = 0;
  private readonly connections = new Set<ClientConnection>();
  private readonly perBackend = new Map<string, TrafficCounters>();
  private readonly totals = zeroCounters();
  private readonly opts: HttpListenerOptions;
  private readonly inflight = (backend: string): number =>
    this.perBackend.get(backend)?.connectionsActive ?? 0;

  constructor(frontend: DesiredFrontend, opts: HttpListenerOptions = {}) {
    this.name = frontend.name;
    this.proto = frontend.protocol === "https" ? "https" : "http";
    this.frontend = frontend;
    this.opts = opts;
    this.pool = new UpstreamPool(0, 1000);
    this.apply(frontend);
    if (this.proto === "https") {
      const tlsServer = createTlsServer({
        allowHalfOpen: true,
        noDelay: true,
        ALPNProtocols: alpnOf(frontend),
        SNICallback: (servername, cb) =>
          cb(null, this.tls === null ? undefined : this.tls.table.lookup(servername)),
      });
      tlsServer.on("secureConnection", (socket: TLSSocket) => {
        if (socket.alpnProtocol === "h2") {
          if (this.stopping) {
            socket.destroy();
            return;
          }
          this.h2 ??= createH2Server(this, this.h2Sessions);
          this.h2.emit("connection", socket);
        } else {
          this.accept(socket);
        }
      });
      tlsServer.on("tlsClientError", (_err, socket) => {
        this.tlsErrors++;
        socket.destroy();
      });
      this.tlsServer = tlsServer;
      this.server = tlsServer;
    } else {
      this.server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket));
    }
    this.server.on("error", () => {}); // listen errors are reported by start()
    if (frontend.settings.maxConnections > 0) this.server.maxConnections = frontend.settings.maxConnections;
  }

  private apply(frontend: DesiredFrontend): void {
    const cfg = httpConfigOf(frontend.settings);
    const s = frontend.settings;
    this.settings = cfg.http;
    this.limits = {
      maxStartLine: cfg.http.maxRequestLine,
      maxHeaderBytes: cfg.http.maxHeaderBytes,
      maxHeaders: cfg.http.maxHeaders,
    };
    this.responseLimits = {
      maxStartLine: Math.max(DEFAULT_HEAD_LIMITS.maxStartLine, this.limits.maxStartLine),
      maxHeaderBytes: Math.max(DEFAULT_HEAD_LIMITS.maxHeaderBytes, this.limits.maxHeaderBytes),
      maxHeaders: Math.max(DEFAULT_HEAD_LIMITS.maxHeaders, this.limits.maxHeaders),
    };
    this.idleTimeout = s.idleTimeout;
    this.connectTimeout = s.connectTimeout;
    this.connectRetries = s.connectRetries;
    this.router = new Router(cfg.routes as Route[]);
    this.targets = buildTargets(frontend, this.inflight);
    this.defaultTarget = this.targets.get(frontend.service)!;
    this.pool.configure(cfg.http.upstreamMaxIdle, cfg.http.upstreamIdleTimeout);
  }

  async start(): Promise<void> {
    if (this.tlsServer !== null) {
      const tls = httpConfigOf(this.frontend.settings).tls;
      if (tls === undefined) {
        throw new LodestoneError(
          "TLS_NOT_CONFIGURED",
          `frontend ${this.name}: protocol https needs tls.certificates`,
        );
      }
      this.tls = await loadTls(this.name, tls);
      this.tlsKey = JSON.stringify(tls);
      // Clients that send no SNI (e.g. connecting by IP) get the first certificate.
      this.tlsServer.setSecureContext(this.tls.defaultOptions);
    }
    if (this.opts.noListen) return;
    const { host, port } = this.frontend.listen;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        this.server.off("listening", onListening);
        reject(listenError(this.name, "tcp", host, port, err));
      };
      const onListening = () => {
        this.server.off("error", onError);
        resolve();
      };
      this.server.once("error", onError);
      this.server.once("listening", onListening);
      this.server.listen({ host, port, reusePort: this.opts.reusePort === true });
    });
  }

  /** The bound address (useful with port 0), null before start() / after stop(). */
  address(): HostPort | null {
    const a = this.server.address();
    if (a === null || typeof a === "string") return null;
    return { host: a.address, port: a.port };
  }

  /** Serve an already-accepted socket (used by TLS front ends and tests). */
  accept(socket: Socket): void {
    if (this.stopping) {
      socket.on("error", () => {});
      socket.destroy();
      return;
    }
    this.totals.connectionsTotal++;
    const conn = new ClientConnection(socket, this);
    this.connections.add(conn);
  }

  /** A plain connection that opened with the HTTP/2 preface (h2c prior knowledge). */
  adoptH2c(socket: Socket, first: Buffer): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    this.h2 ??= createH2Server(this, this.h2Sessions);
    adoptCleartext(this.h2, socket, first);
  }

  update(frontend: DesiredFrontend): void {
    this.reloadTlsIfChanged(frontend);
    const before = new Set(this.frontend.backends.map((b) => b.name));
    for (const svc of Object.values(this.frontend.routeServices ?? {}))
      for (const b of svc.backends) before.add(b.name);
    this.frontend = frontend;
    this.apply(frontend);
    const all = [
      ...frontend.backends,
      ...Object.values(frontend.routeServices ?? {}).flatMap((s) => s.backends),
    ];
    const now = new Set(all.map((b) => b.name));
    const flushed = new Set(all.filter((b) => b.weight === 0 && b.flush).map((b) => b.name));
    // Vanished backends: idle connections go now, active exchanges finish (drain).
    for (const name of before) if (!now.has(name)) this.pool.closeIdle(name);
    // Flushed backends: everything on them ends now.
    for (const name of flushed) {
      this.pool.closeIdle(name);
      for (const c of this.connections) if (c.currentBackend === name) c.abort();
    }
  }

  /**
   * Certificates listed differently than at the last load are read again; new
   * handshakes use them once loaded, established connections keep theirs. A failed
   * reload keeps the certificates in use and is logged.
   */
  private reloadTlsIfChanged(frontend: DesiredFrontend): void {
    if (this.tlsServer === null || this.tls === null) return;
    const tls = httpConfigOf(frontend.settings).tls;
    const key = JSON.stringify(tls ?? null);
    if (tls === undefined || key === this.tlsKey) return;
    this.tlsKey = key;
    const server = this.tlsServer;
    loadTls(this.name, tls).then(
      (loaded) => {
        if (this.tlsKey !== key) return; // a newer update won
        this.tls = loaded;
        server.setSecureContext(loaded.defaultOptions);
        this.tlsReloads++;
      },
      (err: unknown) =>
        this.opts.log?.error({ frontend: this.name, err: describe(err) }, "certificate reload failed"),
    );
  }

  async stop(drainTimeout: number): Promise<void> {
    this.stopping = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // HTTP/2: GOAWAY now; open streams finish (they are connections in the set below).
    for (const s of this.h2Sessions) s.close();
    this.pool.closeIdle();
    for (const c of this.connections) c.drain();
    const deadline = Date.now() + drainTimeout;
    while (this.connections.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, deadline - Date.now()))));
    }
    for (const c of [...this.connections]) c.abort();
    for (const s of this.h2Sessions) s.destroy();
    this.pool.closeIdle();
    if (!this.opts.noListen && this.server.listening) await closed;
  }

  stats(): TrafficCounters & { rejected: number; backends: Record<string, TrafficCounters> } {
    const t = { ...this.totals, connectionsActive: this.connections.size, rejected: this.counters.rejected };
    for (const c of this.connections) {
      t.bytesIn += c.socket.bytesRead;
      t.bytesOut += c.socket.bytesWritten;
    }
    const backends: Record<string, TrafficCounters> = {};
    for (const [name, c] of this.perBackend) backends[name] = { ...c };
    return { ...t, backends };
  }

  // ------------------------------------------------------------------ for connections

  backendCounters(name: string): TrafficCounters {
    let c = this.perBackend.get(name);
    if (c === undefined) {
      c = zeroCounters();
      this.perBackend.set(name, c);
    }
    return c;
  }

  connectionClosed(c: ClientConnection): void {
    if (!this.connections.delete(c)) return;
    this.totals.bytesIn += c.socket.bytesRead;
    this.totals.bytesOut += c.socket.bytesWritten;
  }

  onBadRequest(err: unknown, clientAddress: string): void {
    this.opts.onBadRequest?.(err, clientAddress);
    // debug, not warn: anyone on the internet can send garbage, logs must not amplify it.
    this.opts.log?.debug(
      { frontend: this.name, client: clientAddress, err: describe(err) },
      "request refused",
    );
  }

  onBadResponse(err: unknown, backend: string): void {
    this.opts.onBadResponse?.(err, backend);
    this.opts.log?.warn(
      { frontend: this.name, backend, err: describe(err) },
      "invalid response from backend",
    );
  }
}

/** ALPN protocols an https frontend offers (its tls.alpn, http/1.1 when unset). */
function alpnOf(frontend: DesiredFrontend): string[] {
  const tls = frontend.settings.tls;
  return tls?.alpn !== undefined && tls.alpn.length > 0 ? tls.alpn : ["http/1.1"];
}

function describe(err: unknown): { code?: string; message: string } {
  if (err instanceof Error) return { code: (err as { code?: string }).code, message: err.message };
  return { message: String(err) };
}
