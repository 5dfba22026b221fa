// The L4 TCP proxy: accept, pick a backend, connect (retrying other backends on
// failure), then splice bytes both ways with backpressure and half-close.
//
// Every live connection is tracked under its backend's name, so a new desired
// state never moves an established connection: update() only rebuilds the
// balancer for new connections, ends the connections of flushed backends, and
// lets everything else drain.
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import { createBalancer } from "../../balance/index.ts";
import type { Balancer, FlowKey } from "../../balance/types.ts";
import type { HostPort } from "../../config/types.ts";
import type { DesiredBackend, DesiredFrontend } from "../../model/desired.ts";
import type { TrafficCounters } from "../types.ts";
import { type ListenerStats, zeroCounters } from "./counters.ts";
import { listenError } from "./listen-error.ts";
import type { FrontendListener, ListenerOptions, ProxyLogger } from "./listener.ts";
import { silentLogger } from "./listener.ts";
import { encodeProxyHeader, type ProxyAddresses } from "./proxy-protocol.ts";
import { FlowRegistry } from "./registry.ts";

/** One desired state's view of the backends: the balancer's indexes point into `backends`. */
interface Table {
  backends: readonly DesiredBackend[];
  balancer: Balancer;
}

/**
 * One client connection and (once chosen) its backend connection. It is also the
 * balancer's flow key: the address and port are read from the socket only when a
 * hashing algorithm asks (each read of remoteAddress is a getpeername() syscall and
 * round-robin never needs it).
 */
class TcpConnection implements FlowKey {
  readonly client: Socket;
  /** Backends whose connect failed for this client (not tried again); null until one fails. */
  tried: Set<string> | null = null;
  backend: Socket | null = null;
  backendName: string | null = null;
  connected = false;
  clientClosed = false;
  backendClosed = true;
  finished = false;
  timer: NodeJS.Timeout | null = null;
  /** The listener's coarse clock when a byte last went either way (idle sweep). */
  lastActive = 0;

  constructor(client: Socket) {
    this.client = client;
  }

  get address(): string {
    return this.client.remoteAddress ?? "";
  }

  get port(): number {
    return this.client.remotePort ?? 0;
  }

  /** End both sides now (flush, idle timeout, errors, forced stop). */
  destroy(): void {
    this.client.destroy();
    this.backend?.destroy();
  }
}

export class TcpListener implements FrontendListener {
  readonly name: string;
  #frontend: DesiredFrontend;
  #table: Table;
  readonly #server: Server;
  readonly #options: ListenerOptions;
  readonly #log: ProxyLogger;
  readonly #registry = new FlowRegistry<TcpConnection>();
  readonly #live = new Set<TcpConnection>();
  readonly #totals = zeroCounters();
  readonly #perBackend = new Map<string, TrafficCounters>();
  #stopping = false;
  #stopped: Promise<void> | null = null;
  #onEmpty: (() => void) | null = null;
  #forceAt = Number.POSITIVE_INFINITY;
  #forceTimer: NodeJS.Timeout | null = null;
  /** One timer per listener checks idleness (not one timer per socket, refreshed on every read and write). */
  #sweepTimer: NodeJS.Timeout | null = null;
  #sweepEvery = 0;
  /** Date.now() at the last sweep: what relayed bytes stamp on their connection. */
  #clock = Date.now();
  /** Accepts closed at once: over maxConnections or while stopping. */
  rejected = 0;

