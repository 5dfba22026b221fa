// One TCP connection of the L4 relay, driven by the process's epoll set (poller.ts)
// with plain libc calls: recv/send/shutdown/close, nothing in between.
//
// Sockets are registered edge-triggered for reading, writing and the peer's FIN
// (EPOLLRDHUP), once, for their whole life: no epoll_ctl per pause, resume or queued
// write. Edge-triggered means an edge is announced once, so the stream remembers it
// (#readable) until it has read up to a short read, EAGAIN or EOF.
//
// Two things libuv cannot do, done here as HAProxy does them:
// - A read that drains the socket after EPOLLRDHUP is the end: no extra recv() just to
//   be told 0, and onData says so (`finFollows`), so that the relay can write those
//   bytes with MSG_MORE and its shutdown() then sends them and the FIN in one segment.
// - shutdown() is one syscall at once (or after the queued bytes), not a request.

import { socketError } from "../socket-error.ts";
import {
  AF_INET,
  AF_INET6,
  close,
  connect,
  EAGAIN,
  EINPROGRESS,
  EINTR,
  EPIPE,
  EPOLLERR,
  EPOLLET,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDHUP,
  errno,
  getpeername,
  getsockname,
  getsockopt,
  INT_ONE,
  IPPROTO_TCP,
  MSG_MORE,
  MSG_NOSIGNAL,
  recv,
  SHUT_WR,
  SO_ERROR,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOL_SOCKET,
  send,
  setsockopt,
  shutdown,
  socket,
  TCP_NODELAY,
} from "./libc.ts";
import { type PollTarget, poller } from "./poller.ts";
import { decodeSockaddr, encodeSockaddr, SOCKADDR_MAX, type SocketAddress } from "./sockaddr.ts";

/** What an EpollTcpStream tells its owner. */
export interface StreamEvents {
  /**
   * `n` bytes arrived in `buf[0..n)`, valid during the call only (one buffer serves
   * every socket). `finFollows`: the peer's FIN came with them; onEnd follows at once
   * unless the owner pauses.
   */
  onData(n: number, buf: Buffer, finFollows: boolean): void;
  /** The peer sent its FIN. Reading has stopped. */
  onEnd(): void;
  /** Every queued write has reached the kernel. */
  onDrain(): void;
  /** A read, write or shutdown failed; the owner should close(). */
  onError(err: NodeJS.ErrnoException): void;
}

function noop(): void {}

/** Events that do nothing: a stream's until its owner sets its own. */
export const NO_EVENTS: StreamEvents = { onData: noop, onEnd: noop, onDrain: noop, onError: noop };

/** Every socket reads here and hands the bytes on before the next read. */
const READ_BUF = Buffer.allocUnsafeSlow(64 * 1024);
/** Full reads in a row before the socket lets the others have the loop (libuv's is 32). */
const READS_PER_TURN = 16;
/** Registered once per socket: reads, writes and the peer's FIN, edge-triggered. */
const STREAM_EVENTS = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

const nameBuf = Buffer.alloc(SOCKADDR_MAX);
const lenBuf = Buffer.alloc(4);
const intBuf = Buffer.alloc(4);

/**
 * Reads go to the owner as they arrive (once resume() is called); writes go to the
 * kernel at once when they can (the common case), otherwise a copy of what is left is
 * queued and `onDrain` fires when the queue is empty.
 */
export class EpollTcpStream implements PollTarget {
  readonly #fd: number;
  #events: StreamEvents;
  pollSerial = 0;
  /** The owner wants reads. */
  #reading = false;
  /** An edge said there may be bytes (or the end) not read yet. */
  #readable = false;
  /** EPOLLRDHUP seen: once the socket is drained, the stream has ended. */
  #peerFin = false;
  #queue: Buffer[] | null = null;
  /** Bytes of the queue's head already sent. */
  #queueSent = 0;
  #finAfterQueue = false;
  #shutdownSent = false;
  #closed = false;
  /** Set while connecting: called once with null or the error. */
  #onConnect: ((err: NodeJS.ErrnoException | null) => void) | null = null;
  /** Where a connect goes, for its error. */
  #target = "";
  #targetPort = 0;
  #readSoon: (() => void) | null = null;
  bytesRead = 0;
  bytesWritten = 0;
  /** The FIN from the peer has been read. */
  ended = false;

  /** @internal an open, non-blocking socket, which it registers with the poller; -1: a stream born closed. */
  constructor(fd: number, events: StreamEvents) {
    this.#fd = fd;
    this.#events = events;
    if (fd < 0) this.#closed = true;
    else poller().add(fd, STREAM_EVENTS, this);
  }

