// HTTP/2 to backends (`http.upstream: h2`, e.g. gRPC servers).
//
// The ClientConnection speaks HTTP/1.1 to an Upstream's socket. For an h2 backend
// that socket is an H2StreamSocket: a virtual keep-alive connection that parses the
// HTTP/1.1 requests written to it, sends each as one stream on a node:http2 client
// session shared by every virtual connection to that backend (multiplexing), and
// reads back the stream's response as HTTP/1.1 bytes — chunked, with the HTTP/2
// trailers as chunked trailers, or Content-Length-delimited when the backend sent one.
// Pools, retries, timeouts and errors are therefore the HTTP/1.1 code path, unchanged.

import { createHash } from "node:crypto";
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  constants,
  connect as h2connect,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from "node:http2";
import { Duplex } from "node:stream";
import type { ConnectionOptions } from "node:tls";
import { ChunkedDecoder, DEFAULT_CHUNKED_LIMITS } from "./chunked.ts";
import { addH2Fields, NOT_IN_H2 } from "./h2.ts";
import { DEFAULT_HEAD_LIMITS, HeadScanner } from "./head-scanner.ts";
import { reasonPhrase } from "./local-response.ts";
import { parseRequestHead, type RequestHead } from "./message-head.ts";
import { REQUEST_SCAN_ERRORS } from "./parse.ts";

// Besides the connection-specific fields: Host becomes :authority, and HTTP2-Settings
// belongs to the (deprecated) h2c upgrade only.
const NOT_IN_H2_REQUEST: ReadonlySet<string> = new Set([...NOT_IN_H2, "host", "http2-settings"]);

/** The HTTP/2 request headers of an HTTP/1.1 request head (as the proxy forwards it). */
export function h2RequestHeaders(req: RequestHead, scheme: string, authority: string): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {
    ":method": req.method,
    ":path": req.path,
    ":scheme": scheme,
    ":authority": req.host !== "" ? req.host : authority,
  };
  addH2Fields(out, req.headers, NOT_IN_H2_REQUEST);
  // TE is hop-by-hop, so the client's never reaches here; gRPC servers expect
  // "te: trailers" (the one TE value HTTP/2 allows), so gRPC requests get it back.
  if (hasToken(req.headers, "content-type", "application/grpc")) out.te = "trailers";
  return out;
}

function hasToken(headers: string[], lower: string, token: string): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i].toLowerCase() === lower && headers[i + 1].toLowerCase().includes(token)) return true;
  }
  return false;
}

const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/**
 * The HTTP/2 request of a WebSocket upgrade as RFC 8441 extended CONNECT: `:protocol`
 * websocket, no Sec-WebSocket-Key (the key/accept handshake is HTTP/1.1 only; the
 * proxy answers the client's key itself).
 */
export function h2ConnectHeaders(req: RequestHead, scheme: string, authority: string): OutgoingHttpHeaders {
  const out = h2RequestHeaders(req, scheme, authority);
  out[":method"] = "CONNECT";
  out[":protocol"] = "websocket";
  delete out["sec-websocket-key"];
  return out;
}

/**
 * The HTTP/1.1 101 a WebSocket client expects, for a 2xx answer to an extended
 * CONNECT: Sec-WebSocket-Accept from the client's key, the backend's other fields
 * (subprotocol, extensions) kept.
 */
export function h1SwitchingHead(headers: IncomingHttpHeaders, clientKey: string | undefined): string {
  let head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
  if (clientKey !== undefined) {
    const accept = createHash("sha1").update(`${clientKey}${WS_GUID}`).digest("base64");
    head += `Sec-WebSocket-Accept: ${accept}\r\n`;
  }
  for (const [name, value] of Object.entries(headers)) {
    if (name.charCodeAt(0) === 0x3a || value === undefined || NOT_IN_H2_REQUEST.has(name)) continue;
    if (name === "content-length" || name === "sec-websocket-accept") continue;
    for (const v of Array.isArray(value) ? value : [value]) head += `${name}: ${v}\r\n`;
  }
  return `${head}\r\n`;
}