  constructor(frontend: DesiredFrontend, options: ListenerOptions = {}) {
    this.name = frontend.name;
    this.#frontend = frontend;
    this.#options = options;
    this.#log = options.log ?? silentLogger;
    this.#table = this.#buildTable(frontend);
    // pauseOnConnect: no client byte is read before the backend is connected (and
    // the PROXY header, when asked for, has gone out first).
    this.#server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (socket) =>
      this.#accept(socket),
    );
    this.#syncBackendCounters(frontend);
    this.#scheduleSweep();
  }

  start(): Promise<void> {
    const { host, port } = this.#frontend.listen;
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => reject(listenError(this.name, "tcp", host, port, err));
      this.#server.once("error", onError);
      this.#server.listen({ host, port, reusePort: this.#options.reusePort === true }, () => {
        this.#server.off("error", onError);
        // Errors after a successful listen (e.g. accept failing with EMFILE) are logged, never thrown.
        this.#server.on("error", (err) =>
          this.#log.error({ frontend: this.name, err }, "tcp listener error"),
        );
        this.#log.info({ frontend: this.name, address: this.address() }, "tcp listener started");
        resolve();
      });
    });
  }

  address(): HostPort | null {
    const a = this.#server.address() as AddressInfo | null;
    return a === null ? null : { host: a.address, port: a.port };
  }

  update(frontend: DesiredFrontend): void {
    // Build first: a table the balancer rejects leaves the running one in place.
    const table = this.#buildTable(frontend);
    this.#frontend = frontend;
    this.#table = table;
    this.#syncBackendCounters(frontend);
    this.#scheduleSweep();
    for (const b of frontend.backends) {
      if (b.weight === 0 && b.flush) {
        const flushed = this.#registry.of(b.name);
        if (flushed.length > 0)
          this.#log.info({ frontend: this.name, backend: b.name, connections: flushed.length }, "flush");
        for (const c of flushed) c.destroy();
      }
    }
  }

  /** Stop accepting now; open connections get until drainTimeout (a later, shorter call wins). */
  stop(drainTimeout: number): Promise<void> {
    const forceAt = Date.now() + Math.max(0, drainTimeout);
    if (forceAt < this.#forceAt) {
      this.#forceAt = forceAt;
      if (this.#forceTimer !== null) clearTimeout(this.#forceTimer);
      this.#forceTimer = setTimeout(
        () => {
          if (this.#live.size > 0) {
            this.#log.info({ frontend: this.name, connections: this.#live.size }, "drain timeout: closing");
          }
          for (const c of this.#live) c.destroy();
        },
        Math.max(0, drainTimeout),
      );
    }
    if (this.#stopped !== null) return this.#stopped;
    this.#stopping = true;
    this.#server.close(() => {});
    this.#stopped = new Promise<void>((resolve) => {
      this.#onEmpty = () => {
        if (this.#forceTimer !== null) clearTimeout(this.#forceTimer);
        this.#forceTimer = null;
        if (this.#sweepTimer !== null) clearInterval(this.#sweepTimer);
        this.#sweepTimer = null;
        resolve();
      };
    });
    if (this.#live.size === 0) {
      const done = this.#onEmpty!;
      this.#onEmpty = null;
      done();
    }
    return this.#stopped;
  }

  stats(): ListenerStats {
    const totals = { ...this.#totals };
    const backends: Record<string, TrafficCounters> = {};
    for (const [name, counters] of this.#perBackend) {
      backends[name] = { ...counters, connectionsActive: this.#registry.count(name) };
    }
    // Bytes of live connections, so long-lived connections show up before they end.
    for (const c of this.#live) {
      totals.bytesIn += c.client.bytesRead;
      totals.bytesOut += c.client.bytesWritten;
      if (c.connected && c.backendName !== null) {
        const b = backends[c.backendName];
        if (b !== undefined) {
          b.bytesIn += c.client.bytesRead;
          b.bytesOut += c.client.bytesWritten;
        }
      }
    }
    return { ...totals, rejected: this.rejected, backends };
  }

  /**
   * (Re)start the idle sweep for the current idleTimeout: every quarter of it
   * (10 ms..1 s). A connection is closed once it has been silent for idleTimeout
   * plus one sweep period (its stamp is the clock of the sweep before its last
   * byte), so never early and at most two periods late.
   */
  #scheduleSweep(): void {
    const idle = this.#frontend.settings.idleTimeout;
    const every = idle > 0 ? Math.min(1000, Math.max(10, Math.floor(idle / 4))) : 0;
    if (every === this.#sweepEvery && (every === 0 || this.#sweepTimer !== null)) return;
    if (this.#sweepTimer !== null) clearInterval(this.#sweepTimer);
    this.#sweepTimer = null;
    this.#sweepEvery = every;
    if (every === 0 || this.#stopped !== null) return;
    this.#clock = Date.now();
    // Stamps taken under another period (or none: the clock stood still) could close a
    // connection early: a changed timeout counts idleness from now.
    for (const c of this.#live) c.lastActive = this.#clock;
    this.#sweepTimer = setInterval(() => this.#sweep(), every);
    this.#sweepTimer.unref();
  }

  #sweep(): void {
    const now = Date.now();
    this.#clock = now;
    const idle = this.#frontend.settings.idleTimeout;
    if (idle <= 0) return;
    const limit = idle + this.#sweepEvery;
    for (const c of this.#live) {
      if (c.connected && !c.finished && now - c.lastActive >= limit) {
        this.#log.debug({ frontend: this.name, backend: c.backendName }, "idle timeout");
        c.destroy();
      }
    }
  }

  #buildTable(frontend: DesiredFrontend): Table {
    const backends = frontend.backends;
    const balancer = createBalancer(
      backends.map((b) => ({ name: b.name, weight: b.weight })),
      {
        algorithm: frontend.algorithm,
        maglevTable: frontend.maglev,
        maglevTableSize: frontend.maglev?.length,
        maglevSeed: frontend.maglevSeed,
        hashOn: frontend.hashOn,
        inflight: (i) => this.#registry.count(backends[i].name),
      },
    );
    return { backends, balancer };
  }

  /** Counters exist for every backend in the desired state and for any still holding connections. */
  #syncBackendCounters(frontend: DesiredFrontend): void {
    const wanted = new Set(frontend.backends.map((b) => b.name));
    for (const name of wanted) if (!this.#perBackend.has(name)) this.#perBackend.set(name, zeroCounters());
    for (const name of this.#perBackend.keys()) {
      if (!wanted.has(name) && this.#registry.count(name) === 0) this.#perBackend.delete(name);
    }
  }

  #backendCounters(name: string): TrafficCounters {
    let counters = this.#perBackend.get(name);
    if (counters === undefined) {
      counters = zeroCounters();
      this.#perBackend.set(name, counters);
    }
    return counters;
  }

  #accept(client: Socket): void {
    client.on("error", (err) => this.#log.debug({ frontend: this.name, err }, "client socket error"));
    const max = this.#frontend.settings.maxConnections;
    if (this.#stopping || (max > 0 && this.#live.size >= max)) {
      this.rejected++;
      client.destroy();
      return;
    }
    const c = new TcpConnection(client);
    this.#live.add(c);
    this.#totals.connectionsTotal++;
    this.#totals.connectionsActive++;
    client.on("close", () => {
      c.clientClosed = true;
      // Without a FIN from the client (reset, error, destroy) the backend cannot be
      // told "no more data" politely: end it too. After a FIN, pipe() has already
      // ended the backend's write side and the reply may still be on its way.
      if (c.backend !== null && (!c.connected || !c.backend.writableEnded)) c.backend.destroy();
      this.#maybeFinish(c);
    });
    this.#connect(c);
  }

  #connect(c: TcpConnection): void {
    if (c.clientClosed) {
      this.#maybeFinish(c);
      return;
    }
    const client = c.client;
    // Retries pick from the newest table (a backend may have been drained meanwhile),
    // excluding by name the backends that already failed for this connection.
    const table = this.#table;
    let exclude: Set<number> | undefined;
    if (c.tried !== null) {
      exclude = new Set();
      for (let i = 0; i < table.backends.length; i++) if (c.tried.has(table.backends[i].name)) exclude.add(i);
    }
    const index = table.balancer.pick(c, exclude);
    if (index < 0) {
      // Nothing eligible (or every candidate failed): close the client at once.
      client.destroy();
      return;
    }
    const target = table.backends[index];
    c.backendName = target.name;
    this.#registry.add(target.name, c);
    const settings = this.#frontend.settings;
    const backend = connect({ host: target.address, port: target.port, allowHalfOpen: true, noDelay: true });
    c.backend = backend;
    c.backendClosed = false;
    c.timer = setTimeout(() => {
      const err: NodeJS.ErrnoException = new Error(`connect timeout after ${settings.connectTimeout}ms`);
      err.code = "ETIMEDOUT";
      this.#connectFailed(c, backend, err);
    }, settings.connectTimeout);
    backend.on("error", (err: NodeJS.ErrnoException) => {
      if (!c.connected) this.#connectFailed(c, backend, err);
      else this.#log.debug({ frontend: this.name, backend: target.name, err }, "backend socket error");
    });
    backend.once("connect", () => this.#established(c, backend));
    backend.on("close", () => {
      if (c.backend !== backend) return; // a failed attempt, already accounted for
      c.backendClosed = true;
      if (c.connected && !client.writableEnded) client.destroy();
      this.#maybeFinish(c);
    });
  }

  #connectFailed(c: TcpConnection, backend: Socket, err: NodeJS.ErrnoException): void {
    if (c.backend !== backend) return;
    if (c.timer !== null) clearTimeout(c.timer);
    c.timer = null;
    const name = c.backendName!;
    this.#totals.connectErrors++;
    this.#backendCounters(name).connectErrors++;
    this.#registry.delete(name, c);
    c.tried ??= new Set();
    c.tried.add(name);
    c.backend = null;
    c.backendName = null;
    c.backendClosed = true;
    backend.destroy();
    this.#log.debug({ frontend: this.name, backend: name, code: err.code, err }, "backend connect failed");
    if (c.tried.size > this.#frontend.settings.connectRetries) {
      c.client.destroy();
      return;
    }
    this.#connect(c);
  }

  #established(c: TcpConnection, backend: Socket): void {
    if (c.backend !== backend) return;
    if (c.timer !== null) clearTimeout(c.timer);
    c.timer = null;
    c.connected = true;
    this.#backendCounters(c.backendName!).connectionsTotal++;
    const client = c.client;
    const settings = this.#frontend.settings;
    if (settings.proxyProtocol !== "none") backend.write(proxyHeader(settings.proxyProtocol, client));
    // Relay both ways by hand rather than with pipe(): pipe() registers about eight
    // listeners per direction and walks its bookkeeping on every chunk, which showed
    // in the profile of short connections. Same contract: backpressure (a full
    // writer pauses the other side's reading until 'drain') and half-close (an end
    // on one side ends the write side of the other).
    c.lastActive = this.#clock;
    this.#relay(c, client, backend);
    this.#relay(c, backend, client);
    // pauseOnConnect left the client paused: 'data' listeners do not resume it.
    client.resume();
  }

  /** Forward `from`'s bytes to `to` with backpressure, and end `to` when `from` ends. */
  #relay(c: TcpConnection, from: Socket, to: Socket): void {
    from.on("data", (chunk: Buffer) => {
      c.lastActive = this.#clock;
      // After `to` is gone the close handlers destroy `from` too; drop what arrives meanwhile.
      if (to.writable && !to.write(chunk)) from.pause();
    });
    to.on("drain", () => from.resume());
    from.on("end", () => {
      if (!to.writable) return;
      // When `to` has already sent its own FIN and nothing waits in its write buffer,
      // both directions are over: close() sends our FIN (the kernel still delivers
      // what was written) and spares end()'s shutdown() and its extra callbacks.
      if (to.readableEnded && to.writableLength === 0) to.destroy();
      else to.end();
    });
  }

  #maybeFinish(c: TcpConnection): void {
    if (c.finished || !c.clientClosed || !c.backendClosed) return;
    c.finished = true;
    if (c.timer !== null) clearTimeout(c.timer);
    this.#live.delete(c);
    this.#totals.connectionsActive--;
    this.#totals.bytesIn += c.client.bytesRead;
    this.#totals.bytesOut += c.client.bytesWritten;
    if (c.backendName !== null) {
      this.#registry.delete(c.backendName, c);
      if (c.connected) {
        const counters = this.#backendCounters(c.backendName);
        counters.bytesIn += c.client.bytesRead;
        counters.bytesOut += c.client.bytesWritten;
      }
    }
    if (this.#live.size === 0 && this.#onEmpty !== null) {
      const done = this.#onEmpty;
      this.#onEmpty = null;
      done();
    }
  }
}

/** The PROXY header for a client; UNKNOWN/LOCAL when its addresses cannot be written. */
function proxyHeader(version: "v1" | "v2", client: Socket): Buffer {
  try {
    return encodeProxyHeader(version, addressesOf(client));
  } catch {
    return encodeProxyHeader(version, null);
  }
}

/** The PROXY header's view of a client connection; null if it is already gone. */
function addressesOf(client: Socket): ProxyAddresses | null {
  const { remoteAddress, remotePort, localAddress, localPort } = client;
  if (remoteAddress === undefined || remotePort === undefined) return null;
  if (localAddress === undefined || localPort === undefined) return null;
  return {
    source: { address: remoteAddress, port: remotePort },
    destination: { address: localAddress, port: localPort },
  };
}