  setEvents(events: StreamEvents): void {
    this.#events = events;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Writes queued, not yet in the kernel. */
  get pendingWrites(): number {
    return this.#queue === null ? 0 : this.#queue.length;
  }

  /** The socket's file descriptor, -1 once closed. */
  get fd(): number {
    return this.#closed ? -1 : this.#fd;
  }

  /** Start (or resume) delivering onData; what arrived meanwhile is read after this batch of events. */
  resume(): void {
    if (this.#reading || this.#closed || this.ended) return;
    this.#reading = true;
    if (this.#readable && this.#onConnect === null) {
      this.#readSoon ??= () => this.#read();
      poller().later(this.#readSoon);
    }
  }

  pause(): void {
    this.#reading = false;
  }

  /**
   * Send bytes; `more`: our FIN (or more bytes) follow at once, so the kernel may hold
   * a short segment for them. Returns true when they are in the kernel, false when
   * (a copy of) the rest is queued: pause the source until onDrain.
   */
  write(bytes: Uint8Array, more = false): boolean {
    if (this.#closed) return true;
    if (this.#shutdownSent) {
      this.#events.onError(socketError(-EPIPE, "write"));
      return true;
    }
    if (this.#queue !== null || this.#onConnect !== null) {
      this.#enqueue(bytes);
      return false;
    }
    const sent = send(this.#fd, bytes, bytes.length, more ? MSG_NOSIGNAL | MSG_MORE : MSG_NOSIGNAL);
    if (sent === bytes.length) {
      this.bytesWritten += sent;
      return true;
    }
    if (sent < 0) {
      const e = errno();
      if (e !== EAGAIN && e !== EINTR) {
        this.#events.onError(socketError(-e, "write"));
        return true;
      }
      this.#enqueue(bytes);
      return false;
    }
    this.bytesWritten += sent;
    this.#enqueue(bytes.subarray(sent));
    return false;
  }

  #enqueue(bytes: Uint8Array): void {
    const copy = Buffer.from(bytes);
    if (this.#queue === null) {
      this.#queue = [copy];
      this.#queueSent = 0;
    } else {
      this.#queue.push(copy);
    }
  }

  /** Send our FIN after the queued writes; no write may follow. */
  shutdown(): void {
    if (this.#closed || this.#shutdownSent) return;
    this.#shutdownSent = true;
    if (this.#queue !== null || this.#onConnect !== null) {
      this.#finAfterQueue = true;
      return;
    }
    this.#sendFin();
  }

  #sendFin(): void {
    if (shutdown(this.#fd, SHUT_WR) < 0) {
      // E.g. ENOTCONN when the peer is gone already: the owner closes the socket.
      this.#events.onError(socketError(-errno(), "shutdown"));
    }
  }

  /** Close the socket now: queued writes are dropped, the kernel sends what it holds. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reading = false;
    this.#queue = null;
    this.#onConnect = null;
    poller().remove(this.#fd);
    close(this.#fd);
  }

  /** The remote address, or null once the socket is gone. */
  peer(): SocketAddress | null {
    return this.#closed ? null : nameOf(this.#fd, getpeername);
  }

  local(): SocketAddress | null {
    return this.#closed ? null : nameOf(this.#fd, getsockname);
  }

  /** @internal */
  onPoll(events: number): void {
    if (this.#onConnect !== null) {
      if ((events & (EPOLLERR | EPOLLHUP)) !== 0) {
        this.#connectDone(pendingError(this.#fd));
        return;
      }
      if ((events & EPOLLOUT) === 0) return;
      this.#connectDone(0);
      if (this.#closed) return;
    }
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) !== 0) {
      this.#readable = true;
      if ((events & EPOLLRDHUP) !== 0) this.#peerFin = true;
      if (this.#reading) this.#read();
      if (this.#closed) return;
    }
    if (this.#queue !== null && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) !== 0) this.#flush();
  }

  #connectDone(code: number): void {
    const onConnect = this.#onConnect as (err: NodeJS.ErrnoException | null) => void;
    this.#onConnect = null;
    if (code !== 0) {
      this.close();
      onConnect(socketError(-code, "connect", `${this.#target}:${this.#targetPort}`));
      return;
    }
    onConnect(null);
    // Whatever the owner wrote or shut down while connecting goes out now.
    if (!this.#closed && this.#queue !== null) this.#flush();
    else if (!this.#closed && this.#finAfterQueue) {
      this.#finAfterQueue = false;
      this.#sendFin();
    }
  }

  #read(): void {
    for (let reads = 0; this.#reading && this.#readable && !this.#closed; reads++) {
      if (reads === READS_PER_TURN) {
        // A peer that sends as fast as we relay would hold the loop: the rest of its
        // bytes wait for the next turn (no new edge will announce them).
        this.#readSoon ??= () => this.#read();
        setImmediate(this.#readSoon);
        return;
      }
      const n = recv(this.#fd, READ_BUF, READ_BUF.length, 0);
      if (n > 0) {
        this.bytesRead += n;
        // A short read emptied the socket: with the FIN seen, nothing else is coming.
        const drained = n < READ_BUF.length;
        const finFollows = drained && this.#peerFin;
        if (drained && !finFollows) this.#readable = false;
        this.#events.onData(n, READ_BUF, finFollows);
        if (finFollows && this.#reading && !this.#closed) this.#end();
        continue;
      }
      if (n === 0) {
        this.#end();
        return;
      }
      const e = errno();
      if (e === EAGAIN) {
        this.#readable = false;
        return;
      }
      if (e === EINTR) continue;
      this.#reading = false;
      this.#readable = false;
      this.#events.onError(socketError(-e, "read"));
      return;
    }
  }

  #end(): void {
    this.#reading = false;
    this.#readable = false;
    this.ended = true;
    this.#events.onEnd();
  }

  #flush(): void {
    const queue = this.#queue as Buffer[];
    while (queue.length > 0) {
      const head = queue[0];
      const rest = this.#queueSent === 0 ? head : head.subarray(this.#queueSent);
      const sent = send(this.#fd, rest, rest.length, MSG_NOSIGNAL);
      if (sent < 0) {
        const e = errno();
        if (e === EAGAIN) return;
        if (e === EINTR) continue;
        this.#events.onError(socketError(-e, "write"));
        return;
      }
      this.bytesWritten += sent;
      if (sent < rest.length) {
        this.#queueSent += sent;
        return;
      }
      queue.shift();
      this.#queueSent = 0;
    }
    this.#queue = null;
    if (this.#finAfterQueue) {
      this.#finAfterQueue = false;
      this.#sendFin();
      if (this.#closed) return;
    }
    this.#events.onDrain();
  }

  /** @internal connectEpollTcp's start. */
  startConnect(host: string, port: number, onConnect: (err: NodeJS.ErrnoException | null) => void): void {
    this.#target = host;
    this.#targetPort = port;
    this.#onConnect = onConnect;
  }
}

/** The pending error of a socket whose connect failed (SO_ERROR). */
function pendingError(fd: number): number {
  lenBuf.writeUInt32LE(4, 0);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, intBuf, lenBuf) < 0) return errno();
  return intBuf.readInt32LE(0) || EPIPE;
}

function nameOf(fd: number, call: typeof getpeername): SocketAddress | null {
  lenBuf.writeUInt32LE(SOCKADDR_MAX, 0);
  if (call(fd, nameBuf, lenBuf) < 0) return null;
  return decodeSockaddr(nameBuf, lenBuf.readUInt32LE(0));
}

/** Encoded backend addresses: a relay connects to the same few over and over. */
const sockaddrs = new Map<string, Map<number, Buffer>>();

function sockaddrOf(host: string, port: number): Buffer {
  let ports = sockaddrs.get(host);
  if (ports === undefined) {
    if (sockaddrs.size >= 4096) sockaddrs.clear();
    ports = new Map();
    sockaddrs.set(host, ports);
  }
  let addr = ports.get(port);
  if (addr === undefined) {
    addr = encodeSockaddr(host, port);
    ports.set(port, addr);
  }
  return addr;
}

/**
 * Open a connection (Nagle off). `onConnect` runs once, never inside this call: with
 * null when connected, or with the error; after an error the stream is already closed.
 * close() before it completes cancels it silently. The stream reads from the start
 * (nothing arrives before the connect completes); an owner that must not read yet
 * calls pause() before onConnect. Writes and shutdown() before then wait for it.
 */
export function connectEpollTcp(
  host: string,
  port: number,
  events: StreamEvents,
  onConnect: (err: NodeJS.ErrnoException | null) => void,
): EpollTcpStream {
  let fail: NodeJS.ErrnoException | null = null;
  let fd = -1;
  let stream: EpollTcpStream | null = null;
  try {
    const addr = sockaddrOf(host, port);
    fd = socket(addr.length === 16 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw socketError(-errno(), "socket", `${host}:${port}`);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, INT_ONE, 4);
    if (connect(fd, addr, addr.length) < 0) {
      const e = errno();
      if (e !== EINPROGRESS) throw socketError(-e, "connect", `${host}:${port}`);
    }
    stream = new EpollTcpStream(fd, events);
  } catch (err) {
    fail = err as NodeJS.ErrnoException;
    if (fd >= 0) close(fd);
  }
  if (stream === null) {
    // Reported asynchronously, as a refused connect would be, on a stream born closed.
    setImmediate(() => onConnect(fail));
    return new EpollTcpStream(-1, events);
  }
  stream.startConnect(host, port, onConnect);
  stream.resume();
  return stream;
}
