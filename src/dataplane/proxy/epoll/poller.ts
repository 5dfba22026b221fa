// One epoll set per process, for the L4 relay's sockets. Node's event loop watches the
// set's own descriptor (koffi's uv_poll): when any socket in it is ready, one call
// into JavaScript takes every ready event with a single epoll_wait and hands each to
// its socket. libuv, by contrast, enters JavaScript once per event (accept, connect,
// each read, each EOF), through node::MakeCallback, about 1 µs apiece: six times for
// a short relayed connection (docs/dataplane-proxy.md, "Where the short-connection
// gap comes from").
//
// A consequence to keep in mind: the batch runs outside MakeCallback, so promise
// reactions and nextTicks queued during it run at the next callback Node makes
// (a timer, an immediate), not at the end of the batch. Code on this path that
// settles a promise does so from setImmediate.
import koffi from "koffi";
import { socketError } from "../socket-error.ts";
import {
  EPOLL_CLOEXEC,
  EPOLL_CTL_ADD,
  EPOLL_CTL_MOD,
  epollCreate1,
  epollCtl,
  epollWait,
  errno,
} from "./libc.ts";

/** What the poller hands a ready descriptor's events to. */
export interface PollTarget {
  /** Set by the poller on add(): tells this registration from an earlier one of the same fd. */
  pollSerial: number;
  onPoll(events: number): void;
}

// struct epoll_event is packed on x86-64 (12 bytes: events, then 8 bytes of data);
// elsewhere the data is 8-aligned (16 bytes).
const EVENT_SIZE = process.arch === "x64" ? 12 : 16;
const DATA_AT = process.arch === "x64" ? 4 : 8;
/** Events taken per epoll_wait; more wait for the next loop turn (the set stays readable). */
const BATCH = 256;

class Poller {
  readonly #epfd: number;
  /** Indexed by fd; a slot is emptied when its socket closes. */
  readonly #targets: (PollTarget | undefined)[] = [];
  #count = 0;
  #serial = 0;
  readonly #events = Buffer.alloc(EVENT_SIZE * BATCH);
  readonly #ctl = Buffer.alloc(EVENT_SIZE);
  /** Work that must run after the current batch (see later()). */
  #later: (() => void)[] = [];
  #dispatching = false;
  #laterScheduled = false;
  /** koffi's uv_poll on the set; held here, or the GC would close it. */
  readonly #watch: { ref(): void; unref(): void };

  constructor() {
    this.#epfd = epollCreate1(EPOLL_CLOEXEC);
    if (this.#epfd < 0) throw socketError(-errno(), "epoll_create1");
    this.#watch = koffi.node.poll(this.#epfd, { readable: true }, () => this.#dispatch());
    // Like a libuv handle: the process stays up while a socket is open, not for the set alone.
    this.#watch.unref();
  }

  /**
   * Watch `fd` for `events`. The event data carries the fd and a serial, so an event
   * that was already queued for a closed socket never reaches a new socket that got
   * the same fd number in the same batch.
   */
  add(fd: number, events: number, target: PollTarget): void {
    this.#serial = (this.#serial + 1) >>> 0;
    target.pollSerial = this.#serial;
    this.#control(EPOLL_CTL_ADD, fd, events, this.#serial);
    if (this.#targets[fd] === undefined && this.#count++ === 0) this.#watch.ref();
    this.#targets[fd] = target;
  }

  /** Change what `fd` is watched for (e.g. 0: nothing, for now). */
  modify(fd: number, events: number): void {
    const target = this.#targets[fd];
    if (target !== undefined) this.#control(EPOLL_CTL_MOD, fd, events, target.pollSerial);
  }

  /** Forget `fd`; call just before closing it (close() takes it out of the set). */
  remove(fd: number): void {
    if (this.#targets[fd] === undefined) return;
    this.#targets[fd] = undefined;
    if (--this.#count === 0) this.#watch.unref();
  }

  /**
   * Run `work` once the current batch of events is handled (or at the next loop turn
   * when no batch is running): for a socket that must read what an earlier edge
   * announced, without doing it inside another socket's handler.
   */
  later(work: () => void): void {
    this.#later.push(work);
    if (!this.#dispatching && !this.#laterScheduled) {
      this.#laterScheduled = true;
      setImmediate(() => this.#runLater());
    }
  }

  #control(op: number, fd: number, events: number, serial: number): void {
    const ev = this.#ctl;
    ev.writeUInt32LE(events >>> 0, 0);
    ev.writeUInt32LE(fd, DATA_AT);
    ev.writeUInt32LE(serial, DATA_AT + 4);
    if (epollCtl(this.#epfd, op, fd, ev) < 0) throw socketError(-errno(), "epoll_ctl");
  }

  #dispatch(): void {
    this.#dispatching = true;
    try {
      const n = epollWait(this.#epfd, this.#events, BATCH, 0);
      const ev = this.#events;
      for (let i = 0; i < n; i++) {
        const at = i * EVENT_SIZE;
        const fd = ev.readUInt32LE(at + DATA_AT);
        const target = this.#targets[fd];
        if (target === undefined || target.pollSerial !== ev.readUInt32LE(at + DATA_AT + 4)) continue;
        try {
          target.onPoll(ev.readUInt32LE(at));
        } catch (err) {
          // Targets contain their own failures (they end their connection); this is a
          // bug in one of them, which must not stop the other sockets' events.
          reportBug(err);
        }
      }
      this.#runLater();
    } finally {
      this.#dispatching = false;
    }
  }

  #runLater(): void {
    this.#laterScheduled = false;
    // Work may queue more work: run until none is left.
    while (this.#later.length > 0) {
      const work = this.#later;
      this.#later = [];
      for (const w of work) {
        try {
          w();
        } catch (err) {
          reportBug(err);
        }
      }
    }
  }
}

function reportBug(err: unknown): void {
  process.emitWarning(`lodestone: L4 socket handler failed: ${(err as Error)?.stack ?? String(err)}`);
}

let shared: Poller | null = null;

/** The process's poller, created on first use. */
export function poller(): Poller {
  shared ??= new Poller();
  return shared;
}

export type { Poller };
