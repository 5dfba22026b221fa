// What the socket-layer tests hand a stream as its events: a record of everything it
// was told. Fits both layers' events (uv-tcp.ts's onData(n, buf) and the epoll
// stream's onData(n, buf, finFollows)).
import assert from "node:assert/strict";
import koffi from "koffi";

export interface StreamRecord {
  /** A copy of every read, in order. */
  data: Buffer[];
  /** Each read's finFollows (false where the layer does not say). */
  finFollows: boolean[];
  ended: boolean;
  drains: number;
  errors: NodeJS.ErrnoException[];
  onData(n: number, buf: Buffer, finFollows?: boolean): void;
  onEnd(): void;
  onDrain(): void;
  onError(err: NodeJS.ErrnoException): void;
}

export function recorder(): StreamRecord {
  const r: StreamRecord = {
    data: [],
    finFollows: [],
    ended: false,
    drains: 0,
    errors: [],
    onData: (n, buf, finFollows = false) => {
      r.data.push(Buffer.from(buf.subarray(0, n)));
      r.finFollows.push(finFollows);
    },
    onEnd: () => {
      r.ended = true;
    },
    onDrain: () => {
      r.drains++;
    },
    onError: (err) => {
      r.errors.push(err);
    },
  };
  return r;
}

const getsockopt = koffi
  .load("libc.so.6")
  .func("int getsockopt(int fd, int level, int name, _Out_ int *value, _Inout_ uint32 *len)");

/** TCP_NODELAY of a socket as the kernel has it. */
export function noDelay(fd: number): boolean {
  const value = [0];
  const len = [4];
  assert.equal(getsockopt(fd, 6, 1, value, len), 0, "getsockopt");
  return value[0] !== 0;
}
