import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import type { HttpListener } from "../../../src/dataplane/proxy/http/index.ts";
import { desiredFrontend, rawRequest, startProxy, statusLines } from "./harness.ts";
import { acceptWebSocket, echoThrough } from "./ws-echo.ts";

/** A minimal WebSocket echo server (RFC 6455): text frames under 64 KiB, echoed back. */
function startEchoServer(): Promise<{ server: Server; port: number; upgrades: string[] }> {
  const upgrades: string[] = [];
  const server = createServer((_req, res) => {
    res.statusCode = 426;
    res.end("websocket only");
  });
  server.on("upgrade", (req, socket: Socket, head: Buffer) => {
    socket.on("error", () => {});
    upgrades.push(`${req.headers.connection}|${req.headers.upgrade}|${req.headers["x-forwarded-for"]}`);
    acceptWebSocket(socket, String(req.headers["sec-websocket-key"]), head);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ server, port: (server.address() as { port: number }).port, upgrades }),
    ),
  );
}

describe("WebSocket upgrade passes through as a tunnel", () => {
  let echo: Awaited<ReturnType<typeof startEchoServer>>;
  let proxy: HttpListener;
  let port: number;

  before(async () => {
    echo = await startEchoServer();
    ({ proxy, port } = await startProxy(desiredFrontend([{ name: "ws", port: echo.port }])));
  });
  after(async () => {
    await proxy.stop(100);
    echo.server.closeAllConnections();
    await new Promise<void>((r) => echo.server.close(() => r()));
  });

  test("Node's WebSocket client exchanges messages with the backend through the proxy", async () => {
    const replies = await echoThrough(port, ["hello", "x".repeat(1000)]);
    assert.deepEqual(replies, ["hello", "x".repeat(1000)]);
    const [connection, upgrade, xff] = echo.upgrades.at(-1)!.split("|");
    assert.equal(connection, "Upgrade");
    assert.equal(upgrade, "websocket");
    assert.equal(xff, "127.0.0.1");
  });

  test("an upgrade the backend refuses is an ordinary response", async () => {
    const reply = await rawRequest(port, "GET /plain HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert.deepEqual(statusLines(reply), [426]);
  });
});
