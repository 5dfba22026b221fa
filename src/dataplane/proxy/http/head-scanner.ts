// Finds the end of a message head (the CRLF CRLF after the header section) across
// any number of chunks, enforcing size limits as bytes arrive, so an attacker cannot
// make us buffer more than the limits by never finishing a head (or by dribbling
// it: the caller's head timeout handles that).
//
// Line endings are strict: every LF must follow a CR and every CR must precede an LF.
// Lenient parsers that accept a bare LF (or ignore a bare CR) as a line end
// disagree with strict ones about where headers end, which is a classic request
// smuggling vector; refusing both is the safe choice for a proxy (RFC 9112 §2.2).
import { CR, FAST_PATHS, HttpParseError, LF } from "./syntax.ts";

export interface HeadLimits {
  /** Longest start line (request line / status line) in bytes, CRLF excluded. */
  maxStartLine: number;
  /** Longest header section in bytes (all field lines with their CRLFs). */
  maxHeaderBytes: number;
  /** Most field lines in one head. */
  maxHeaders: number;
}

export const DEFAULT_HEAD_LIMITS: HeadLimits = {
  maxStartLine: 8192,
  maxHeaderBytes: 65536,
  maxHeaders: 100,
};

/** Statuses the scanner's errors carry: 400/414/431 for requests, 502 for responses. */
export interface ScanErrors {
  malformedStatus: number;
  startLineStatus: number;
  headerStatus: number;
}

const MAX_LEADING_EMPTY_LINES = 8;

export class HeadScanner {
  private readonly limits: HeadLimits;
  private readonly errors: ScanErrors;
  private readonly skipLeadingCrlf: boolean;
  /** The head's bytes so far: `first`, then `more` when it spans several chunks. */
  private first: Buffer | null = null;
  private more: Buffer[] | null = null;
  private total = 0;
  /** Bytes of the current line so far (CR LF excluded). */
  private lineLen = 0;
  private lineIndex = 0;
  private headerBytes = 0;
  private prevCR = false;
  private leadingEmpty = 0;
  private inStartLine = true;

  constructor(limits: HeadLimits, errors: ScanErrors, skipLeadingCrlf: boolean) {
    this.limits = limits;
    this.errors = errors;
    this.skipLeadingCrlf = skipLeadingCrlf;
  }

  /** True when no byte of a head has been seen (leading empty lines don't count). */
  get empty(): boolean {
    return this.total === 0 && this.lineLen === 0 && !this.prevCR;
  }

  reset(): void {
    this.first = null;
    this.more = null;
    this.total = 0;
    this.lineLen = 0;
    this.lineIndex = 0;
    this.headerBytes = 0;
    this.prevCR = false;
    this.leadingEmpty = 0;
    this.inStartLine = true;
  }

