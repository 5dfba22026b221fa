// Connections to backends and the per-backend keep-alive pools. An Upstream's
// socket handlers are installed once, at connect, and dispatch to whichever
// client exchange currently owns it: no listeners added or removed per request.
//
// A connection goes back to the pool only after a complete response to a
// completely sent request (the caller decides that), and it is dropped from the
// pool the moment the backend closes it or sends anything while idle.
import type { Socket } from "node:net";
import { type ConnectionOptions, connect as tlsConnect } from "node:tls";
import { type H2Sessions, H2StreamSocket } from "./h2-upstream.ts";
import { UvSocket } from "./uv-socket.ts";

/** How backends are reached: cleartext TCP (both null), TLS, and/or HTTP/2 sessions. */
export interface UpstreamTransport {
  tls: ConnectionOptions | null;
  h2: H2Sessions | null;
}

export const PLAIN_TRANSPORT: UpstreamTransport = { tls: null, h2: null };

export interface UpstreamOwner {
  onUpstreamConnect(u: Upstream): void;
  onUpstreamData(u: Upstream, chunk: Buffer): void;
  onUpstreamDrain(u: Upstream): void;
  /** The socket closed (or failed to connect: `connected` is false then). */
  onUpstreamClose(u: Upstream, error: Error | undefined): void;
  onUpstreamTimeout(u: Upstream): void;
}

// Cleartext connections read into a buffer of their own, reused read after read
// (uv-socket.ts on uv-tcp.ts), instead of a fresh buffer per read: at hundreds of MB/s
// those fresh buffers are external memory that keeps V8 running full mark-compact
// collections. A chunk the owner keeps past onUpstreamData is reported (chunkKept) and
// the next read goes to new memory.

export class Upstream {
  readonly socket: Socket;
  /** Backend name: the pool key. */
  readonly backend: string;
  owner: UpstreamOwner | null;
  connected = false;
  closed = false;
  /** Completed exchanges on this connection (0 = fresh). */
  uses = 0;
  private pool: UpstreamPool | null = null;
  private lastError: Error | undefined;
  /** The socket's inactivity timeout as last set (-1: never set). */
  private timeoutMs = -1;
  /** The cleartext connection, whose reads reuse one buffer (null for TLS and HTTP/2). */
  private uv: UvSocket | null = null;

  constructor(
    backend: string,
    host: string,
    port: number,
    owner: UpstreamOwner,
    transport: UpstreamTransport = PLAIN_TRANSPORT,
  ) {
    this.backend = backend;
    this.owner = owner;
    let socket: Socket;
    let connectEvent = "connect";
    if (transport.h2 !== null) {
      const scheme = transport.tls === null ? "http" : "https";
      const authority = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
      const session = transport.h2.session(backend, `${scheme}://${authority}`, transport.tls);
      // A virtual connection with the socket surface this class uses (see h2-upstream.ts).
      socket = new H2StreamSocket(session, scheme, authority) as unknown as Socket;
    } else if (transport.tls !== null) {
      socket = tlsConnect({ ...transport.tls, host, port, ALPNProtocols: ["http/1.1"] });
      socket.setNoDelay(true);
      connectEvent = "secureConnect";
    } else {
      // Cleartext: the libuv handle itself (uv-socket.ts), reading into a reused buffer.
      const uv = UvSocket.connect(host, port);
      this.uv = uv;
      socket = uv as unknown as Socket;
    }
    this.socket = socket;
    socket.on(connectEvent, () => {
      this.connected = true;
      this.owner?.onUpstreamConnect(this);
    });
    socket.on("data", (chunk: Buffer) => {
      if (this.owner !== null) this.owner.onUpstreamData(this, chunk);
      else this.destroy(); // bytes while idle: the backend broke framing; never reuse
    });
    socket.on("drain", () => this.owner?.onUpstreamDrain(this));
    socket.on("timeout", () => {
      if (this.owner !== null) this.owner.onUpstreamTimeout(this);
      else this.destroy(); // idle expiry in the pool
    });
    socket.on("error", (err: Error) => {
      this.lastError = err;
    });
    socket.on("close", () => {
      this.closed = true;
      this.pool?.remove(this);
      this.pool = null;
      const owner = this.owner;
      this.owner = null;
      owner?.onUpstreamClose(this, this.lastError);
    });
  }

  /**
   * The chunk just passed to onUpstreamData stays referenced after the call (queued
   * in a write, or part of a head still incomplete): the next read must not reuse its
   * memory. Every owner that keeps a chunk past the call must say so.
   */
  chunkKept(): void {
    this.uv?.keepChunk();
  }

  /** Reusable: open, connected, nothing buffered for writing. */
  get reusable(): boolean {
    return this.connected && !this.closed && !this.socket.destroyed && this.socket.writable;
  }

  /**
   * The socket's inactivity timeout. Only a change reaches the socket: setTimeout
   * allocates a new timer each call, and the pool sets one twice per exchange, while
   * an unchanged one is restarted by the socket's own activity anyway.
   */
  setTimeout(ms: number): void {
    if (ms === this.timeoutMs) return;
    this.timeoutMs = ms;
    this.socket.setTimeout(ms);
  }

  destroy(): void {
    this.owner = null;
    if (!this.socket.destroyed) this.socket.destroy();
  }

  /** Called by the pool. */
  parkIn(pool: UpstreamPool | null): void {
    this.pool = pool;
  }
}

/** Idle keep-alive connections, per backend name, most recently used first out (warm sockets). */
export class UpstreamPool {
  private readonly idle = new Map<string, Upstream[]>();
  private maxIdle: number;
  private idleTimeout: number;

  constructor(maxIdle: number, idleTimeout: number) {
    this.maxIdle = maxIdle;
    this.idleTimeout = idleTimeout;
  }

  configure(maxIdle: number, idleTimeout: number): void {
    this.maxIdle = maxIdle;
    this.idleTimeout = idleTimeout;
  }

  /** An idle connection to `backend` handed to `owner`, or null. */
  acquire(backend: string, owner: UpstreamOwner, activeTimeout: number): Upstream | null {
    const list = this.idle.get(backend);
    if (list === undefined) return null;
    while (list.length > 0) {
      const u = list.pop()!;
      if (!u.reusable) {
        u.destroy();
        continue;
      }
      u.parkIn(null);
      u.owner = owner;
      u.setTimeout(activeTimeout);
      u.socket.resume();
      return u;
    }
    return null;
  }

  /** Park a connection after a complete exchange; closes it when the pool is full. */
  release(u: Upstream): void {
    u.owner = null;
    u.uses++;
    if (this.maxIdle <= 0 || !u.reusable) {
      u.destroy();
      return;
    }
    let list = this.idle.get(u.backend);
    if (list === undefined) {
      list = [];
      this.idle.set(u.backend, list);
    }
    if (list.length >= this.maxIdle) {
      u.destroy();
      return;
    }
    u.parkIn(this);
    u.setTimeout(this.idleTimeout);
    list.push(u);
  }

  remove(u: Upstream): void {
    const list = this.idle.get(u.backend);
    if (list === undefined) return;
    const i = list.indexOf(u);
    if (i >= 0) list.splice(i, 1);
  }

  /** Close every idle connection of one backend (removed or flushed), or of all when omitted. */
  closeIdle(backend?: string): void {
    for (const [name, list] of this.idle) {
      if (backend !== undefined && name !== backend) continue;
      for (const u of list.splice(0)) u.destroy();
    }
  }

  idleCount(backend?: string): number {
    let n = 0;
    for (const [name, list] of this.idle) if (backend === undefined || name === backend) n += list.length;
    return n;
  }
}
