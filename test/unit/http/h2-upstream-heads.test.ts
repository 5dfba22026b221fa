import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  h1ResponseHead,
  h1SwitchingHead,
  h2ConnectHeaders,
  h2RequestHeaders,
} from "../../../src/dataplane/proxy/http/h2-upstream.ts";
import { parseRequest } from "../../../src/dataplane/proxy/http/parse.ts";

function req(raw: string) {
  return parseRequest(Buffer.from(raw)).head;
}

describe("HTTP/1.1 request head -> HTTP/2 request headers", () => {
  test("pseudo-headers from the request line and Host; connection-specific fields dropped", () => {
    const h = h2RequestHeaders(
      req(
        "POST /a?b=1 HTTP/1.1\r\nHost: www.test\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nX-A: 2\r\nCookie: c=1\r\n\r\n",
      ),
      "https",
      "10.0.0.1:443",
    );
    assert.deepEqual(h, {
      ":method": "POST",
      ":path": "/a?b=1",
      ":scheme": "https",
      ":authority": "www.test",
      "x-a": ["1", "2"],
      cookie: "c=1",
    });
  });
  test("an HTTP/1.0 request without Host gets the backend as :authority", () => {
    const h = h2RequestHeaders(req("GET / HTTP/1.0\r\n\r\n"), "http", "10.0.0.1:80");
    assert.equal(h[":authority"], "10.0.0.1:80");
  });
  // [content-type, te sent?]
  const te: [string, boolean][] = [
    ["application/grpc", true],
    ["application/grpc+proto", true],
    ["application/json", false],
  ];
  for (const [type, want] of te) {
    test(`content-type ${type}: te: trailers ${want ? "added" : "absent"}`, () => {
      const h = h2RequestHeaders(
        req(`POST / HTTP/1.1\r\nHost: h\r\nContent-Type: ${type}\r\nTE: trailers\r\n\r\n`),
        "http",
        "x",
      );
      assert.equal(h.te, want ? "trailers" : undefined);
    });
  }
});

describe("HTTP/2 response headers -> HTTP/1.1 response head", () => {
  // [case, headers, method, chunked, bodiless]
  const table: [string, Record<string, string | string[]>, string, boolean, boolean][] = [
    ["no length: chunked", { ":status": "200" }, "GET", true, false],
    ["content-length: as is", { ":status": "200", "content-length": "5" }, "GET", false, false],
    ["HEAD: no body", { ":status": "200" }, "HEAD", false, true],
    ["204: no body", { ":status": "204" }, "GET", false, true],
    ["304: no body", { ":status": "304" }, "GET", false, true],
  ];
  for (const [name, headers, method, chunked, bodiless] of table) {
    test(name, () => {
      const r = h1ResponseHead(headers, method);
      assert.equal(r.chunked, chunked);
      assert.equal(r.bodiless, bodiless);
      assert.equal(r.head.includes("Transfer-Encoding: chunked\r\n"), chunked);
      assert.ok(r.head.startsWith(`HTTP/1.1 ${headers[":status"]} `));
      assert.ok(r.head.endsWith("\r\n\r\n"));
    });
  }
  test("repeated fields become repeated lines; pseudo and connection fields are dropped", () => {
    const r = h1ResponseHead({ ":status": "200", "set-cookie": ["a=1", "b=2"], connection: "close" }, "GET");
    assert.equal(
      r.head,
      "HTTP/1.1 200 OK\r\nset-cookie: a=1\r\nset-cookie: b=2\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
  });
});

describe("WebSocket over HTTP/2 (RFC 8441 extended CONNECT)", () => {
  const upgrade = req(
    "GET /chat?room=1 HTTP/1.1\r\nHost: www.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\nOrigin: http://www.test\r\n\r\n",
  );
  test("the upgrade becomes CONNECT with :protocol websocket; no key, no Connection/Upgrade", () => {
    assert.deepEqual(h2ConnectHeaders(upgrade, "http", "10.0.0.1:80"), {
      ":method": "CONNECT",
      ":protocol": "websocket",
      ":path": "/chat?room=1",
      ":scheme": "http",
      ":authority": "www.test",
      "sec-websocket-version": "13",
      "sec-websocket-protocol": "chat",
      origin: "http://www.test",
    });
  });
  test("a 200 becomes the 101 the client expects: its own key's accept (RFC 6455 sample), the backend's subprotocol", () => {
    const head = h1SwitchingHead(
      { ":status": "200", "sec-websocket-protocol": "chat", "content-length": "0" },
      "dGhlIHNhbXBsZSBub25jZQ==",
    );
    assert.equal(
      head,
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nsec-websocket-protocol: chat\r\n\r\n",
    );
  });
  test("without a client key there is no accept to compute", () => {
    assert.doesNotMatch(h1SwitchingHead({ ":status": "200" }, undefined), /Accept/);
  });
});
