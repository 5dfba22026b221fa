// Real loopback peers for proxy tests: echo and tagging TCP servers, UDP echo, clients.

import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import { ProxyDataplane } from "../../src/dataplane/proxy/dataplane.ts";
import { desiredFrontend, desiredState, type FrontendSpec } from "./desired.ts";
import { emitsWithin } from "./wait.ts";

export interface TcpPeer {
  server: Server;
  port: number;
  /** Every accepted socket (for asserting what arrived and closing them). */
  sockets: Set<Socket>;
  /** Bytes received per connection, in accept order. */
  received: Buffer[][];
  close(): Promise<void>;
}

/**
 * A TCP server on 127.0.0.1:0. `onConnection` decides what it does; by default it
 * echoes. Every socket it accepts is recorded and destroyed by close().
 */
export async function tcpServer(onConnection?: (socket: Socket, index: number) => void): Promise<TcpPeer> {
  const sockets = new Set<Socket>();
  const received: Buffer[][] = [];
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on("error", () => {});
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    const chunks: Buffer[] = [];
    received.push(chunks);
    socket.on("data", (d: Buffer) => chunks.push(d));
    if (onConnection) onConnection(socket, received.length - 1);
    else socket.pipe(socket);
  });
  server.on("error", () => {});
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    sockets,
    received,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A server that writes its name to every connection, then echoes. */
export function namedServer(name: string): Promise<TcpPeer> {
  return tcpServer((socket) => {
    socket.write(`${name}\n`);
    socket.pipe(socket);
  });
}

export async function connectTo(port: number, host = "127.0.0.1"): Promise<Socket> {
  const socket = connect({ port, host });
  socket.on("error", () => {});
  await once(socket, "connect");
  return socket;
}

/** Read until `n` bytes have arrived (or the socket ends/closes), within `ms`. */
export function readBytes(socket: Socket, n: number, ms = 3000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const done = (err?: Error) => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("close", onEnd);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    const onData = (d: Buffer) => {
      chunks.push(d);
      total += d.length;
      if (total >= n) done();
    };
    const onEnd = () => done();
    const timer = setTimeout(() => done(new Error(`timed out after ${ms}ms with ${total}/${n} bytes`)), ms);
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("close", onEnd);
  });
}

