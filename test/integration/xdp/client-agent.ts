// The client inside its namespace. Requests:
//   {op: "tcp", host, port, count}   count short connections: send a line, read the answering backend's name
//   {op: "udp", host, port, count, size?, timeoutMs?}   count flows (a new socket, so a new source port,
//                                    each): one datagram of `size` bytes each (default 5; above the MTU it
//                                    is fragmented), answers awaited up to timeoutMs (default 5 s)
//   {op: "open", conn, host, port}   open a long-lived connection named conn
//   {op: "ping", conn}               one line over it -> the backend's name
//   {op: "close", conn}
//   {op: "reset", conn}              abort it: the client's kernel sends a RST
//   {op: "bigline", host, port, size}  one connection, one line of `size` bytes -> the answer line
//                                    (full-sized segments: a path MTU below them must be learnt)
//   {op: "udp-refused", host, port}  a connected UDP socket sends one datagram -> "refused" (an ICMP
//                                    unreachable reached it), "answer" or "timeout"
// Every wait is bounded (5 s per answer: generous, as CI machines can be busy).
import { createSocket, type Socket as DgramSocket } from "node:dgram";
import { connect, isIPv6, type Socket } from "node:net";
import { serveAgent } from "./netns.ts";

const TIMEOUT = 5000;
const conns = new Map<string, { sock: Socket; lines: string[]; waiters: Array<(l: string) => void> }>();

function open(
  host: string,
  port: number,
): Promise<{ sock: Socket; lines: string[]; waiters: Array<(l: string) => void> }> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    const c = { sock, lines: [] as string[], waiters: [] as Array<(l: string) => void> };
    let buf = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`connect ${host}:${port} timed out`));
    }, TIMEOUT);
    sock.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on("connect", () => {
      clearTimeout(timer);
      resolve(c);
    });
    sock.on("data", (d) => {
      buf += d.toString();
      let i = buf.indexOf("\n");
      while (i >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const w = c.waiters.shift();
        if (w) w(line);
        else c.lines.push(line);
        i = buf.indexOf("\n");
      }
    });
  });
}

function ping(c: { sock: Socket; lines: string[]; waiters: Array<(l: string) => void> }): Promise<string> {
  return new Promise((resolve, reject) => {
    const onClose = () => {
      clearTimeout(timer);
      reject(new Error("connection closed"));
    };
    const timer = setTimeout(() => {
      c.sock.off("close", onClose);
      reject(new Error(`no answer within ${TIMEOUT}ms`));
    }, TIMEOUT);
    c.waiters.push((l) => {
      clearTimeout(timer);
      c.sock.off("close", onClose);
      resolve(l);
    });
    c.sock.once("close", onClose);
    c.sock.write("ping\n");
  });
}

async function bigLine(host: string, port: number, size: number): Promise<string> {
  const c = await open(host, port);
  try {
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer within ${TIMEOUT}ms`)), TIMEOUT);
      c.waiters.push((l) => {
        clearTimeout(timer);
        resolve(l);
      });
      c.sock.write(`${"x".repeat(size)}\n`);
    });
  } finally {
    c.sock.destroy();
  }
}

function udpRefused(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const sock = createSocket(isIPv6(host) ? "udp6" : "udp4");
    const done = (what: string) => {
      clearTimeout(timer);
      sock.close();
      resolve(what);
    };
    const timer = setTimeout(() => done("timeout"), TIMEOUT);
    sock.on("error", (err: NodeJS.ErrnoException) =>
      done(err.code === "ECONNREFUSED" ? "refused" : err.message),
    );
    sock.on("message", () => done("answer"));
    sock.connect(port, host, () => sock.send("are you there?"));
  });
}

async function tcpOnce(host: string, port: number): Promise<string> {
  const c = await open(host, port);
  try {
    return await ping(c);
  } finally {
    c.sock.destroy();
  }
}

/**
 * One datagram from a new socket. The socket is handed to `keep` and closed by the
 * caller once the whole request is done, so no two flows of a request share a source
 * port (a reused port would be the same flow to the balancer).
 */
function udpOnce(
  host: string,
  port: number,
  size: number,
  timeoutMs: number,
  keep: DgramSocket[],
): Promise<string> {
  return new Promise((resolve) => {
    const sock = createSocket(isIPv6(host) ? "udp6" : "udp4");
    keep.push(sock);
    const timer = setTimeout(() => resolve("timeout"), timeoutMs);
    sock.on("error", () => {});
    sock.on("message", (msg) => {
      clearTimeout(timer);
      resolve(msg.toString());
    });
    sock.send(Buffer.alloc(size, "x"), port, host);
  });
}

async function many(count: number, one: () => Promise<string>): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count; i += 10) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(10, count - i) }, () => one().catch((e: Error) => `error: ${e.message}`)),
    );
    out.push(...batch);
  }
  return out;
}

serveAgent(
  async (req) => {
    const host = req.host as string;
    const port = req.port as number;
    switch (req.op) {
      case "tcp":
        return many(req.count as number, () => tcpOnce(host, port));
      case "udp": {
        const keep: DgramSocket[] = [];
        const size = (req.size as number | undefined) ?? 5;
        const timeoutMs = (req.timeoutMs as number | undefined) ?? TIMEOUT;
        try {
          return await many(req.count as number, () => udpOnce(host, port, size, timeoutMs, keep));
        } finally {
          for (const sock of keep) sock.close();
        }
      }
      case "open": {
        conns.set(req.conn as string, await open(host, port));
        return conns.get(req.conn as string)!.sock.localPort;
      }
      case "ping": {
        const c = conns.get(req.conn as string);
        if (!c) throw new Error(`no connection ${String(req.conn)}`);
        return ping(c).catch((e: Error) => `error: ${e.message}`);
      }
      case "bigline":
        return bigLine(host, port, req.size as number).catch((e: Error) => `error: ${e.message}`);
      case "udp-refused":
        return udpRefused(host, port);
      case "reset":
        conns.get(req.conn as string)?.sock.resetAndDestroy();
        conns.delete(req.conn as string);
        return true;
      case "close":
        conns.get(req.conn as string)?.sock.destroy();
        conns.delete(req.conn as string);
        return true;
      default:
        throw new Error(`unknown op ${String(req.op)}`);
    }
  },
  () => {
    for (const c of conns.values()) c.sock.destroy();
  },
);
