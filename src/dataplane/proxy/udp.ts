// The L4 UDP proxy. One socket on the frontend address; per client ("addr:port")
// a session holding a connected socket towards the chosen backend. Replies go
// back to the client from the frontend socket, so the client sees the address it
// sent to. Sessions expire after sessionTimeout without a datagram either way,
// swept by one timer per listener (not one per session).
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { isIPv6 } from "node:net";
import type { HostPort } from "../../config/types.ts";
import type { DesiredFrontend } from "../../model/desired.ts";
import { BackendCounters, type BackendTable, buildBackendTable } from "./backends.ts";
import { type ListenerStats, zeroCounters } from "./counters.ts";
import { listenError } from "./listen-error.ts";
import type { FrontendListener, ListenerOptions, ProxyLogger } from "./listener.ts";
import { silentLogger } from "./listener.ts";
import { encodeProxyV2 } from "./proxy-protocol.ts";
import { FlowRegistry } from "./registry.ts";

/** Datagrams held per session while its backend socket is still connecting. */
const MAX_PENDING = 64;

class UdpSession {
  readonly key: string;
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly backendName: string;
  readonly socket: Socket;
  connected = false;
  closed = false;
  pending: Buffer[] = [];
  lastActivity: number;
  /** PROXY v2 (dgram) header prepended to every datagram towards the backend, or null. */
  header: Buffer | null = null;
  /** Its index in the registry's list for its backend. */
  backendSlot = -1;

  constructor(key: string, rinfo: RemoteInfo, backendName: string, socket: Socket, now: number) {
    this.key = key;
    this.clientAddress = rinfo.address;
    this.clientPort = rinfo.port;
    this.backendName = backendName;
    this.socket = socket;
    this.lastActivity = now;
  }
}

export class UdpListener implements FrontendListener {
  readonly name: string;
  #frontend: DesiredFrontend;
  #table: BackendTable;
  readonly #socket: Socket;
  readonly #log: ProxyLogger;
  readonly #sessions = new Map<string, UdpSession>();
  readonly #registry = new FlowRegistry<UdpSession>();
  readonly #totals = zeroCounters();
  readonly #perBackend = new BackendCounters(this.#registry);
  #sweeper: NodeJS.Timeout | null = null;
  #bound = false;
  #stopping = false;
  #stopped: Promise<void> | null = null;
  #finish: (() => void) | null = null;
  #forceAt = Number.POSITIVE_INFINITY;
  #forceTimer: NodeJS.Timeout | null = null;
  /** Datagrams dropped: session table full, nothing eligible, stopping, or backend queue full. */
  dropped = 0;

