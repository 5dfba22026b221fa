// The head code's fast paths (HeadScanner's one-pass scan, the parsers' one-pass
// field, request-line and status-line checks, forward-head's copying of canonical
// lines) must agree with the exact code for every input: the same result, or the
// same error (code, status, message). Each input here runs with FAST_PATHS on and
// off and the outcomes are compared; the inputs cover valid heads, each kind of
// invalid head, every byte value in each part of a head, and every split point.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  compileHeaderRules,
  FIELD_ROLES,
  type ForwardContext,
  fieldRole,
  forwardRequestHead,
  forwardResponseHead,
} from "../../../src/dataplane/proxy/http/forward-head.ts";
import {
  DEFAULT_HEAD_LIMITS,
  type HeadLimits,
  HeadScanner,
} from "../../../src/dataplane/proxy/http/head-scanner.ts";
import {
  listTokens,
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
  type ResponseHead,
} from "../../../src/dataplane/proxy/http/message-head.ts";
import { REQUEST_SCAN_ERRORS, RESPONSE_SCAN_ERRORS } from "../../../src/dataplane/proxy/http/parse.ts";
import { FAST_PATHS, HttpParseError, sameLower } from "../../../src/dataplane/proxy/http/syntax.ts";

/** What a call gave: its value (as JSON) or its HttpParseError. */
function outcome(f: () => unknown): string {
  try {
    return `ok ${JSON.stringify(f())}`;
  } catch (err) {
    if (!(err instanceof HttpParseError)) throw err;
    return `error ${err.code} ${err.status} ${err.message}`;
  }
}

/** The outcome of `f` with the fast paths on and with them off. */
function both(f: () => unknown): [string, string] {
  try {
    FAST_PATHS.enabled = true;
    const fast = outcome(f);
    FAST_PATHS.enabled = false;
    return [fast, outcome(f)];
  } finally {
    FAST_PATHS.enabled = true;
  }
}

function agree(f: () => unknown, label: string): string {
  const [fast, exact] = both(f);
  assert.equal(fast, exact, label);
  return fast;
}

const latin1 = (s: string) => Buffer.from(s, "latin1");
const show = (s: string) => JSON.stringify(s);
const BYTES = Array.from({ length: 256 }, (_, b) => String.fromCharCode(b));

// ---------------------------------------------------------------------------
// HeadScanner

const SMALL: HeadLimits = { maxStartLine: 24, maxHeaderBytes: 40, maxHeaders: 3 };

/** Feed `pieces` in turn: where the head ended (and the head taken), or the error. */
function scanPieces(pieces: Buffer[], limits: HeadLimits, response: boolean): unknown {
  const scanner = new HeadScanner(limits, response ? RESPONSE_SCAN_ERRORS : REQUEST_SCAN_ERRORS, !response);
  for (let p = 0; p < pieces.length; p++) {
    const end = scanner.feed(pieces[p], 0);
    if (end >= 0) return { piece: p, end, head: scanner.take().toString("latin1") };
  }
  return { incomplete: true, empty: scanner.empty };
}

/** Every way of cutting `bytes` in two, plus whole and byte by byte. */
function cuts(bytes: Buffer): Buffer[][] {
  const out: Buffer[][] = [[bytes]];
  for (let c = 1; c < bytes.length; c++) out.push([bytes.subarray(0, c), bytes.subarray(c)]);
  out.push(Array.from(bytes, (b) => Buffer.from([b])));
  return out;
}