/** The HTTP/1.1 response head of an HTTP/2 response; `chunked` when the body needs that framing. */
export function h1ResponseHead(
  headers: IncomingHttpHeaders,
  method: string,
): { head: string; chunked: boolean; bodiless: boolean } {
  const status = Number(headers[":status"]);
  let head = `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`;
  let length = false;
  for (const [name, value] of Object.entries(headers)) {
    if (name.charCodeAt(0) === 0x3a || value === undefined || NOT_IN_H2_REQUEST.has(name)) continue;
    for (const v of Array.isArray(value) ? value : [value]) head += `${name}: ${v}\r\n`;
    if (name === "content-length") length = true;
  }
  const bodiless = method === "HEAD" || status === 204 || status === 304;
  const chunked = !bodiless && !length;
  if (chunked) head += "Transfer-Encoding: chunked\r\n";
  return { head: `${head}\r\n`, chunked, bodiless };
}

/** One client session per backend, shared by its virtual connections; reopened when it closes. */
export class H2Sessions {
  private readonly sessions = new Map<string, ClientHttp2Session>();

  /**
   * The backend's open session advertised SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441):
   * WebSocket may go over it as an extended CONNECT. False while no session has
   * settings yet (the caller then upgrades over HTTP/1.1).
   */
  extendedConnect(key: string): boolean {
    const s = this.sessions.get(key);
    return s !== undefined && !s.closed && !s.destroyed && s.remoteSettings?.enableConnectProtocol === true;
  }

  session(key: string, origin: string, tls: ConnectionOptions | null): ClientHttp2Session {
    const have = this.sessions.get(key);
    if (have !== undefined && !have.closed && !have.destroyed) return have;
    const s = h2connect(origin, tls === null ? {} : { ...tls, ALPNProtocols: ["h2"] });
    s.on("error", () => {}); // each stream and virtual connection sees its own failure
    s.setMaxListeners(0); // every virtual connection listens for the session's end
    s.on("close", () => {
      if (this.sessions.get(key) === s) this.sessions.delete(key);
    });
    s.on("goaway", () => {
      if (this.sessions.get(key) === s) this.sessions.delete(key);
    });
    this.sessions.set(key, s);
    return s;
  }

  /** Close one backend's session (removed, flushed) or all; open streams finish. */
  close(key?: string): void {
    for (const [k, s] of this.sessions) {
      if (key !== undefined && k !== key) continue;
      this.sessions.delete(k);
      s.close();
    }
  }

  destroyAll(): void {
    for (const s of this.sessions.values()) s.destroy();
    this.sessions.clear();
  }
}

const Q_HEAD = 0;
const Q_BODY = 1;
const Q_DONE = 2;
const Q_TUNNEL = 3; // an extended CONNECT stream: raw bytes both ways

/**
 * A virtual HTTP/1.1 connection to an h2 backend (see the file comment). Emits
 * connect, data, drain, timeout, error and close like a net.Socket; the socket
 * methods an Upstream uses (write, cork, pause, setTimeout, end, destroy) work.
 */
export class H2StreamSocket extends Duplex {
  private readonly session: ClientHttp2Session;
  private readonly scheme: string;
  private readonly authority: string;
  private readonly scanner = new HeadScanner(DEFAULT_HEAD_LIMITS, REQUEST_SCAN_ERRORS, true);
  private reqState = Q_HEAD;
  private remaining = 0;
  private decoder: ChunkedDecoder | null = null;
  private stream: ClientHttp2Stream | null = null;
  private method = "GET";
  private chunked = false;
  private timeoutMs = 0;
  private timer: NodeJS.Timeout | null = null;
  bytesRead = 0;
  bytesWritten = 0;

  constructor(session: ClientHttp2Session, scheme: string, authority: string) {
    super({ allowHalfOpen: false });
    this.session = session;
    this.scheme = scheme;
    this.authority = authority;
    const onConnect = () => this.emit("connect");
    const onError = (err: Error) => this.destroy(err);
    const onClose = () => this.destroy();
    if (session.connecting) session.once("connect", onConnect);
    else process.nextTick(onConnect);
    session.once("error", onError);
    session.once("close", onClose);
    this.once("close", () => {
      session.off("connect", onConnect);
      session.off("error", onError);
      session.off("close", onClose);
      this.clearTimer();
      if (this.stream !== null && !this.stream.closed) this.stream.close(constants.NGHTTP2_CANCEL);
    });
  }

