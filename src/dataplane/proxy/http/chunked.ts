// A streaming validator for chunked transfer coding (RFC 9112 §7.1). The proxy
// forwards chunked bodies byte for byte, so this does not copy data out: it walks
// the bytes, checks the framing, and reports where the message ends so that the
// next pipelined message starts at the right byte, exactly as the backend will see it.
//
// Strict: hex sizes without leading or trailing whitespace, extensions only in
// their RFC grammar, CRLF (never bare LF) after sizes, data and trailers, trailers
// validated as header fields. Anything else is an HttpParseError.
import { CR, HEXDIG, HttpParseError, LF } from "./syntax.ts";

// Decoder states.
const S = {
  SIZE: 0,
  EXT: 1,
  SIZE_LF: 2,
  DATA: 3,
  DATA_CR: 4,
  DATA_LF: 5,
  TRAILER: 6,
  TRAILER_LF: 7,
  DONE: 8,
} as const;

// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ), value token or quoted-string.
const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const QUOTED = '"(?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]|\\\\[\\t \\x21-\\x7e\\x80-\\xff])*"';
const EXT_RE = new RegExp(`^(?:[ \\t]*;[ \\t]*${TOKEN}(?:[ \\t]*=[ \\t]*(?:${TOKEN}|${QUOTED}))?)*$`);
const TRAILER_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t \x21-\x7e\x80-\xff]*$/;

export interface ChunkedLimits {
  /** Longest chunk-size line including extensions, bytes. */
  maxSizeLine: number;
  /** Largest trailer section, bytes. */
  maxTrailerBytes: number;
}

export const DEFAULT_CHUNKED_LIMITS: ChunkedLimits = { maxSizeLine: 4096, maxTrailerBytes: 16384 };

// Chunk sizes beyond this cannot be represented exactly; no real body is that large.
const MAX_CHUNK = 2 ** 48;

export class ChunkedDecoder {
  private readonly limits: ChunkedLimits;
  private readonly status: number;
  private state: number = S.SIZE;
  private size = 0;
  private digits = 0;
  private lineLen = 0;
  private ext = "";
  private trailer = "";
  private trailerBytes = 0;
  /** Body payload bytes seen (chunk data only). */
  dataBytes = 0;
  /** When set, receives each run of payload bytes (to de-chunk, e.g. for HTTP/2 clients). */
  onData: ((buf: Buffer, start: number, end: number) => void) | null = null;
  /** When set, receives each (validated) trailer field line, e.g. "grpc-status: 0". */
  onTrailer: ((line: string) => void) | null = null;

  /** `status` is the HTTP status failures carry (400 for requests, 502 for responses). */
  constructor(limits: ChunkedLimits = DEFAULT_CHUNKED_LIMITS, status = 400) {
    this.limits = limits;
    this.status = status;
  }

  get done(): boolean {
    return this.state === S.DONE;
  }

  private fail(code: string, message: string): never {
    throw new HttpParseError(code, this.status, message);
  }

  /**
   * Walk buf[start..end). Returns the offset just past the end of the chunked
   * message when it ends inside this range, or -1 when all of it was body.
   */
  feed(buf: Buffer, start = 0, end = buf.length): number {
    let i = start;
    while (i < end) {
      switch (this.state) {
        case S.DATA: {
          const take = Math.min(this.size, end - i);
          this.size -= take;
          this.dataBytes += take;
          if (this.onData !== null && take > 0) this.onData(buf, i, i + take);
          i += take;
          if (this.size === 0) this.state = S.DATA_CR;
          break;
        }
        case S.SIZE: {
          const c = buf[i++];
          const d = HEXDIG[c];
          if (d >= 0) {
            this.size = this.size * 16 + d;
            this.digits++;
            if (this.size > MAX_CHUNK) this.fail("chunk-size-too-large", "chunk size too large");
            if (++this.lineLen > this.limits.maxSizeLine)
              this.fail("chunk-line-too-long", "chunk size line too long");
          } else if (this.digits === 0) {
            this.fail("bad-chunk-size", "invalid chunk size");
          } else if (c === CR) {
            this.state = S.SIZE_LF;
          } else if (c === 0x3b || c === 0x20 || c === 0x09) {
            // ";" starts an extension; BWS may precede it.
            this.ext = String.fromCharCode(c);
            this.state = S.EXT;
            if (++this.lineLen > this.limits.maxSizeLine)
              this.fail("chunk-line-too-long", "chunk size line too long");
          } else {
            this.fail("bad-chunk-size", "invalid character after chunk size");
          }
          break;
        }
        case S.EXT: {
          const c = buf[i++];
          if (c === CR) {
            if (!EXT_RE.test(this.ext)) this.fail("bad-chunk-extension", "malformed chunk extension");
            this.ext = "";
            this.state = S.SIZE_LF;
          } else if (c === LF) {
            this.fail("bare-lf", "bare LF in chunk size line");
          } else {
            this.ext += String.fromCharCode(c);
            if (++this.lineLen > this.limits.maxSizeLine)
              this.fail("chunk-line-too-long", "chunk size line too long");
          }
          break;
        }
        case S.SIZE_LF: {
          if (buf[i++] !== LF) this.fail("bare-cr", "chunk size line not ended by CRLF");
          this.lineLen = 0;
          this.digits = 0;
          if (this.size === 0) {
            this.state = S.TRAILER;
          } else {
            this.state = S.DATA;
          }
          break;
        }
        case S.DATA_CR: {
          if (buf[i++] !== CR) this.fail("missing-chunk-crlf", "chunk data not followed by CRLF");
          this.state = S.DATA_LF;
          break;
        }
        case S.DATA_LF: {
          if (buf[i++] !== LF) this.fail("missing-chunk-crlf", "chunk data not followed by CRLF");
          this.state = S.SIZE;
          break;
        }
        case S.TRAILER: {
          const c = buf[i++];
          if (c === CR) {
            this.state = S.TRAILER_LF;
          } else if (c === LF) {
            this.fail("bare-lf", "bare LF in trailer section");
          } else {
            if (this.trailer.length === 0 && (c === 0x20 || c === 0x09)) {
              this.fail("obs-fold", "line folding in trailer section");
            }
            this.trailer += String.fromCharCode(c);
            if (++this.trailerBytes > this.limits.maxTrailerBytes) {
              this.fail("trailers-too-large", "trailer section too large");
            }
          }
          break;
        }
        case S.TRAILER_LF: {
          if (buf[i++] !== LF) this.fail("bare-cr", "bare CR in trailer section");
          if (this.trailer.length === 0) {
            this.state = S.DONE;
            return i;
          }
          if (!TRAILER_RE.test(this.trailer)) this.fail("bad-trailer", "malformed trailer field");
          this.onTrailer?.(this.trailer);
          this.trailer = "";
          this.trailerBytes += 2;
          this.state = S.TRAILER;
          break;
        }
        default:
          // DONE: bytes after the message belong to the next one; the caller slices them.
          return i;
      }
    }
    return this.state === S.DONE ? i : -1;
  }
}
