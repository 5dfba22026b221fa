// Parses a complete message head (as found by HeadScanner) into a request or
// response struct and decides the body framing strictly per RFC 9112 §6.
//
// Everything a front proxy and a backend could disagree about is refused instead
// of "repaired": Content-Length together with Transfer-Encoding, differing
// Content-Lengths, a Transfer-Encoding not ending in chunked, obs-fold, whitespace
// before the colon, invalid names/values, missing or duplicate Host on HTTP/1.1.
import { FIELD_VALUE, HTAB, HttpParseError, isToken, SP, TARGET, TCHAR } from "./syntax.ts";

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
}

/** Transfer codings that may precede the final chunked (everything else is 501). */
const KNOWN_CODINGS = new Set(["gzip", "x-gzip", "deflate", "compress", "x-compress"]);

const MAX_CONTENT_LENGTH_DIGITS = 15;

/**
 * The head as one string without the final empty line: every line, the start line
 * included, ends in CRLF (the scanner guarantees it). Fields are cut from this one
 * string by index rather than split into a line array first (a string per line).
 */
function headText(head: Buffer): string {
  return head.toString("latin1", 0, head.length - 2);
}

/** Parse the field lines of `text` from `from` into a flat [name, value, ...] list; status is the HTTP status for failures. */
function parseFields(text: string, from: number, status: number, out: string[]): void {
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
  let start = 0;
  for (let i = 0; i <= value.length; i++) {
    if (i === value.length || value.charCodeAt(i) === 0x2c) {
      const el = value.slice(start, i).trim();
      if (el.length > 0) into.push(el.toLowerCase());
      start = i + 1;
    }
  }
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

interface Framing {
  contentLength: number;
  hasLength: boolean;
  codings: string[];
  hasTransferEncoding: boolean;
  connection: string[];
}

function collectFraming(headers: string[], status: number): Framing {
  const f: Framing = {
    contentLength: -1,
    hasLength: false,
    codings: [],
    hasTransferEncoding: false,
    connection: [],
  };
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    // Fast reject on length before lowercasing: only three names matter here.
    if (name.length !== 14 && name.length !== 17 && name.length !== 10) continue;
    const lower = name.toLowerCase();
    const value = headers[i + 1];
    if (lower === "content-length") {
      const plain = plainDigits(value);
      if (plain >= 0) {
        // The usual single number, without the list handling below.
        if (f.hasLength && plain !== f.contentLength) {
          throw new HttpParseError("conflicting-content-length", status, "differing Content-Length values");
        }
        f.hasLength = true;
        f.contentLength = plain;
        continue;
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
    } else if (lower === "transfer-encoding") {
      f.hasTransferEncoding = true;
      // Strict list: an empty element ("chunked,") is refused, since parsers differ on it.
      for (const raw of value.split(",")) {
        const v = raw.trim().toLowerCase();
        if (!isToken(v)) {
          throw new HttpParseError("bad-transfer-encoding", status, "malformed Transfer-Encoding");
        }
        f.codings.push(v);
      }
    } else if (lower === "connection") {
      listTokens(value, f.connection);
    }
  }
  return f;
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

function findHeader(headers: string[], lower: string, onDuplicate: () => never): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i].length === lower.length && headers[i].toLowerCase() === lower) {
      if (found !== undefined) onDuplicate();
      found = headers[i + 1];
    }
  }
  return found;
}

function headerValue(headers: string[], lower: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i].length === lower.length && headers[i].toLowerCase() === lower) return headers[i + 1];
  }
  return undefined;
}

// reg-name / IPv4 / IP-literal, optional port. Percent-encoding allowed in reg-name.
const HOST_RE = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?$/;

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

/** Parse a request head. Throws HttpParseError (status 400/501/505) on anything not strictly valid. */
export function parseRequestHead(head: Buffer): RequestHead {
  const text = headText(head);
  const startEnd = text.indexOf("\r\n");
  const startLine = text.slice(0, startEnd);
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

  const headers: string[] = [];
  parseFields(text, startEnd + 2, 400, headers);
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

  const hostField = findHeader(headers, "host", () => {
    throw new HttpParseError("duplicate-host", 400, "more than one Host header");
  });
  if (minor === 1 && hostField === undefined)
    throw new HttpParseError("missing-host", 400, "missing Host header");
  if (hostField !== undefined && !HOST_RE.test(hostField)) {
    throw new HttpParseError("bad-host", 400, "invalid Host header");
  }
  // With absolute-form the URI's authority wins over Host (RFC 9112 §3.2.2).
  const host = (uriHost || hostField || "").toLowerCase();

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
  const expect = headerValue(headers, "expect");
  const expectContinue = expect !== undefined && expect.toLowerCase() === "100-continue";
  let upgrade = "";
  if (f.connection.includes("upgrade")) {
    const u = headerValue(headers, "upgrade");
    if (u !== undefined) upgrade = u.toLowerCase();
  }
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
  };
}

/**
 * Parse a backend's response head. `requestMethod` decides the framing of HEAD
 * responses. Failures carry status 502: the client gets a Bad Gateway.
 */
export function parseResponseHead(head: Buffer, requestMethod: string): ResponseHead {
  const text = headText(head);
  const startEnd = text.indexOf("\r\n");
  const startLine = text.slice(0, startEnd);
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
  const headers: string[] = [];
  parseFields(text, startEnd + 2, 502, headers);
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
  return { status, reason, minor, headers, bodyKind, contentLength, keepAlive, connection: f.connection };
}