  setNoDelay(): this {
    return this;
  }

  /** Like net.Socket#setTimeout: 'timeout' after ms without activity (0 = off). */
  setTimeout(ms: number): this {
    this.timeoutMs = ms;
    this.touch();
    return this;
  }

  private touch(): void {
    this.clearTimer();
    if (this.timeoutMs > 0 && !this.destroyed) {
      this.timer = setTimeout(() => this.emit("timeout"), this.timeoutMs);
      this.timer.unref();
    }
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  override _read(): void {
    this.stream?.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.touch();
    this.bytesWritten += chunk.length;
    try {
      this.request(chunk, 0, done);
    } catch (err) {
      done(err as Error);
    }
  }

  /** HTTP/1.1 request bytes: a head opens a stream, body bytes go to it (de-chunked). */
  private request(chunk: Buffer, start: number, done: (err?: Error | null) => void): void {
    let at = start;
    if (this.reqState === Q_TUNNEL) {
      this.tunnelWrite(chunk.subarray(at), done);
      return;
    }
    if (this.reqState === Q_HEAD || this.reqState === Q_DONE) {
      const end = this.scanner.feed(chunk, at);
      if (end < 0) {
        done();
        return;
      }
      const req = parseRequestHead(this.scanner.take());
      at = end;
      if (req.upgrade === "websocket") {
        this.openTunnel(req);
        this.tunnelWrite(chunk.subarray(at), done);
        return;
      }
      this.open(req);
      if (this.reqState === Q_DONE) {
        done(); // no body; the ClientConnection sends nothing more before the response
        return;
      }
    }
    const stream = this.stream!;
    let ok = true;
    if (this.decoder !== null) {
      const end = this.decoder.feed(chunk, at);
      if (end >= 0) {
        this.reqState = Q_DONE;
        stream.end();
      }
    } else {
      const take = Math.min(this.remaining, chunk.length - at);
      ok = stream.write(chunk.subarray(at, at + take));
      this.remaining -= take;
      if (this.remaining === 0) {
        this.reqState = Q_DONE;
        stream.end();
      }
    }
    // Backpressure: the write callback waits for the stream to drain.
    if (ok || this.decoder !== null) done();
    else stream.once("drain", () => done());
  }

  private open(req: RequestHead): void {
    this.method = req.method;
    const endStream = req.bodyKind === "none";
    const stream = this.session.request(h2RequestHeaders(req, this.scheme, this.authority), { endStream });
    this.stream = stream;
    this.reqState = endStream ? Q_DONE : Q_BODY;
    this.remaining = req.contentLength;
    this.decoder = null;
    if (req.bodyKind === "chunked") {
      const d = new ChunkedDecoder(DEFAULT_CHUNKED_LIMITS, 400);
      d.onData = (buf, s, e) => {
        if (!stream.destroyed) stream.write(buf.subarray(s, e));
      };
      this.decoder = d;
    }
    let responded = false;
    let bodiless = false;
    stream.on("response", (headers) => {
      responded = true;
      this.touch();
      const h = h1ResponseHead(headers, this.method);
      this.chunked = h.chunked;
      bodiless = h.bodiless;
      this.deliver(Buffer.from(h.head, "latin1"));
    });
    stream.on("data", (data: Buffer) => {
      this.touch();
      // HEAD, 204, 304: the HTTP/1.1 message has no body whatever the backend sends.
      if (bodiless) return;
      if (!this.chunked) this.deliver(data);
      else if (data.length > 0) {
        this.deliver(Buffer.from(`${data.length.toString(16)}\r\n`, "latin1"));
        this.deliver(data);
        this.deliver(CRLF);
      }
    });
    let trailers = "";
    stream.on("trailers", (headers: IncomingHttpHeaders) => {
      for (const [name, value] of Object.entries(headers)) {
        if (name.charCodeAt(0) === 0x3a || value === undefined) continue;
        for (const v of Array.isArray(value) ? value : [value]) trailers += `${name}: ${v}\r\n`;
      }
    });
    stream.on("end", () => {
      if (this.chunked && responded) this.deliver(Buffer.from(`0\r\n${trailers}\r\n`, "latin1"));
    });
    stream.on("close", () => {
      if (this.stream === stream) this.stream = null;
      // Reset before or during the response: the virtual connection dies like a TCP reset.
      if (!responded || stream.rstCode !== constants.NGHTTP2_NO_ERROR) {
        if (!this.destroyed) this.destroy();
      }
    });
    stream.on("error", () => {}); // 'close' follows with the code
  }

  /** Raw bytes onto the tunnel stream, the write callback waiting for its drain. */
  private tunnelWrite(data: Buffer, done: (err?: Error | null) => void): void {
    const stream = this.stream;
    if (stream === null || stream.destroyed || data.length === 0) {
      done();
      return;
    }
    if (stream.write(data)) done();
    else stream.once("drain", () => done());
  }

  /**
   * A WebSocket upgrade as an RFC 8441 extended CONNECT stream. A 2xx answer becomes
   * the 101 the HTTP/1.1 client expects and the stream a raw tunnel; any other answer
   * is an ordinary response (and the stream is ended on our side).
   */
  private openTunnel(req: RequestHead): void {
    this.method = req.method;
    const stream = this.session.request(h2ConnectHeaders(req, this.scheme, this.authority), {
      endStream: false,
    });
    this.stream = stream;
    this.reqState = Q_TUNNEL;
    let key: string | undefined;
    for (let i = 0; i < req.headers.length; i += 2) {
      if (req.headers[i].toLowerCase() === "sec-websocket-key") key = req.headers[i + 1];
    }
    let mode = 0; // 0: no answer yet, 1: tunnel, 2: ordinary (refused) response
    stream.on("response", (headers) => {
      this.touch();
      const status = Number(headers[":status"]);
      if (status >= 200 && status < 300) {
        mode = 1;
        this.deliver(Buffer.from(h1SwitchingHead(headers, key), "latin1"));
        return;
      }
      mode = 2;
      this.reqState = Q_DONE;
      if (!stream.writableEnded) stream.end();
      const h = h1ResponseHead(headers, this.method);
      this.chunked = h.chunked;
      this.deliver(Buffer.from(h.head, "latin1"));
    });
    stream.on("data", (data: Buffer) => {
      this.touch();
      if (mode === 1 || !this.chunked) this.deliver(data);
      else if (data.length > 0) {
        this.deliver(Buffer.from(`${data.length.toString(16)}\r\n`, "latin1"));
        this.deliver(data);
        this.deliver(CRLF);
      }
    });
    stream.on("end", () => {
      if (mode === 1)
        this.push(null); // the backend half-closed the tunnel
      else if (mode === 2 && this.chunked) this.deliver(Buffer.from("0\r\n\r\n", "latin1"));
    });
    stream.on("close", () => {
      if (this.stream === stream) this.stream = null;
      if (mode !== 2 || stream.rstCode !== constants.NGHTTP2_NO_ERROR) {
        if (!this.destroyed) this.destroy();
      }
    });
    stream.on("error", () => {}); // 'close' follows with the code
  }

  private deliver(data: Buffer): void {
    this.bytesRead += data.length;
    if (!this.push(data)) {
      this.stream?.pause();
    }
  }

  override _final(done: (err?: Error | null) => void): void {
    done();
    // A tunnel half-closes like TCP (END_STREAM); the stream's close ends this socket.
    if (this.reqState === Q_TUNNEL && this.stream !== null && !this.stream.destroyed) {
      this.stream.end();
      return;
    }
    this.destroy();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.clearTimer();
    if (this.stream !== null && !this.stream.closed) this.stream.close(constants.NGHTTP2_CANCEL);
    done(err);
  }
}

const CRLF = Buffer.from("\r\n", "latin1");
