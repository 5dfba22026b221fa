// The L4 TCP proxy: accept, pick a backend, connect (retrying other backends on
// failure), then relay bytes both ways with backpressure and half-close.
//
// Every live connection is tracked under its backend's name, so a new desired
// state never moves an established connection: update() only rebuilds the
// balancer for new connections, ends the connections of flushed backends, and
// lets everything else drain.
//
// Sockets are plain non-blocking sockets in one epoll set (epoll/), driven through
// libc calls, not net.Socket or libuv handles: the relay is the hot path of L4, and
// the stream layer, then the one entry into JavaScript per libuv event, were most of
// its CPU (docs/dataplane-proxy.md, "Performance").
import type { FlowKey } from "../../balance/types.ts";
import type { HostPort } from "../../config/types.ts";
import type { DesiredFrontend } from "../../model/desired.ts";
import { BackendCounters, type BackendTable, buildBackendTable } from "./backends.ts";
import { type ListenerStats, zeroCounters } from "./counters.ts";
import { EpollTcpServer } from "./epoll/server.ts";
import type { SocketAddress } from "./epoll/sockaddr.ts";
import { connectEpollTcp, type EpollTcpStream, type StreamEvents } from "./epoll/stream.ts";
import { listenError } from "./listen-error.ts";
import type { FrontendListener, ListenerOptions, ProxyLogger } from "./listener.ts";
import { silentLogger } from "./listener.ts";
import { LiveList } from "./live-list.ts";
import { encodeProxyHeader, type ProxyAddresses } from "./proxy-protocol.ts";
import { FlowRegistry } from "./registry.ts";

/**
 * One client connection and (once chosen) its backend connection. It is also the
 * balancer's flow key: the client's address is read only when a hashing algorithm
 * asks (getpeername() is a syscall round-robin never needs).
 */
class TcpConnection implements FlowKey {
  readonly client: EpollTcpStream;
  /** Backends whose connect failed for this client (not tried again); null until one fails. */
  tried: Set<string> | null = null;
  backend: EpollTcpStream | null = null;
  backendName: string | null = null;
  connected = false;
  finished = false;
  /** Date.now() when the current backend connect started (the sweep times it out). */
  connectSince = 0;
  /** The listener's coarse clock when a byte last went either way (idle sweep). */
  lastActive = 0;
  /** Its index in the listener's live list, and in its backend's list in the registry. */
  liveSlot = -1;
  backendSlot = -1;
  #peer: SocketAddress | null | undefined;

  constructor(client: EpollTcpStream) {
    this.client = client;
  }

  get address(): string {
    return this.#clientPeer()?.address ?? "";
  }

  get port(): number {
    return this.#clientPeer()?.port ?? 0;
  }

  #clientPeer(): SocketAddress | null {
    if (this.#peer === undefined) this.#peer = this.client.peer();
    return this.#peer;
  }
}

/** What a connection's relay sides need from their listener. */
interface RelayOwner {
  clock(): number;
  /** Close the connection if both sides are done; true when it is (or already was) closed. */
  settle(c: TcpConnection): boolean;
  destroy(c: TcpConnection): void;
  socketError(c: TcpConnection, side: "client" | "backend", err: Error): void;
}

/**
 * The events of one side of a connection: its bytes go to the other side, with
 * backpressure (a queued write pauses the reading side until the writer drains; the
 * writer queues a copy, as the read buffer serves the next read) and half-close (a FIN
 * from one side is passed on as a FIN to the other once its queued bytes are out).
 */
class RelaySide implements StreamEvents {
  readonly #c: TcpConnection;
  readonly #owner: RelayOwner;
  readonly #fromClient: boolean;

  constructor(c: TcpConnection, owner: RelayOwner, fromClient: boolean) {
    this.#c = c;
    this.#owner = owner;
    this.#fromClient = fromClient;
  }

