// WebSocket (HTTP/1.1 Upgrade) through a frontend whose backends are reached with
// `upstream: h2`: the upgrade goes over a dedicated HTTP/1.1 connection to the same
// backend (TLS with the same verify/SNI settings), ordinary requests stay on HTTP/2.
// The backends speak both protocols on one port, as h2-capable servers usually do.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import {
  createServer as createH2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
} from "node:http2";
import { createServer as createNetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { after, describe, test } from "node:test";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import type { HttpSettings } from "../../../src/config/routes.ts";
import { replayingDuplex } from "../../../src/dataplane/proxy/http/h2.ts";
import { writeSelfSignedCert } from "../../helpers/certs.ts";
import { desiredFrontend, rawRequest, startProxy, statusLines } from "./harness.ts";
import { acceptWebSocket, echoFrames, echoThrough, readUpgradeHead } from "./ws-echo.ts";

const dir = mkdtempSync(join(tmpdir(), "lodestone-ws-h2-"));
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

const CERT = join(dir, "b.crt");
const KEY = join(dir, "b.key");
writeSelfSignedCert(CERT, KEY, { cn: "backend.test", subjectAltName: "DNS:backend.test" });

const H2_PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

interface DualBackend {
  port: number;
  /** HTTP/1.1 heads received: request line and lowercased fields. */
  upgrades: { line: string; fields: Record<string, string> }[];
  /** HTTP/2 streams received (":path" each). */
  h2Paths: string[];
  /** TLS only: SNI and ALPN of each HTTP/1.1 connection. */
  h1Tls: { servername: string | false | null; alpn: string | false | null }[];
}

/**
 * A backend speaking HTTP/2 (prior knowledge, or ALPN h2 over TLS) and HTTP/1.1 on one
 * port: h2 streams get 200 "h2 <path>"; an HTTP/1.1 WebSocket upgrade gets the echo;
 * any other HTTP/1.1 head gets 426 and stays open (keep-alive).
 */
async function dualBackend(secure: boolean): Promise<DualBackend> {
  const b: DualBackend = { port: 0, upgrades: [], h2Paths: [], h1Tls: [] };
  const h2 = createH2Server();
  const sessions = new Set<ServerHttp2Session>();
  const sockets = new Set<Duplex>();
  h2.on("session", (s) => {
    sessions.add(s);
    s.on("error", () => {});
  });
  h2.on("stream", (stream, headers) => {
    stream.on("error", () => {});
    b.h2Paths.push(String(headers[":path"]));
    stream.respond({ ":status": 200, "content-type": "text/plain" });
    stream.end(`h2 ${headers[":path"]}`);
  });
  const http1 = (socket: Duplex, first: Buffer): void => {
    const onHead = (line: string, fields: Record<string, string>, rest: Buffer): void => {
      b.upgrades.push({ line, fields });
      if (fields.upgrade?.toLowerCase() === "websocket") {
        acceptWebSocket(socket, fields["sec-websocket-key"] ?? "", rest);
        return;
      }
      socket.write("HTTP/1.1 426 Upgrade Required\r\nContent-Length: 4\r\n\r\nnope");
      readUpgradeHead(socket, rest, onHead); // keep-alive: the next head on this connection
    };
    readUpgradeHead(socket, first, onHead);
  };
  const sniff = (socket: Duplex): void => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    let seen = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      seen = Buffer.concat([seen, d]);
      if (seen.length < H2_PREFACE.length) return;
      socket.off("data", onData);
      if (seen.subarray(0, H2_PREFACE.length).toString("latin1") === H2_PREFACE) {
        h2.emit("connection", replayingDuplex(socket as Socket, seen));
      } else {
        http1(socket, seen);
      }
    };
    socket.on("data", onData);
  };
  const server = secure
    ? createTlsServer(
        { cert: readFileSync(CERT), key: readFileSync(KEY), ALPNProtocols: ["h2", "http/1.1"] },
        (socket: TLSSocket) => {
          if (socket.alpnProtocol === "h2") {
            socket.on("error", () => {});
            sockets.add(socket);
            h2.emit("connection", socket);
            return;
          }
          b.h1Tls.push({ servername: socket.servername, alpn: socket.alpnProtocol });
          sniff(socket);
        },
      )
    : createNetServer(sniff);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  b.port = (server.address() as { port: number }).port;
  cleanups.push(async () => {
    for (const s of sessions) s.destroy();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return b;
}

/**
 * An h2c backend that advertises SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441): a
 * CONNECT stream with :protocol websocket gets 200 (or `refuse`) and the echo; other
 * streams get 200 "h2 <path>".
 */
async function extendedConnectBackend(
  refuse = 0,
): Promise<{ port: number; connects: IncomingHttpHeaders[]; paths: string[] }> {
  const b = { port: 0, connects: [] as IncomingHttpHeaders[], paths: [] as string[] };
  const server = createH2Server({ settings: { enableConnectProtocol: true } });
  const sessions = new Set<ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("error", () => {});
  });
  server.on("stream", (stream, headers) => {
    stream.on("error", () => {});
    if (headers[":method"] === "CONNECT") {
      b.connects.push(headers);
      if (refuse !== 0) {
        stream.respond({ ":status": refuse, "content-type": "text/plain" });
        stream.end("refused");
        return;
      }
      stream.respond({ ":status": 200, "sec-websocket-protocol": "chat" });
      echoFrames(stream, Buffer.alloc(0));
      return;
    }
    b.paths.push(String(headers[":path"]));
    stream.respond({ ":status": 200, "content-type": "text/plain" });
    stream.end(`h2 ${headers[":path"]}`);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  b.port = (server.address() as { port: number }).port;
  cleanups.push(async () => {
    for (const s of sessions) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return b;
}

async function proxyTo(port: number, http: Partial<HttpSettings>): Promise<number> {
  const { proxy, port: front } = await startProxy(desiredFrontend([{ name: "b", port }], { http }));
  cleanups.push(() => proxy.stop(50));
  return front;
}

const MESSAGES = ["hello", "y".repeat(500)];

describe("WebSocket through upstream: h2 backends", () => {
  test("cleartext h2 backend: the upgrade goes over HTTP/1.1 and echoes; plain requests stay on h2", async () => {
    const b = await dualBackend(false);
    const port = await proxyTo(b.port, { upstream: "h2" });
    assert.deepEqual(await echoThrough(port, MESSAGES), MESSAGES);
    assert.equal(b.upgrades.length, 1);
    assert.equal(b.upgrades[0].line, "GET /chat HTTP/1.1");
    assert.equal(b.upgrades[0].fields.connection, "Upgrade");
    assert.equal(b.upgrades[0].fields.upgrade, "websocket");
    assert.equal(b.upgrades[0].fields["x-forwarded-for"], "127.0.0.1");
    assert.deepEqual(b.h2Paths, [], "the upgrade never became an HTTP/2 stream");

    const plain = await rawRequest(port, "GET /plain HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert.deepEqual(statusLines(plain), [200]);
    assert.match(plain, /h2 \/plain/);
    assert.deepEqual(b.h2Paths, ["/plain"]);

    // The session now exists, but does not offer extended CONNECT: still HTTP/1.1.
    assert.deepEqual(await echoThrough(port, MESSAGES), MESSAGES);
    assert.equal(b.upgrades.length, 2);
    assert.deepEqual(b.h2Paths, ["/plain"]);
  });

  test("an upgrade the backend refuses is an ordinary response; the next request on the client connection goes over h2", async () => {
    const b = await dualBackend(false);
    const port = await proxyTo(b.port, { upstream: "h2" });
    const reply = await rawRequest(port, [
      "GET /u HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: other\r\n\r\n",
      "GET /next HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    ]);
    assert.deepEqual(statusLines(reply), [426, 200]);
    assert.match(reply, /h2 \/next/);
    assert.equal(b.upgrades.length, 1);
    assert.deepEqual(b.h2Paths, ["/next"]);
  });

  test("TLS h2 backend: the upgrade connection verifies the certificate with the same SNI and offers http/1.1", async () => {
    const b = await dualBackend(true);
    const port = await proxyTo(b.port, {
      upstream: "h2",
      upstreamTls: { verify: true, sni: "backend.test", ca: CERT },
    });
    assert.deepEqual(await echoThrough(port, MESSAGES), MESSAGES);
    assert.deepEqual(b.h1Tls, [{ servername: "backend.test", alpn: "http/1.1" }]);
    assert.equal(b.upgrades[0].fields.upgrade, "websocket");

    const plain = await rawRequest(port, "GET /tls HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert.match(plain, /h2 \/tls/);
    assert.deepEqual(b.h2Paths, ["/tls"]);
  });

  test("TLS h2 backend: an SNI name the certificate does not cover fails the upgrade (503), nothing reaches the backend", async () => {
    const b = await dualBackend(true);
    const port = await proxyTo(b.port, {
      upstream: "h2",
      upstreamTls: { verify: true, sni: "other.test", ca: CERT },
    });
    const reply = await rawRequest(
      port,
      "GET /chat HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      { until: (t) => t.includes("\r\n\r\n") },
    );
    assert.deepEqual(statusLines(reply), [503]);
    assert.deepEqual(b.upgrades, []);
  });

  test("a backend whose session offers extended CONNECT (RFC 8441) gets the WebSocket as a CONNECT stream", async () => {
    const b = await extendedConnectBackend();
    const port = await proxyTo(b.port, { upstream: "h2" });
    // The first request opens the session; its SETTINGS tell whether CONNECT may carry WebSocket.
    assert.match(
      await rawRequest(port, "GET /first HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"),
      /h2 \/first/,
    );
    assert.deepEqual(await echoThrough(port, MESSAGES, ["chat"]), MESSAGES);
    assert.equal(b.connects.length, 1);
    const c = b.connects[0];
    assert.equal(c[":protocol"], "websocket");
    assert.equal(c[":path"], "/chat");
    assert.equal(c["sec-websocket-key"], undefined, "the key/accept handshake stays on the HTTP/1.1 side");
    assert.equal(c["sec-websocket-version"], "13");
    assert.equal(c["x-forwarded-for"], "127.0.0.1");
    assert.deepEqual(b.paths, ["/first"]);
  });

  test("an extended CONNECT the backend refuses is an ordinary response; the client connection goes on", async () => {
    const b = await extendedConnectBackend(403);
    const port = await proxyTo(b.port, { upstream: "h2" });
    await rawRequest(port, "GET /first HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    const reply = await rawRequest(port, [
      "GET /chat HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      "GET /next HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    ]);
    assert.deepEqual(statusLines(reply), [403, 200]);
    assert.match(reply, /refused/);
    assert.match(reply, /h2 \/next/);
    assert.equal(b.connects.length, 1);
  });
});