/** Read one "\n"-terminated line. */
export async function readLine(socket: Socket, ms = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const onData = (d: Buffer) => {
      text += d.toString();
      const nl = text.indexOf("\n");
      if (nl !== -1) {
        cleanup();
        socket.unshift(Buffer.from(text.slice(nl + 1)));
        resolve(text.slice(0, nl));
      }
    };
    const onClose = () => {
      cleanup();
      reject(new Error(`socket closed before a line arrived (got "${text}")`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no line within ${ms}ms (got "${text}")`));
    }, ms);
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
    };
    socket.on("data", onData);
    socket.on("close", onClose);
  });
}

/** Resolves when the socket closes; rejects after `ms`. */
export function closed(socket: Socket, ms = 3000): Promise<void> {
  if (socket.destroyed && socket.closed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket still open after ${ms}ms`)), ms);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export interface UdpPeer {
  socket: UdpSocket;
  port: number;
  /** Sources seen, "addr:port". */
  sources: string[];
  close(): void;
}

/** A UDP echo server on 127.0.0.1:0 that prefixes replies with `tag` (if given). */
export async function udpEcho(tag = ""): Promise<UdpPeer> {
  const socket = createSocket("udp4");
  const sources: string[] = [];
  socket.on("error", () => {});
  socket.on("message", (msg, rinfo) => {
    sources.push(`${rinfo.address}:${rinfo.port}`);
    socket.send(Buffer.concat([Buffer.from(tag), msg]), rinfo.port, rinfo.address);
  });
  socket.bind(0, "127.0.0.1");
  await once(socket, "listening");
  return { socket, port: socket.address().port, sources, close: () => socket.close() };
}

/** A UDP client on 127.0.0.1 with a helper that sends and waits for one reply. */
export async function udpClient(): Promise<{
  socket: UdpSocket;
  port: number;
  request(msg: string, port: number, ms?: number): Promise<{ text: string; address: string; port: number }>;
  close(): void;
}> {
  const socket = createSocket("udp4");
  socket.on("error", () => {});
  socket.bind(0, "127.0.0.1");
  await once(socket, "listening");
  return {
    socket,
    port: socket.address().port,
    request: (msg, port, ms = 2000) =>
      new Promise((resolve, reject) => {
        const onMessage = (reply: Buffer, rinfo: { address: string; port: number }) => {
          clearTimeout(timer);
          resolve({ text: reply.toString(), address: rinfo.address, port: rinfo.port });
        };
        const timer = setTimeout(() => {
          socket.off("message", onMessage);
          reject(new Error(`no UDP reply within ${ms}ms`));
        }, ms);
        socket.once("message", onMessage);
        socket.send(msg, port, "127.0.0.1");
      }),
    close: () => socket.close(),
  };
}

/**
 * A loopback port whose connects hang: a listener (backlog 1) in a worker thread
 * whose event loop is blocked, so it never accepts; once its accept queue is
 * full the kernel drops further SYNs and a connect only ends by timing out.
 */
export async function unresponsivePort(): Promise<{ port: number; close(): Promise<void> }> {
  const { Worker } = await import("node:worker_threads");
  const release = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `
const { parentPort, workerData } = require("node:worker_threads");
const server = require("node:net").createServer(() => {});
server.listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
  parentPort.postMessage(server.address().port);
  setImmediate(() => { Atomics.wait(workerData, 0, 0, 30000); server.close(); });
});`,
    { eval: true, workerData: release },
  );
  const port = await new Promise<number>((resolve) => worker.once("message", resolve));
  const fillers: Socket[] = [];
  // Fill the accept queue (bounded: 16 tries) until a connect stops completing.
  for (let i = 0; i < 16; i++) {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.on("error", () => {});
    fillers.push(socket);
    if (!(await emitsWithin(socket, "connect", 200))) break;
  }
  return {
    port,
    close: async () => {
      Atomics.store(release, 0, 1);
      Atomics.notify(release, 0);
      for (const s of fillers) s.destroy();
      await worker.terminate();
    },
  };
}

/**
 * The setup the proxy dataplane tests share: peers, dataplanes and clients that are
 * all torn down (newest first) by close(), which the test file calls from `after`.
 */
export interface ProxyRig {
  /** Run `fn` at close(). */
  defer(fn: () => Promise<void> | void): void;
  /** A peer that close() closes. */
  peer(p: Promise<TcpPeer>): Promise<TcpPeer>;
  /** A dataplane with no frontends yet, stopped at close(). */
  dataplane(drainTimeout?: number): ProxyDataplane;
  /** A dataplane with one frontend "fe" (default settings); it and the port it listens on. */
  proxy(spec: FrontendSpec): Promise<{ dp: ProxyDataplane; port: number }>;
  /** A connected client socket on 127.0.0.1:`port`, destroyed at close(). */
  client(port: number): Promise<Socket>;
  close(): Promise<void>;
}

export function proxyRig(): ProxyRig {
  const cleanups: Array<() => Promise<void> | void> = [];
  const defer = (fn: () => Promise<void> | void) => void cleanups.push(fn);
  return {
    defer,
    peer: async (p) => {
      const server = await p;
      defer(() => server.close());
      return server;
    },
    dataplane: (drainTimeout = 10000) => {
      const dp = new ProxyDataplane({ drainTimeout });
      defer(() => dp.stop(0));
      return dp;
    },
    proxy: async (spec) => {
      const dp = new ProxyDataplane();
      defer(() => dp.stop(0));
      await dp.apply(desiredState([desiredFrontend(spec)]));
      return { dp, port: dp.address("fe")!.port };
    },
    client: async (port) => {
      const s = await connectTo(port);
      defer(() => void s.destroy());
      return s;
    },
    close: async () => {
      for (const fn of cleanups.reverse()) await fn();
    },
  };
}
