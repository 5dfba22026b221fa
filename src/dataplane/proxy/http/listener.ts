// The L7 FrontendListener: a TCP server whose connections speak HTTP/1.1, plus the
// per-frontend state every connection reads on each request (router, service
// targets, upstream pool, settings). update() swaps that state; requests already
// in flight keep the backend they were sent to.

import { readFileSync } from "node:fs";
import type { Http2Server, ServerHttp2Session } from "node:http2";
import { BlockList, isIP } from "node:net";
import {
  type ConnectionOptions,
  createServer as createTlsServer,
  type TLSSocket,
  type Server as TlsServer,
} from "node:tls";
import type { HttpSettings, Route } from "../../../config/routes.ts";
import type { HostPort } from "../../../config/types.ts";
import { LodestoneError } from "../../../errors.ts";
import type { DesiredFrontend } from "../../../model/desired.ts";
import type { HttpStats, TrafficCounters } from "../../types.ts";
import { listenError } from "../listen-error.ts";
import type { FrontendListener, ListenerOptions } from "../listener.ts";
import { LiveList } from "../live-list.ts";
import { TcpServer } from "../uv-tcp.ts";
import { ClientConnection, LINGER_MS } from "./client-connection.ts";
import { type CompiledHeaderRules, compileHeaderRules } from "./forward-head.ts";
import { type ForwardPolicy, frontendPolicy, routePolicies } from "./forward-policy.ts";
import { adoptCleartext, createH2Server } from "./h2.ts";
import { H2Sessions } from "./h2-upstream.ts";
import { DEFAULT_HEAD_LIMITS, type HeadLimits } from "./head-scanner.ts";
import { OutlierDetector } from "./outlier.ts";
import { RetryBudget } from "./retry-budget.ts";
import { Router } from "./router.ts";
import { httpConfigOf } from "./settings.ts";
import { LATENCY_BUCKETS_MS } from "./stats.ts";
import { StickyCookie } from "./sticky.ts";
import { buildTargets, type ServiceTarget } from "./targets.ts";
import { type LoadedTls, loadTls } from "./tls.ts";
import { PLAIN_TRANSPORT, UpstreamPool, type UpstreamTransport } from "./upstream.ts";
import { type ClientSocket, UvSocket } from "./uv-socket.ts";

export interface HttpListenerOptions extends ListenerOptions {
  /** Called for every refused request (malformed, oversized, timed out); for logs. */
  onBadRequest?: (err: unknown, clientAddress: string) => void;
  /** Called for every invalid backend response; for logs. */
  onBadResponse?: (err: unknown, backend: string) => void;
  /** Accept already-connected sockets instead of listening (TLS/HTTP2 front ends hand them over). */
  noListen?: boolean;
  /**
   * Passive outlier detection ejected (`ejected` true) or returned a backend. For the
   * control plane to surface as transitions; also logged (warn / info).
   */
  onOutlier?: (backend: string, ejected: boolean, reason: string) => void;
  /** Clock for retry budget and outlier timing (tests); default Date.now. */
  now?: () => number;
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
  retries: number;
  retriesRefused: number;
  ejections: number;
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
  /** Timeouts and retry limits of exchanges no overriding route decides. */
  policy!: ForwardPolicy;
  /** Forward routes that override timeouts or retries, with their policies. */
  routePolicies = new Map<Route, ForwardPolicy>();
  router!: Router;
  targets!: Map<string, ServiceTarget>;
  defaultTarget!: ServiceTarget;
  readonly pool: UpstreamPool;
  stopping = false;
  readonly counters: HttpCounters = {
    requests: 0,
    rejected: 0,
    upstreamConnections: 0,
    errors: {},
    retries: 0,
    retriesRefused: 0,
    ejections: 0,
  };
  readonly retryBudget: RetryBudget;
  readonly outlier: OutlierDetector;
  sticky: StickyCookie | null = null;
  requestRules: CompiledHeaderRules | null = null;
  responseRules: CompiledHeaderRules | null = null;
  /** Frontend + route rules of the routes that have their own. */
  routeRules = new Map<
    Route,
    { request: CompiledHeaderRules | null; response: CompiledHeaderRules | null }
  >();
  /** Clients whose X-Forwarded-* are trusted; null when no list is configured. */
  trusted: BlockList | null = null;
  readonly now: () => number;
  private readonly statusClasses = [0, 0, 0, 0, 0, 0];
  private readonly latencyCounts = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
  private latencySum = 0;
  private latencyCount = 0;
  private outlierTimer: NodeJS.Timeout | null = null;
  private outlierTimerAt = 0;
  /** The one timer behind every connection's timeouts (see sweep()). */
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweepEvery = 0;