  #self(): EpollTcpStream {
    return this.#fromClient ? this.#c.client : (this.#c.backend as EpollTcpStream);
  }

  #other(): EpollTcpStream | null {
    return this.#fromClient ? this.#c.backend : this.#c.client;
  }

  onData(n: number, buf: Buffer, finFollows: boolean): void {
    this.#c.lastActive = this.#owner.clock();
    const to = this.#other();
    if (to === null || to.closed) return;
    // With the FIN following, onEnd's shutdown() comes next: the bytes and our FIN
    // leave in one segment (MSG_MORE holds the bytes until the FIN joins them).
    if (!to.write(buf.subarray(0, n), finFollows)) this.#self().pause();
  }

  onDrain(): void {
    // Our queued writes are out: the other side may read (into its buffer) again.
    this.#other()?.resume();
    this.#owner.settle(this.#c);
  }

  onEnd(): void {
    const to = this.#other();
    if (to === null || to.closed) {
      this.#owner.destroy(this.#c);
      return;
    }
    // No callback for the FIN going out: settling waits only for both FINs in and the
    // queued writes out, which onEnd and onDrain already report.
    if (!this.#owner.settle(this.#c)) to.shutdown();
  }

  onError(err: Error): void {
    this.#owner.socketError(this.#c, this.#fromClient ? "client" : "backend", err);
  }
}

