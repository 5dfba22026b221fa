// A minimal WebSocket echo (RFC 6455) for the L7 tests: the 101 handshake and an echo
// of text/binary frames under 64 KiB, over any duplex socket (net or TLS). Shared by
// the plain WebSocket test and the one through `upstream: h2` backends.
import { createHash } from "node:crypto";
import type { Duplex } from "node:stream";

const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Answer the upgrade with 101 and echo every frame until a close frame. */
export function acceptWebSocket(socket: Duplex, key: string, head: Buffer): void {
  const accept = createHash("sha1").update(`${key}${WS_GUID}`).digest("base64");
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
  );
  echoFrames(socket, head);
}

/** Echo every WebSocket frame read from `socket` (after `head`) until a close frame. */
export function echoFrames(socket: Duplex, head: Buffer): void {
  let buf = head;
  const onFrames = (): void => {
    for (;;) {
      if (buf.length < 2) return;
      const opcode = buf[0] & 0x0f;
      let len = buf[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        off = 4;
      }
      if (buf.length < off + 4 + len) return;
      const mask = buf.subarray(off, off + 4);
      const payload = Buffer.from(buf.subarray(off + 4, off + 4 + len));
      for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
      buf = buf.subarray(off + 4 + len);
      if (opcode === 0x8) {
        socket.end(Buffer.from([0x88, 0]));
        return;
      }
      const header =
        len < 126
          ? Buffer.from([0x80 | opcode, len])
          : Buffer.from([0x80 | opcode, 126, len >> 8, len & 0xff]);
      socket.write(Buffer.concat([header, payload]));
    }
  };
  socket.on("data", (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    onFrames();
  });
  onFrames();
}

/**
 * A raw HTTP/1.1 upgrade handshake read from `socket` whose first bytes are `first`:
 * calls `onHead(fields, rest)` once the head is complete (lowercased field names),
 * with the bytes that followed it. Enough for a test backend, not a parser.
 */
export function readUpgradeHead(
  socket: Duplex,
  first: Buffer,
  onHead: (requestLine: string, fields: Record<string, string>, rest: Buffer) => void,
): void {
  let buf = first;
  const check = (): boolean => {
    const end = buf.indexOf("\r\n\r\n");
    if (end < 0) return false;
    const lines = buf.subarray(0, end).toString("latin1").split("\r\n");
    const fields: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      fields[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    onHead(lines[0], fields, buf.subarray(end + 4));
    return true;
  };
  if (check()) return;
  const onData = (d: Buffer): void => {
    buf = Buffer.concat([buf, d]);
    if (check()) socket.off("data", onData);
  };
  socket.on("data", onData);
}

/** Open a WebSocket (Node's client) to the proxy, send `messages`, return the echoes (bounded: 5 s). */
export async function echoThrough(
  port: number,
  messages: string[],
  protocols: string[] = [],
): Promise<string[]> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`, protocols);
  const replies: string[] = [];
  const timer = setTimeout(() => ws.close(), 5000);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => {
        for (const m of messages) ws.send(m);
      });
      ws.addEventListener("message", (e) => {
        replies.push(String(e.data));
        if (replies.length === messages.length) ws.close();
      });
      ws.addEventListener("close", () => resolve());
      ws.addEventListener("error", () => reject(new Error("websocket error")));
    });
  } finally {
    clearTimeout(timer);
  }
  return replies;
}
