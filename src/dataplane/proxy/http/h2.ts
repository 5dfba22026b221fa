// HTTP/2 from clients (ALPN h2 on https frontends) to HTTP/1.1 backends.
//
// node:http2 terminates the HTTP/2 session; each stream is then turned into one
// HTTP/1.1 exchange on a virtual connection (StreamSocket) served by the very same
// ClientConnection that serves HTTP/1.1 clients. Routing, balancing, upstream pools,
// retries, timeouts, error responses and strict parsing are therefore identical for
// both protocols: the bridge only translates heads and (de)chunks bodies. That costs
// a serialize/parse per stream, a fair price for one code path to trust.
import {
  constants,
  createServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from "node:http2";
import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import { ChunkedDecoder, DEFAULT_CHUNKED_LIMITS } from "./chunked.ts";
import { DEFAULT_HEAD_LIMITS, HeadScanner } from "./head-scanner.ts";
import { parseResponseHead, type ResponseHead } from "./message-head.ts";
import { RESPONSE_SCAN_ERRORS } from "./parse.ts";
import { FIELD_VALUE, isToken } from "./syntax.ts";
import type { ClientSocket } from "./uv-socket.ts";

/** What the bridge needs from the listener. */
export interface H2Host {
  accept(socket: Socket): void;
  /** A session with no frames either way for this long is closed (keep-alive-timeout). */
  readonly sessionIdleTimeout: number;
}

/** Connection-specific fields: no place in HTTP/2 (RFC 9113 §8.2.2). */
export const NOT_IN_H2: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
]);

function validValue(v: string): boolean {
  for (let i = 0; i < v.length; i++) if (FIELD_VALUE[v.charCodeAt(i)] !== 1) return false;
  return true;
}

/**
 * The HTTP/1.1 request head equivalent to an HTTP/2 request, or null when the
 * request is malformed. Bodies without content-length are sent chunked.
 */
export function h1RequestHead(
  headers: IncomingHttpHeaders,
  hasBody: boolean,
): { head: string; chunked: boolean } | null {
  const method = headers[":method"];
  const path = headers[":path"];
  const authority = headers[":authority"] ?? headers.host;
  if (typeof method !== "string" || typeof path !== "string" || typeof authority !== "string") return null;
  if (!isToken(method) || method === "CONNECT") return null;
  let head = `${method} ${path} HTTP/1.1\r\nHost: ${authority}\r\n`;
  let hasLength = false;
  for (const [name, value] of Object.entries(headers)) {
    if (name.charCodeAt(0) === 0x3a || name === "host" || NOT_IN_H2.has(name) || value === undefined)
      continue;
    if (!isToken(name)) return null;
    for (const v of Array.isArray(value) ? value : [value]) {
      if (!validValue(v)) return null;
      head += `${name}: ${v}\r\n`;
    }
    if (name === "content-length") hasLength = true;
  }
  const chunked = hasBody && !hasLength;
  if (chunked) head += "Transfer-Encoding: chunked\r\n";
  // One exchange per virtual connection.
  head += "Connection: close\r\n\r\n";
  return { head, chunked };
}

/** HTTP/1.1 response fields as HTTP/2 headers (lowercase names, repeats as arrays). */
export function h2ResponseHeaders(res: ResponseHead): Record<string, string | string[] | number> {
  const out: Record<string, string | string[] | number> = { ":status": res.status };
  addH2Fields(out, res.headers, NOT_IN_H2);
  return out;
}

/**
 * Adds HTTP/1.1 fields (a flat [name, value, ...] list) to HTTP/2 headers: names
 * lowercased, those in `skip` left out, repeated fields gathered into an array.
 */
export function addH2Fields(
  out: Record<string, string | string[] | number | undefined>,
  fields: readonly string[],
  skip: ReadonlySet<string>,
): void {
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i].toLowerCase();
    if (skip.has(name)) continue;
    const prev = out[name];
    if (prev === undefined) out[name] = fields[i + 1];
    else if (Array.isArray(prev)) prev.push(fields[i + 1]);
    else out[name] = [String(prev), fields[i + 1]];
  }
}

function isGrpc(res: ResponseHead): boolean {
  const h = res.headers;
  for (let i = 0; i < h.length; i += 2) {
    if (h[i].toLowerCase() === "content-type") return h[i + 1].toLowerCase().startsWith("application/grpc");
  }
  return false;
}

const R_HEAD = 0;
const R_BODY = 1;
const R_DONE = 2;