  /**
   * Scan chunk[start..]. Returns the offset in `chunk` just past the head's final
   * CRLF when the head is complete (take it with `take()`), or -1 when more bytes
   * are needed. Throws HttpParseError on a bare CR/LF or an exceeded limit.
   */
  feed(chunk: Buffer, start: number): number {
    if (FAST_PATHS.enabled && this.total === 0 && this.lineLen === 0 && !this.prevCR && this.inStartLine) {
      // A head that starts here and ends in this chunk, the usual case: found in one
      // tight pass. Anything else (split, leading CRLF, any error) is scanned below.
      const end = wholeHead(chunk, start, this.limits);
      if (end > 0) {
        this.first = start === 0 && end === chunk.length ? chunk : chunk.subarray(start, end);
        this.total = end - start;
        return end;
      }
    }
    const { maxStartLine, maxHeaderBytes, maxHeaders } = this.limits;
    let from = start;
    let i = start;
    const n = chunk.length;
    for (; i < n; i++) {
      const c = chunk[i];
      if (this.prevCR) {
        if (c !== LF)
          throw new HttpParseError("bare-cr", this.errors.malformedStatus, "bare CR in message head");
        this.prevCR = false;
        if (this.inStartLine && this.lineLen === 0) {
          // An empty line before the start line (RFC 9112 §2.2 allows skipping a few).
          if (!this.skipLeadingCrlf || ++this.leadingEmpty > MAX_LEADING_EMPTY_LINES) {
            throw new HttpParseError(
              "empty-start-line",
              this.errors.malformedStatus,
              "empty line where the start line belongs",
            );
          }
          from = i + 1;
          this.first = null;
          this.more = null;
          this.total = 0;
          continue;
        }
        if (this.lineLen === 0 && !this.inStartLine) {
          // Empty line: end of the head.
          this.append(chunk, from, i + 1);
          return i + 1;
        }
        if (this.inStartLine) {
          this.inStartLine = false;
        } else {
          this.headerBytes += this.lineLen + 2;
          if (this.lineIndex > maxHeaders) {
            throw new HttpParseError("too-many-headers", this.errors.headerStatus, "too many header fields");
          }
        }
        this.lineIndex++;
        this.lineLen = 0;
        continue;
      }
      if (c === CR) {
        this.prevCR = true;
        continue;
      }
      if (c === LF)
        throw new HttpParseError("bare-lf", this.errors.malformedStatus, "bare LF in message head");
      // The rest of the line's ordinary bytes in one tight loop, the limits checked
      // once after it (nothing else can fail inside a run without CR or LF).
      let j = i + 1;
      while (j < n) {
        const d = chunk[j];
        if (d === CR || d === LF) break;
        j++;
      }
      this.lineLen += j - i;
      i = j - 1;
      if (this.inStartLine) {
        if (this.lineLen > maxStartLine) {
          throw new HttpParseError("start-line-too-long", this.errors.startLineStatus, "start line too long");
        }
      } else if (this.headerBytes + this.lineLen > maxHeaderBytes) {
        throw new HttpParseError("headers-too-large", this.errors.headerStatus, "header section too large");
      }
    }
    this.append(chunk, from, n);
    return -1;
  }

  /** The complete head (start line through the final CRLF CRLF); resets the scanner. */
  take(): Buffer {
    const first = this.first ?? Buffer.alloc(0);
    const head = this.more === null ? first : Buffer.concat([first, ...this.more], this.total);
    this.reset();
    return head;
  }

  private append(chunk: Buffer, from: number, to: number): void {
    if (to <= from) return;
    // No copy: net sockets hand out a fresh buffer per read, and heads are parsed at once.
    const part = from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to);
    if (this.first === null) this.first = part;
    else if (this.more === null) this.more = [part];
    else this.more.push(part);
    this.total += part.length;
  }
}

/**
 * The fast path of HeadScanner.feed for a scanner that has seen nothing yet: the
 * offset just past the head when a whole head starts at `start` with a non-empty
 * start line, every line ending in CR LF, no bare CR or LF, and every limit kept;
 * else -1, and feed's byte-by-byte scan decides (incomplete head, leading empty
 * lines, or the precise error). Whenever this finds an end, that scan finds the same one.
 */
function wholeHead(chunk: Buffer, start: number, limits: HeadLimits): number {
  const n = chunk.length;
  let i = start;
  let c = 0;
  while (i < n) {
    c = chunk[i];
    if (c <= CR && (c === CR || c === LF)) break;
    i++;
  }
  if (i === start || i - start > limits.maxStartLine || i + 1 >= n || c !== CR || chunk[i + 1] !== LF)
    return -1;
  i += 2;
  const fieldsStart = i;
  const { maxHeaderBytes, maxHeaders } = limits;
  for (let lines = 0; ; lines++) {
    const lineStart = i;
    while (i < n) {
      c = chunk[i];
      if (c <= CR && (c === CR || c === LF)) break;
      i++;
    }
    if (i + 1 >= n || c !== CR || chunk[i + 1] !== LF) return -1;
    if (i === lineStart) return i + 2; // the empty line: end of the head
    // As feed counts: field lines so far, and header bytes up to this line's CR.
    if (lines + 1 > maxHeaders || i - fieldsStart > maxHeaderBytes) return -1;
    i += 2;
  }
}
