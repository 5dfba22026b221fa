// The part of net.Socket the L7 proxy uses, over a libuv handle (uv-tcp.ts).
//
// Cleartext connections, to clients and to backends, run on this instead of
// net.Socket: a keep-alive request is one read and one write on each side, and
// net.Socket's stream layer (a fresh buffer and a Readable push per read, the
// Writable machinery and a timer refresh per write) was a large share of that. TLS
// connections keep net.Socket (the TLS layer needs one); an h2c connection reaches
// the HTTP/2 server through a Duplex around its UvSocket (h2.ts).
//
// Semantics kept from net.Socket: 'data' on every read (a client connection's chunk
// is a copy the listener may keep, in Node's small-buffer pool for small reads; a
// backend connection's chunk is a view of its reused read buffer, see connect()),
// 'end' on the peer's FIN (client connections stay half-open, backend connections
// answer with their own FIN), write() returning false when bytes had to be queued
// and 'drain' when the queue empties, end() as a FIN after queued bytes, 'close' once
// after destroy() or after both FINs, 'timeout' after setTimeout(ms) of no bytes
// either way. 'error' is emitted before the close an error causes.
import { EventEmitter } from "node:events";
import { connectTcp, NO_EVENTS, type TcpStream, type TcpStreamEvents } from "../uv-tcp.ts";

/**
 * What an L7 client connection uses of its socket; net.Socket, TLSSocket and UvSocket
 * all have it.
 */