const SCAN_HEADS: string[] = [
  "GET / HTTP/1.1\r\nHost: 127.0.0.1:18081\r\n\r\n",
  "GET / HTTP/1.1\r\nHost: h\r\n\r\nbody bytes",
  "GET / HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n",
  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
  "\r\nGET / HTTP/1.1\r\n\r\n",
  `${"\r\n".repeat(8)}GET / HTTP/1.1\r\n\r\n`,
  `${"\r\n".repeat(9)}GET / HTTP/1.1\r\n\r\n`,
  "\r\n\r\n",
  "\r\n",
  "",
  "GET / HTTP/1.1\r\n",
  "GET / HTTP/1.1\r\nHost: h\r\n",
  "GET / HTTP/1.1\r\nHost: h\r\n\r",
  "GET / HTTP/1.1\nHost: h\r\n\r\n",
  "GET / HTTP/1.1\r\nHost: h\n\r\n",
  "GET / HTTP/1.1\r\nHost: h\r\n\n",
  "GET / HTTP/1.1\r\r\nHost: h\r\n\r\n",
  "GET / HTTP/1.1\r\nHost: h\r\r\n\r\n",
  "GET / HTTP/1.1\r\nHost: h\r\n\r\r\n",
  "GET / HT\rTP/1.1\r\nHost: h\r\n\r\n",
  "GET / HTTP/1.1\r\nHo\rst: h\r\n\r\n",
  "\nGET / HTTP/1.1\r\n\r\n",
  "\rGET / HTTP/1.1\r\n\r\n",
  // Limits of SMALL, at and over: start line 24, header bytes 40, 3 field lines.
  "GET /aaaaaaaaaa HTTP/1.1\r\nA: b\r\n\r\n",
  "GET /aaaaaaaaaaa HTTP/1.1\r\nA: b\r\n\r\n",
  "GET / HTTP/1.1\r\nA: 1234567890123456789012345678901234567\r\n\r\n",
  "GET / HTTP/1.1\r\nA: 12345678901234567890123456789012345678\r\n\r\n",
  "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 1234567890123456789012\r\n\r\n",
  "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 12345678901234567890123\r\n\r\n",
  "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
  "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",
  "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
];

describe("head scanner: the fast path agrees with the byte-by-byte scan", () => {
  for (const response of [false, true]) {
    for (const limits of [DEFAULT_HEAD_LIMITS, SMALL]) {
      const kind = `${response ? "response" : "request"} errors, ${limits === SMALL ? "small" : "default"} limits`;
      test(`every head of the table, cut at every offset and byte by byte (${kind})`, () => {
        for (const text of SCAN_HEADS) {
          for (const pieces of cuts(latin1(text))) {
            agree(() => scanPieces(pieces, limits, response), `${show(text)} in ${pieces.length} pieces`);
          }
        }
      });
    }
  }

  test("every byte value in the start line, in a field line and after the head, at every cut", () => {
    const seen = new Set<string>();
    for (const b of BYTES) {
      for (const text of [
        `GET /${b} HTTP/1.1\r\nHost: h\r\n\r\n`,
        `GET / HTTP/1.1\r\nHost: ${b}h\r\n\r\n`,
        `GET / HTTP/1.1\r\nHost: h\r\n${b}\r\n\r\n`,
        `GET / HTTP/1.1\r\nHost: h\r\n\r\n${b}`,
        `${b}GET / HTTP/1.1\r\n\r\n`,
      ]) {
        for (const pieces of cuts(latin1(text))) {
          seen.add(agree(() => scanPieces(pieces, SMALL, false), `${show(text)} in ${pieces.length} pieces`));
        }
      }
    }
    // The table reaches both outcomes and the line-ending errors.
    const kinds = [...seen].map((o) => o.split(" ").slice(0, 2).join(" "));
    for (const k of ["ok {", "error bare-cr", "error bare-lf"]) {
      assert.ok(
        kinds.some((o) => o.startsWith(k)),
        k,
      );
    }
  });

  test("a scanner reused after take() agrees too", () => {
    for (const [first, second] of [
      ["GET / HTTP/1.1\r\n\r\n", "GET /b HTTP/1.1\r\nA: b\r\n\r\n"],
      ["GET / HTTP/1.1\r\n\r\n", "\r\nGET /b HTTP/1.1\r\n\r\n"],
      ["\r\nGET / HTTP/1.1\r\n\r\n", "GET /b HTTP/1.1\r\nA: b\n\r\n"],
    ]) {
      agree(
        () => {
          const scanner = new HeadScanner(SMALL, REQUEST_SCAN_ERRORS, true);
          const results: unknown[] = [];
          for (const text of [first, second]) {
            results.push(scanner.feed(latin1(text), 0), scanner.take().toString("latin1"));
          }
          return results;
        },
        `${show(first)} then ${show(second)}`,
      );
    }
  });
});

