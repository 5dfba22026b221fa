import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { forwardRequestHead, forwardResponseHead } from "../../../src/dataplane/proxy/http/forward-head.ts";
import { parseRequest, parseResponse } from "../../../src/dataplane/proxy/http/parse.ts";

const ctx = { clientAddress: "192.0.2.1", proto: "http", path: "/", fallbackHost: "10.0.0.1:80" };

function fwd(raw: string, path = "/"): string[] {
  const { head } = parseRequest(Buffer.from(raw));
  return forwardRequestHead(head, { ...ctx, path }).split("\r\n");
}

describe("forwarded request head", () => {
  test("request line keeps method and version, takes the (rewritten) path", () => {
    assert.equal(fwd("PUT /a HTTP/1.1\r\nHost: h\r\n\r\n", "/b?x")[0], "PUT /b?x HTTP/1.1");
    assert.equal(fwd("GET /a HTTP/1.0\r\n\r\n")[0], "GET / HTTP/1.0");
  });

  const dropped: [string, string][] = [
    ["Connection", "Connection: keep-alive"],
    ["Keep-Alive", "Keep-Alive: timeout=5"],
    ["TE", "TE: trailers"],
    ["Trailer", "Trailer: X-Sum"],
    ["Proxy-Connection", "Proxy-Connection: keep-alive"],
    ["Upgrade without Connection: upgrade", "Upgrade: h2c"],
    ["a field named by Connection", "Connection: X-Hop\r\nX-Hop: 1"],
  ];
  for (const [name, fields] of dropped) {
    test(`drops ${name}`, () => {
      const lines = fwd(`GET / HTTP/1.1\r\nHost: h\r\n${fields}\r\n\r\n`);
      const names = lines.map((l) => l.split(":")[0].toLowerCase());
      for (const f of fields.split("\r\n")) assert.ok(!names.includes(f.split(":")[0].toLowerCase()), f);
    });
  }

  test("Connection cannot remove the framing or Host", () => {
    const lines = fwd(
      "POST / HTTP/1.1\r\nHost: h\r\nConnection: Content-Length, Host\r\nContent-Length: 3\r\n\r\n",
    );
    assert.ok(lines.includes("Content-Length: 3"));
    assert.ok(lines.includes("Host: h"));
  });

  test("X-Forwarded-For is appended to, Proto and Host are the proxy's", () => {
    const lines = fwd(
      "GET / HTTP/1.1\r\nHost: Site.Example\r\nX-Forwarded-For: 203.0.113.5\r\nX-Forwarded-For: 198.51.100.7\r\nX-Forwarded-Proto: ftp\r\nX-Forwarded-Host: evil\r\n\r\n",
    );
    assert.ok(lines.includes("X-Forwarded-For: 203.0.113.5, 198.51.100.7, 192.0.2.1"));
    assert.ok(lines.includes("X-Forwarded-Proto: http"));
    assert.ok(lines.includes("X-Forwarded-Host: site.example"));
    assert.equal(lines.filter((l) => l.startsWith("X-Forwarded-Proto")).length, 1);
    assert.equal(lines.filter((l) => l.startsWith("X-Forwarded-Host")).length, 1);
  });

  test("HTTP/1.0 without Host gets the backend address and asks for keep-alive", () => {
    const lines = fwd("GET / HTTP/1.0\r\n\r\n");
    assert.ok(lines.includes("Host: 10.0.0.1:80"));
    assert.ok(lines.includes("Connection: keep-alive"));
  });

  test("an upgrade keeps Upgrade and states Connection: Upgrade", () => {
    const lines = fwd(
      "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
    );
    assert.ok(lines.includes("Connection: Upgrade"));
    assert.ok(lines.includes("Upgrade: websocket"));
    assert.equal(lines.filter((l) => l.startsWith("Connection")).length, 1);
  });

  test("the head ends with exactly one empty line", () => {
    const text = forwardRequestHead(parseRequest(Buffer.from("GET / HTTP/1.1\r\nHost: h\r\n\r\n")).head, ctx);
    assert.ok(text.endsWith("\r\n\r\n") && !text.endsWith("\r\n\r\n\r\n"));
  });
});

describe("forwarded response head", () => {
  function res(raw: string, clientMinor: number, keepAlive: boolean): string[] {
    return forwardResponseHead(parseResponse(Buffer.from(raw)).head, clientMinor, keepAlive).split("\r\n");
  }
  const table: [string, number, boolean, string | null][] = [
    ["HTTP/1.1 client kept", 1, true, null],
    ["HTTP/1.1 client closed", 1, false, "Connection: close"],
    ["HTTP/1.0 client kept", 0, true, "Connection: keep-alive"],
    ["HTTP/1.0 client closed", 0, false, "Connection: close"],
  ];
  for (const [name, minor, keep, want] of table) {
    test(`${name}: ${want ?? "no Connection field"}`, () => {
      const lines = res(
        "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nContent-Length: 0\r\n\r\n",
        minor,
        keep,
      );
      const conn = lines.filter((l) => l.toLowerCase().startsWith("connection"));
      assert.deepEqual(conn, want === null ? [] : [want]);
      assert.ok(!lines.some((l) => l.startsWith("X-Hop")));
      assert.ok(lines.includes("Content-Length: 0"));
    });
  }
  test("a 101 keeps Upgrade", () => {
    const lines = res(
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
      1,
      true,
    );
    assert.ok(lines.includes("Upgrade: websocket"));
    assert.ok(lines.includes("Connection: Upgrade"));
  });
  test("the status line is HTTP/1.1 whatever the backend spoke", () => {
    assert.equal(
      res("HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n", 1, true)[0],
      "HTTP/1.1 404 Not Found",
    );
  });
});
