import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { HttpListener } from "../../../src/dataplane/proxy/http/index.ts";
import {
  curl,
  desiredFrontend,
  type HttpBackend,
  rawRequest,
  startHttpBackend,
  startProxy,
  statusLines,
} from "./harness.ts";

describe("HTTP/1.1 reverse proxy: forwarding and keep-alive", () => {
  let backend: HttpBackend;
  let proxy: HttpListener;
  let port: number;

  before(async () => {
    backend = await startHttpBackend((req, res) => {
      res.setHeader("Content-Type", "application/json");
      res.setHeader("Connection", "keep-alive, X-Secret-Hop");
      res.setHeader("X-Secret-Hop", "drop me");
      const body = JSON.stringify({
        method: req.method,
        url: req.url,
        headers: req.headers,
        httpVersion: req.httpVersion,
      });
      // Explicit length: Node would otherwise answer HTTP/1.0 requests close-delimited.
      res.setHeader("Content-Length", Buffer.byteLength(body));
      res.end(body);
    });
    ({ proxy, port } = await startProxy(desiredFrontend([{ name: "b1", port: backend.port }])));
  });
  after(async () => {
    await proxy.stop(100);
    await backend.close();
  });

  test("a GET is forwarded with path, query, and X-Forwarded-For/-Proto/-Host", async () => {
    const r = await curl([
      "-H",
      "X-Forwarded-For: 203.0.113.9",
      "-H",
      "X-Forwarded-Proto: gopher",
      `http://127.0.0.1:${port}/a/b?x=1&y=2`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const seen = JSON.parse(r.stdout);
    assert.equal(seen.method, "GET");
    assert.equal(seen.url, "/a/b?x=1&y=2");
    assert.equal(seen.headers["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    assert.equal(seen.headers["x-forwarded-proto"], "http");
    assert.equal(seen.headers["x-forwarded-host"], `127.0.0.1:${port}`);
    assert.equal(seen.headers.host, `127.0.0.1:${port}`);
  });

  test("hop-by-hop request headers (and those Connection names) are not forwarded", async () => {
    const reply = await rawRequest(
      port,
      "GET / HTTP/1.1\r\nHost: h\r\nConnection: X-Private, keep-alive\r\nX-Private: 1\r\nKeep-Alive: timeout=5\r\n" +
        "TE: trailers\r\nProxy-Connection: keep-alive\r\nX-Kept: yes\r\nConnection: close\r\n\r\n",
    );
    const body = JSON.parse(reply.slice(reply.indexOf("\r\n\r\n") + 4));
    for (const h of ["x-private", "keep-alive", "te", "proxy-connection"])
      assert.equal(body.headers[h], undefined, h);
    assert.equal(body.headers["x-kept"], "yes");
  });

  test("hop-by-hop response headers are stripped and the client sees Connection: close when it asked", async () => {
    const reply = await rawRequest(port, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    const head = reply.slice(0, reply.indexOf("\r\n\r\n")).toLowerCase();
    assert.ok(head.startsWith("http/1.1 200 ok"), head);
    assert.ok(!head.includes("x-secret-hop"), head);
    assert.ok(head.includes("connection: close"), head);
  });

  test("one client connection and one backend connection serve many sequential requests", async () => {
    const before = backend.connections;
    const urls = Array.from({ length: 20 }, (_, i) => `http://127.0.0.1:${port}/seq/${i}`);
    const r = await curl([
      "-w",
      "%{num_connects}\\n",
      "-o",
      "/dev/null",
      ...urls.flatMap((u) => [u, "-o", "/dev/null"]),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const connects = r.stdout.trim().split("\n").map(Number);
    assert.equal(connects.length, 20);
    assert.equal(
      connects.reduce((a, b) => a + b, 0),
      1,
      "curl reused its connection to the proxy",
    );
    // At most one new backend connection (zero when an earlier test left one in the pool).
    assert.ok(
      backend.connections - before <= 1,
      `the proxy opened ${backend.connections - before} backend connections`,
    );
  });

  test("pipelined requests are answered in order on one connection", async () => {
    const reqs = [1, 2, 3].map((i) => `GET /p${i} HTTP/1.1\r\nHost: h\r\n\r\n`).join("");
    const reply = await rawRequest(port, reqs + "GET /p4 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert.deepEqual(statusLines(reply), [200, 200, 200, 200]);
    const urls = [...reply.matchAll(/"url":"(\/p\d)"/g)].map((m) => m[1]);
    assert.deepEqual(urls, ["/p1", "/p2", "/p3", "/p4"]);
  });

  test("an HTTP/1.0 client without keep-alive gets its response and the connection closed", async () => {
    const reply = await rawRequest(port, "GET /old HTTP/1.0\r\n\r\n", { timeout: 2000 });
    assert.deepEqual(statusLines(reply), [200]);
    const body = JSON.parse(reply.slice(reply.indexOf("\r\n\r\n") + 4));
    assert.equal(body.httpVersion, "1.0");
    assert.equal(body.headers.host, `127.0.0.1:${backend.port}`);
    assert.match(reply, /connection: close/i);
  });

  test("an HTTP/1.0 client asking for keep-alive keeps its connection", async () => {
    const reply = await rawRequest(
      port,
      "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
      { until: (t) => statusLines(t).length === 2 && t.endsWith("}") },
    );
    assert.deepEqual(statusLines(reply), [200, 200]);
    assert.match(reply, /connection: keep-alive/i);
  });

  test("a HEAD response carries no body and the connection stays usable", async () => {
    const reply = await rawRequest(
      port,
      "HEAD /h HTTP/1.1\r\nHost: h\r\n\r\nGET /after HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    );
    assert.deepEqual(statusLines(reply), [200, 200]);
    assert.match(reply, /"url":"\/after"/);
  });

  test("stats count client connections, requests and backend traffic", () => {
    const s = proxy.stats();
    assert.ok(s.connectionsTotal > 5);
    assert.ok(s.backends.b1.connectionsTotal > 20);
    assert.ok(s.backends.b1.bytesOut > 0);
    assert.equal(s.backends.b1.connectionsActive, 0);
  });

  test("a client that half-closes right after a complete POST still gets its response", async () => {
    const reply = await rawRequest(port, "POST /half HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", {
      endAfterWrite: true,
    });
    assert.deepEqual(statusLines(reply), [200]);
    assert.match(reply, /"url":"\/half"/);
    assert.match(reply, /Connection: close/i);
  });

  test("an absolute-form request goes out in origin-form with the URI's authority as Host", async () => {
    const reply = await rawRequest(
      port,
      "GET http://Upstream.Example:8080/abs?q=1 HTTP/1.1\r\nHost: ignored.example\r\nConnection: close\r\n\r\n",
    );
    const seen = JSON.parse(reply.slice(reply.indexOf("\r\n\r\n") + 4));
    assert.equal(seen.url, "/abs?q=1");
    assert.equal(seen.headers.host, "upstream.example:8080");
  });

  test("closed client connections are released (no leak in the listener)", async () => {
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(proxy.stats().connectionsActive, 0);
    assert.equal(proxy.stats().backends.b1.connectionsActive, 0);
  });
});
