// scanResponseWire must agree with parseResponseHead + forwardResponseHead on every
// head it accepts (same framing, same keep-alive, same fields when asked, the same
// forwarded bytes), decline every head the exact path refuses, and accept the heads
// real backends send. Each input below runs through both.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { forwardResponseHead } from "../../../src/dataplane/proxy/http/forward-head.ts";
import { parseResponseHead } from "../../../src/dataplane/proxy/http/message-head.ts";
import { scanResponseWire, type WireResponse } from "../../../src/dataplane/proxy/http/response-wire.ts";
import { FAST_PATHS } from "../../../src/dataplane/proxy/http/syntax.ts";

const latin1 = (s: string) => Buffer.from(s, "latin1");
const show = (s: string) => JSON.stringify(s);

/** The exact path's verdict on `head`: the parsed head, or null when it refuses it. */
function exactHead(head: Buffer, method: string) {
  try {
    return parseResponseHead(head, method);
  } catch {
    return null;
  }
}

/**
 * Run `text` (a head without its final empty line) through both paths: "wire" when
 * the wire path took it and agreed in everything, "declined" when it left it to the
 * exact path. Any disagreement fails the test.
 */
function check(text: string, method = "GET"): "wire" | "declined" {
  const head = latin1(`${text}\r\n\r\n`);
  const wire = scanResponseWire(head, method);
  const exact = exactHead(head, method);
  if (wire === null) return "declined";
  const label = `${method} ${show(text)}`;
  assert.ok(exact !== null, `${label}: the wire path accepted a head the exact path refuses`);
  assert.deepEqual(
    {
      status: wire.status,
      minor: wire.minor,
      bodyKind: wire.bodyKind,
      contentLength: wire.contentLength,
      keepAlive: wire.keepAlive,
    },
    {
      status: exact.status,
      minor: exact.minor,
      bodyKind: exact.bodyKind,
      contentLength: exact.contentLength,
      keepAlive: exact.keepAlive,
    },
    label,
  );
  assert.deepEqual(
    [wire.reason, wire.headers, wire.connection, wire.text, wire.canonicalFields],
    [exact.reason, exact.headers, exact.connection, exact.text, exact.canonicalFields],
    `${label}: the string fields`,
  );
  for (const clientMinor of [0, 1]) {
    for (const keepAlive of [true, false]) {
      const expected = latin1(forwardResponseHead(exact, clientMinor, keepAlive));
      const out = Buffer.alloc(wire.forwardedLength(clientMinor, keepAlive) + 4, 0xee);
      const end: number = wire.writeForwarded(out, 2, clientMinor, keepAlive);
      assert.equal(end, 2 + expected.length, `${label} ${clientMinor} ${keepAlive}: length`);
      assert.equal(
        out.subarray(2, end).toString("latin1"),
        expected.toString("latin1"),
        `${label} ${clientMinor} ${keepAlive}: bytes`,
      );
      assert.equal(out[0], 0xee, "nothing written before `at`");
      assert.equal(out[end], 0xee, "nothing written past the head");
    }
  }
  return "wire";
}

const STATUS_LINES = [
  "HTTP/1.1 200 OK",
  "HTTP/1.1 204 No Content",
  "HTTP/1.1 304 Not Modified",
  "HTTP/1.1 404 ",
  "HTTP/1.1 503 Service Unavailable",
  "HTTP/1.1 999 x",
  "HTTP/1.1 101 Switching Protocols",
  "HTTP/1.1 100 Continue",
  "HTTP/1.0 200 OK",
  "HTTP/1.1 200",
  "HTTP/1.1 200 O\x00K",
];

