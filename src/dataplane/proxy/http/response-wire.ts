// The common backend response head, judged and forwarded as bytes.
//
// Why: parsing a response head into strings (the head as one latin1 string, a name
// and a value string per field, the framing fields compared as strings) and then
// building the forwarded head as a string and encoding it again was about a tenth
// of lodestone's CPU per keep-alive exchange with a small response. What the proxy
// does to most response heads is small: it checks the framing (Content-Length or
// chunked), notes Connection: close, and drops the hop-by-hop lines. That can be done
// on the received bytes in one pass, and the forwarded head copied from them.
//
// Which heads take this path: an HTTP/1.1 status line with a status of 200-999 and
// a reason phrase after its space; field lines that are all canonical (`Name: value`
// with one space, no trailing whitespace); at most one Content-Length (digits only),
// at most one Transfer-Encoding (exactly `chunked`), at most one Connection (exactly
// `keep-alive` or `close`), no Upgrade, no field named `close`. Anything else gets
// null and goes through parseResponseHead and forwardResponseHead, which stay the
// reference: test/unit/http/response-wire.test.ts runs every input through both and
// compares the framing and the forwarded bytes. The exact path also makes every
// refusal: this path never refuses, it only declines.
import { type BodyKind, parseResponseHead, type ResponseHead, statusLineFast } from "./message-head.ts";
import { CR, FAST_PATHS, LF, SP } from "./syntax.ts";
import {
  bytesAre,
  canonicalLine,
  copyBytes,
  copyKept,
  digitsValue,
  droppedLength,
  fieldLine,
} from "./wire.ts";

const CONNECTION_CLOSE = Buffer.from("Connection: close\r\n", "latin1");
const CONNECTION_KEEP_ALIVE = Buffer.from("Connection: keep-alive\r\n", "latin1");
const NO_LINE = Buffer.alloc(0);

/** The most hop-by-hop lines one head may drop on this path (a real head has one or two). */
const MAX_DROPPED_LINES = 8;

/**
 * A response head accepted by scanResponseWire. Framing and keep-alive are decided;
 * the string fields of ResponseHead (reason, headers, ...) are parsed from the bytes
 * by parseResponseHead only if something asks for them.
 */
export class WireResponse implements ResponseHead {
  readonly status: number;
  readonly minor = 1;
  readonly bodyKind: BodyKind;
  readonly contentLength: number;
  readonly keepAlive: boolean;
  /**
   * The head as received, through its final empty line: usually a view of the
   * backend connection's read buffer, which the next read overwrites. So it is only
   * kept until release(), called once the head has been forwarded.
   */
  #head: Buffer | null;
  readonly #requestMethod: string;
  /** [start, end) of each line forwarding drops, in order; null when none. */
  readonly #dropped: number[] | null;
  #parsed: ResponseHead | null = null;

  constructor(
    head: Buffer,
    requestMethod: string,
    status: number,
    bodyKind: BodyKind,
    contentLength: number,
    keepAlive: boolean,
    dropped: number[] | null,
  ) {
    this.#head = head;
    this.#requestMethod = requestMethod;
    this.status = status;
    this.bodyKind = bodyKind;
    this.contentLength = contentLength;
    this.keepAlive = keepAlive;
    this.#dropped = dropped;
  }