  private frontend: DesiredFrontend;
  /** https frontends: Node's TLS server. */
  private readonly tlsServer: TlsServer | null = null;
  /**
   * http frontends: a listening libuv handle whose accepted connections become
   * UvSockets directly (no net.Socket is built per connection only to be dropped).
   */
  private uvServer: TcpServer | null = null;
  private tls: LoadedTls | null = null;
  private tlsKey = "";
  /** Certificate sets loaded by update() after start (for tests and the admin API). */
  tlsReloads = 0;
  private h2: Http2Server | null = null;
  private readonly h2Sessions = new Set<ServerHttp2Session>();
  /** TLS handshakes that failed (bad client hello, protocol mismatch...). */
  tlsErrors = 0;
  private readonly connections = new LiveList<ClientConnection, "liveSlot">("liveSlot");
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
    this.now = opts.now ?? Date.now;
    this.pool = new UpstreamPool(0, 1000);
    const http = httpConfigOf(frontend.settings).http;
    this.retryBudget = new RetryBudget(http.retryBudget);
    this.outlier = new OutlierDetector(http.outlier, (backend, ejected, reason) =>
      this.outlierChanged(backend, ejected, reason),
    );
    this.apply(frontend);
    if (this.proto === "https") {
      const tlsServer = createTlsServer({
        allowHalfOpen: true,
        noDelay: true,
        // The slowloris guard starts at the handshake (Node's default holds a silent
        // socket for 120 s); the value of the listener's start, reloads keep it.
        handshakeTimeout: http.requestHeadTimeout,
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
      tlsServer.on("error", () => {}); // listen errors are reported by start()
      this.tlsServer = tlsServer;
    }
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
    this.policy = frontendPolicy(s.connectTimeout, s.connectRetries, cfg.http);
    this.routePolicies = routePolicies(this.policy, cfg.routes);
    this.scheduleSweep(cfg.http);
    this.router = new Router(cfg.routes as Route[]);
    this.targets = buildTargets(frontend, this.inflight, cfg.http.hashOn !== undefined);
    this.defaultTarget = this.targets.get(frontend.service)!;
    this.pool.configure(cfg.http.upstreamMaxIdle, cfg.http.upstreamIdleTimeout);
    this.retryBudget.configure(cfg.http.retryBudget);
    this.applyTransport(cfg.http);
    const names = new Set<string>();
    for (const t of this.targets.values()) for (const b of t.backends) names.add(b.name);
    this.outlier.configure(cfg.http.outlier, [...names]);
    // The sticky key is read once (a changed key-file path is read again).
    const sticky = cfg.http.sticky;
    if (sticky === undefined) this.sticky = null;
    else if (this.sticky === null || JSON.stringify(sticky) !== this.stickyKey) {
      this.sticky = new StickyCookie(sticky, this.name);
    }
    this.stickyKey = JSON.stringify(sticky ?? null);
    this.requestRules = compileHeaderRules(cfg.http.requestHeaders);
    this.responseRules = compileHeaderRules(cfg.http.responseHeaders);
    this.routeRules = new Map();
    for (const r of cfg.routes as Route[]) {
      if (r.requestHeaders === undefined && r.responseHeaders === undefined) continue;
      this.routeRules.set(r, {
        request: compileHeaderRules(cfg.http.requestHeaders, r.requestHeaders),
        response: compileHeaderRules(cfg.http.responseHeaders, r.responseHeaders),
      });
    }
    if (cfg.http.trustedProxies.length > 0) {
      const list = new BlockList();
      for (const c of cfg.http.trustedProxies) addCidr(list, c);
      this.trusted = list;
    } else {
      this.trusted = null;
    }
  }

  private stickyKey = "null";
  /** How backends are reached (TLS, HTTP/2); replaced when upstream settings change. */
  transport: UpstreamTransport = PLAIN_TRANSPORT;
  /**
   * How an HTTP/1.1 Upgrade (WebSocket) reaches a backend: the same as `transport`
   * except that an h2 transport becomes a dedicated HTTP/1.1 connection (same TLS
   * verify/SNI/CA), since few backends implement WebSocket over HTTP/2 (RFC 8441).
   */
  upgradeTransport: UpstreamTransport = PLAIN_TRANSPORT;
  private transportKey = "";

  private applyTransport(http: HttpSettings): void {
    const key = JSON.stringify([http.upstream, http.upstreamTls ?? null]);
    if (key === this.transportKey) return;
    const old = this.transport;
    let tls: ConnectionOptions | null = null;
    const t = http.upstreamTls;
    if (t !== undefined) {
      tls = { rejectUnauthorized: t.verify };
      if (t.sni !== undefined) tls.servername = t.sni;
      if (t.ca !== undefined) {
        try {
          tls.ca = readFileSync(t.ca);
        } catch (err) {
          throw new LodestoneError(
            "TLS_CA_UNREADABLE",
            `frontend ${this.name}: cannot read upstream-tls ca ${t.ca}: ${(err as Error).message}`,
          );
        }
      }
    }
    this.transport = { tls, h2: http.upstream === "h2" ? new H2Sessions() : null };
    this.upgradeTransport = this.transport.h2 === null ? this.transport : { tls, h2: null };
    this.transportKey = key;
    // Idle connections of the old kind must not be reused; busy ones finish.
    this.pool.closeIdle();
    old.h2?.close();
  }

  /** How X-Forwarded-* of this client are treated (see ForwardContext.forwarded). */
  forwardedMode(clientAddress: string): "trust" | "append" | "replace" {
    if (this.trusted !== null) {
      const family = clientAddress.includes(":") ? "ipv6" : "ipv4";
      return this.trusted.check(clientAddress, family) ? "trust" : "replace";
    }
    return this.settings.xForwardedFor;
  }

  /** One exchange with a backend ended: feeds outlier detection. */
  backendResult(backend: string, ok: boolean, reason: string): void {
    if (!this.outlier.matters(backend, ok)) return;
    this.outlier.record(backend, ok, reason, this.now());
    if (!ok) this.scheduleOutlierExpiry();
  }

  private scheduleOutlierExpiry(): void {
    const next = this.outlier.expire(this.now());
    if (next === 0 || (this.outlierTimer !== null && this.outlierTimerAt <= next)) return;
    if (this.outlierTimer !== null) clearTimeout(this.outlierTimer);
    this.outlierTimerAt = next;
    this.outlierTimer = setTimeout(
      () => {
        this.outlierTimer = null;
        this.scheduleOutlierExpiry();
      },
      Math.max(1, next - this.now()),
    );
    this.outlierTimer.unref();
  }

  private outlierChanged(backend: string, ejected: boolean, reason: string): void {
    if (ejected) {
      this.counters.ejections++;
      this.opts.log?.warn({ frontend: this.name, backend, reason }, "backend ejected (outlier detection)");
    } else {
      this.opts.log?.info({ frontend: this.name, backend, reason }, "backend returned (outlier detection)");
    }
    this.opts.onOutlier?.(backend, ejected, reason);
  }

  /** A response went to the client (status as sent), `ms` after the request head arrived (-1: no latency, e.g. a refused head). */
  recordResponse(status: number, ms: number): void {
    const cls = Math.floor(status / 100);
    if (cls >= 1 && cls <= 5) this.statusClasses[cls]++;
    if (ms < 0) return;
    let i = 0;
    while (i < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[i]) i++;
    this.latencyCounts[i]++;
    this.latencySum += ms;
    this.latencyCount++;
  }

  /** The access log line of one exchange (when http.access-log is on). */
  accessLog(entry: object): void {
    this.opts.log?.info({ frontend: this.name, ...entry }, "access");
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
    const reusePort = this.opts.reusePort === true;
    const server = this.tlsServer;
    if (server === null) {
      if (this.uvServer !== null || this.stopping) return;
      try {
        this.uvServer = TcpServer.listen(
          host,
          port,
          { reusePort },
          (stream) => this.accept(new UvSocket(stream)),
          // Accept failures (e.g. EMFILE) are logged; the server keeps listening.
          (err) => this.opts.log?.error({ frontend: this.name, err }, "http accept failed"),
        );
      } catch (err) {
        throw listenError(this.name, "tcp", host, port, err as NodeJS.ErrnoException);
      }
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        server.off("listening", onListening);
        reject(listenError(this.name, "tcp", host, port, err));
      };
      const onListening = () => {
        server.off("error", onError);
        resolve();
      };
      server.once("error", onError);
      server.once("listening", onListening);
      server.listen({ host, port, reusePort });
    });
  }

  /** The bound address (useful with port 0), null before start() / after stop(). */
  address(): HostPort | null {
    if (this.uvServer !== null) {
      const a = this.uvServer.address();
      return a === null ? null : { host: a.address, port: a.port };
    }
    const a = this.tlsServer?.address() ?? null;
    if (a === null || typeof a === "string") return null;
    return { host: a.address, port: a.port };
  }

  /** Serve an already-accepted socket (used by TLS front ends and tests). */
  accept(socket: ClientSocket): void {
    const max = this.frontend.settings.maxConnections;
    if (this.stopping || (max > 0 && this.connections.size >= max)) {
      socket.on("error", () => {});
      socket.destroy();
      return;
    }
    this.totals.connectionsTotal++;
    const conn = new ClientConnection(socket, this);
    this.connections.add(conn);
  }

  /** HTTP/2 sessions (H2Host): idle like a keep-alive connection. */
  get sessionIdleTimeout(): number {
    return this.settings.keepAliveTimeout;
  }

  /** A plain connection that opened with the HTTP/2 preface (h2c prior knowledge). */
  adoptH2c(socket: ClientSocket, first: Buffer): void {
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
    for (const name of before) {
      if (now.has(name)) continue;
      this.pool.closeIdle(name);
      this.transport.h2?.close(name);
    }
    // Flushed backends: everything on them ends now.
    for (const name of flushed) {
      this.pool.closeIdle(name);
      this.transport.h2?.close(name);
      for (const c of this.connections.toArray()) if (c.currentBackend === name) c.abort();
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

  /**
   * (Re)start the sweep that checks every connection's timeouts: every quarter of the
   * shortest timeout a connection can have (5..250 ms). A timeout starts counting at
   * the first sweep after it was set and fires at the first sweep after it expired, so
   * at most two periods (half the shortest timeout, and at most 500 ms) late, never
   * early. One timer per listener instead of Node timers per connection and per
   * exchange, and no clock read per exchange.
   */
  private scheduleSweep(http: HttpSettings): void {
    let shortest = Math.min(
      http.requestHeadTimeout,
      http.keepAliveTimeout,
      this.idleTimeout,
      LINGER_MS,
      this.policy.connectTimeout,
      this.policy.responseTimeout,
    );
    for (const p of this.routePolicies.values()) {
      shortest = Math.min(shortest, p.connectTimeout, p.responseTimeout);
    }
    const every = Math.min(250, Math.max(5, Math.floor(shortest / 4)));
    if (every === this.sweepEvery && this.sweepTimer !== null) return;
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.sweepEvery = every;
    this.sweepTimer = setInterval(() => this.sweep(), every);
    this.sweepTimer.unref();
  }

  private sweep(): void {
    const now = performance.now();
    this.connections.forEach((c) => {
      c.sweep(now);
    });
  }

  async stop(drainTimeout: number): Promise<void> {
    this.stopping = true;
    // Stop accepting. Not waited for: Node's close callback also waits for sockets this
    // listener does not drain (a TLS handshake that never completes holds it for the
    // 120 s handshake timeout); the connections it serves are drained below.
    if (this.tlsServer?.listening) this.tlsServer.close();
    this.uvServer?.close();
    this.uvServer = null;
    // HTTP/2: GOAWAY now; open streams finish (they are connections in the set below).
    for (const s of this.h2Sessions) s.close();
    this.pool.closeIdle();
    for (const c of this.connections.toArray()) c.drain();
    const deadline = Date.now() + drainTimeout;
    while (this.connections.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, deadline - Date.now()))));
    }
    for (const c of this.connections.toArray()) c.abort();
    for (const s of this.h2Sessions) s.destroy();
    if (this.outlierTimer !== null) clearTimeout(this.outlierTimer);
    this.outlierTimer = null;
    this.transport.h2?.destroyAll();
    this.pool.closeIdle();
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
  }

  stats(): TrafficCounters & {
    rejected: number;
    backends: Record<string, TrafficCounters>;
    http: HttpStats;
  } {
    const t = { ...this.totals, connectionsActive: this.connections.size, rejected: this.counters.rejected };
    this.connections.forEach((c) => {
      t.bytesIn += c.socket.bytesRead;
      t.bytesOut += c.socket.bytesWritten;
    });
    const backends: Record<string, TrafficCounters> = {};
    for (const [name, c] of this.perBackend) backends[name] = { ...c };
    const sc = this.statusClasses;
    // Cumulative, as Prometheus histograms count them.
    const counts: number[] = [];
    let acc = 0;
    for (const n of this.latencyCounts) {
      acc += n;
      counts.push(acc);
    }
    const http: HttpStats = {
      requests: this.counters.requests,
      responses: { "1xx": sc[1], "2xx": sc[2], "3xx": sc[3], "4xx": sc[4], "5xx": sc[5] },
      latency: { bounds: LATENCY_BUCKETS_MS, counts, sumMs: this.latencySum, count: this.latencyCount },
      retries: this.counters.retries,
      retriesRefused: this.counters.retriesRefused,
      ejections: this.counters.ejections,
      ejected: this.outlier.ejected(),
    };
    return { ...t, backends, http };
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

/** Add "10.0.0.0/8", "::1/128" or a bare address to a BlockList (validated by the config schema). */
function addCidr(list: BlockList, cidr: string): void {
  const [addr, bits] = cidr.split("/");
  const family = isIP(addr) === 6 ? "ipv6" : "ipv4";
  if (bits === undefined) list.addAddress(addr, family);
  else list.addSubnet(addr, Number(bits), family);
}
