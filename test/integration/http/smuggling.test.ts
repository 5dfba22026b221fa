// Every malformed or ambiguous request gets its 4xx/5xx from the proxy and never
// reaches a backend: the raw backend below records every byte it is sent.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { HttpListener } from "../../../src/dataplane/proxy/http/index.ts";
import {
  desiredFrontend,
  type HttpBackend,
  type RawBackend,
  rawRequest,
  startHttpBackend,
  startProxy,
  startRawBackend,
  statusLines,
} from "./harness.ts";

const OK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

describe("malformed requests are refused before any backend sees them", () => {
  let backend: RawBackend;
  let proxy: HttpListener;
  let port: number;

  before(async () => {
    backend = await startRawBackend((s) => s.on("data", () => s.write(OK)));
    ({ proxy, port } = await startProxy(
      desiredFrontend([{ name: "raw", port: backend.port }], {
        http: { maxRequestLine: 1024, maxHeaderBytes: 2048, maxHeaders: 20 },
      }),
    ));
  });
  after(async () => {
    await proxy.stop(100);
    await backend.close();
  });

  const SMUGGLED = "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n";
  const cases: [string, string, number][] = [
    [
      "CL.TE: Content-Length and Transfer-Encoding",
      `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
      400,
    ],
    [
      "TE.CL: Transfer-Encoding then Content-Length",
      `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n`,
      400,
    ],
    [
      "two differing Content-Length",
      `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length: 40\r\n\r\n${SMUGGLED}`,
      400,
    ],
    ["malformed Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1_0\r\n\r\n", 400],
    [
      "Transfer-Encoding not ending in chunked",
      `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`,
      400,
    ],
    [
      "obfuscated Transfer-Encoding",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n",
      400,
    ],
    [
      "Transfer-Encoding with space before colon",
      `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n`,
      400,
    ],
    ["obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n 2\r\n\r\n", 400],
    [
      "folded Transfer-Encoding",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
      400,
    ],
    ["bare CR in a header", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n", 400],
    ["bare LF line ending", "GET / HTTP/1.1\nHost: h\n\n", 400],
    ["invalid header name", "GET / HTTP/1.1\r\nHost: h\r\nX[A]: 1\r\n\r\n", 400],
    ["NUL in header value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\0b\r\n\r\n", 400],
    ["missing Host", "GET / HTTP/1.1\r\n\r\n", 400],
    ["duplicate Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400],
    ["Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400],
    ["garbage request line", "HELLO\r\n\r\n", 400],
    ["unsupported version", "GET / HTTP/3.0\r\nHost: h\r\n\r\n", 505],
    ["unknown transfer coding", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: foo, chunked\r\n\r\n", 501],
    ["oversized request line", `GET /${"a".repeat(2000)} HTTP/1.1\r\nHost: h\r\n\r\n`, 414],
    ["oversized header section", `GET / HTTP/1.1\r\nHost: h\r\nX-Big: ${"b".repeat(3000)}\r\n\r\n`, 431],
    [
      "too many header fields",
      `GET / HTTP/1.1\r\nHost: h\r\n${Array.from({ length: 25 }, (_, i) => `X-${i}: v\r\n`).join("")}\r\n`,
      431,
    ],
  ];

  for (const [name, raw, status] of cases) {
    test(`${name}: ${status}, connection closed, backend received nothing`, async () => {
      const before = backend.received.length;
      const beforeConnections = backend.connections;
      const reply = await rawRequest(port, raw);
      assert.deepEqual(statusLines(reply), [status], reply);
      assert.match(reply, /Connection: close/);
      assert.equal(backend.received.length, before, "the backend was sent bytes");
      assert.equal(backend.connections, beforeConnections, "the proxy connected to the backend");
    });
  }

  test("a valid request still passes (the backend is reachable)", async () => {
    const reply = await rawRequest(port, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert.deepEqual(statusLines(reply), [200]);
  });
});

describe("malformed chunked bodies never yield a smuggled request", () => {
  let backend: HttpBackend;
  let proxy: HttpListener;
  let port: number;

  before(async () => {
    backend = await startHttpBackend((req, res) => {
      req.resume();
      req.on("end", () => res.end("done"));
    });
    ({ proxy, port } = await startProxy(desiredFrontend([{ name: "b", port: backend.port }])));
  });
  after(async () => {
    await proxy.stop(100);
    await backend.close();
  });

  const cases: [string, string][] = [
    ["invalid chunk size", "zz\r\nhello\r\n0\r\n\r\n"],
    ["chunk size with 0x prefix", "0x5\r\nhello\r\n0\r\n\r\n"],
    ["missing CRLF after chunk data", "5\r\nhelloXX0\r\n\r\n"],
    ["bare LF after chunk size", "5\nhello\r\n0\r\n\r\n"],
    ["oversized chunk size", "fffffffffffffffffff\r\n"],
    ["malformed extension", "5;=x\r\nhello\r\n0\r\n\r\n"],
  ];
  for (const [name, body] of cases) {
    test(`${name}: 400 and the embedded request never reaches the backend`, async () => {
      const before = backend.requests.length;
      const reply = await rawRequest(
        port,
        `POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n${body}GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n`,
      );
      assert.deepEqual(statusLines(reply), [400], reply);
      const urls = backend.requests.slice(before).map((r) => r.url);
      assert.ok(!urls.includes("/smuggled"), `backend saw ${urls.join(", ")}`);
      // The upload the backend started receiving was cut, never completed.
      for (const r of backend.requests.slice(before)) assert.equal(r.complete, false);
    });
  }
});

describe("max-body-size", () => {
  let backend: HttpBackend;
  let proxy: HttpListener;
  let port: number;

  before(async () => {
    backend = await startHttpBackend((req, res) => {
      req.resume();
      req.on("end", () => res.end("stored"));
    });
    ({ proxy, port } = await startProxy(
      desiredFrontend([{ name: "b", port: backend.port }], { http: { maxBodySize: 1000 } }),
    ));
  });
  after(async () => {
    await proxy.stop(100);
    await backend.close();
  });

  test("a Content-Length over the limit gets 413 and never reaches the backend", async () => {
    const before = backend.connections;
    const reply = await rawRequest(
      port,
      `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1001\r\n\r\n${"x".repeat(1001)}`,
    );
    assert.deepEqual(statusLines(reply), [413]);
    assert.equal(backend.connections, before);
  });

  test("a chunked body growing over the limit gets 413; the backend never gets a complete request", async () => {
    const before = backend.requests.length;
    const chunk = `${(600).toString(16)}\r\n${"y".repeat(600)}\r\n`;
    const reply2 = await rawRequest(port, [
      `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n${chunk}`,
      chunk,
      "0\r\n\r\n",
    ]);
    assert.deepEqual(statusLines(reply2), [413]);
    for (const r of backend.requests.slice(before)) assert.equal(r.complete, false);
  });

  test("a body within the limit passes", async () => {
    const reply = await rawRequest(
      port,
      `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n${"x".repeat(1000)}`,
    );
    assert.deepEqual(statusLines(reply), [200]);
  });
});