// ---------------------------------------------------------------------------
// parseRequestHead / parseResponseHead

/** A parsed head as compared: everything but canonicalFields, which only the fast path sets. */
function comparable(h: RequestHead | ResponseHead): unknown {
  const { canonicalFields, ...rest } = h;
  // Where the fast path says the field lines are canonical, they must be.
  if (canonicalFields !== undefined && canonicalFields >= 0) {
    const text = h.text ?? "";
    let lines = "";
    for (let i = 0; i < h.headers.length; i += 2) lines += `${h.headers[i]}: ${h.headers[i + 1]}\r\n`;
    assert.equal(text.slice(canonicalFields), lines, "canonical lines");
    assert.equal(text.slice(canonicalFields - 2, canonicalFields), "\r\n");
    assert.equal(text.indexOf("\r\n"), canonicalFields - 2);
  }
  return rest;
}

const parseReq = (text: string) => () => comparable(parseRequestHead(latin1(`${text}\r\n`)));
const parseRes =
  (text: string, method = "GET") =>
  () =>
    comparable(parseResponseHead(latin1(`${text}\r\n`), method));

/** Request heads (each line with its CRLF; the final empty line is added). */
const REQUEST_HEADS: string[] = [
  "GET / HTTP/1.1\r\nHost: 127.0.0.1:18081\r\n",
  "GET /a?b=1 HTTP/1.1\r\nHost: Example.COM\r\nAccept: */*\r\n",
  "GET / HTTP/1.0\r\n",
  "GET / HTTP/1.0\r\nConnection: keep-alive\r\n",
  "GET / HTTP/1.1\r\n",
  "GET / HTTP/1.2\r\nHost: h\r\n",
  "GET / HTTP/2.0\r\nHost: h\r\n",
  "GET / http/1.1\r\nHost: h\r\n",
  "GET / HTTP/1.10\r\nHost: h\r\n",
  "GET / HTTP/1.1 \r\nHost: h\r\n",
  "GET  / HTTP/1.1\r\nHost: h\r\n",
  " GET / HTTP/1.1\r\nHost: h\r\n",
  "GET /a b HTTP/1.1\r\nHost: h\r\n",
  "GET\r\nHost: h\r\n",
  "GET /\r\nHost: h\r\n",
  "G@T / HTTP/1.1\r\nHost: h\r\n",
  "OPTIONS * HTTP/1.1\r\nHost: h\r\n",
  "GET * HTTP/1.1\r\nHost: h\r\n",
  "CONNECT h:443 HTTP/1.1\r\nHost: h\r\n",
  "GET http://Site.Example:8080/p?q HTTP/1.1\r\nHost: other\r\n",
  "GET http://site?q HTTP/1.1\r\nHost: other\r\n",
  "GET http://u@site/ HTTP/1.1\r\nHost: other\r\n",
  "GET / HTTP/1.1\r\nHost:h\r\n",
  "GET / HTTP/1.1\r\nHost:  h  \r\n",
  "GET / HTTP/1.1\r\nHost:\th\t\r\n",
  "GET / HTTP/1.1\r\nHost: h \r\n",
  "GET / HTTP/1.1\r\nHost: \r\n",
  "GET / HTTP/1.1\r\nHost:\r\n",
  "GET / HTTP/1.1\r\nHost: h\r\nX:\r\n",
  "GET / HTTP/1.1\r\nHost: h\r\nX: \r\n",
  "GET / HTTP/1.1\r\nHost : h\r\n",
  "GET / HTTP/1.1\r\nHost\t: h\r\n",
  "GET / HTTP/1.1\r\nHo st: h\r\n",
  "GET / HTTP/1.1\r\n Host: h\r\n",
  "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n",
  "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n",
  "GET / HTTP/1.1\r\nHost: h\r\nX\r\n",
  "GET / HTTP/1.1\r\nHost: h\r\nX: a:b: c\r\n",
  "GET / HTTP/1.1\r\nHost: h\r\nHost: h\r\n",
  "GET / HTTP/1.1\r\nhost: h\r\nHOST: i\r\n",
  "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n",
  "GET / HTTP/1.1\r\nHost: [::1\r\n",
  "GET / HTTP/1.1\r\nHost: a:b\r\n",
  "GET / HTTP/1.1\r\nHost: :80\r\n",
  "GET / HTTP/1.1\r\nHost: a:\r\n",
  "GET / HTTP/1.1\r\nHost: a:8x\r\n",
  "GET / HTTP/1.1\r\nHost: a b\r\n",
  "GET / HTTP/1.1\r\nHost: a%20b.~!$&'()*+,;=\r\n",
  "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n",
  "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n",
  "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-length: 5\r\n",
  "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n",
  "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n",
  "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n",
  "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1234567890123456\r\n",
  "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5,\r\n",
  "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n",
  "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, CHUNKED\r\n",
  "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n",
  "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: br, chunked\r\n",
  "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked,\r\n",
  "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n",
  "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n",
  "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n",
  "GET / HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n",
  "GET / HTTP/1.1\r\nHost: h\r\nConnection:  close , X-Hop,,\r\n",
  "GET / HTTP/1.1\r\nHost: h\r\nConnection: \r\n",
  "GET / HTTP/1.1\r\nHost: h\r\nConnection: \xa0close\r\n",
  "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\nUpgrade: h2c\r\n",
  "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n",
  "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n",
  "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue \r\nExpect: x\r\n",
  "GET / HTTP/1.1\r\nHost: h\r\nX-\xe9: v\r\n",
  "GET / HTTP/1.1\r\nHost: h\r\nX: caf\xe9\r\n",
  "GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fb\r\n",
  "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n",
  "GET / HTTP/1.1\r\nHost: h\r\nX: a\nb\r\n",
  "GET / HTTP/1.1\rHost: h\r\n",
  "GET / HTTP/1.1\r\nHost: h\r\nX: a\r",
  "GET / HTTP/1.1\r\nHost: h",
  "GET / HTTP/1.1",
  "",
];