export class TcpListener implements FrontendListener {
  readonly name: string;
  #frontend: DesiredFrontend;
  #table: BackendTable;
  #server: EpollTcpServer | null = null;
  readonly #options: ListenerOptions;
  readonly #log: ProxyLogger;
  readonly #registry = new FlowRegistry<TcpConnection>();
  readonly #live = new LiveList<TcpConnection, "liveSlot">("liveSlot");
  readonly #totals = zeroCounters();
  readonly #perBackend = new BackendCounters(this.#registry);
  #stopping = false;
  #stopped: Promise<void> | null = null;
  #onEmpty: (() => void) | null = null;
  #forceAt = Number.POSITIVE_INFINITY;
  #forceTimer: NodeJS.Timeout | null = null;
  /**
   * One timer per listener checks idleness and connect timeouts (not a timer per
   * socket, refreshed on every read and write, nor one per connect).
   */
  #sweepTimer: NodeJS.Timeout | null = null;
  #sweepEvery = 0;
  /** Date.now() at the last sweep: what relayed bytes stamp on their connection. */
  #clock = Date.now();
  /** What the relay sides of every connection call back into (one object, not closures per connection). */
  readonly #relay: RelayOwner = {
    clock: () => this.#clock,
    settle: (c) => this.#settle(c),
    destroy: (c) => this.#destroy(c),
    socketError: (c, side, err) => {
      this.#log.debug({ frontend: this.name, backend: c.backendName, side, err }, `${side} socket error`);
      this.#destroy(c);
    },
  };
  /** Accepts closed at once: over maxConnections or while stopping. */
  rejected = 0;

  constructor(frontend: DesiredFrontend, options: ListenerOptions = {}) {
    this.name = frontend.name;
    this.#frontend = frontend;
    this.#options = options;
    this.#log = options.log ?? silentLogger;
    this.#table = buildBackendTable(frontend, this.#registry);
    this.#perBackend.sync(frontend);
    this.#scheduleSweep();
  }

  async start(): Promise<void> {
    const { host, port } = this.#frontend.listen;
    if (this.#server !== null || this.#stopping) return;
    try {
      this.#server = EpollTcpServer.listen(
        host,
        port,
        { reusePort: this.#options.reusePort === true },
        (client) => this.#accept(client),
        // Accept failures (e.g. EMFILE) are logged; the server keeps listening.
        (err) => this.#log.error({ frontend: this.name, err }, "tcp accept failed"),
      );
    } catch (err) {
      throw listenError(this.name, "tcp", host, port, err as NodeJS.ErrnoException);
    }
    this.#log.info({ frontend: this.name, address: this.address() }, "tcp listener started");
  }

  address(): HostPort | null {
    const a = this.#server?.address() ?? null;
    return a === null ? null : { host: a.address, port: a.port };
  }

  update(frontend: DesiredFrontend): void {
    // Build first: a table the balancer rejects leaves the running one in place.
    const table = buildBackendTable(frontend, this.#registry);
    this.#frontend = frontend;
    this.#table = table;
    this.#perBackend.sync(frontend);
    this.#scheduleSweep();
    for (const b of frontend.backends) {
      if (b.weight === 0 && b.flush) {
        const flushed = this.#registry.of(b.name);
        if (flushed.length > 0)
          this.#log.info({ frontend: this.name, backend: b.name, connections: flushed.length }, "flush");
        for (const c of flushed) this.#destroy(c);
      }
    }
    this.#registry.prune();
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
          this.#live.forEach((c) => {
            this.#destroy(c);
          });
        },
        Math.max(0, drainTimeout),
      );
    }
    if (this.#stopped !== null) return this.#stopped;
    this.#stopping = true;
    this.#server?.close();
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
    const backends = this.#perBackend.snapshot();
    // Bytes of live connections, so long-lived connections show up before they end.
    this.#live.forEach((c) => {
      totals.bytesIn += c.client.bytesRead;
      totals.bytesOut += c.client.bytesWritten;
      if (c.connected && c.backendName !== null) {
        const b = backends[c.backendName];
        if (b !== undefined) {
          b.bytesIn += c.client.bytesRead;
          b.bytesOut += c.client.bytesWritten;
        }
      }
    });
    return { ...totals, rejected: this.rejected, backends };
  }

  /**
   * (Re)start the sweep for the current timeouts: every quarter of the shorter of
   * idleTimeout and connectTimeout (10 ms..1 s).
   * - A connection is closed once it has been silent for idleTimeout plus one sweep
   *   period (its stamp is the clock of the sweep before its last byte), so never
   *   early and at most two periods late.
   * - A connect is given up once connectTimeout has passed since it started (a
   *   precise stamp), at most one period late.
   */
  #scheduleSweep(): void {
    const { idleTimeout, connectTimeout } = this.#frontend.settings;
    const shortest = Math.min(
      idleTimeout > 0 ? idleTimeout : Number.POSITIVE_INFINITY,
      connectTimeout > 0 ? connectTimeout : Number.POSITIVE_INFINITY,
    );
    const every = Number.isFinite(shortest) ? Math.min(1000, Math.max(10, Math.floor(shortest / 4))) : 0;
    if (every === this.#sweepEvery && (every === 0 || this.#sweepTimer !== null)) return;
    if (this.#sweepTimer !== null) clearInterval(this.#sweepTimer);
    this.#sweepTimer = null;
    this.#sweepEvery = every;
    if (every === 0 || this.#stopped !== null) return;
    this.#clock = Date.now();
    // Stamps taken under another period (or none: the clock stood still) could close a
    // connection early: a changed timeout counts idleness from now.
    this.#live.forEach((c) => {
      c.lastActive = this.#clock;
    });
    this.#sweepTimer = setInterval(() => this.#sweep(), every);
    this.#sweepTimer.unref();
  }

  #sweep(): void {
    const now = Date.now();
    this.#clock = now;
    const { idleTimeout, connectTimeout } = this.#frontend.settings;
    const idleLimit = idleTimeout > 0 ? idleTimeout + this.#sweepEvery : Number.POSITIVE_INFINITY;
    const connectLimit = connectTimeout > 0 ? connectTimeout : Number.POSITIVE_INFINITY;
    // Each visit may end (delete) only the connection it is given, as forEach allows.
    this.#live.forEach((c) => {
      if (c.finished) return;
      if (c.connected) {
        if (now - c.lastActive >= idleLimit) {
          this.#log.debug({ frontend: this.name, backend: c.backendName }, "idle timeout");
          this.#destroy(c);
        }
      } else if (c.backend !== null && now - c.connectSince >= connectLimit) {
        const err: NodeJS.ErrnoException = new Error(`connect timeout after ${connectTimeout}ms`);
        err.code = "ETIMEDOUT";
        this.#connectFailed(c, c.backend, err);
      }
    });
  }

  #accept(client: EpollTcpStream): void {
    const max = this.#frontend.settings.maxConnections;
    if (this.#stopping || (max > 0 && this.#live.size >= max)) {
      this.rejected++;
      client.close();
      return;
    }
    const c = new TcpConnection(client);
    this.#live.add(c);
    this.#totals.connectionsTotal++;
    this.#totals.connectionsActive++;
    // The client is not read before its backend is connected (and the PROXY header,
    // when asked for, has gone out first).
    this.#connect(c);
  }

  #connect(c: TcpConnection): void {
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
      this.#destroy(c);
      return;
    }
    const target = table.backends[index];
    c.backendName = target.name;
    this.#registry.add(target.name, c);
    const backend = connectEpollTcp(
      target.address,
      target.port,
      new RelaySide(c, this.#relay, false),
      (err) => {
        if (err === null) this.#established(c, backend);
        else this.#connectFailed(c, backend, err);
      },
    );
    c.backend = backend;
    c.connectSince = Date.now();
  }

  #connectFailed(c: TcpConnection, backend: EpollTcpStream, err: NodeJS.ErrnoException): void {
    if (c.backend !== backend || c.finished) return;
    const name = c.backendName!;
    this.#totals.connectErrors++;
    this.#perBackend.of(name).connectErrors++;
    this.#registry.delete(name, c);
    c.tried ??= new Set();
    c.tried.add(name);
    c.backend = null;
    c.backendName = null;
    backend.close();
    this.#log.debug({ frontend: this.name, backend: name, code: err.code, err }, "backend connect failed");
    if (c.tried.size > this.#frontend.settings.connectRetries) {
      this.#destroy(c);
      return;
    }
    this.#connect(c);
  }

  #established(c: TcpConnection, backend: EpollTcpStream): void {
    if (c.backend !== backend || c.finished) return;
    c.connected = true;
    this.#perBackend.of(c.backendName!).connectionsTotal++;
    const client = c.client;
    const settings = this.#frontend.settings;
    // Written before any client byte is read, so it always goes first.
    if (settings.proxyProtocol !== "none") backend.write(proxyHeader(settings.proxyProtocol, client));
    c.lastActive = this.#clock;
    client.setEvents(new RelaySide(c, this.#relay, true));
    client.resume(); // the backend reads since its connect started (connectEpollTcp)
  }

  /**
   * Close the connection once both sides have sent their FIN and nothing waits to be
   * written: close() then sends our FINs that shutdown() has not sent yet (the
   * kernel still delivers what it holds), sparing a shutdown() per connection.
   */
  #settle(c: TcpConnection): boolean {
    const b = c.backend;
    if (c.finished || b === null || !c.client.ended || !b.ended) return c.finished;
    if (c.client.pendingWrites > 0 || b.pendingWrites > 0) return false;
    this.#destroy(c);
    return true;
  }

  /** End both sides now (flush, idle timeout, errors, forced stop) and forget the connection. */
  #destroy(c: TcpConnection): void {
    if (c.finished) return;
    c.finished = true;
    c.client.close();
    c.backend?.close();
    this.#live.delete(c);
    this.#totals.connectionsActive--;
    this.#totals.bytesIn += c.client.bytesRead;
    this.#totals.bytesOut += c.client.bytesWritten;
    if (c.backendName !== null) {
      this.#registry.delete(c.backendName, c);
      if (c.connected) {
        const counters = this.#perBackend.of(c.backendName);
        counters.bytesIn += c.client.bytesRead;
        counters.bytesOut += c.client.bytesWritten;
      }
    }
    if (this.#live.size === 0 && this.#onEmpty !== null) {
      const done = this.#onEmpty;
      this.#onEmpty = null;
      // From an immediate: this may run in a batch of socket events, outside Node's
      // callback scope, where the promise's reactions would wait for the next callback.
      setImmediate(done);
    }
  }
}

/** The PROXY header for a client; UNKNOWN/LOCAL when its addresses cannot be written. */
function proxyHeader(version: "v1" | "v2", client: EpollTcpStream): Buffer {
  try {
    return encodeProxyHeader(version, addressesOf(client));
  } catch {
    return encodeProxyHeader(version, null);
  }
}

/** The PROXY header's view of a client connection; null if it is already gone. */
function addressesOf(client: EpollTcpStream): ProxyAddresses | null {
  const remote = client.peer();
  const local = client.local();
  if (remote === null || local === null) return null;
  return {
    source: { address: remote.address, port: remote.port },
    destination: { address: local.address, port: local.port },
  };
}
