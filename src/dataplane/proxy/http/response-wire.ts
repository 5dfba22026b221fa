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
// compares the framing and the forwarded bytes. Those rules also decide every
// refusal: this path never refuses, it only declines.
import { type BodyKind, parseResponseHead, type ResponseHead } from "./message-head.ts";
import { COLON, CR, FAST_PATHS, FIELD_VALUE, HTAB, LF, SP, TCHAR } from "./syntax.ts";

// Module-local aliases of the byte tables (see message-head.ts).
const TCHAR_ = TCHAR;
const FIELD_VALUE_ = FIELD_VALUE;

const CONNECTION_CLOSE = Buffer.from("Connection: close\r\n", "latin1");
const CONNECTION_KEEP_ALIVE = Buffer.from("Connection: keep-alive\r\n", "latin1");
const NO_LINE = Buffer.alloc(0);

/** The most hop-by-hop lines one head may drop on this path (a real head has one or two). */
const MAX_DROPPED_LINES = 8;
/** As in message-head.ts. */
const MAX_CONTENT_LENGTH_DIGITS = 15;

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

  /** The length of forwarded() for these arguments. */
  forwardedLength(clientMinor: number, keepAlive: boolean): number {
    let n = this.#bytes().length + connectionLine(clientMinor, keepAlive).length;
    const d = this.#dropped;
    if (d !== null) for (let k = 0; k < d.length; k += 2) n -= d[k + 1] - d[k];
    return n;
  }

  /**
   * Write the head the client gets into `out` at `at` (forwardedLength bytes): what
   * forwardResponseHead(this, clientMinor, keepAlive) returns, without extras and
   * dechunking. Returns the offset after it.
   */
  writeForwarded(out: Uint8Array, at: number, clientMinor: number, keepAlive: boolean): number {
    const head = this.#bytes();
    let from = 0;
    let to = at;
    const d = this.#dropped;
    if (d !== null) {
      for (let k = 0; k < d.length; k += 2) {
        to = copyBytes(head, from, d[k], out, to);
        from = d[k + 1];
      }
    }
    // The received lines up to the final empty line, then ours, then the empty line.
    to = copyBytes(head, from, head.length - 2, out, to);
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
 * src[from..to) into dst at `at`; returns the offset after it. Every way of copying
 * costs about 50 ns here (a view for set(), or Buffer.copy's call into C++) plus
 * the bytes; a loop costs about 1.3 ns a byte, so it only pays for short runs.
 */
export function copyBytes(src: Uint8Array, from: number, to: number, dst: Uint8Array, at: number): number {
  const n = to - from;
  if (n > 32) {
    dst.set(src.subarray(from, to), at);
    return at + n;
  }
  for (let k = 0; k < n; k++) dst[at + k] = src[from + k];
  return at + n;
}

/** `head[at..at+lower.length)` equals `lower` (ASCII letters and "-") regardless of case. */
function nameIs(head: Buffer, at: number, lower: string): boolean {
  for (let k = 0; k < lower.length; k++) {
    // Only letters differ by 0x20 between cases; a name's "-" is 0x2d either way, and
    // no other tchar ORed with 0x20 gives a lowercase letter or "-".
    if ((head[at + k] | 0x20) !== lower.charCodeAt(k)) return false;
  }
  return true;
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isOws = (c: number) => c === SP || c === HTAB;

/**
 * The head (through its final CR LF CR LF, as HeadScanner gives it) as a
 * WireResponse, or null when it is not one of the heads described at the top of
 * this file (or the fast paths are off): then parseResponseHead decides.
 */
export function scanResponseWire(head: Buffer, requestMethod: string): WireResponse | null {
  if (!FAST_PATHS.enabled) return null;
  // As in parseResponseHead: the lines before the final empty one.
  const n = head.length - 2;
  // "HTTP/1.1 " 3DIGIT SP: 1xx (interim, 101) are left to the exact path.
  if (
    n < 15 ||
    head[0] !== 0x48 ||
    head[1] !== 0x54 ||
    head[2] !== 0x54 ||
    head[3] !== 0x50 ||
    head[4] !== 0x2f ||
    head[5] !== 0x31 ||
    head[6] !== 0x2e ||
    head[7] !== 0x31 ||
    head[8] !== SP
  ) {
    return null;
  }
  const d0 = head[9];
  if (d0 < 0x32 || d0 > 0x39 || !isDigit(head[10]) || !isDigit(head[11]) || head[12] !== SP) return null;
  const status = (d0 - 0x30) * 100 + (head[10] - 0x30) * 10 + head[11] - 0x30;
  const tchar = TCHAR_;
  const fieldValue = FIELD_VALUE_;
  let i = 13;
  while (fieldValue[head[i]] === 1) i++;
  if (i + 2 > n || head[i] !== CR || head[i + 1] !== LF) return null;
  i += 2;

  let contentLength = -1;
  let chunked = false;
  let sawConnection = false;
  let close = false;
  let dropped: number[] | null = null;
  while (i < n) {
    const lineStart = i;
    while (tchar[head[i]] === 1) i++;
    const nameLen = i - lineStart;
    if (nameLen === 0 || head[i] !== COLON || head[i + 1] !== SP) return null;
    const valueStart = i + 2;
    i = valueStart;
    while (fieldValue[head[i]] === 1) i++;
    const valueEnd = i;
    if (valueEnd > valueStart && (isOws(head[valueStart]) || isOws(head[valueEnd - 1]))) return null;
    if (i + 1 >= n || head[i] !== CR || head[i + 1] !== LF) return null;
    i += 2;
    let drop = false;
    switch (nameLen) {
      case 2:
        drop = nameIs(head, lineStart, "te");
        break;
      case 5:
        // Named by "Connection: close", so the exact path would drop it.
        if (nameIs(head, lineStart, "close")) return null;
        break;
      case 7:
        if (nameIs(head, lineStart, "upgrade")) return null;
        drop = nameIs(head, lineStart, "trailer");
        break;
      case 10:
        if (nameIs(head, lineStart, "connection")) {
          if (sawConnection) return null;
          sawConnection = true;
          const len = valueEnd - valueStart;
          if (len === 5 && nameIs(head, valueStart, "close")) close = true;
          else if (len !== 10 || !nameIs(head, valueStart, "keep-alive")) return null;
          drop = true;
        } else {
          drop = nameIs(head, lineStart, "keep-alive");
        }
        break;
      case 14:
        if (nameIs(head, lineStart, "content-length")) {
          const len = valueEnd - valueStart;
          if (contentLength >= 0 || len === 0 || len > MAX_CONTENT_LENGTH_DIGITS) return null;
          let v = 0;
          for (let k = valueStart; k < valueEnd; k++) {
            const c = head[k];
            if (!isDigit(c)) return null;
            v = v * 10 + c - 0x30;
          }
          contentLength = v;
        }
        break;
      case 16:
        drop = nameIs(head, lineStart, "proxy-connection");
        break;
      case 17:
        if (nameIs(head, lineStart, "transfer-encoding")) {
          if (chunked || valueEnd - valueStart !== 7 || !nameIs(head, valueStart, "chunked")) return null;
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
