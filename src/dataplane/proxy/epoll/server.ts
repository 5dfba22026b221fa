// A listening TCP socket in the process's epoll set: each ready event accepts every
// pending connection (up to a batch) and hands each on as an EpollTcpStream.

import { socketError } from "../socket-error.ts";
import {
  AF_INET,
  AF_INET6,
  accept4,
  bind,
  close,
  EAGAIN,
  ECONNABORTED,
  EINTR,
  EMFILE,
  ENFILE,
  ENOBUFS,
  ENOMEM,
  EPOLLIN,
  errno,
  getsockname,
  INT_ONE,
  IPPROTO_TCP,
  listen,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOL_SOCKET,
  setsockopt,
  socket,
  TCP_NODELAY,
} from "./libc.ts";
import { type PollTarget, poller } from "./poller.ts";
import { decodeSockaddr, encodeSockaddr, SOCKADDR_MAX, type SocketAddress } from "./sockaddr.ts";
import { EpollTcpStream, NO_EVENTS } from "./stream.ts";

export interface EpollTcpServerOptions {
  reusePort?: boolean;
  backlog?: number;
}

/** Accepts per ready event: the rest wait for the next loop turn, so one busy port cannot starve the others. */
const ACCEPT_BATCH = 64;
/** How long accepting rests after running out of descriptors or memory, instead of spinning on a ready socket. */
const ACCEPT_PAUSE_MS = 100;

export class EpollTcpServer implements PollTarget {
  readonly #fd: number;
  readonly #onConnection: (socket: EpollTcpStream) => void;
  readonly #onError: (err: NodeJS.ErrnoException) => void;
  pollSerial = 0;
  #closed = false;
  #resting: NodeJS.Timeout | null = null;

  private constructor(
    fd: number,
    onConnection: (socket: EpollTcpStream) => void,
    onError: (err: NodeJS.ErrnoException) => void,
  ) {
    this.#fd = fd;
    this.#onConnection = onConnection;
    this.#onError = onError;
    // Level-triggered: connections left over from a batch are announced again.
    poller().add(fd, EPOLLIN, this);
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
    options: EpollTcpServerOptions,
    onConnection: (socket: EpollTcpStream) => void,
    onError: (err: NodeJS.ErrnoException) => void,
  ): EpollTcpServer {
    const addr = encodeSockaddr(host, port);
    const fd = socket(addr.length === 16 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw socketError(-errno(), "socket", `${host}:${port}`);
    let syscall = "setsockopt";
    let ok = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, INT_ONE, 4) === 0;
    if (ok && options.reusePort === true) ok = setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, INT_ONE, 4) === 0;
    // Accepted sockets inherit TCP_NODELAY from the listening socket (Linux copies the
    // listener's options into each child), sparing a setsockopt per connection.
    if (ok) ok = setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, INT_ONE, 4) === 0;
    if (ok) {
      syscall = "bind";
      ok = bind(fd, addr, addr.length) === 0;
    }
    if (ok) {
      syscall = "listen";
      ok = listen(fd, options.backlog ?? 511) === 0;
    }
    if (!ok) {
      const err = socketError(-errno(), syscall, `${host}:${port}`);
      close(fd);
      throw err;
    }
    return new EpollTcpServer(fd, onConnection, onError);
  }

  address(): SocketAddress | null {
    if (this.#closed) return null;
    const name = Buffer.alloc(SOCKADDR_MAX);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(SOCKADDR_MAX, 0);
    if (getsockname(this.#fd, name, len) < 0) return null;
    return decodeSockaddr(name, len.readUInt32LE(0));
  }

  /** Stop accepting. Accepted sockets are not touched. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#resting !== null) clearTimeout(this.#resting);
    poller().remove(this.#fd);
    close(this.#fd);
  }

  /** @internal */
  onPoll(): void {
    for (let i = 0; i < ACCEPT_BATCH && !this.#closed; i++) {
      const fd = accept4(this.#fd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        const e = errno();
        if (e === EAGAIN) return;
        if (e === EINTR || e === ECONNABORTED) continue;
        this.#onError(socketError(-e, "accept"));
        if (e === EMFILE || e === ENFILE || e === ENOBUFS || e === ENOMEM) this.#rest();
        return;
      }
      let stream: EpollTcpStream;
      try {
        stream = new EpollTcpStream(fd, NO_EVENTS);
      } catch (err) {
        // The poller could not take it (epoll_ctl: out of memory or watches).
        close(fd);
        this.#onError(err as NodeJS.ErrnoException);
        return;
      }
      this.#onConnection(stream);
    }
  }

  /** Out of descriptors: the pending connection stays ready, so stop watching for a while. */
  #rest(): void {
    if (this.#resting !== null) return;
    poller().modify(this.#fd, 0);
    this.#resting = setTimeout(() => {
      this.#resting = null;
      if (!this.#closed) poller().modify(this.#fd, EPOLLIN);
    }, ACCEPT_PAUSE_MS);
  }
}