export interface ClientSocket {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly writableLength: number;
  readonly destroyed: boolean;
  setNoDelay(noDelay?: boolean): unknown;
  setTimeout(ms: number): unknown;
  pause(): unknown;
  resume(): unknown;
  isPaused(): boolean;
  cork(): void;
  uncork(): void;
  write(data: Buffer | string, encoding?: "latin1"): boolean;
  end(): unknown;
  end(data: Buffer | string): unknown;
  destroy(err?: Error): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: the events' listeners take different arguments
  on(event: string, listener: (...args: any[]) => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  off(event: string, listener: (...args: any[]) => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  once(event: string, listener: (...args: any[]) => void): unknown;
}

export class UvSocket extends EventEmitter implements TcpStreamEvents, ClientSocket {
  readonly #stream: TcpStream;
  /**
   * A backend connection (connect()): reads are views the owner must keepChunk(), and
   * the peer's FIN ends ours (not half-open). A client connection: every read is
   * copied out, and it stays half-open as the proxy needs.
   */
  readonly #backend: boolean;
  destroyed = false;
  #paused = false;
  /** A backend connection's connect() has completed (client connections are connected). */
  #connected: boolean;
  /** Chunks read while paused, delivered on resume(). */
  #held: Buffer[] = [];
  /** The FIN came behind held chunks. */
  #heldEnd = false;
  #flushScheduled = false;
  #ended = false;
  #shutdownDone = false;
  /** Writes between cork() and uncork(), sent as one. */
  #corked = 0;
  #corkedChunks: (Buffer | string)[] = [];
  #timeoutMs = 0;
  #timer: NodeJS.Timeout | null = null;
  /** The period the armed timer was set for. */
  #armedMs = 0;
  /** A byte went either way since the timeout timer was armed. */
  #active = false;
  #remote: { address: string; port: number } | null | undefined;

  /**
   * Serve an accepted client connection (reads are copied: see the file's header).
   * `side: "backend"` is for connect(): a stream still connecting.
   */
  constructor(stream: TcpStream, side: "client" | "backend" = "client") {
    super();
    this.#stream = stream;
    this.#backend = side === "backend";
    this.#connected = !this.#backend;
    stream.setEvents(this);
    if (this.#backend) return;
    // A client connection copies every read: its socket needs no buffer of its own.
    stream.useSharedReadBuffer();
    stream.resume();
  }

  /**
   * Connect to a backend; emits 'connect', or 'error' and 'close'. Its 'data' chunks
   * are views of a buffer the next read reuses: an owner that keeps one past the
   * 'data' call must say so with keepChunk() during the call.
   */
  static connect(host: string, port: number): UvSocket {
    let socket: UvSocket | null = null;
    const stream = connectTcp(host, port, NO_EVENTS, (err) => {
      const s = socket as UvSocket;
      if (err !== null) {
        s.destroy(err);
        return;
      }
      s.#connected = true;
      s.emit("connect");
      if (!s.#paused && !s.destroyed) s.#stream.resume();
    });
    socket = new UvSocket(stream, "backend");
    return socket;
  }

  /** Only during a 'data' call: the chunk stays referenced, the next read goes elsewhere. */
  keepChunk(): void {
    this.#stream.keepReadBuffer();
  }

  /** Open for writing: not destroyed, end() not called. */
  get writable(): boolean {
    return !this.destroyed && !this.#ended;
  }

  get remoteAddress(): string | undefined {
    return this.#peer()?.address;
  }

  get remotePort(): number | undefined {
    return this.#peer()?.port;
  }

  get bytesRead(): number {
    return this.#stream.bytesRead;
  }

  get bytesWritten(): number {
    return this.#stream.bytesWritten;
  }

  /**
   * Non-zero while written chunks are still referenced: corked, or queued in libuv
   * (a count of chunks, not of bytes; callers only test it against 0).
   */
  get writableLength(): number {
    return this.#stream.pendingWrites + this.#corkedChunks.length;
  }

  setNoDelay(): this {
    return this; // Nagle is off on every handle already
  }

  setTimeout(ms: number): this {
    this.#timeoutMs = ms;
    if (ms > 0 && this.#timer !== null && ms >= this.#armedMs) {
      // The armed timer fires first and re-arms for the new period (a backend
      // connection's timeout changes twice per exchange: no new timer each time).
      this.#active = true;
      return this;
    }
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (ms > 0 && !this.destroyed) this.#armTimer();
    return this;
  }

  /**
   * Stop 'data' events. A client connection is still read a little, as a net.Socket
   * is (one chunk is held, then reading stops), so a FIN right behind the bytes is
   * seen and 'end' comes even while paused once nothing is held. A backend connection
   * stops reading at once, as net.Socket with `onread` does: holding a chunk there
   * would pin its read buffer and cost a fresh one per pause in bulk transfers.
   */
  pause(): this {
    this.#paused = true;
    if (this.#backend) this.#stream.pause();
    return this;
  }

  /** Deliver what is held (on the next tick, as net.Socket does), then read on. */
  resume(): this {
    if (!this.#paused) return this;
    this.#paused = false;
    if (this.#held.length === 0 && !this.#heldEnd) {
      if (this.#connected) this.#stream.resume();
      return this;
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(this.#flushHeld);
    }
    return this;
  }

  readonly #flushHeld = (): void => {
    this.#flushScheduled = false;
    while (!this.#paused && !this.destroyed && this.#held.length > 0) {
      this.emit("data", this.#held.shift() as Buffer);
    }
    if (this.#paused || this.destroyed) return;
    if (this.#heldEnd) {
      this.#heldEnd = false;
      this.#emitEnd();
      return;
    }
    this.#stream.resume();
  };

  isPaused(): boolean {
    return this.#paused;
  }

  cork(): void {
    this.#corked++;
  }

  uncork(): void {
    if (this.#corked === 0 || --this.#corked > 0) return;
    const chunks = this.#corkedChunks;
    this.#corkedChunks = [];
    if (chunks.length === 0) return;
    if (chunks.length === 1) {
      this.#send(chunks[0]);
      return;
    }
    // One write for a head and its body: one packet, as net's writev would do.
    this.#send(Buffer.concat(chunks.map((c) => (typeof c === "string" ? Buffer.from(c, "latin1") : c))));
  }

  /** Strings are written as latin1 (the only encoding the proxy writes). */
  write(data: Buffer | string, _encoding?: "latin1"): boolean {
    if (this.destroyed || this.#ended) return false;
    if (this.#corked > 0) {
      this.#corkedChunks.push(data);
      return true;
    }
    return this.#send(data);
  }

  #send(data: Buffer | string): boolean {
    this.#active = true;
    return typeof data === "string" ? this.#stream.writeLatin1(data) : this.#stream.write(data);
  }

  /** Send `data` (if any), then our FIN once everything queued is out. */
  end(data?: Buffer | string): this {
    if (this.destroyed || this.#ended) return this;
    if (data !== undefined) this.write(data);
    this.#corked = 1;
    this.uncork();
    this.#ended = true;
    this.#stream.shutdown(() => {
      this.#shutdownDone = true;
      if (this.#stream.ended) this.destroy();
    });
    return this;
  }

  destroy(err?: Error): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.#stream.close();
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    process.nextTick(() => {
      if (err !== undefined) this.emit("error", err);
      this.emit("close", err !== undefined);
    });
    return this;
  }

  // TcpStreamEvents

  onData(n: number, buf: Buffer): void {
    if (this.destroyed) return;
    this.#active = true;
    // A copy the listener may keep (pending pipelined bytes, queued upstream writes):
    // the handle reads into `buf` again next time.
    let chunk: Buffer;
    if (this.#backend) {
      chunk = buf.subarray(0, n);
    } else {
      chunk = Buffer.allocUnsafe(n);
      buf.copy(chunk, 0, 0, n);
    }
    if (this.#paused || this.#held.length > 0) {
      if (this.#backend) this.#stream.keepReadBuffer();
      this.#held.push(chunk);
      this.#stream.pause();
      return;
    }
    this.emit("data", chunk);
  }

  onEnd(): void {
    if (this.destroyed) return;
    if (this.#held.length > 0) {
      this.#heldEnd = true;
      return;
    }
    this.#emitEnd();
  }

  #emitEnd(): void {
    this.emit("end");
    // A backend connection is not half-open (as net.connect's default): its FIN ends
    // ours, and the socket closes once that is out.
    if (this.#backend && !this.#ended && !this.destroyed) this.end();
    else if (this.#ended && this.#shutdownDone) this.destroy();
  }

  onDrain(): void {
    if (!this.destroyed) this.emit("drain");
  }

  onError(err: Error): void {
    this.destroy(err);
  }

  #peer(): { address: string; port: number } | null {
    if (this.#remote === undefined) this.#remote = this.#stream.peer();
    return this.#remote;
  }

  /**
   * One timer for the socket's timeout, not refreshed per byte: when it fires after
   * activity it re-arms, so 'timeout' comes between ms and 2 x ms after the last byte.
   */
  #armTimer(): void {
    this.#active = false;
    this.#armedMs = this.#timeoutMs;
    this.#timer = setTimeout(this.#onTimer, this.#timeoutMs);
    this.#timer.unref();
  }

  readonly #onTimer = (): void => {
    this.#timer = null;
    if (this.destroyed || this.#timeoutMs === 0) return;
    if (this.#active) {
      this.#armTimer();
      return;
    }
    this.emit("timeout");
    // Like net: the timeout repeats until changed or the socket is closed.
    if (!this.destroyed && this.#timeoutMs > 0 && this.#timer === null) this.#armTimer();
  };
}