const RESPONSE_HEADS: string[] = [
  "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sat, 21 Nov 2026 23:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 64\r\nConnection: keep-alive\r\n",
  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",
  "HTTP/1.1 200 \r\nContent-Length: 0\r\n",
  "HTTP/1.1 404\r\nContent-Length: 0\r\n",
  "HTTP/1.1 200  OK\r\n",
  "HTTP/1.1 200 OK \r\n",
  "HTTP/1.1 200 \tOK\r\n",
  "HTTP/1.1 2000\r\n",
  "HTTP/1.1 20 OK\r\n",
  "HTTP/1.1 099 Low\r\n",
  "HTTP/1.1 100 Continue\r\n",
  "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n",
  "HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n",
  "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n",
  "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n",
  "HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: Keep-Alive\r\n",
  "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n",
  "HTTP/2.0 200 OK\r\n",
  "HTTP/1.2 200 OK\r\n",
  "HTTPS/1.1 200 OK\r\n",
  "http/1.1 200 OK\r\n",
  "HTTP/1.1  200 OK\r\n",
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n",
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n",
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n",
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: foo, chunked\r\n",
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n",
  "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n",
  "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n",
  "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: X-Hop, close\r\nX-Hop: 1\r\n",
  "HTTP/1.1 200 OK\r\n Folded: x\r\n",
  "HTTP/1.1 200 OK\r\nBad Name: x\r\n",
  "HTTP/1.1 200 OK\r\nName : x\r\n",
  "HTTP/1.1 200 OK\r\nX: a\x00b\r\n",
  "HTTP/1.1 200",
  "",
];