  #full(): ResponseHead {
    this.#parsed ??= parseResponseHead(this.#bytes(), this.#requestMethod);
    return this.#parsed;
  }

  #bytes(): Buffer {
    // Loud rather than parsing whatever a later read left in the buffer.
    if (this.#head === null) throw new Error("response head read after release()");
    return this.#head;
  }

  /**
   * Forget the received bytes (the caller is about to let the read buffer be reused).
   * The framing stays readable; the string fields must have been read before, if at all.
   */
  release(): void {
    this.#head = null;
  }

  get reason(): string {
    return this.#full().reason;
  }

  get headers(): string[] {
    return this.#full().headers;
  }

  get connection(): string[] {
    return this.#full().connection;
  }

  get text(): string | undefined {
    return this.#full().text;
  }

  get canonicalFields(): number | undefined {
    return this.#full().canonicalFields;
  }

  /** The length of what writeForwarded() writes for these arguments. */
  forwardedLength(clientMinor: number, keepAlive: boolean): number {
    const head = this.#bytes();
    return head.length - droppedLength(this.#dropped) + connectionLine(clientMinor, keepAlive).length;
  }

  /**
   * Write the head the client gets into `out` at `at` (forwardedLength bytes): what
   * forwardResponseHead(this, clientMinor, keepAlive) returns, without extras and
   * dechunking. Returns the offset after it.
   */
  writeForwarded(out: Uint8Array, at: number, clientMinor: number, keepAlive: boolean): number {
    const head = this.#bytes();
    // The received lines up to the final empty line, then ours, then the empty line.
    let to = copyKept(head, head.length - 2, this.#dropped, out, at);
    const line = connectionLine(clientMinor, keepAlive);
    to = copyBytes(line, 0, line.length, out, to);
    out[to] = CR;
    out[to + 1] = LF;
    return to + 2;
  }
}

/** The Connection line forwardResponseHead adds for a non-101 response. */
function connectionLine(clientMinor: number, keepAlive: boolean): Buffer {
  if (!keepAlive) return CONNECTION_CLOSE;
  return clientMinor === 0 ? CONNECTION_KEEP_ALIVE : NO_LINE;
}

/**
 * The head (through its final CR LF CR LF, as HeadScanner gives it) as a
 * WireResponse, or null when it is not one of the heads described at the top of
 * this file (or the fast paths are off): then parseResponseHead decides.
 */
export function scanResponseWire(head: Buffer, requestMethod: string): WireResponse | null {
  if (!FAST_PATHS.enabled) return null;
  // As in parseResponseHead: the lines before the final empty one.
  const n = head.length - 2;
  // "HTTP/1.1 " 3DIGIT SP reason: 1xx (interim, 101), HTTP/1.0 and a status line
  // without the reason's space are left to the exact path.
  const startEnd = statusLineFast(head, n);
  if (startEnd < 0 || head[7] !== 0x31 || head[9] < 0x32 || head[12] !== SP) return null;
  const status = (head[9] - 0x30) * 100 + (head[10] - 0x30) * 10 + head[11] - 0x30;
  let i = startEnd + 2;

  let contentLength = -1;
  let chunked = false;
  let sawConnection = false;
  let close = false;
  let dropped: number[] | null = null;
  while (i < n) {
    const lineStart = i;
    i = canonicalLine(head, i, n);
    if (i < 0) return null;
    const { nameEnd, valueStart, valueEnd } = fieldLine;
    const valueLen = valueEnd - valueStart;
    let drop = false;
    switch (nameEnd - lineStart) {
      case 2:
        drop = bytesAre(head, lineStart, "te");
        break;
      case 5:
        // Named by "Connection: close", so the exact path would drop it.
        if (bytesAre(head, lineStart, "close")) return null;
        break;
      case 7:
        if (bytesAre(head, lineStart, "upgrade")) return null;
        drop = bytesAre(head, lineStart, "trailer");
        break;
      case 10:
        if (bytesAre(head, lineStart, "connection")) {
          if (sawConnection) return null;
          sawConnection = true;
          if (valueLen === 5 && bytesAre(head, valueStart, "close")) close = true;
          else if (valueLen !== 10 || !bytesAre(head, valueStart, "keep-alive")) return null;
          drop = true;
        } else {
          drop = bytesAre(head, lineStart, "keep-alive");
        }
        break;
      case 14:
        if (bytesAre(head, lineStart, "content-length")) {
          if (contentLength >= 0) return null;
          contentLength = digitsValue(head, valueStart, valueEnd);
          if (contentLength < 0) return null;
        }
        break;
      case 16:
        drop = bytesAre(head, lineStart, "proxy-connection");
        break;
      case 17:
        if (bytesAre(head, lineStart, "transfer-encoding")) {
          if (chunked || valueLen !== 7 || !bytesAre(head, valueStart, "chunked")) return null;
          chunked = true;
        }
        break;
    }
    if (drop) {
      dropped ??= [];
      if (dropped.length === 2 * MAX_DROPPED_LINES) return null;
      dropped.push(lineStart, i);
    }
  }

  // Framing as parseResponseHead decides it (RFC 9112 §6.3).
  let bodyKind: BodyKind;
  let length = 0;
  if (status === 204 || status === 304 || requestMethod === "HEAD") {
    bodyKind = "none";
  } else if (chunked) {
    if (contentLength >= 0) return null; // refused by the exact path
    bodyKind = "chunked";
  } else if (contentLength >= 0) {
    length = contentLength;
    bodyKind = length > 0 ? "length" : "none";
  } else {
    bodyKind = "close";
  }
  const keepAlive = bodyKind !== "close" && !close;
  return new WireResponse(head, requestMethod, status, bodyKind, length, keepAlive, dropped);
}
