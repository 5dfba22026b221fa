// Parses a complete message head (as found by HeadScanner) into a request or
// response struct and decides the body framing strictly per RFC 9112 §6.
//
// Everything a front proxy and a backend could disagree about is refused instead
// of "repaired": Content-Length together with Transfer-Encoding, differing
// Content-Lengths, a Transfer-Encoding not ending in chunked, obs-fold, whitespace
// before the colon, invalid names/values, missing or duplicate Host on HTTP/1.1.
import {
  COLON,
  CR,
  FAST_PATHS,
  FIELD_VALUE,
  HTAB,
  HttpParseError,
  isToken,
  LF,
  SP,
  sameLower,
  sameName,
  TARGET,
  TCHAR,
} from "./syntax.ts";

/** How a message body is delimited. */
export type BodyKind = "none" | "length" | "chunked" | "close";

export interface RequestHead {
  method: string;
  /** As received (origin-form, absolute-form or "*"). */
  target: string;
  /** Path and query the backend sees (origin-form; "*" for OPTIONS *). */
  path: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: number;
  /** Flat list: name, value, name, value... names as received. */
  headers: string[];
  /** Host (authority) the client asked for, lowercased; "" when an HTTP/1.0 client sent none. */
  host: string;
  bodyKind: "none" | "length" | "chunked";
  contentLength: number;
  /** Whether the client wants the connection kept open after this exchange. */
  keepAlive: boolean;
  /** Lowercased tokens of the Connection header (names of hop-by-hop fields, "close"...). */
  connection: string[];
  expectContinue: boolean;
  /** Lowercased Upgrade header when Connection names "upgrade", else "". */
  upgrade: string;
  /** The head as received, final empty line excluded (see canonicalFields). */
  text?: string;
  /**
   * Offset in `text` of the first field line when every field line reads exactly
   * `${name}: ${value}\r\n` (so forward-head can copy unchanged lines as slices of
   * `text` instead of rebuilding them), else -1. `headers` must not be changed
   * after parsing while this is set.
   */
  canonicalFields?: number;
}

export interface ResponseHead {
  status: number;
  reason: string;
  minor: number;
  headers: string[];
  bodyKind: BodyKind;
  contentLength: number;
  /** False when the backend said Connection: close, or spoke HTTP/1.0 without keep-alive. */
  keepAlive: boolean;
  connection: string[];
  /** As in RequestHead. */
  text?: string;
  /** As in RequestHead. */
  canonicalFields?: number;
}

/** Transfer codings that may precede the final chunked (everything else is 501). */
const KNOWN_CODINGS = new Set(["gzip", "x-gzip", "deflate", "compress", "x-compress"]);

export const MAX_CONTENT_LENGTH_DIGITS = 15;

/**
 * The head as one string without the final empty line: every line, the start line
 * included, ends in CRLF (the scanner guarantees it). Fields are cut from this one
 * string by index rather than split into a line array first (a string per line).
 */
function headText(head: Buffer): string {
  return head.toString("latin1", 0, head.length - 2);
}

/**
 * Parse the field lines of `text` from `from` into a flat [name, value, ...] list;
 * status is the HTTP status for failures. Returns `from` when every line is
 * canonical (see RequestHead.canonicalFields), else -1.
 */
function parseFields(head: Buffer, text: string, from: number, status: number, out: string[]): number {
  if (FAST_PATHS.enabled) {
    const verdict = fieldsFast(head, text, from, out);
    if (verdict === FIELDS_CANONICAL) return from;
    if (verdict === FIELDS_VALID) return -1;
    out.length = 0;
  }
  parseFieldsExact(text, from, status, out);
  return -1;
}

// Module-local aliases of the byte tables: loads of an imported binding are not
// folded into the loops that use them.
const TCHAR_ = TCHAR;
const FIELD_VALUE_ = FIELD_VALUE;
const TARGET_ = TARGET;

const FIELDS_CANONICAL = 2;
const FIELDS_VALID = 1;
const FIELDS_ASK_EXACT = 0;

/**
 * The common case of parseFields in one pass per line and no search: a name of
 * tchars up to the colon, OWS, then field bytes up to CR LF. Anything else (obs-fold,
 * a bad byte, a missing colon, a CR without LF) is not judged here: the answer is
 * FIELDS_ASK_EXACT and parseFieldsExact, which accepts exactly the same lines,
 * finds the error. Whenever this accepts, parseFieldsExact would produce the same
 * list (a tchar name holds no ":" or CR, so the colon and the CR LF found here are
 * the first ones, which is what parseFieldsExact searches for).
 */