/** One HTTP/2 stream bridged to an HTTP/1.1 exchange. */
class StreamBridge {
  private readonly stream: ServerHttp2Stream;
  private readonly method: string;
  private readonly scanner = new HeadScanner(DEFAULT_HEAD_LIMITS, RESPONSE_SCAN_ERRORS, false);
  private state = R_HEAD;
  private res: ResponseHead | null = null;
  private remaining = 0;
  private decoder: ChunkedDecoder | null = null;
  private pendingDrain = false;
  /** Trailer fields collected from a chunked gRPC response; null when not relaying trailers. */
  private trailers: Record<string, string> | null = null;

  constructor(stream: ServerHttp2Stream, method: string) {
    this.stream = stream;
    this.method = method;
  }

  /** HTTP/1.1 bytes from the ClientConnection. Returns false when the stream wants a drain first. */
  response(chunk: Buffer): boolean {
    this.pendingDrain = false;
    let at = 0;
    while (at < chunk.length && this.state === R_HEAD) {
      const end = this.scanner.feed(chunk, at);
      if (end < 0) return true;
      const res = parseResponseHead(this.scanner.take(), this.method);
      at = end;
      if (res.status < 200) continue; // interim responses are not relayed over HTTP/2
      this.res = res;
      const endStream = res.bodyKind === "none";
      // gRPC status travels in trailers: chunked trailers become HTTP/2 trailers.
      const grpc = !endStream && res.bodyKind === "chunked" && isGrpc(res);
      if (grpc) {
        this.trailers = {};
        this.stream.once("wantTrailers", () => {
          if (!this.stream.destroyed) this.stream.sendTrailers(this.trailers ?? {});
        });
      }
      if (!this.stream.destroyed)
        this.stream.respond(h2ResponseHeaders(res), { endStream, waitForTrailers: grpc });
      if (endStream) {
        this.state = R_DONE;
        return true;
      }
      this.state = R_BODY;
      this.remaining = res.contentLength;
      if (res.bodyKind === "chunked") {
        this.decoder = new ChunkedDecoder(DEFAULT_CHUNKED_LIMITS, 502);
        this.decoder.onData = (buf, s, e) => this.write(buf.subarray(s, e));
        if (this.trailers !== null) {
          const into = this.trailers;
          this.decoder.onTrailer = (line) => {
            const c = line.indexOf(":");
            const name = line.slice(0, c).trim().toLowerCase();
            if (!NOT_IN_H2.has(name)) into[name] = line.slice(c + 1).trim();
          };
        }
      }
    }
    if (this.state !== R_BODY || at >= chunk.length) return !this.pendingDrain;
    const res = this.res!;
    if (this.decoder !== null) {
      const end = this.decoder.feed(chunk, at);
      if (end >= 0) this.finish();
    } else if (res.bodyKind === "close") {
      this.write(at === 0 ? chunk : chunk.subarray(at));
    } else {
      const take = Math.min(this.remaining, chunk.length - at);
      this.write(chunk.subarray(at, at + take));
      this.remaining -= take;
      if (this.remaining === 0) this.finish();
    }
    return !this.pendingDrain;
  }

  /** The virtual connection ended (the ClientConnection closed it after the response). */
  ended(): void {
    if (this.state === R_BODY && this.res?.bodyKind === "close") this.finish();
    else if (this.state !== R_DONE) this.reset();
  }

  reset(): void {
    this.state = R_DONE;
    if (!this.stream.destroyed && !this.stream.closed) this.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  }

  get done(): boolean {
    return this.state === R_DONE;
  }

  private write(data: Buffer): void {
    if (data.length === 0 || this.stream.destroyed) return;
    if (!this.stream.write(data)) this.pendingDrain = true;
  }

  private finish(): void {
    this.state = R_DONE;
    if (!this.stream.destroyed) this.stream.end();
  }
}

/**
 * The client side of one stream, as the byte stream a ClientConnection reads
 * requests from and writes responses to. Socket methods it does not need are no-ops.
 */
class StreamSocket extends Duplex {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  bytesRead = 0;
  bytesWritten = 0;
  private readonly bridge: StreamBridge;
  private readonly source: ServerHttp2Stream;

  constructor(source: ServerHttp2Stream, bridge: StreamBridge, session: ServerHttp2Session) {
    super({ allowHalfOpen: true });
    this.source = source;
    this.bridge = bridge;
    const remote = cleartextRemotes.get(session) ?? session.socket;
    this.remoteAddress = remote?.remoteAddress;
    this.remotePort = remote?.remotePort;
  }

  setNoDelay(): this {
    return this;
  }

  setTimeout(): this {
    return this;
  }

  pushRequest(data: Buffer | string): void {
    this.bytesRead += data.length;
    if (!this.push(data)) this.source.pause();
  }

