// HTTP/2 and TLS to backends: HTTP/1.1 clients in front, node:http2 / node:https
// backends behind, on loopback.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import {
  constants,
  createServer as createH2Server,
  createSecureServer,
  type Http2Server,
  connect as h2connect,
  type ServerHttp2Session,
} from "node:http2";
import { createServer as createHttpsServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { HttpSettings } from "../../../src/config/routes.ts";
import { createHttpListener } from "../../../src/dataplane/proxy/http/index.ts";
import { writeSelfSignedCert } from "../../helpers/certs.ts";
import { desiredFrontend, rawRequest, statusLines } from "./harness.ts";

const dir = mkdtempSync(join(tmpdir(), "lodestone-up-"));
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

const CERT = join(dir, "b.crt");
const KEY = join(dir, "b.key");
writeSelfSignedCert(CERT, KEY, { cn: "backend.test", subjectAltName: "DNS:backend.test" });

async function listen(server: Http2Server | ReturnType<typeof createHttpsServer>): Promise<number> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return (server.address() as { port: number }).port;
}

/** An h2 backend: echoes method, path, body length; sends a trailer; counts sessions. */
async function h2Backend(secure: boolean): Promise<{ port: number; sessions: () => number }> {
  const sessions = new Set<ServerHttp2Session>();
  const server = secure
    ? createSecureServer({ cert: readFileSync(CERT), key: readFileSync(KEY) })
    : createH2Server();
  server.on("session", (s) => sessions.add(s));
  server.on("stream", (stream, headers) => {
    let n = 0;
    stream.on("data", (d: Buffer) => {
      n += d.length;
    });
    stream.on("end", () => {
      if (stream.destroyed) return;
      stream.respond(
        { ":status": 200, "content-type": headers["content-type"] ?? "text/plain", "x-proto": "h2" },
        { waitForTrailers: true },
      );
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(`${headers[":method"]} ${headers[":path"]} ${n} ${headers.te ?? "-"}`);
    });
    stream.on("error", () => {});
  });
  const port = await listen(server);
  cleanups.push(async () => {
    for (const s of sessions) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { port, sessions: () => sessions.size };
}

async function proxyTo(port: number, http: Partial<HttpSettings>): Promise<number> {
  const l = createHttpListener(desiredFrontend([{ name: "b", port }], { http }));
  await l.start();
  cleanups.push(() => l.stop(50));
  return l.address()!.port;
}

function bodyOf(reply: string): string {
  return reply.slice(reply.indexOf("\r\n\r\n") + 4);
}

/** De-chunk a chunked body (and return the trailer section). */
function dechunk(body: string): { data: string; trailers: string } {
  let data = "";
  let at = 0;
  for (;;) {
    const eol = body.indexOf("\r\n", at);
    const size = Number.parseInt(body.slice(at, eol), 16);
    at = eol + 2;
    if (size === 0) return { data, trailers: body.slice(at) };
    data += body.slice(at, at + size);
    at += size + 2;
  }
}

describe("HTTP/2 to backends (upstream: h2)", () => {
  test("GET, POST with Content-Length and a chunked POST reach an h2c backend; trailers come back chunked", async () => {
    const b = await h2Backend(false);
    const port = await proxyTo(b.port, { upstream: "h2" });
    const get = await rawRequest(
      port,
      "GET /a?x=1 HTTP/1.1\r\nHost: h\r\nContent-Type: application/grpc\r\nConnection: close\r\n\r\n",
    );
    assert.deepEqual(statusLines(get), [200]);
    assert.match(get, /\r\nx-proto: h2\r\n/);
    assert.match(get, /\r\nTransfer-Encoding: chunked\r\n/);
    const g = dechunk(bodyOf(get));
    assert.equal(g.data, "GET /a?x=1 0 trailers");
    assert.equal(g.trailers, "grpc-status: 0\r\n\r\n");

    const post = await rawRequest(
      port,
      "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    );
    assert.equal(dechunk(bodyOf(post)).data, "POST /p 5 -");
    const chunked = await rawRequest(
      port,
      "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n",
    );
    assert.equal(dechunk(bodyOf(chunked)).data, "POST /c 7 -");
  });

  test("HEAD and keep-alive over h2: no body, the connection serves the next request", async () => {
    const b = await h2Backend(false);
    const port = await proxyTo(b.port, { upstream: "h2" });
    const reply = await rawRequest(port, [
      "HEAD /h HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET /after HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    ]);
    assert.deepEqual(statusLines(reply), [200, 200]);
    assert.doesNotMatch(reply.slice(0, reply.indexOf("HTTP/1.1 200", 5)), /HEAD \/h/, "no body for HEAD");
    assert.match(reply, /GET \/after 0 -/);
  });

  test("header bytes HTTP/1.1 allows but HTTP/2 may not (obs-text) never crash the proxy", async () => {
    const b = await h2Backend(false);
    const port = await proxyTo(b.port, { upstream: "h2" });
    const reply = await rawRequest(
      port,
      Buffer.from("GET /o HTTP/1.1\r\nHost: h\r\nX-Odd: caf\xe9\r\nConnection: close\r\n\r\n", "latin1"),
    );
    const status = statusLines(reply)[0];
    assert.ok(status === 200 || status === 502, `a response, not a crash: ${status}`);
    const after = await rawRequest(port, "GET /next HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert.deepEqual(statusLines(after), [200]);
  });

  test("concurrent requests share one HTTP/2 session to the backend", async () => {
    const b = await h2Backend(false);
    const port = await proxyTo(b.port, { upstream: "h2" });
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        rawRequest(port, `GET /${i} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`),
      ),
    );
    for (const [i, r] of replies.entries()) assert.equal(dechunk(bodyOf(r)).data, `GET /${i} 0 -`);
    assert.equal(b.sessions(), 1);
  });

  test("keep-alive client: several requests on one connection", async () => {
    const b = await h2Backend(false);
    const port = await proxyTo(b.port, { upstream: "h2" });
    const req = "GET /k HTTP/1.1\r\nHost: h\r\n\r\n";
    const reply = await rawRequest(port, [
      req,
      req,
      `GET /k HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`,
    ]);
    assert.deepEqual(statusLines(reply), [200, 200, 200]);
  });

  test("gRPC-shaped exchange, HTTP/2 on both sides (h2c): data and grpc-status trailers arrive", async () => {
    const b = await h2Backend(false);
    const l = createHttpListener(
      desiredFrontend([{ name: "b", port: b.port }], { http: { upstream: "h2", h2c: true } }),
    );
    await l.start();
    cleanups.push(() => l.stop(50));
    const client = h2connect(`http://127.0.0.1:${l.address()!.port}`);
    client.on("error", () => {});
    cleanups.push(async () => void client.destroy());
    const req = client.request({
      ":method": "POST",
      ":path": "/pkg.Svc/Call",
      "content-type": "application/grpc",
    });
    req.end(Buffer.from([0, 0, 0, 0, 2, 8, 1]));
    const got = await new Promise<{ status: number; body: string; trailers: Record<string, unknown> }>(
      (resolve, reject) => {
        let status = 0;
        let body = "";
        let trailers: Record<string, unknown> = {};
        req.on("response", (h) => {
          status = Number(h[":status"]);
        });
        req.on("data", (d: Buffer) => {
          body += d.toString();
        });
        req.on("trailers", (t) => {
          trailers = t;
        });
        req.on("end", () => resolve({ status, body, trailers }));
        req.on("error", reject);
      },
    );
    assert.equal(got.status, 200);
    assert.equal(got.body, "POST /pkg.Svc/Call 7 trailers");
    assert.equal(got.trailers["grpc-status"], "0");
  });

  test("h2 over TLS to the backend (verify off)", async () => {
    const b = await h2Backend(true);
    const port = await proxyTo(b.port, { upstream: "h2", upstreamTls: { verify: false } });
    const reply = await rawRequest(port, "GET /s HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert.equal(dechunk(bodyOf(reply)).data, "GET /s 0 -");
  });

  test("an h2 backend that resets every stream: 502 for the client, the next request is served again", async () => {
    const server = createH2Server();
    let resets = 0;
    server.on("stream", (stream, headers) => {
      stream.on("error", () => {});
      if (headers[":path"] === "/reset") {
        resets++;
        stream.close(constants.NGHTTP2_INTERNAL_ERROR);
        return;
      }
      stream.respond({ ":status": 200, "content-length": "2" });
      stream.end("ok");
    });
    const bport = await listen(server);
    cleanups.push(async () => {
      await new Promise<void>((r) => server.close(() => r()));
    });
    const l = createHttpListener(desiredFrontend([{ name: "b", port: bport }], { http: { upstream: "h2" } }));
    await l.start();
    cleanups.push(() => l.stop(50));
    const port = l.address()!.port;
    const reset = await rawRequest(port, "GET /reset HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert.deepEqual(statusLines(reset), [502]);
    assert.ok(resets >= 1);
    const ok = await rawRequest(port, "GET /fine HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert.deepEqual(statusLines(ok), [200]);
    assert.equal(bodyOf(ok), "ok");
  });

  test("an h2 backend that is not listening: 503", async () => {
    const b = await h2Backend(false);
    const port = await proxyTo(1, { upstream: "h2" });
    void b;
    const reply = await rawRequest(port, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert.deepEqual(statusLines(reply), [503]);
  });
});

describe("TLS to HTTP/1.1 backends (upstream-tls)", () => {
  async function httpsBackend(): Promise<number> {
    const server = createHttpsServer({ cert: readFileSync(CERT), key: readFileSync(KEY) }, (req, res) => {
      res.end(`tls ${req.url} ${(req.socket as { servername?: string }).servername ?? "-"}`);
    });
    const port = await listen(server);
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    });
    return port;
  }

  // [case, settings, status, body]
  const table: [string, HttpSettings["upstreamTls"], number, RegExp][] = [
    ["verify off accepts a self-signed certificate", { verify: false }, 200, /^tls \/ (-|false)$/],
    ["verify on refuses an unknown CA: 503", { verify: true }, 503, /no backend/],
    [
      "verify on with the CA and the right SNI",
      { verify: true, ca: CERT, sni: "backend.test" },
      200,
      /^tls \/ backend\.test$/,
    ],
    [
      "verify on with the CA but a wrong name: 503",
      { verify: true, ca: CERT, sni: "other.test" },
      503,
      /no backend/,
    ],
  ];
  for (const [name, tls, status, body] of table) {
    test(name, async () => {
      const port = await proxyTo(await httpsBackend(), { upstreamTls: tls });
      const reply = await rawRequest(port, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
      assert.deepEqual(statusLines(reply), [status]);
      assert.match(bodyOf(reply), body);
    });
  }
});