function fieldsFast(head: Buffer, text: string, from: number, out: string[]): number {
  // Bytes are read from the Buffer (a typed-array load) rather than the string
  // (charCodeAt dispatches on the string's representation): latin1 makes offsets equal.
  const n = text.length;
  const tchar = TCHAR_;
  const fieldValue = FIELD_VALUE_;
  let canonical = true;
  let pos = from;
  while (pos < n) {
    let i = pos;
    while (tchar[head[i]] === 1) i++;
    if (head[i] !== COLON || i === pos) return FIELDS_ASK_EXACT;
    const colon = i++;
    let c = head[i];
    while (c === SP || c === HTAB) c = head[++i];
    const start = i;
    while (fieldValue[head[i]] === 1) i++;
    // Both CR and LF within `text` (past it are the head's last two bytes, which
    // parseFieldsExact does not read either).
    if (i + 1 >= n || head[i] !== CR || head[i + 1] !== LF) return FIELDS_ASK_EXACT;
    let end = i; // trailing OWS is not part of the value
    while (end > start && (head[end - 1] === SP || head[end - 1] === HTAB)) end--;
    if (canonical && (start !== colon + 2 || head[colon + 1] !== SP || end !== i)) canonical = false;
    out.push(text.slice(pos, colon));
    out.push(text.slice(start, end));
    pos = i + 2;
  }
  return canonical ? FIELDS_CANONICAL : FIELDS_VALID;
}

/** The exact field-section parser: the reference for fieldsFast, and the one that names the error. */
function parseFieldsExact(text: string, from: number, status: number, out: string[]): void {
  const n = text.length;
  let pos = from;
  while (pos < n) {
    const eol = text.indexOf("\r\n", pos);
    const first = text.charCodeAt(pos);
    if (first === SP || first === HTAB) {
      throw new HttpParseError("obs-fold", status, "obsolete line folding in header section");
    }
    const colon = text.indexOf(":", pos);
    if (colon <= pos || colon > eol) {
      throw new HttpParseError("bad-header-name", status, "header line without a field name and colon");
    }
    for (let i = pos; i < colon; i++) {
      const c = text.charCodeAt(i);
      if (TCHAR[c] !== 1) {
        if ((c === SP || c === HTAB) && i === colon - 1) {
          throw new HttpParseError("space-before-colon", status, "whitespace between field name and colon");
        }
        throw new HttpParseError("bad-header-name", status, "invalid character in header field name");
      }
    }
    let start = colon + 1;
    let end = eol;
    while (start < end && (text.charCodeAt(start) === SP || text.charCodeAt(start) === HTAB)) start++;
    while (end > start && (text.charCodeAt(end - 1) === SP || text.charCodeAt(end - 1) === HTAB)) end--;
    for (let i = start; i < end; i++) {
      if (FIELD_VALUE[text.charCodeAt(i)] !== 1) {
        throw new HttpParseError("bad-header-value", status, "invalid character in header field value");
      }
    }
    out.push(text.slice(pos, colon), text.slice(start, end));
    pos = eol + 2;
  }
}

/** Split a list-valued field (RFC 9110 §5.6.1) into lowercased elements, dropping empty ones. */
export function listTokens(value: string, into: string[]): void {
  if (plainLowerToken(value)) {
    // The usual "keep-alive" or "close": the one element is the value itself.
    into.push(value);
    return;
  }
  let start = 0;
  for (let i = 0; i <= value.length; i++) {
    if (i === value.length || value.charCodeAt(i) === 0x2c) {
      const el = value.slice(start, i).trim();
      if (el.length > 0) into.push(el.toLowerCase());
      start = i + 1;
    }
  }
}

/**
 * True when `value` is non-empty and made only of visible ASCII other than "," and
 * A-Z: then trimming and lowercasing it (listTokens' general path) gives it back unchanged.
 */
function plainLowerToken(value: string): boolean {
  const n = value.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x2c || (c >= 0x41 && c <= 0x5a)) return false;
  }
  return true;
}