describe("message heads: the fast paths agree with the exact parsers", () => {
  test("every request head of the table", () => {
    for (const text of REQUEST_HEADS) agree(parseReq(text), show(text));
  });
  test("heads that do not end in CR LF CR LF (callers other than the scanner) agree too", () => {
    for (const raw of [
      "GET / HTTP/1.1\r\nHost: h\r\n\n",
      "GET / HTTP/1.1\r\nHost: h\r\n\r",
      "GET / HTTP/1.1\r\nHost: h\r\n",
      "GET / HTTP/1.1\r\n\n",
      "GET / HTTP/1.1\r\n",
      "GET / HTTP/1.1\n",
      "HTTP/1.1 200 OK\r\nA: b\r\n\n",
      "HTTP/1.1 200 OK\r\n\n",
      "HTTP/1.1 200 OK\r\n",
      "HTTP/1.1 200\r\n",
      "GET / HTTP/1.1\r\nHost: h\r\nX:v",
      "GET / HTTP/1.1\r\nHost: h\r\nX: \r\n",
      "\r\n",
      "x",
      "",
    ]) {
      agree(() => comparable(parseRequestHead(latin1(raw))), `request ${show(raw)}`);
      agree(() => comparable(parseResponseHead(latin1(raw), "GET")), `response ${show(raw)}`);
    }
  });
  test("every response head of the table, for GET and HEAD", () => {
    for (const text of RESPONSE_HEADS) {
      for (const method of ["GET", "HEAD"]) agree(parseRes(text, method), `${method} ${show(text)}`);
    }
  });

  const requestPlaces: [string, (b: string) => string][] = [
    ["method", (b) => `G${b}T / HTTP/1.1\r\nHost: h\r\n`],
    ["method's first byte", (b) => `${b}GET / HTTP/1.1\r\nHost: h\r\n`],
    ["target", (b) => `GET /${b}x HTTP/1.1\r\nHost: h\r\n`],
    ["version", (b) => `GET / HTTP/1.${b}\r\nHost: h\r\n`],
    ["field name", (b) => `GET / HTTP/1.1\r\nHost: h\r\nX${b}Y: v\r\n`],
    ["field name's first byte", (b) => `GET / HTTP/1.1\r\nHost: h\r\n${b}Y: v\r\n`],
    ["field name's last byte", (b) => `GET / HTTP/1.1\r\nHost: h\r\nX${b}: v\r\n`],
    ["field value", (b) => `GET / HTTP/1.1\r\nHost: h\r\nX: a${b}b\r\n`],
    ["field value's first byte", (b) => `GET / HTTP/1.1\r\nHost: h\r\nX: ${b}b\r\n`],
    ["field value's last byte", (b) => `GET / HTTP/1.1\r\nHost: h\r\nX: a${b}\r\n`],
    ["field value after the colon", (b) => `GET / HTTP/1.1\r\nHost: h\r\nX:${b}\r\n`],
    ["Host value", (b) => `GET / HTTP/1.1\r\nHost: a${b}b\r\n`],
    ["Host port", (b) => `GET / HTTP/1.1\r\nHost: a:8${b}\r\n`],
    ["Connection value", (b) => `GET / HTTP/1.1\r\nHost: h\r\nConnection: clos${b}\r\n`],
    ["Connection token", (b) => `GET / HTTP/1.1\r\nHost: h\r\nConnection: ${b}\r\n`],
  ];
  for (const [place, make] of requestPlaces) {
    test(`every byte value 0x00-0xff in a request's ${place}`, () => {
      const outcomes = new Set<string>();
      for (const b of BYTES) outcomes.add(agree(parseReq(make(b)), show(make(b))).slice(0, 2));
      assert.ok(outcomes.has("ok") && outcomes.has("er"), `${place}: some bytes accepted, some refused`);
    });
  }

  const responsePlaces: [string, (b: string) => string][] = [
    ["reason phrase", (b) => `HTTP/1.1 200 O${b}K\r\nContent-Length: 0\r\n`],
    ["reason phrase's first byte", (b) => `HTTP/1.1 200 ${b}\r\nContent-Length: 0\r\n`],
    ["status code", (b) => `HTTP/1.1 2${b}0 OK\r\nContent-Length: 0\r\n`],
    ["byte after the status code", (b) => `HTTP/1.1 200${b}OK\r\nContent-Length: 0\r\n`],
    ["version", (b) => `HTTP/1.${b} 200 OK\r\nContent-Length: 0\r\n`],
    ["field name", (b) => `HTTP/1.1 200 OK\r\nX${b}Y: v\r\nContent-Length: 0\r\n`],
    ["field value", (b) => `HTTP/1.1 200 OK\r\nX: a${b}b\r\nContent-Length: 0\r\n`],
    ["Content-Length value", (b) => `HTTP/1.1 200 OK\r\nContent-Length: 1${b}\r\n`],
  ];
  for (const [place, make] of responsePlaces) {
    test(`every byte value 0x00-0xff in a response's ${place}`, () => {
      const outcomes = new Set<string>();
      for (const b of BYTES) outcomes.add(agree(parseRes(make(b)), show(make(b))).slice(0, 2));
      assert.ok(outcomes.has("ok") && outcomes.has("er"), `${place}: some bytes accepted, some refused`);
    });
  }

  test("the wrk and NGINX heads take the fast path: their field lines are canonical", () => {
    const req = parseRequestHead(latin1("GET / HTTP/1.1\r\nHost: 127.0.0.1:18081\r\n\r\n"));
    assert.equal(req.canonicalFields, 16);
    const res = parseResponseHead(latin1(`${RESPONSE_HEADS[0]}\r\n`), "GET");
    assert.equal(res.canonicalFields, 17);
    assert.equal(parseRequestHead(latin1("GET / HTTP/1.1\r\nHost:h\r\n\r\n")).canonicalFields, -1);
  });
});

