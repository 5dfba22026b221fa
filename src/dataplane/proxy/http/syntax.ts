// Byte classes of HTTP/1.1 (RFC 9110 §5.6.2, §5.5; RFC 9112 §2-§7) and the errors a
// message can be rejected with. Lookup tables, because the parsers test every byte of
// every head on the hot path.
import { LodestoneError } from "../../../errors.ts";

/** tchar: "!#$%&'*+-.^_`|~" / DIGIT / ALPHA */
export const TCHAR = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;
for (const ch of "!#$%&'*+-.^_`|~") TCHAR[ch.charCodeAt(0)] = 1;

/** field-vchar / SP / HTAB: VCHAR (0x21-0x7e), obs-text (0x80-0xff), SP, HTAB. No CTLs, no DEL. */
export const FIELD_VALUE = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) FIELD_VALUE[c] = 1;
for (let c = 0x80; c <= 0xff; c++) FIELD_VALUE[c] = 1;
FIELD_VALUE[0x20] = 1;
FIELD_VALUE[0x09] = 1;

/**
 * request-target bytes: visible ASCII only (RFC 3986 characters plus what real clients
 * send unescaped, such as `{`, `|`, `"`). Never whitespace, CTLs or bytes >= 0x80.
 */
export const TARGET = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) TARGET[c] = 1;

export const HEXDIG = new Int8Array(256).fill(-1);
for (let c = 0x30; c <= 0x39; c++) HEXDIG[c] = c - 0x30;
for (let c = 0x41; c <= 0x46; c++) HEXDIG[c] = c - 0x41 + 10;
for (let c = 0x61; c <= 0x66; c++) HEXDIG[c] = c - 0x61 + 10;

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;
export const COLON = 0x3a;

/** toLowerCase of each latin1 code unit (A-Z, and À-Þ except ×), as a table. */
const LOWER = new Uint8Array(256);
for (let c = 0; c < 256; c++) LOWER[c] = String.fromCharCode(c).toLowerCase().charCodeAt(0);

/**
 * `s.toLowerCase() === lower` for a latin1 `s` and a lowercase `lower`, without
 * allocating the lowercased copy (and hashing it for a Set or Map lookup), which
 * is what the head code would otherwise do for every field name it looks at.
 */
export function sameLower(s: string, lower: string): boolean {
  const n = s.length;
  if (n !== lower.length) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) return s.toLowerCase() === lower;
    if (LOWER[c] !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** sameLower(s, lower), trying the name's usual spelling first (one native string compare). */
export function sameName(s: string, usual: string, lower: string): boolean {
  return s === usual || sameLower(s, lower);
}

/**
 * The head code has fast paths that accept the common, valid case with less work
 * and hand everything else to the exact code, which decides the precise error.
 * Tests switch them off to run the same input through both and compare; nothing
 * else should.
 */
export const FAST_PATHS = { enabled: true };

export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || TCHAR[c] !== 1) return false;
  }
  return true;
}

/**
 * Why a message was refused. `status` is what the proxy answers the client with
 * (400, 408, 413, 414, 431, 501, 505 for requests; 502 for a backend's response).
 * Codes are stable: tests and metrics branch on them.
 */
export class HttpParseError extends LodestoneError {
  readonly status: number;
  constructor(code: string, status: number, message: string) {
    super(code, message);
    this.name = "HttpParseError";
    this.status = status;
  }
}
