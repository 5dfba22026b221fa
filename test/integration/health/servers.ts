// Real loopback servers for the health tests. Each returns its port and a close().
import { createSocket } from "node:dgram";
import { createServer as createHttpServer, type IncomingHttpHeaders } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createTcpServer, type Server, type Socket } from "node:net";
import type { HealthCheckConfig, HttpCheck } from "../../../src/config/types.ts";

export const timing = {
  interval: 100,
  fastInterval: 50,
  downInterval: 100,
  timeout: 1000,
  rise: 2,
  fall: 3,
  jitter: 0,
};

export function tcpCheck(extra: Partial<HealthCheckConfig> = {}): HealthCheckConfig {
  return { name: "tcp", type: "tcp", ...timing, ...extra } as HealthCheckConfig;
}

export function httpCheck(extra: Partial<HttpCheck> = {}): HttpCheck {
  return {
    name: "http",
    type: "http",
    ...timing,
    method: "GET",
    path: "/healthz",
    expectStatus: [{ min: 200, max: 399 }],
    verify: false,
    ...extra,
  };
}

function listen(server: Server, host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => {
      const addr = server.address();
      resolve(typeof addr === "object" && addr ? addr.port : 0);
    });
  });
}

function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

function track(server: Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
  });
  return sockets;
}

export interface Seen {
  method?: string;
  url?: string;
  headers?: IncomingHttpHeaders;
  servername?: string | false;
  connections: number;
  closed: number;
}

export interface HttpBehaviour {
  status: number;
  body: string;
  /** Accept and never answer. */
  hang?: boolean;
}

export async function startHttp(
  behaviour: HttpBehaviour,
  tls?: { key: Buffer; cert: Buffer },
  host = "127.0.0.1",
): Promise<{ port: number; seen: Seen; behaviour: HttpBehaviour; close: () => Promise<void> }> {
  const seen: Seen = { connections: 0, closed: 0 };
  const handler = (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => {
    seen.method = req.method;
    seen.url = req.url;
    seen.headers = req.headers;
    seen.servername = (req.socket as { servername?: string | false }).servername;
    if (behaviour.hang) return;
    res.writeHead(behaviour.status, { "content-type": "text/plain" });
    res.end(behaviour.body);
  };
  const server = tls
    ? createHttpsServer({ key: tls.key, cert: tls.cert }, handler)
    : createHttpServer(handler);
  server.on("clientError", (_err, socket) => socket.destroy());
  const sockets = new Set<Socket>();
  server.on(tls ? "secureConnection" : "connection", (s: Socket) => {
    seen.connections++;
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => {
      seen.closed++;
      sockets.delete(s);
    });
  });
  server.on("tlsClientError", () => {});
  const port = await listen(server, host);
  return { port, seen, behaviour, close: () => closeServer(server, sockets) };
}

/** A TCP server; `onConnection` decides what to say (nothing, by default). */
export async function startTcp(
  onConnection: (s: Socket) => void = () => {},
  host = "127.0.0.1",
): Promise<{ port: number; server: Server; connections: () => number; close: () => Promise<void> }> {
  const server = createTcpServer();
  const sockets = track(server);
  let connections = 0;
  server.on("connection", (s) => {
    connections++;
    onConnection(s);
  });
  const port = await listen(server, host);
  return { port, server, connections: () => connections, close: () => closeServer(server, sockets) };
}

/** A port on which nothing listens (bound then closed). */
export async function closedPort(): Promise<number> {
  const server = createTcpServer();
  const port = await listen(server);
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

export async function startUdp(
  reply: (msg: Buffer) => string | null,
): Promise<{ port: number; received: () => number; close: () => Promise<void> }> {
  const socket = createSocket("udp4");
  socket.on("error", () => {});
  let received = 0;
  socket.on("message", (msg, rinfo) => {
    received++;
    const answer = reply(msg);
    if (answer !== null) socket.send(answer, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => socket.bind(0, "127.0.0.1", () => r()));
  return {
    port: socket.address().port,
    received: () => received,
    close: () => new Promise((r) => socket.close(() => r())),
  };
}
