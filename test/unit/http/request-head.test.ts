import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { HeadScanner } from "../../../src/dataplane/proxy/http/head-scanner.ts";
import { parseRequestHead } from "../../../src/dataplane/proxy/http/message-head.ts";
import { parseRequest, REQUEST_SCAN_ERRORS } from "../../../src/dataplane/proxy/http/parse.ts";
import { HttpParseError } from "../../../src/dataplane/proxy/http/syntax.ts";

function req(text: string) {
  return parseRequest(Buffer.from(text, "latin1")).head;
}

function rejects(text: string): { code: string; status: number } {
  try {
    req(text);
  } catch (err) {
    assert.ok(err instanceof HttpParseError, `expected HttpParseError, got ${err}`);
    return { code: err.code, status: err.status };
  }
  assert.fail(`accepted: ${JSON.stringify(text)}`);
}

describe("request head: accepted forms", () => {
  test("a plain GET has no body and keeps the connection alive on HTTP/1.1", () => {
    const h = req("GET /a?b=1 HTTP/1.1\r\nHost: Example.COM\r\nAccept: */*\r\n\r\n");
    assert.equal(h.method, "GET");
    assert.equal(h.path, "/a?b=1");
    assert.equal(h.host, "example.com");
    assert.equal(h.minor, 1);
    assert.equal(h.bodyKind, "none");
    assert.equal(h.keepAlive, true);
    assert.deepEqual(h.headers, ["Host", "Example.COM", "Accept", "*/*"]);
  });

  const table: [string, string, Partial<ReturnType<typeof req>>][] = [
    [
      "content-length body",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n",
      { bodyKind: "length", contentLength: 12 },
    ],
    [
      "content-length 0 means no body",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
      { bodyKind: "none" },
    ],
    [
      "repeated identical content-length",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
      { bodyKind: "length", contentLength: 5 },
    ],
    [
      "identical content-length list",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n",
      { bodyKind: "length", contentLength: 5 },
    ],
    ["chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", { bodyKind: "chunked" }],
    [
      "chunked case-insensitive",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n",
      { bodyKind: "chunked" },
    ],
    [
      "gzip then chunked",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
      { bodyKind: "chunked" },
    ],
    ["HTTP/1.0 closes by default", "GET / HTTP/1.0\r\n\r\n", { minor: 0, keepAlive: false, host: "" }],
    ["HTTP/1.0 keep-alive asked", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", { keepAlive: true }],
    [
      "HTTP/1.1 connection close",
      "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
      { keepAlive: false },
    ],
    [
      "expect 100-continue",
      "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n",
      { expectContinue: true },
    ],
    [
      "websocket upgrade",
      "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
      { upgrade: "websocket" },
    ],
    [
      "upgrade ignored without connection token",
      "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n",
      { upgrade: "" },
    ],
    [
      "absolute-form takes host from the URI",
      "GET http://Other.example:8080/p?q HTTP/1.1\r\nHost: h\r\n\r\n",
      { host: "other.example:8080", path: "/p?q" },
    ],
    ["absolute-form without path", "GET http://x.example HTTP/1.1\r\nHost: x.example\r\n\r\n", { path: "/" }],
    ["OPTIONS asterisk", "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", { path: "*" }],
    ["ipv6 host", "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", { host: "[::1]:80" }],
    ["empty header value", "GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\n\r\n", { bodyKind: "none" }],
    ["obs-text in value", "GET / HTTP/1.1\r\nHost: h\r\nX-T: caf\xe9\r\n\r\n", { bodyKind: "none" }],
    ["leading empty line is skipped", "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", { method: "GET" }],
    ["extension method", "PURGE /x HTTP/1.1\r\nHost: h\r\n\r\n", { method: "PURGE" }],
  ];
  for (const [name, text, expected] of table) {
    test(`accepts ${name}`, () => {
      const h = req(text);
      for (const [k, v] of Object.entries(expected)) assert.deepEqual(h[k as keyof typeof h], v, k);
    });
  }
});

describe("request head: smuggling and malformed cases are refused", () => {
  const table: [string, string, string, number][] = [
    [
      "content-length with transfer-encoding",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
      "length-and-chunked",
      400,
    ],
    [
      "transfer-encoding before content-length",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
      "length-and-chunked",
      400,
    ],
    [
      "differing content-length headers",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
      "conflicting-content-length",
      400,
    ],
    [
      "differing content-length list",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\n",
      "conflicting-content-length",
      400,
    ],
    [
      "negative content-length",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
      "bad-content-length",
      400,
    ],
    [
      "plus-signed content-length",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n",
      "bad-content-length",
      400,
    ],
    [
      "hex content-length",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\n",
      "bad-content-length",
      400,
    ],
    [
      "empty content-length",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n",
      "bad-content-length",
      400,
    ],
    [
      "content-length with inner space",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n",
      "bad-content-length",
      400,
    ],
    [
      "huge content-length",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n",
      "bad-content-length",
      400,
    ],
    [
      "transfer-encoding not ending in chunked",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
      "chunked-not-final",
      400,
    ],
    [
      "transfer-encoding identity",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n",
      "chunked-not-final",
      400,
    ],
    [
      "chunked twice",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
      "chunked-not-final",
      400,
    ],
    [
      "chunked in two fields then gzip",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
      "chunked-not-final",
      400,
    ],
    [
      "misspelled chunked",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunkedx\r\n\r\n",
      "chunked-not-final",
      400,
    ],
    [
      "unknown coding before chunked",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: foo, chunked\r\n\r\n",
      "unknown-transfer-coding",
      501,
    ],
    [
      "empty list element in transfer-encoding",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked,\r\n\r\n",
      "bad-transfer-encoding",
      400,
    ],
    [
      "quoted transfer-encoding",
      'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "chunked"\r\n\r\n',
      "bad-transfer-encoding",
      400,
    ],
    [
      "transfer-encoding in HTTP/1.0",
      "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
      "te-in-http10",
      400,
    ],
    ["obs-fold continuation line", "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n  2\r\n\r\n", "obs-fold", 400],
    ["obs-fold with tab", "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\t2\r\n\r\n", "obs-fold", 400],
    [
      "folded transfer-encoding",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\n\r\n",
      "obs-fold",
      400,
    ],
    [
      "space before colon",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n",
      "space-before-colon",
      400,
    ],
    ["tab before colon", "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", "space-before-colon", 400],
    ["space inside a field name", "GET / HTTP/1.1\r\nHost: h\r\nX A: 1\r\n\r\n", "bad-header-name", 400],
    ["field line without colon", "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", "bad-header-name", 400],
    ["empty field name", "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", "bad-header-name", 400],
    ["non-token in field name", "GET / HTTP/1.1\r\nHost: h\r\nX(A): 1\r\n\r\n", "bad-header-name", 400],
    ["NUL in field value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\n\r\n", "bad-header-value", 400],
    [
      "control character in field value",
      "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x01b\r\n\r\n",
      "bad-header-value",
      400,
    ],
    ["DEL in field value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x7fb\r\n\r\n", "bad-header-value", 400],
    ["bare CR inside a field value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n", "bare-cr", 400],
    ["bare CR ending a line", "GET / HTTP/1.1\rHost: h\r\n\r\n", "bare-cr", 400],
    ["bare LF ending a line", "GET / HTTP/1.1\nHost: h\r\n\r\n", "bare-lf", 400],
    ["bare LF ending a header", "GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", "bare-lf", 400],
    ["missing host on HTTP/1.1", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", "missing-host", 400],
    ["two host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "duplicate-host", 400],
    ["invalid host", "GET / HTTP/1.1\r\nHost: a b/c\r\n\r\n", "bad-host", 400],
    ["host with userinfo", "GET / HTTP/1.1\r\nHost: u@h\r\n\r\n", "bad-host", 400],
    ["request line with two spaces", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", "bad-request-line", 400],
    ["request line with trailing space", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", "bad-request-line", 400],
    ["request line with tab", "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", "bad-request-line", 400],
    ["request line missing version", "GET /\r\nHost: h\r\n\r\n", "bad-request-line", 400],
    ["lowercase version", "GET / http/1.1\r\nHost: h\r\n\r\n", "bad-version", 400],
    ["HTTP/2.0 on the wire", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", "unsupported-version", 505],
    ["HTTP/1.2", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", "unsupported-version", 505],
    ["non-token method", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", "bad-method", 400],
    ["target with non-ascii", "GET /caf\xe9 HTTP/1.1\r\nHost: h\r\n\r\n", "bad-target", 400],
    ["target with control byte", "GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", "bad-target", 400],
    ["relative target", "GET a/b HTTP/1.1\r\nHost: h\r\n\r\n", "bad-target", 400],
    ["asterisk for GET", "GET * HTTP/1.1\r\nHost: h\r\n\r\n", "bad-target", 400],
    ["absolute-form with userinfo", "GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n", "bad-target", 400],
    ["CONNECT", "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", "connect-unsupported", 501],
  ];
  for (const [name, text, code, status] of table) {
    test(`refuses ${name} with ${status}`, () => {
      assert.deepEqual(rejects(text), { code, status });
    });
  }
});

describe("request head: limits", () => {
  const limits = { maxStartLine: 64, maxHeaderBytes: 128, maxHeaders: 4 };
  function rejectsWith(text: string): { code: string; status: number } {
    try {
      parseRequest(Buffer.from(text, "latin1"), limits);
    } catch (err) {
      assert.ok(err instanceof HttpParseError);
      return { code: err.code, status: err.status };
    }
    assert.fail("accepted");
  }
  test("a request line over the limit gets 414", () => {
    assert.deepEqual(rejectsWith(`GET /${"a".repeat(80)} HTTP/1.1\r\nHost: h\r\n\r\n`), {
      code: "start-line-too-long",
      status: 414,
    });
  });
  test("a header section over the byte limit gets 431", () => {
    assert.deepEqual(rejectsWith(`GET / HTTP/1.1\r\nHost: h\r\nX-Big: ${"b".repeat(200)}\r\n\r\n`), {
      code: "headers-too-large",
      status: 431,
    });
  });
  test("more header fields than allowed gets 431", () => {
    assert.deepEqual(rejectsWith("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n"), {
      code: "too-many-headers",
      status: 431,
    });
  });
  test("exactly the allowed number of header fields is accepted", () => {
    const { head } = parseRequest(
      Buffer.from("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"),
      limits,
    );
    assert.equal(head.headers.length, 8);
  });
  test("the limit is enforced before the head is complete (no unbounded buffering)", () => {
    const scanner = new HeadScanner(limits, REQUEST_SCAN_ERRORS, true);
    assert.equal(scanner.feed(Buffer.from("GET / HTTP/1.1\r\nHost: h\r\n"), 0), -1);
    assert.throws(
      () => scanner.feed(Buffer.from(`X: ${"x".repeat(200)}`), 0),
      (e: unknown) => e instanceof HttpParseError && e.status === 431,
    );
  });
});

describe("request head: incremental scanning", () => {
  const text = "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /next";
  test("every split point of the head yields the same result and body offset", () => {
    const bytes = Buffer.from(text);
    const headEnd = text.indexOf("abc");
    for (let cut = 1; cut < headEnd; cut++) {
      const scanner = new HeadScanner(
        { maxStartLine: 100, maxHeaderBytes: 100, maxHeaders: 10 },
        REQUEST_SCAN_ERRORS,
        true,
      );
      assert.equal(scanner.feed(bytes.subarray(0, cut), 0), -1, `cut ${cut}`);
      const second = bytes.subarray(cut);
      const end = scanner.feed(second, 0);
      assert.equal(cut + end, headEnd, `cut ${cut}`);
      const head = parseRequestHead(scanner.take());
      assert.equal(head.contentLength, 3);
      assert.equal(head.path, "/up");
    }
  });
  test("a byte-at-a-time head is found at the right byte", () => {
    const bytes = Buffer.from(text);
    const scanner = new HeadScanner(
      { maxStartLine: 100, maxHeaderBytes: 100, maxHeaders: 10 },
      REQUEST_SCAN_ERRORS,
      true,
    );
    let at = -1;
    for (let i = 0; i < bytes.length && at < 0; i++) {
      if (scanner.feed(bytes.subarray(i, i + 1), 0) >= 0) at = i + 1;
    }
    assert.equal(at, text.indexOf("abc"));
    assert.equal(parseRequestHead(scanner.take()).method, "POST");
  });
  test("a CR at the end of one chunk and LF at the start of the next is a line end, not bare", () => {
    const scanner = new HeadScanner(
      { maxStartLine: 100, maxHeaderBytes: 100, maxHeaders: 10 },
      REQUEST_SCAN_ERRORS,
      true,
    );
    assert.equal(scanner.feed(Buffer.from("GET / HTTP/1.1\r"), 0), -1);
    assert.equal(scanner.feed(Buffer.from("\nHost: h\r\n\r"), 0), -1);
    assert.equal(scanner.feed(Buffer.from("\n"), 0), 1);
    assert.equal(parseRequestHead(scanner.take()).host, "h");
  });
});