  override _read(): void {
    this.source.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.bytesWritten += chunk.length;
    let ready: boolean;
    try {
      ready = this.bridge.response(chunk);
    } catch (err) {
      this.bridge.reset();
      cb(err as Error);
      return;
    }
    if (ready || this.source.destroyed) cb();
    else this.source.once("drain", () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.bridge.ended();
    cb();
    // The exchange is over: close the whole duplex so the ClientConnection is released
    // (its readable side may be paused, so ending it alone would never emit 'close').
    process.nextTick(() => this.destroy());
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.bridge.done) this.bridge.reset();
    cb(err);
  }
}

/** Serve one HTTP/2 stream through `host` (the L7 listener). */
export function serveStream(host: H2Host, stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
  stream.on("error", () => {}); // resets and session teardown surface as 'close'
  const hasBody = !stream.endAfterHeaders;
  const h1 = h1RequestHead(headers, hasBody);
  if (h1 === null) {
    if (!stream.destroyed) {
      stream.respond({ ":status": 400, "content-type": "text/plain; charset=utf-8" });
      stream.end("400 Bad Request: the request is malformed\n");
    }
    return;
  }
  const bridge = new StreamBridge(stream, String(headers[":method"]));
  const socket = new StreamSocket(stream, bridge, stream.session as ServerHttp2Session);
  socket.on("error", () => {});
  host.accept(socket as unknown as Socket);
  socket.pushRequest(h1.head);
  if (hasBody) {
    stream.on("data", (d: Buffer) => {
      if (d.length === 0) return; // an empty chunk would read as the last one
      if (h1.chunked) socket.pushRequest(`${d.length.toString(16)}\r\n`);
      socket.pushRequest(d);
      if (h1.chunked) socket.pushRequest("\r\n");
    });
    stream.on("end", () => {
      if (h1.chunked) socket.pushRequest("0\r\n\r\n");
    });
  }
  stream.on("close", () => {
    // A client reset (or a session going away) ends the exchange and its upstream.
    if (!bridge.done) socket.destroy();
  });
}

interface Remote {
  remoteAddress?: string;
  remotePort?: number;
}

// h2c sessions run over a wrapper stream (below) that hides the client's address.
const cleartextRemotes = new WeakMap<ServerHttp2Session, Remote>();
let adopting: Remote | null = null;

/**
 * A Duplex over `socket` (a net.Socket, or the UvSocket of a cleartext client) that
 * yields `first` (bytes already read from it) before the socket's own: node:http2
 * reads a net.Socket's handle directly and would miss them, and has no way to drive
 * a UvSocket.
 */
export function replayingDuplex(socket: ClientSocket, first: Buffer): Duplex {
  const wrapper = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      // Done when the bytes are in the kernel, or once the socket's queue drains.
      if (socket.write(chunk)) cb();
      else socket.once("drain", () => cb());
    },
    final(cb) {
      socket.end();
      cb();
    },
    destroy(err, cb) {
      socket.destroy();
      cb(err);
    },
  });
  wrapper.on("error", () => {});
  wrapper.push(first);
  socket.on("data", (d: Buffer) => {
    if (!wrapper.push(d)) socket.pause();
  });
  socket.on("end", () => wrapper.push(null));
  socket.on("close", () => wrapper.destroy());
  socket.on("error", () => {});
  return wrapper;
}

/**
 * Serve a plain connection that opened with the HTTP/2 preface (h2c prior knowledge),
 * over a replaying Duplex (above).
 */
export function adoptCleartext(server: Http2Server, socket: ClientSocket, first: Buffer): void {
  const wrapper = replayingDuplex(socket, first);
  adopting = { remoteAddress: socket.remoteAddress, remotePort: socket.remotePort };
  try {
    server.emit("connection", wrapper);
  } finally {
    adopting = null;
  }
}

/** An HTTP/2 server without its own listener: TLS sockets that chose h2 are handed to it. */
export function createH2Server(host: H2Host, sessions: Set<ServerHttp2Session>): Http2Server {
  const server = createServer({ settings: { enablePush: false } });
  server.on("session", (session: ServerHttp2Session) => {
    if (adopting !== null) cleartextRemotes.set(session, adopting);
    sessions.add(session);
    // Idle like an HTTP/1.1 keep-alive connection: a graceful close (GOAWAY) lets open
    // streams finish, whose exchanges keep their own timeouts.
    session.setTimeout(host.sessionIdleTimeout, () => session.close());
    session.on("error", () => {});
    session.on("close", () => sessions.delete(session));
  });
  server.on("sessionError", () => {});
  server.on("stream", (stream, headers) => serveStream(host, stream, headers));
  return server;
}