  constructor(frontend: DesiredFrontend, options: ListenerOptions = {}) {
    this.name = frontend.name;
    this.#frontend = frontend;
    this.#log = options.log ?? silentLogger;
    this.#table = buildBackendTable(frontend, this.#registry);
    this.#perBackend.sync(frontend);
    this.#socket = createSocket({
      type: isIPv6(frontend.listen.host) ? "udp6" : "udp4",
      reuseAddr: false,
      reusePort: options.reusePort === true,
    });
    this.#socket.on("message", (msg, rinfo) => this.#onClientDatagram(msg, rinfo));
    this.#warnProxyV1(frontend);
  }

  /** PROXY v1 is text for TCP only; a UDP frontend asking for it sends no header. */
  #warnProxyV1(frontend: DesiredFrontend): void {
    if (frontend.settings.proxyProtocol === "v1") {
      this.#log.warn(
        { frontend: this.name },
        "PROXY protocol v1 has no UDP form: no header is sent (use v2)",
      );
    }
  }

  start(): Promise<void> {
    const { host, port } = this.#frontend.listen;
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        this.#socket.close();
        reject(listenError(this.name, "udp", host, port, err));
      };
      this.#socket.once("error", onError);
      this.#socket.bind({ address: host, port }, () => {
        this.#socket.off("error", onError);
        this.#socket.on("error", (err) => this.#log.warn({ frontend: this.name, err }, "udp listener error"));
        this.#bound = true;
        this.#startSweeper();
        this.#log.info({ frontend: this.name, address: this.address() }, "udp listener started");
        resolve();
      });
    });
  }

  address(): HostPort | null {
    if (!this.#bound) return null;
    const a = this.#socket.address();
    return { host: a.address, port: a.port };
  }

  update(frontend: DesiredFrontend): void {
    const table = buildBackendTable(frontend, this.#registry);
    const timeoutChanged =
      frontend.settings.udp.sessionTimeout !== this.#frontend.settings.udp.sessionTimeout;
    this.#frontend = frontend;
    this.#table = table;
    this.#perBackend.sync(frontend);
    for (const b of frontend.backends) {
      if (b.weight === 0 && b.flush) for (const s of this.#registry.of(b.name)) this.#closeSession(s);
    }
    this.#registry.prune();
    if (timeoutChanged && this.#sweeper !== null) this.#startSweeper();
  }

  /** Stop taking new clients; sessions keep flowing until idle, or until drainTimeout. */
  stop(drainTimeout: number): Promise<void> {
    const forceAt = Date.now() + Math.max(0, drainTimeout);
    if (forceAt < this.#forceAt) {
      this.#forceAt = forceAt;
      if (this.#forceTimer !== null) clearTimeout(this.#forceTimer);
      this.#forceTimer = setTimeout(() => this.#closeAll(), Math.max(0, drainTimeout));
    }
    if (this.#stopped !== null) return this.#stopped;
    this.#stopping = true;
    this.#stopped = new Promise<void>((resolve) => {
      this.#finish = resolve;
    });
    if (this.#sessions.size === 0) this.#closeAll();
    return this.#stopped;
  }

  stats(): ListenerStats {
    const backends = this.#perBackend.snapshot();
    return { ...this.#totals, connectionsActive: this.#sessions.size, rejected: this.dropped, backends };
  }

  #onClientDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    const key = `${rinfo.address}:${rinfo.port}`;
    const now = Date.now();
    let session = this.#sessions.get(key);
    if (session === undefined) {
      if (this.#stopping || this.#sessions.size >= this.#frontend.settings.udp.maxSessions) {
        this.dropped++;
        return;
      }
      const created = this.#openSession(key, rinfo, now);
      if (created === null) {
        this.dropped++;
        return;
      }
      session = created;
    }
    session.lastActivity = now;
    this.#totals.bytesIn += msg.length;
    this.#perBackend.of(session.backendName).bytesIn += msg.length;
    if (session.connected) {
      session.socket.send(session.header === null ? msg : [session.header, msg]);
    } else if (session.pending.length < MAX_PENDING) {
      session.pending.push(msg);
    } else {
      this.dropped++;
    }
  }

  #openSession(key: string, rinfo: RemoteInfo, now: number): UdpSession | null {
    const table = this.#table;
    const index = table.balancer.pick({ address: rinfo.address, port: rinfo.port });
    if (index < 0) return null;
    const target = table.backends[index];
    const socket = createSocket(isIPv6(target.address) ? "udp6" : "udp4");
    const session = new UdpSession(key, rinfo, target.name, socket, now);
    if (this.#frontend.settings.proxyProtocol === "v2") {
      // The destination is the bound address (with a wildcard bind, the wildcard:
      // the datagram's real destination IP is not known without IP_PKTINFO).
      const local = this.#socket.address();
      session.header = encodeProxyV2(
        {
          source: { address: rinfo.address, port: rinfo.port },
          destination: { address: local.address, port: local.port },
        },
        "dgram",
      );
    }
    socket.on("error", (err: NodeJS.ErrnoException) => {
      // ECONNREFUSED here is the ICMP "port unreachable" of a connected socket.
      this.#totals.connectErrors++;
      this.#perBackend.of(target.name).connectErrors++;
      this.#log.debug({ frontend: this.name, backend: target.name, code: err.code }, "udp backend error");
      this.#closeSession(session);
    });
    socket.on("message", (reply) => {
      if (session.closed) return;
      session.lastActivity = Date.now();
      this.#totals.bytesOut += reply.length;
      this.#perBackend.of(target.name).bytesOut += reply.length;
      this.#socket.send(reply, session.clientPort, session.clientAddress);
    });
    socket.connect(target.port, target.address, () => {
      if (session.closed) return;
      session.connected = true;
      for (const m of session.pending) socket.send(session.header === null ? m : [session.header, m]);
      session.pending = [];
    });
    this.#sessions.set(key, session);
    this.#registry.add(target.name, session);
    this.#totals.connectionsTotal++;
    this.#perBackend.of(target.name).connectionsTotal++;
    return session;
  }

  #closeSession(session: UdpSession): void {
    if (session.closed) return;
    session.closed = true;
    session.pending = [];
    if (this.#sessions.get(session.key) === session) this.#sessions.delete(session.key);
    this.#registry.delete(session.backendName, session);
    try {
      session.socket.close();
    } catch {
      // already closed (an error closed it first)
    }
    if (this.#stopping && this.#sessions.size === 0) this.#closeAll();
  }

  #startSweeper(): void {
    if (this.#sweeper !== null) clearInterval(this.#sweeper);
    const timeout = this.#frontend.settings.udp.sessionTimeout;
    // A quarter of the timeout keeps expiry within 25% late, bounded to [10ms, 1s].
    const every = Math.min(1000, Math.max(10, Math.floor(timeout / 4)));
    this.#sweeper = setInterval(() => this.#sweep(), every);
    this.#sweeper.unref();
  }

  #sweep(): void {
    const cutoff = Date.now() - this.#frontend.settings.udp.sessionTimeout;
    for (const session of this.#sessions.values()) {
      if (session.lastActivity <= cutoff) this.#closeSession(session);
    }
  }

  #closeAll(): void {
    if (this.#sweeper !== null) clearInterval(this.#sweeper);
    this.#sweeper = null;
    if (this.#forceTimer !== null) clearTimeout(this.#forceTimer);
    this.#forceTimer = null;
    this.#stopping = true;
    for (const session of [...this.#sessions.values()]) {
      session.closed = true;
      this.#sessions.delete(session.key);
      this.#registry.delete(session.backendName, session);
      try {
        session.socket.close();
      } catch {
        // already closed
      }
    }
    const finish = this.#finish;
    this.#finish = null;
    if (this.#bound) {
      this.#bound = false;
      this.#socket.close(() => finish?.());
    } else {
      finish?.();
    }
  }
}
