// Byte-level pieces of the heads judged and forwarded from their received bytes
// instead of being parsed into strings (response-wire.ts). The request side was tried
// the same way and left out: wrk's one-field request and a browser-like nine-field one
// both came out within the noise (0.98x-1.03x the CPU per request in paired runs),
// since parseRequestHead's strings are cheap slices of one decode.
import { MAX_CONTENT_LENGTH_DIGITS } from "./message-head.ts";
import { COLON, CR, FIELD_VALUE, HTAB, LF, SP, TCHAR } from "./syntax.ts";

// Module-local aliases of the byte tables (see message-head.ts).
const TCHAR_ = TCHAR;
const FIELD_VALUE_ = FIELD_VALUE;

/** Where the last canonicalLine() found the parts of its line (a scratch, not an allocation per line). */
export const fieldLine = { nameEnd: 0, valueStart: 0, valueEnd: 0 };

const isOws = (c: number) => c === SP || c === HTAB;

/**
 * The field line starting at `i` when it is canonical: a name of tchars, ":", one SP,
 * a value of field bytes that neither starts nor ends with whitespace (or is empty),
 * CR LF, all before `n`. Returns where the next line starts (its parts are in
 * `fieldLine`), or -1: then the exact parser must judge the head. Whatever this
 * accepts, message-head.ts's fieldsFast accepts as canonical with the same name and value.
 */
export function canonicalLine(head: Buffer, i: number, n: number): number {
  const tchar = TCHAR_;
  const fieldValue = FIELD_VALUE_;
  const lineStart = i;
  while (tchar[head[i]] === 1) i++;
  if (i === lineStart || head[i] !== COLON || head[i + 1] !== SP) return -1;
  const nameEnd = i;
  const valueStart = i + 2;
  i = valueStart;
  while (fieldValue[head[i]] === 1) i++;
  if (i > valueStart && (isOws(head[valueStart]) || isOws(head[i - 1]))) return -1;
  if (i + 1 >= n || head[i] !== CR || head[i + 1] !== LF) return -1;
  fieldLine.nameEnd = nameEnd;
  fieldLine.valueStart = valueStart;
  fieldLine.valueEnd = i;
  return i + 2;
}

/**
 * `head[at..at+lower.length)` equals `lower` (ASCII letters and "-") regardless of
 * case. For bytes already checked to be tchars or field bytes (canonicalLine does):
 * only letters differ by 0x20 between cases, "-" is 0x2d either way, and no other
 * such byte ORed with 0x20 gives a lowercase letter or "-" (CR would: it is excluded).
 */
export function bytesAre(head: Buffer, at: number, lower: string): boolean {
  for (let k = 0; k < lower.length; k++) {
    if ((head[at + k] | 0x20) !== lower.charCodeAt(k)) return false;
  }
  return true;
}

/** The value of head[start..end) as a plain Content-Length (1-15 digits), else -1. */
export function digitsValue(head: Buffer, start: number, end: number): number {
  if (end <= start || end - start > MAX_CONTENT_LENGTH_DIGITS) return -1;
  let v = 0;
  for (let k = start; k < end; k++) {
    const d = head[k] - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
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

/**
 * Copy head[0..end) minus the [start, end) ranges in `dropped` (in order) into `out`
 * at `at`; returns the offset after it.
 */
export function copyKept(
  head: Buffer,
  end: number,
  dropped: number[] | null,
  out: Uint8Array,
  at: number,
): number {
  let from = 0;
  let to = at;
  if (dropped !== null) {
    for (let k = 0; k < dropped.length; k += 2) {
      to = copyBytes(head, from, dropped[k], out, to);
      from = dropped[k + 1];
    }
  }
  return copyBytes(head, from, end, out, to);
}

/** Bytes of the [start, end) ranges in `dropped`. */
export function droppedLength(dropped: number[] | null): number {
  let n = 0;
  if (dropped !== null) for (let k = 0; k < dropped.length; k += 2) n += dropped[k + 1] - dropped[k];
  return n;
}