// ---------------------------------------------------------------------------
// forward-head

/** The old rule, with lowercased names and sets: the reference for fieldRole. */
function roleByLowercase(name: string, connection: string[]): string {
  const lower = name.toLowerCase();
  if (["connection", "keep-alive", "te", "trailer", "proxy-connection"].includes(lower)) return "hop";
  if (lower === "upgrade") return "upgrade";
  const framing = ["content-length", "transfer-encoding", "host"].includes(lower);
  if (!framing && connection.includes(lower)) return "hop";
  if (lower === "host") return "host";
  if (lower === "transfer-encoding") return "transfer-encoding";
  if (["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"].includes(lower)) return lower;
  return "keep";
}

describe("forward-head: fieldRole and the copying of canonical lines", () => {
  test("fieldRole agrees with lowercasing and set lookups, in every letter case", () => {
    const names = [
      "connection",
      "keep-alive",
      "te",
      "trailer",
      "proxy-connection",
      "upgrade",
      "content-length",
      "transfer-encoding",
      "host",
      "x-forwarded-for",
      "x-forwarded-proto",
      "x-forwarded-host",
      "x-hop",
      "accept",
      "date",
      "ta",
      "hosts",
      "conn3ction",
      "x-forwarded-fox",
      "content-lengthy",
    ];
    const variants = (n: string) => [n, n.toUpperCase(), n.replace(/(^|-)(.)/g, (m) => m.toUpperCase())];
    const connections = [
      [],
      ["x-hop"],
      ["close", "x-hop", "host", "content-length", "x-forwarded-for", "date"],
    ];
    let checked = 0;
    for (const n of names) {
      for (const v of variants(n)) {
        for (const c of connections) {
          assert.equal(FIELD_ROLES[fieldRole(v, c)], roleByLowercase(v, c), `${v} with Connection ${c}`);
          checked++;
        }
      }
    }
    assert.equal(checked, names.length * 9);
  });

  test("sameLower is toLowerCase() === for every pair of latin1 bytes", () => {
    for (const a of BYTES) {
      for (const b of BYTES) {
        const lower = b.toLowerCase();
        if (lower !== b) continue; // its second argument is lowercase
        assert.equal(sameLower(`x${a}`, `x${b}`), `x${a}`.toLowerCase() === `x${b}`, show(a + b));
      }
    }
  });

  test("listTokens gives the lowercased, trimmed, non-empty elements for every byte value", () => {
    for (const b of BYTES) {
      for (const value of [b, `a${b}`, `${b}a`, `Keep-Alive${b}`, `close,${b}`]) {
        const got: string[] = [];
        listTokens(value, got);
        const want = value
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s.length > 0)
          .map((s) => s.toLowerCase());
        assert.deepEqual(got, want, show(value));
      }
    }
  });

  const ctx: ForwardContext = {
    clientAddress: "192.0.2.1",
    proto: "http",
    path: "/",
    fallbackHost: "10.0.0.1:80",
  };
  const rules = compileHeaderRules({
    set: { "X-Set": "1" },
    add: { "X-Add": "2" },
    remove: ["accept", "host"],
  });
  const contexts: [string, (h: RequestHead) => ForwardContext][] = [
    ["plain", (h) => ({ ...ctx, path: h.path })],
    ["rewritten path", () => ({ ...ctx, path: "/other?x" })],
    ["trust", (h) => ({ ...ctx, path: h.path, forwarded: "trust", via: true })],
    ["replace", (h) => ({ ...ctx, path: h.path, forwarded: "replace" })],
    ["rules", (h) => ({ ...ctx, path: h.path, rules })],
  ];
  const forwardedRequests = [
    ...REQUEST_HEADS,
    "GET / HTTP/1.1\r\nHost: h\r\nConnection: X-Hop, Host, Content-Length\r\nX-Hop: 1\r\nAccept: */*\r\nContent-Length: 0\r\n",
    "GET / HTTP/1.1\r\nX-Forwarded-For: 1.1.1.1\r\nHost: h\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: a\r\nX-Forwarded-For: 2.2.2.2\r\nAccept: */*\r\n",
    "GET / HTTP/1.1\r\nTE: trailers\r\nHost: h\r\nKeep-Alive: 5\r\nTrailer: x\r\nProxy-Connection: keep-alive\r\nA: b\r\n",
    "GET / HTTP/1.1\r\nConnection: X-Forwarded-For\r\nX-Forwarded-For: 1.1.1.1\r\nHost: h\r\n",
    "GET http://abs.example/p HTTP/1.1\r\nAccept: */*\r\nHost: other\r\nB: c\r\n",
  ];

  test("a forwarded request head is the same built from canonical lines as rebuilt field by field", () => {
    let compared = 0;
    for (const text of forwardedRequests) {
      let head: RequestHead;
      try {
        head = parseRequestHead(latin1(`${text}\r\n`));
      } catch {
        continue;
      }
      for (const [name, make] of contexts) {
        agree(() => forwardRequestHead(head, make(head)), `${name}: ${show(text)}`);
        compared++;
      }
    }
    assert.ok(compared > 100, `${compared} heads compared`);
  });

  test("a forwarded response head is the same built from canonical lines as rebuilt field by field", () => {
    const extras = [undefined, { via: true, setCookie: "s=1", rules }];
    let compared = 0;
    for (const text of [
      ...RESPONSE_HEADS,
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX: y\r\n",
      "HTTP/1.1 200 OK\r\nAccept: a\r\nUpgrade: x\r\nHost: h\r\n",
    ]) {
      let head: ResponseHead;
      try {
        head = parseResponseHead(latin1(`${text}\r\n`), "GET");
      } catch {
        continue;
      }
      for (const clientMinor of [0, 1]) {
        for (const keepAlive of [true, false]) {
          for (const dechunk of [false, true]) {
            for (const extra of extras) {
              agree(
                () => forwardResponseHead(head, clientMinor, keepAlive, dechunk, extra),
                `${show(text)} ${clientMinor} ${keepAlive} ${dechunk} ${extra !== undefined}`,
              );
              compared++;
            }
          }
        }
      }
    }
    assert.ok(compared > 100, `${compared} heads compared`);
  });

  test("the NGINX response head is forwarded as its received lines minus Connection", () => {
    const head = parseResponseHead(latin1(`${RESPONSE_HEADS[0]}\r\n`), "GET");
    assert.equal(
      forwardResponseHead(head, 1, true),
      "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sat, 21 Nov 2026 23:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 64\r\n\r\n",
    );
  });
});
