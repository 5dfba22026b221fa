import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseResponse } from "../../../src/dataplane/proxy/http/parse.ts";
import { HttpParseError } from "../../../src/dataplane/proxy/http/syntax.ts";

function res(text: string, method = "GET") {
  return parseResponse(Buffer.from(text, "latin1"), method).head;
}

describe("response head: framing", () => {
  const table: [string, string, string, string, boolean, number?][] = [
    // name, head, request method, expected bodyKind, keepAlive, contentLength
    ["content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "GET", "length", true, 5],
    ["content-length 0", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "GET", "none", true],
    ["chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", "chunked", true],
    ["neither means close-delimited", "HTTP/1.1 200 OK\r\n\r\n", "GET", "close", false],
    [
      "coding not ending in chunked means close-delimited",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
      "GET",
      "close",
      false,
    ],
    [
      "HEAD response has no body despite length",
      "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n",
      "HEAD",
      "none",
      true,
    ],
    ["204 has no body", "HTTP/1.1 204 No Content\r\n\r\n", "GET", "none", true],
    [
      "304 has no body despite length",
      "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
      "GET",
      "none",
      true,
    ],
    ["100 continue", "HTTP/1.1 100 Continue\r\n\r\n", "PUT", "none", true],
    [
      "101 switching protocols",
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
      "GET",
      "none",
      true,
    ],
    [
      "connection close",
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n",
      "GET",
      "length",
      false,
      1,
    ],
    [
      "HTTP/1.0 without keep-alive",
      "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n",
      "GET",
      "length",
      false,
      1,
    ],
    [
      "HTTP/1.0 with keep-alive",
      "HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n",
      "GET",
      "length",
      true,
      1,
    ],
    ["empty reason phrase", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", "GET", "none", true],
    ["missing reason phrase", "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", "GET", "none", true],
  ];
  for (const [name, text, method, kind, keepAlive, length] of table) {
    test(`${name}: ${kind}${keepAlive ? ", reusable" : ", not reusable"}`, () => {
      const h = res(text, method);
      assert.equal(h.bodyKind, kind);
      assert.equal(h.keepAlive, keepAlive);
      if (length !== undefined) assert.equal(h.contentLength, length);
    });
  }
  test("status and reason are parsed", () => {
    const h = res("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
    assert.equal(h.status, 503);
    assert.equal(h.reason, "Service Unavailable");
  });
});

describe("response head: malformed responses are a 502", () => {
  const table: [string, string, string][] = [
    ["garbage status line", "HTTP/1.1 OK\r\n\r\n", "bad-status-line"],
    ["two-digit status", "HTTP/1.1 20 OK\r\n\r\n", "bad-status-line"],
    ["status 099", "HTTP/1.1 099 X\r\n\r\n", "bad-status-line"],
    ["not HTTP", "ICY 200 OK\r\n\r\n", "bad-status-line"],
    ["HTTP/2.0 status line", "HTTP/2.0 200 OK\r\n\r\n", "unsupported-version"],
    [
      "length and chunked",
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
      "length-and-chunked",
    ],
    [
      "differing lengths",
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
      "conflicting-content-length",
    ],
    ["bad length", "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "bad-content-length"],
    ["obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", "obs-fold"],
    ["space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 3\r\n\r\n", "space-before-colon"],
    ["bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", "bare-lf"],
    ["control in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", "bad-status-line"],
  ];
  for (const [name, text, code] of table) {
    test(`refuses ${name}`, () => {
      assert.throws(
        () => res(text),
        (e: unknown) => e instanceof HttpParseError && e.code === code && e.status === 502,
      );
    });
  }
});