const FIELD_LINES = [
  "Content-Length: 5",
  "content-length: 0",
  "Content-Length: 05",
  "Content-Length: 123456789012345",
  "Content-Length: 1234567890123456",
  "Content-Length: 5, 5",
  "Content-Length: -1",
  "Transfer-Encoding: chunked",
  "transfer-encoding: Chunked",
  "Transfer-Encoding: gzip, chunked",
  "Transfer-Encoding: chunked, chunked",
  "Connection: keep-alive",
  "Connection: Keep-Alive",
  "Connection: close",
  "Connection: CLOSE",
  "Connection: upgrade",
  "Connection: x-hop",
  "Connection: close, keep-alive",
  "Keep-Alive: timeout=5",
  "TE: trailers",
  "Trailer: X-Sum",
  "Proxy-Connection: close",
  "Upgrade: h2c",
  "Server: nginx/1.22.1",
  "X-Empty: ",
  "X-Tab:\tv",
  "X-Trail: v ",
  "X-Spaces:  v",
  "X-Colon:v",
  "Close: 1",
  "X-Hop: 1",
  "Host: h",
  "Date: Sun, 22 Nov 2026 02:57:13 GMT",
  "X-Obs: caf\xe9",
  " Folded: x",
  "Bad Name: x",
];

/** A deterministic pseudo-random sequence (mulberry32), so failures reproduce. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("response heads forwarded from their bytes (response-wire.ts)", () => {
  test("real backends' heads take the wire path", () => {
    const nginx =
      "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sun, 22 Nov 2026 02:57:13 GMT\r\nContent-Type: text/plain\r\nContent-Length: 64\r\nConnection: keep-alive";
    assert.equal(check(nginx), "wire");
    assert.equal(
      check("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json"),
      "wire",
    );
    assert.equal(check("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close"), "wire");
    assert.equal(
      check("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nKeep-Alive: timeout=5\r\nConnection: Keep-Alive"),
      "wire",
    );
    assert.equal(check("HTTP/1.1 200 OK"), "wire");
    assert.equal(check(nginx, "HEAD"), "wire");
  });

  test("NGINX's head is forwarded without its Connection line, and framed by its length", () => {
    const wire = scanResponseWire(
      latin1("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 64\r\nConnection: keep-alive\r\n\r\n"),
      "GET",
    ) as WireResponse;
    assert.deepEqual([wire.bodyKind, wire.contentLength, wire.keepAlive], ["length", 64, true]);
    const out = Buffer.alloc(wire.forwardedLength(1, true));
    wire.writeForwarded(out, 0, 1, true);
    assert.equal(out.toString("latin1"), "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 64\r\n\r\n");
    const closing = Buffer.alloc(wire.forwardedLength(0, false));
    wire.writeForwarded(closing, 0, 0, false);
    assert.equal(
      closing.toString("latin1"),
      "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 64\r\nConnection: close\r\n\r\n",
    );
  });

  test("after release() the framing stays and the bytes are gone: reading a field then fails loudly", () => {
    const bytes = latin1("HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 2\r\n\r\n");
    const wire = scanResponseWire(bytes, "GET") as WireResponse;
    wire.release();
    bytes.fill(0x21); // what a later read into the same buffer would do
    assert.deepEqual(
      [wire.status, wire.bodyKind, wire.contentLength, wire.keepAlive],
      [200, "length", 2, true],
    );
    assert.throws(() => wire.headers, /after release/);
    assert.throws(() => wire.forwardedLength(1, true), /after release/);
    // Fields read before the release stay readable.
    const early = scanResponseWire(latin1("HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\n"), "GET") as WireResponse;
    assert.deepEqual(early.headers, ["X-A", "1"]);
    early.release();
    assert.equal(early.reason, "OK");
  });

  const declined: [string, string][] = [
    ["an interim response", "HTTP/1.1 100 Continue"],
    ["a 101", "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket"],
    ["HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 1"],
    ["a status line without a reason's space", "HTTP/1.1 200\r\nContent-Length: 1"],
    ["a field without the one space", "HTTP/1.1 200 OK\r\nContent-Length:1"],
    ["trailing whitespace", "HTTP/1.1 200 OK\r\nX: v \r\nContent-Length: 1"],
    ["two Content-Lengths, even equal", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1"],
    ["Content-Length with chunked", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked"],
    ["a coding other than chunked alone", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked"],
    ["Upgrade", "HTTP/1.1 200 OK\r\nUpgrade: h2c\r\nContent-Length: 0"],
    ["a Connection naming a field", "HTTP/1.1 200 OK\r\nConnection: x-hop\r\nX-Hop: 1\r\nContent-Length: 0"],
    ["a field named close", "HTTP/1.1 200 OK\r\nConnection: close\r\nClose: 1\r\nContent-Length: 0"],
    [
      "two Connection fields",
      "HTTP/1.1 200 OK\r\nConnection: close\r\nConnection: close\r\nContent-Length: 0",
    ],
    ["obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0"],
  ];
  for (const [what, text] of declined) {
    test(`declines ${what}`, () => {
      assert.equal(check(text), "declined");
    });
  }

  test("declines everything with the fast paths off", () => {
    FAST_PATHS.enabled = false;
    try {
      assert.equal(scanResponseWire(latin1("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), "GET"), null);
    } finally {
      FAST_PATHS.enabled = true;
    }
  });

  test("every status line with no, one and two of the field lines, for GET and HEAD", () => {
    const counts = { wire: 0, declined: 0 };
    for (const status of STATUS_LINES) {
      const sets: string[][] = [[]];
      for (const a of FIELD_LINES) {
        sets.push([a]);
        for (const b of FIELD_LINES) sets.push([a, b]);
      }
      for (const fields of sets) {
        const text = [status, ...fields].join("\r\n");
        for (const method of ["GET", "HEAD"]) counts[check(text, method)]++;
      }
    }
    assert.ok(counts.wire > 1000 && counts.declined > 1000, JSON.stringify(counts));
  });

  test("5,000 seeded heads of three to seven field lines", () => {
    const random = prng(20261122);
    const counts = { wire: 0, declined: 0 };
    for (let k = 0; k < 5000; k++) {
      const lines = [STATUS_LINES[Math.floor(random() * 6)]];
      const n = 3 + Math.floor(random() * 5);
      for (let f = 0; f < n; f++) lines.push(FIELD_LINES[Math.floor(random() * FIELD_LINES.length)]);
      counts[check(lines.join("\r\n"), random() < 0.2 ? "HEAD" : "GET")]++;
    }
    assert.ok(counts.wire > 100 && counts.declined > 1000, JSON.stringify(counts));
  });

  const places: [string, (b: string) => string][] = [
    ["reason phrase", (b) => `HTTP/1.1 200 O${b}K\r\nContent-Length: 0`],
    ["status code", (b) => `HTTP/1.1 2${b}0 OK\r\nContent-Length: 0`],
    ["field name", (b) => `HTTP/1.1 200 OK\r\nX${b}Y: v\r\nContent-Length: 0`],
    ["field value", (b) => `HTTP/1.1 200 OK\r\nX: a${b}b\r\nContent-Length: 0`],
    ["Content-Length value", (b) => `HTTP/1.1 200 OK\r\nContent-Length: 1${b}`],
    ["Connection value", (b) => `HTTP/1.1 200 OK\r\nConnection: clos${b}\r\nContent-Length: 0`],
    ["Transfer-Encoding value", (b) => `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunke${b}`],
    ["framing field name", (b) => `HTTP/1.1 200 OK\r\nContent-Lengt${b}: 0`],
  ];
  for (const [place, make] of places) {
    test(`every byte value 0x00-0xff in a response's ${place}`, () => {
      const counts = { wire: 0, declined: 0 };
      for (let b = 0; b < 256; b++) counts[check(make(String.fromCharCode(b)))]++;
      assert.ok(counts.wire > 0 && counts.declined > 0, `${place}: ${JSON.stringify(counts)}`);
    });
  }
});
