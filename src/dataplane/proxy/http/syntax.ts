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