/** The value of a string of 1 to MAX_CONTENT_LENGTH_DIGITS ASCII digits, else -1. */
function plainDigits(value: string): number {
  const len = value.length;
  if (len === 0 || len > MAX_CONTENT_LENGTH_DIGITS) return -1;
  let n = 0;
  for (let i = 0; i < len; i++) {
    const d = value.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** What one pass over the fields finds: framing, connection options, and the fields requests look up. */
interface Framing {
  contentLength: number;
  hasLength: boolean;
  codings: string[];
  hasTransferEncoding: boolean;
  connection: string[];
  /** Host fields seen, and the first one's value. */
  hosts: number;
  host: string | undefined;
  /** First Expect and Upgrade values. */
  expect: string | undefined;
  upgrade: string | undefined;
}

/** Framing.codings until a Transfer-Encoding is seen (never pushed to). */
const NO_CODINGS: string[] = [];

function collectFraming(headers: string[], status: number): Framing {
  const f: Framing = {
    contentLength: -1,
    hasLength: false,
    codings: NO_CODINGS,
    hasTransferEncoding: false,
    connection: [],
    hosts: 0,
    host: undefined,
    expect: undefined,
    upgrade: undefined,
  };
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    // Dispatch on length first: only six names matter here, and comparing without
    // lowercasing spares a string per field.
    switch (name.length) {
      case 4:
        if (sameName(name, "Host", "host")) {
          if (f.hosts++ === 0) f.host = headers[i + 1];
        }
        break;
      case 6:
        if (f.expect === undefined && sameName(name, "Expect", "expect")) f.expect = headers[i + 1];
        break;
      case 7:
        if (f.upgrade === undefined && sameName(name, "Upgrade", "upgrade")) f.upgrade = headers[i + 1];
        break;
      case 10:
        if (sameName(name, "Connection", "connection")) listTokens(headers[i + 1], f.connection);
        break;
      case 14:
        if (sameName(name, "Content-Length", "content-length")) contentLength(f, headers[i + 1], status);
        break;
      case 17:
        if (sameName(name, "Transfer-Encoding", "transfer-encoding")) {
          if (!f.hasTransferEncoding) f.codings = [];
          f.hasTransferEncoding = true;
          // Strict list: an empty element ("chunked,") is refused, since parsers differ on it.
          for (const raw of headers[i + 1].split(",")) {
            const v = raw.trim().toLowerCase();
            if (!isToken(v)) {
              throw new HttpParseError("bad-transfer-encoding", status, "malformed Transfer-Encoding");
            }
            f.codings.push(v);
          }
        }
        break;
    }
  }
  return f;
}

function contentLength(f: Framing, value: string, status: number): void {
  const plain = plainDigits(value);
  if (plain >= 0) {
    // The usual single number, without the list handling below.
    if (f.hasLength && plain !== f.contentLength) {
      throw new HttpParseError("conflicting-content-length", status, "differing Content-Length values");
    }
    f.hasLength = true;
    f.contentLength = plain;
    return;
  }
  // A list of identical values is allowed (RFC 9110 §8.6); anything else is fatal.
  const parts = value.split(",");
  for (const raw of parts) {
    const v = raw.trim();
    if (v.length === 0 || v.length > MAX_CONTENT_LENGTH_DIGITS || !/^[0-9]+$/.test(v)) {
      throw new HttpParseError("bad-content-length", status, "malformed Content-Length");
    }
    const n = Number(v);
    if (f.hasLength && n !== f.contentLength) {
      throw new HttpParseError("conflicting-content-length", status, "differing Content-Length values");
    }
    f.hasLength = true;
    f.contentLength = n;
  }
}

/** Validate codings: the last must be chunked, chunked only once, others known. */
function checkCodings(codings: string[], status: number): void {
  const last = codings.length - 1;
  for (let i = 0; i < last; i++) {
    if (codings[i] === "chunked") {
      throw new HttpParseError("chunked-not-final", status, "chunked applied more than once or not last");
    }
    if (!KNOWN_CODINGS.has(codings[i])) {
      throw new HttpParseError(
        "unknown-transfer-coding",
        status === 400 ? 501 : status,
        "unknown transfer coding",
      );
    }
  }
  if (codings[last] !== "chunked") {
    throw new HttpParseError("chunked-not-final", status, "Transfer-Encoding does not end in chunked");
  }
}

// reg-name / IPv4 / IP-literal, optional port. Percent-encoding allowed in reg-name.
const HOST_RE = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?$/;

const HOST_INVALID = 0;
const HOST_LOWERCASE = 1;
const HOST_MIXED_CASE = 2;

/** HOST_RE's reg-name bytes. */
const REG_NAME = new Uint8Array(256);
for (const ch of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=%") {
  REG_NAME[ch.charCodeAt(0)] = 1;
}

/**
 * HOST_RE.test(v) without the regex call for everything but IP literals: reg-name
 * bytes, then optionally ":" and digits. (Only the bracketed branch of HOST_RE can
 * match a value starting with "[", and reg-name holds no ":", so this is the same test.)
 * A valid Host of ASCII without A-Z is its own lowercase: HOST_LOWERCASE spares the copy.
 */
function validHost(v: string): number {
  if (!FAST_PATHS.enabled || v.charCodeAt(0) === 0x5b)
    return HOST_RE.test(v) ? HOST_MIXED_CASE : HOST_INVALID;
  const n = v.length;
  let upper = false;
  let i = 0;
  for (; i < n; i++) {
    const c = v.charCodeAt(i);
    if (REG_NAME[c] !== 1) break;
    if (c <= 0x5a && c >= 0x41) upper = true;
  }
  if (i < n) {
    if (v.charCodeAt(i) !== COLON) return HOST_INVALID;
    for (i++; i < n; i++) {
      const d = v.charCodeAt(i);
      if (d < 0x30 || d > 0x39) return HOST_INVALID;
    }
  }
  return upper ? HOST_MIXED_CASE : HOST_LOWERCASE;
}

function parseVersion(v: string, status: number): number {
  if (v === "HTTP/1.1") return 1;
  if (v === "HTTP/1.0") return 0;
  if (/^HTTP\/[0-9]\.[0-9]$/.test(v)) {
    throw new HttpParseError(
      "unsupported-version",
      status === 400 ? 505 : status,
      "HTTP version not supported",
    );
  }
  throw new HttpParseError("bad-version", status, "malformed HTTP version");
}

/**
 * The common request line, "METHOD SP target SP HTTP/1.x" CR LF within the first
 * `n` bytes, checked in one pass: returns the offset of its second SP, or -1 when
 * requestLineExact must judge it. A method of tchars and a target of visible ASCII
 * hold no SP, CR or LF, so the SPs and the CR LF found here are the first ones,
 * which is what parseRequestHead and requestLineExact look for.
 */
function requestLineFast(head: Buffer, n: number): number {
  const tchar = TCHAR_;
  const targetByte = TARGET_;
  let i = 0;
  while (tchar[head[i]] === 1) i++;
  if (head[i] !== SP || i === 0) return -1;
  const sp1 = i++;
  while (targetByte[head[i]] === 1) i++;
  if (head[i] !== SP || i === sp1 + 1 || i + 11 > n || head[i + 9] !== CR || head[i + 10] !== LF) return -1;
  // "HTTP/1.0" or "HTTP/1.1"
  if (head[i + 1] !== 0x48 || head[i + 2] !== 0x54 || head[i + 3] !== 0x54 || head[i + 4] !== 0x50) return -1;
  if (head[i + 5] !== 0x2f || head[i + 6] !== 0x31 || head[i + 7] !== 0x2e) return -1;
  const v = head[i + 8];
  return v === 0x31 || v === 0x30 ? i : -1;
}

/** The exact request-line parser: the reference for requestLineFast, and the one that names the error. */
function requestLineExact(startLine: string): { method: string; target: string; minor: number } {
  const sp1 = startLine.indexOf(" ");
  const sp2 = sp1 < 0 ? -1 : startLine.indexOf(" ", sp1 + 1);
  if (sp1 <= 0 || sp2 < 0 || startLine.indexOf(" ", sp2 + 1) >= 0) {
    throw new HttpParseError("bad-request-line", 400, "malformed request line");
  }
  const method = startLine.slice(0, sp1);
  if (!isToken(method)) throw new HttpParseError("bad-method", 400, "invalid method");
  const target = startLine.slice(sp1 + 1, sp2);
  if (target.length === 0) throw new HttpParseError("bad-target", 400, "empty request target");
  for (let i = 0; i < target.length; i++) {
    if (TARGET[target.charCodeAt(i)] !== 1) {
      throw new HttpParseError("bad-target", 400, "invalid character in request target");
    }
  }
  const minor = parseVersion(startLine.slice(sp2 + 1), 400);
  return { method, target, minor };
}

/** Parse a request head. Throws HttpParseError (status 400/501/505) on anything not strictly valid. */
export function parseRequestHead(head: Buffer): RequestHead {
  const text = headText(head);
  const sp2 = FAST_PATHS.enabled ? requestLineFast(head, text.length) : -1;
  const startEnd = sp2 > 0 ? sp2 + 9 : text.indexOf("\r\n");
  let method: string;
  let target: string;
  let minor: number;
  if (sp2 > 0) {
    const sp1 = text.indexOf(" ");
    method = text.slice(0, sp1);
    target = text.slice(sp1 + 1, sp2);
    minor = head[startEnd - 1] - 0x30;
  } else {
    ({ method, target, minor } = requestLineExact(text.slice(0, startEnd)));
  }

  const headers: string[] = [];
  const canonicalFields = parseFields(head, text, startEnd + 2, 400, headers);
  const f = collectFraming(headers, 400);

  // Request target forms (RFC 9112 §3.2).
  let path: string;
  let uriHost = "";
  if (target.charCodeAt(0) === 0x2f) {
    path = target;
  } else if (target === "*") {
    if (method !== "OPTIONS")
      throw new HttpParseError("bad-target", 400, "asterisk-form is only for OPTIONS");
    path = "*";
  } else if (method === "CONNECT") {
    throw new HttpParseError("connect-unsupported", 501, "CONNECT is not supported by this proxy");
  } else {
    const m = /^[hH][tT][tT][pP][sS]?:\/\/([^/?#]*)([^#]*)$/.exec(target);
    if (!m || m[1].length === 0 || m[1].includes("@")) {
      throw new HttpParseError("bad-target", 400, "request target is not origin-form or absolute-form");
    }
    uriHost = m[1];
    path = m[2].length === 0 ? "/" : m[2].charCodeAt(0) === 0x3f ? "/" + m[2] : m[2];
  }

  if (f.hosts > 1) throw new HttpParseError("duplicate-host", 400, "more than one Host header");
  const hostField = f.host;
  if (minor === 1 && hostField === undefined)
    throw new HttpParseError("missing-host", 400, "missing Host header");
  const hostShape = hostField === undefined ? HOST_LOWERCASE : validHost(hostField);
  if (hostShape === HOST_INVALID) {
    throw new HttpParseError("bad-host", 400, "invalid Host header");
  }
  // With absolute-form the URI's authority wins over Host (RFC 9112 §3.2.2).
  const host =
    uriHost === "" && hostShape === HOST_LOWERCASE
      ? (hostField ?? "")
      : (uriHost || hostField || "").toLowerCase();

  let bodyKind: RequestHead["bodyKind"] = "none";
  let contentLength = 0;
  if (f.hasTransferEncoding) {
    if (f.hasLength) {
      throw new HttpParseError("length-and-chunked", 400, "both Content-Length and Transfer-Encoding");
    }
    if (minor === 0) {
      throw new HttpParseError("te-in-http10", 400, "Transfer-Encoding in an HTTP/1.0 request");
    }
    checkCodings(f.codings, 400);
    bodyKind = "chunked";
  } else if (f.hasLength) {
    contentLength = f.contentLength;
    bodyKind = contentLength > 0 ? "length" : "none";
  }

  const close = f.connection.includes("close");
  const keepAlive = minor === 1 ? !close : !close && f.connection.includes("keep-alive");
  const expectContinue = f.expect !== undefined && sameLower(f.expect, "100-continue");
  let upgrade = "";
  if (f.upgrade !== undefined && f.connection.includes("upgrade")) upgrade = f.upgrade.toLowerCase();
  return {
    method,
    target,
    path,
    minor,
    headers,
    host,
    bodyKind,
    contentLength,
    keepAlive,
    connection: f.connection,
    expectContinue,
    upgrade,
    text,
    canonicalFields,
  };
}

/**
 * Parse a backend's response head. `requestMethod` decides the framing of HEAD
 * responses. Failures carry status 502: the client gets a Bad Gateway.
 */
export function parseResponseHead(head: Buffer, requestMethod: string): ResponseHead {
  const text = headText(head);
  const fastEnd = FAST_PATHS.enabled ? statusLineFast(head, text.length) : -1;
  const startEnd = fastEnd > 0 ? fastEnd : text.indexOf("\r\n");
  let minor: number;
  let status: number;
  let reason: string;
  if (fastEnd > 0) {
    minor = head[7] - 0x30;
    status = (head[9] - 0x30) * 100 + (head[10] - 0x30) * 10 + head[11] - 0x30;
    reason = startEnd > 13 ? text.slice(13, startEnd) : "";
  } else {
    ({ minor, status, reason } = statusLineExact(text.slice(0, startEnd)));
  }
  const headers: string[] = [];
  const canonicalFields = parseFields(head, text, startEnd + 2, 502, headers);
  const f = collectFraming(headers, 502);

  let bodyKind: BodyKind;
  let contentLength = 0;
  if (status < 200 || status === 204 || status === 304 || requestMethod === "HEAD") {
    bodyKind = "none";
  } else if (f.hasTransferEncoding) {
    if (f.hasLength)
      throw new HttpParseError(
        "length-and-chunked",
        502,
        "backend sent both Content-Length and Transfer-Encoding",
      );
    // A response whose coding does not end in chunked is delimited by close (RFC 9112 §6.3).
    bodyKind = f.codings[f.codings.length - 1] === "chunked" && minor === 1 ? "chunked" : "close";
    if (bodyKind === "chunked") checkCodings(f.codings, 502);
  } else if (f.hasLength) {
    contentLength = f.contentLength;
    bodyKind = contentLength > 0 ? "length" : "none";
  } else {
    bodyKind = "close";
  }
  const close = f.connection.includes("close");
  const keepAlive =
    bodyKind !== "close" && (minor === 1 ? !close : !close && f.connection.includes("keep-alive"));
  return {
    status,
    reason,
    minor,
    headers,
    bodyKind,
    contentLength,
    keepAlive,
    connection: f.connection,
    text,
    canonicalFields,
  };
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

/**
 * The common status line, "HTTP/1.x SP 3DIGIT [SP reason]" CR LF within the first
 * `n` bytes, with a reason of field bytes, checked without the regex: the offset of
 * its CR when statusLineExact would accept it (and read the same version, status and
 * reason; field bytes hold no CR, so that CR LF is the first), else -1 and
 * statusLineExact must judge it.
 */
export function statusLineFast(head: Buffer, n: number): number {
  // "HTTP/1.0 " or "HTTP/1.1 "
  if (head[0] !== 0x48 || head[1] !== 0x54 || head[2] !== 0x54 || head[3] !== 0x50 || head[4] !== 0x2f) {
    return -1;
  }
  const v = head[7];
  if (head[5] !== 0x31 || head[6] !== 0x2e || (v !== 0x31 && v !== 0x30) || head[8] !== SP) return -1;
  const d = head[9];
  if (d < 0x31 || d > 0x39 || !isDigit(head[10]) || !isDigit(head[11])) return -1;
  let i = 12;
  if (head[12] === SP) {
    const fieldValue = FIELD_VALUE_;
    i = 13;
    while (fieldValue[head[i]] === 1) i++;
  }
  return i + 2 <= n && head[i] === CR && head[i + 1] === LF ? i : -1;
}

/** The exact status-line parser: the reference for statusLineFast, and the one that names the error. */
function statusLineExact(startLine: string): { minor: number; status: number; reason: string } {
  // status-line = HTTP-version SP status-code SP [ reason-phrase ]; a missing
  // second SP (common in the wild) is tolerated: it cannot change framing.
  const m = /^(HTTP\/[0-9]\.[0-9]) ([1-9][0-9]{2})(?: (.*))?$/.exec(startLine);
  if (!m) throw new HttpParseError("bad-status-line", 502, "malformed status line from backend");
  const minor = parseVersion(m[1], 502);
  const status = Number(m[2]);
  const reason = m[3] ?? "";
  for (let i = 0; i < reason.length; i++) {
    if (FIELD_VALUE[reason.charCodeAt(i)] !== 1) {
      throw new HttpParseError("bad-status-line", 502, "invalid character in reason phrase");
    }
  }
  return { minor, status, reason };
}
