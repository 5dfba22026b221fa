// The libc socket and epoll calls the L4 relay makes, through koffi, declared with
// their C prototypes so a reader can check them against the man pages. Buffers are
// passed as pointers without a copy; errno is read with koffi.errno() right after
// the call that failed.
import koffi from "koffi";

const libc = koffi.load("libc.so.6");

export const socket = libc.func("int socket(int domain, int type, int protocol)") as (
  domain: number,
  type: number,
  protocol: number,
) => number;
export const bind = libc.func("int bind(int fd, const void *addr, uint32_t len)") as (
  fd: number,
  addr: Uint8Array,
  len: number,
) => number;
export const listen = libc.func("int listen(int fd, int backlog)") as (fd: number, backlog: number) => number;
export const accept4 = libc.func("int accept4(int fd, void *addr, void *len, int flags)") as (
  fd: number,
  addr: null,
  len: null,
  flags: number,
) => number;
export const connect = libc.func("int connect(int fd, const void *addr, uint32_t len)") as (
  fd: number,
  addr: Uint8Array,
  len: number,
) => number;
export const setsockopt = libc.func(
  "int setsockopt(int fd, int level, int name, const void *value, uint32_t len)",
) as (fd: number, level: number, name: number, value: Uint8Array, len: number) => number;
export const getsockopt = libc.func(
  "int getsockopt(int fd, int level, int name, void *value, void *len)",
) as (fd: number, level: number, name: number, value: Uint8Array, len: Uint8Array) => number;
export const getsockname = libc.func("int getsockname(int fd, void *addr, void *len)") as (
  fd: number,
  addr: Uint8Array,
  len: Uint8Array,
) => number;
export const getpeername = libc.func("int getpeername(int fd, void *addr, void *len)") as (
  fd: number,
  addr: Uint8Array,
  len: Uint8Array,
) => number;
export const recv = libc.func("long recv(int fd, void *buf, unsigned long len, int flags)") as (
  fd: number,
  buf: Uint8Array,
  len: number,
  flags: number,
) => number;
export const send = libc.func("long send(int fd, const void *buf, unsigned long len, int flags)") as (
  fd: number,
  buf: Uint8Array,
  len: number,
  flags: number,
) => number;
export const shutdown = libc.func("int shutdown(int fd, int how)") as (fd: number, how: number) => number;
export const close = libc.func("int close(int fd)") as (fd: number) => number;
export const epollCreate1 = libc.func("int epoll_create1(int flags)") as (flags: number) => number;
export const epollCtl = libc.func("int epoll_ctl(int epfd, int op, int fd, void *event)") as (
  epfd: number,
  op: number,
  fd: number,
  event: Uint8Array | null,
) => number;
export const epollWait = libc.func("int epoll_wait(int epfd, void *events, int max, int timeout)") as (
  epfd: number,
  events: Uint8Array,
  max: number,
  timeout: number,
) => number;
export const inetPton = libc.func("int inet_pton(int af, const char *src, void *dst)") as (
  af: number,
  src: string,
  dst: Uint8Array,
) => number;
export const inetNtop = libc.func(
  "const char *inet_ntop(int af, const void *src, void *dst, uint32_t size)",
) as (af: number, src: Uint8Array, dst: Uint8Array, size: number) => string | null;

/** An int 1, for setsockopt's on switches. */
export const INT_ONE = Buffer.from(new Int32Array([1]).buffer);

/** errno of the last call that failed. */
export function errno(): number {
  return koffi.errno();
}

export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCK_STREAM = 1;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_ERROR = 4;
export const SO_REUSEPORT = 15;
export const IPPROTO_TCP = 6;
export const TCP_NODELAY = 1;
export const SHUT_WR = 1;
export const MSG_NOSIGNAL = 0x4000;
/** More bytes (or our FIN) follow at once: the kernel holds a short segment back for them. */
export const MSG_MORE = 0x8000;
export const EPOLL_CLOEXEC = 0o2000000;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLL_CTL_MOD = 3;
export const EPOLLIN = 0x1;
export const EPOLLOUT = 0x4;
export const EPOLLERR = 0x8;
export const EPOLLHUP = 0x10;
/** The peer sent its FIN: reported with the readable edge that brings it. */
export const EPOLLRDHUP = 0x2000;
export const EPOLLET = 0x80000000;

export const EINTR = 4;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EPIPE = 32;
export const ENFILE = 23;
export const EMFILE = 24;
export const ENOBUFS = 105;
export const ECONNABORTED = 103;
export const EINPROGRESS = 115;
