import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer as createHttpServer, request as httpRequest } from "node:http";
import { type AddressInfo, createServer as createNetServer, type Socket } from "node:net";
import { after, describe, it } from "node:test";
import { ProxyDataplane } from "../../../src/dataplane/proxy/dataplane.ts";
import { type BackendSpec, desiredFrontend, desiredState, type FrontendSpec } from "../../helpers/desired.ts";
import { freePort } from "../../helpers/ports.ts";
import {
  closed,
  connectTo,
  namedServer,
  proxyRig,
  readBytes,
  readLine,
  tcpServer,
  unresponsivePort,
} from "../../helpers/proxy-peers.ts";
import { delay, waitFor } from "../../helpers/wait.ts";

const rig = proxyRig();
after(() => rig.close());
const { defer, peer, proxy, client } = rig;

/** Connect, read the backend's name line, close. */
async function whoServes(port: number): Promise<string> {
  const s = await client(port);
  const name = await readLine(s);
  s.destroy();
  return name;
}

/** A named backend per entry, at the given weight. */
async function weightedNamedPeers(weights: [string, number][]): Promise<BackendSpec[]> {
  const specs: BackendSpec[] = [];
  for (const [name, weight] of weights) {
    const server = await peer(namedServer(name));
    specs.push({ name, port: server.port, weight });
  }
  return specs;
}

/** Who served each of `n` sequential connections, counted by name. */
async function servedCounts(port: number, n: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const name = await whoServes(port);
    seen.set(name, (seen.get(name) ?? 0) + 1);
  }
  return seen;
}

describe("TCP proxy", () => {
  it("carries bytes both ways to an echo backend and counts them", async () => {
    const echo = await peer(tcpServer());
    const { dp, port } = await proxy({ backends: [{ name: "echo", port: echo.port }] });
    const s = await client(port);
    s.write("hello through the proxy");
    assert.equal((await readBytes(s, 23)).toString(), "hello through the proxy");
    s.end();
    await closed(s);
    await waitFor(() => dp.stats().frontends.fe.connectionsActive === 0, 2000, "connection to finish");
    const stats = dp.stats().frontends.fe;
    assert.equal(stats.connectionsTotal, 1);
    assert.equal(stats.bytesIn, 23);
    assert.equal(stats.bytesOut, 23);
    assert.equal(stats.backends.echo.connectionsTotal, 1);
    assert.equal(stats.backends.echo.bytesIn, 23);
    assert.equal(stats.rejected, 0);
  });

  it("applies backpressure: a backend that stops reading stops the proxy reading the client", async () => {
    let backendSocket: Socket | null = null;
    let received = 0;
    const slow = await peer(
      tcpServer((socket) => {
        backendSocket = socket;
        socket.pause();
        socket.on("data", (d: Buffer) => {
          received += d.length;
        });
      }),
    );
    const { port } = await proxy({ backends: [{ name: "slow", port: slow.port }] });
    const s = await client(port);
    const total = 48 * 1024 * 1024;
    const chunk = Buffer.alloc(1024 * 1024, 7);
    for (let i = 0; i < total / chunk.length; i++) s.write(chunk);
    await delay(500);
    // Kernel buffers on the way hold a few MB each; the rest must still wait in the client.
    assert.ok(s.writableLength > 8 * 1024 * 1024, `client still holds ${s.writableLength} bytes`);
    backendSocket!.resume();
    await waitFor(() => received === total, 10000, "every byte to arrive once the backend reads");
    assert.equal(s.writableLength, 0);
  });

  it("proxies HTTP requests to a real HTTP server", async () => {
    const http = createHttpServer((req, res) => res.end(`you asked for ${req.url}`));
    http.listen(0, "127.0.0.1");
    await once(http, "listening");
    defer(() => new Promise<void>((r) => http.close(() => r())));
    http.closeIdleConnections();
    const { port } = await proxy({ backends: [{ name: "web", port: (http.address() as AddressInfo).port }] });
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port, path: "/a/b", agent: false }, (res) => {
        let text = "";
        res.on("data", (d) => {
          text += d;
        });
        res.on("end", () => resolve(text));
      });
      req.on("error", reject);
      req.end();
    });
    assert.equal(body, "you asked for /a/b");
  });

  it("never sends new connections to a weight-0 backend (100/100/0)", async () => {
    const specs = await weightedNamedPeers([
      ["a", 100],
      ["b", 100],
      ["c", 0],
    ]);
    const { port } = await proxy({ algorithm: "weighted-round-robin", backends: specs });
    const seen = await servedCounts(port, 20);
    assert.equal(seen.get("c"), undefined);
    assert.equal(seen.get("a"), 10);
    assert.equal(seen.get("b"), 10);
  });

  it("spreads maglev-hashed connections by weight and never to weight 0", async () => {
    const specs = await weightedNamedPeers([
      ["a", 100],
      ["b", 100],
      ["c", 0],
    ]);
    const { port } = await proxy({ algorithm: "maglev", backends: specs });
    const seen = await servedCounts(port, 40);
    assert.equal(seen.get("c"), undefined);
    assert.ok((seen.get("a") ?? 0) > 0 && (seen.get("b") ?? 0) > 0, `both a and b serve: ${[...seen]}`);
  });

  it("least-connections counts the proxy's open connections per backend", async () => {
    const a = await peer(namedServer("a"));
    const b = await peer(namedServer("b"));
    const { dp, port } = await proxy({
      algorithm: "least-connections",
      backends: [
        { name: "a", port: a.port },
        { name: "b", port: b.port },
      ],
    });
    const held: Socket[] = [];
    const names: string[] = [];
    for (let i = 0; i < 6; i++) {
      const s = await client(port);
      names.push(await readLine(s));
      held.push(s);
    }
    assert.equal(names.filter((n) => n === "a").length, 3, `open connections alternate: ${names}`);
    // Close two of a's: the next two new connections go to a.
    const onA = held.filter((_, i) => names[i] === "a");
    onA[0].destroy();
    onA[1].destroy();
    await waitFor(
      () => dp.stats().frontends.fe.backends.a.connectionsActive === 1,
      2000,
      "a's connections to end",
    );
    for (let i = 0; i < 2; i++) {
      const s = await client(port);
      assert.equal(await readLine(s), "a");
    }
  });

  it("retries a connect failure on another backend", async () => {
    const dead = await freePort();
    const alive = await peer(namedServer("alive"));
    const { dp, port } = await proxy({
      algorithm: "round-robin",
      backends: [
        { name: "a-dead", port: dead },
        { name: "b-alive", port: alive.port },
      ],
    });
    for (let i = 0; i < 4; i++) assert.equal(await whoServes(port), "alive");
    const stats = dp.stats().frontends.fe;
    assert.ok(stats.connectErrors >= 1, "the refused connects are counted");
    assert.equal(stats.backends["a-dead"].connectErrors, stats.connectErrors);
    assert.equal(stats.backends["b-alive"].connectionsTotal, 4);
  });

  it("gives up on a backend that does not answer within connectTimeout and tries the next", async () => {
    const hole = await unresponsivePort();
    defer(() => hole.close());
    const alive = await peer(namedServer("alive"));
    const { dp, port } = await proxy({
      algorithm: "round-robin",
      backends: [
        { name: "a-hole", port: hole.port },
        { name: "b-alive", port: alive.port },
      ],
      settings: { connectTimeout: 200 },
    });
    const started = Date.now();
    assert.equal(await whoServes(port), "alive");
    const took = Date.now() - started;
    assert.ok(took >= 150 && took < 2000, `served by the second backend after the 200ms timeout (${took}ms)`);
    assert.equal(dp.stats().frontends.fe.backends["a-hole"].connectErrors, 1);
  });

  it("closes the client when every backend refuses within connectRetries", async () => {
    const { dp, port } = await proxy({
      backends: [
        { name: "a", port: await freePort() },
        { name: "b", port: await freePort() },
      ],
      settings: { connectRetries: 5 },
    });
    const s = await client(port);
    await closed(s);
    assert.equal(dp.stats().frontends.fe.connectErrors, 2, "each backend tried once");
  });

  it("gives up after connectRetries other backends", async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    const { dp, port } = await proxy({
      backends: ports.map((p, i) => ({ name: `b${i}`, port: p })),
      settings: { connectRetries: 1 },
    });
    const s = await client(port);
    await closed(s);
    assert.equal(dp.stats().frontends.fe.connectErrors, 2, "first try + one retry");
  });

  it("closes the client at once when no backend has weight", async () => {
    const server = await peer(namedServer("a"));
    const { dp, port } = await proxy({ backends: [{ name: "a", port: server.port, weight: 0 }] });
    const s = await client(port);
    await closed(s, 1000);
    assert.equal(server.received.length, 0, "the backend never saw a connection");
    assert.equal(dp.stats().frontends.fe.connectErrors, 0);
  });

  it("keeps an open connection on a drained backend while new connections avoid it", async () => {
    const a = await peer(namedServer("a"));
    const b = await peer(namedServer("b"));
    const fe = (wa: number, flush = false): FrontendSpec => ({
      algorithm: "weighted-round-robin",
      backends: [
        { name: "a", port: a.port, weight: wa, flush },
        { name: "b", port: b.port, weight: 100 },
      ],
    });
    const { dp, port } = await proxy(fe(100));
    const held = await client(port);
    assert.equal(await readLine(held), "a");
    await dp.apply(desiredState([desiredFrontend(fe(0))], 2));
    for (let i = 0; i < 4; i++) assert.equal(await whoServes(port), "b");
    held.write("still here");
    assert.equal((await readBytes(held, 10)).toString(), "still here");
    assert.equal(dp.stats().frontends.fe.backends.a.connectionsActive, 1);
  });

  it("ends a flushed backend's connections on update", async () => {
    const a = await peer(namedServer("a"));
    const { dp, port } = await proxy({ backends: [{ name: "a", port: a.port }] });
    const held = await client(port);
    assert.equal(await readLine(held), "a");
    await dp.apply(
      desiredState([desiredFrontend({ backends: [{ name: "a", port: a.port, weight: 0, flush: true }] })], 2),
    );
    await closed(held, 1000);
    await waitFor(() => dp.stats().frontends.fe.connectionsActive === 0, 1000, "flush to finish");
  });

  it("lets connections to a backend that left the desired state drain", async () => {
    const a = await peer(namedServer("a"));
    const b = await peer(namedServer("b"));
    const { dp, port } = await proxy({ backends: [{ name: "a", port: a.port }] });
    const held = await client(port);
    assert.equal(await readLine(held), "a");
    await dp.apply(desiredState([desiredFrontend({ backends: [{ name: "b", port: b.port }] })], 2));
    assert.equal(await whoServes(port), "b");
    held.write("ping");
    assert.equal((await readBytes(held, 4)).toString(), "ping");
    assert.equal(dp.stats().frontends.fe.backends.a.connectionsActive, 1, "still counted under a");
  });

  it("half-closes: the client ends its side and still receives the backend's reply", async () => {
    // The backend answers only after the request is complete (its read side ended).
    const upper = await peer(
      tcpServer((socket) => {
        const chunks: Buffer[] = [];
        socket.on("data", (d: Buffer) => chunks.push(d));
        socket.on("end", () => {
          setTimeout(() => socket.end(Buffer.concat(chunks).toString().toUpperCase()), 50);
        });
      }),
    );
    const { port } = await proxy({ backends: [{ name: "upper", port: upper.port }] });
    const s = await client(port);
    s.end("shout this");
    const reply = await readBytes(s, 100);
    assert.equal(reply.toString(), "SHOUT THIS");
  });

  it("closes a connection idle for idleTimeout, but not one that keeps talking", async () => {
    const echo = await peer(tcpServer());
    const { port } = await proxy({
      backends: [{ name: "echo", port: echo.port }],
      settings: { idleTimeout: 400 },
    });
    const idle = await client(port);
    const busy = await client(port);
    const started = Date.now();
    let idleClosedAt = 0;
    idle.on("close", () => {
      idleClosedAt = Date.now();
    });
    // The busy connection talks every 50 ms for well over two idle timeouts.
    while (Date.now() - started < 1000) {
      busy.write("x");
      await readBytes(busy, 1);
      await delay(50);
    }
    assert.ok(idleClosedAt > 0, "the idle connection was closed");
    assert.ok(
      idleClosedAt - started >= 350,
      `closed after ${idleClosedAt - started}ms, not before the timeout`,
    );
    assert.equal(busy.destroyed, false, "the busy connection is still open after 1000ms");
  });

  it("enforces maxConnections and accepts again once one closes", async () => {
    const echo = await peer(tcpServer());
    const { dp, port } = await proxy({
      backends: [{ name: "echo", port: echo.port }],
      settings: { maxConnections: 2 },
    });
    const one = await client(port);
    const two = await client(port);
    for (const s of [one, two]) {
      s.write("ok");
      assert.equal((await readBytes(s, 2)).toString(), "ok");
    }
    const three = await client(port);
    await closed(three, 1000);
    assert.equal(dp.stats().frontends.fe.rejected, 1);
    one.destroy();
    await waitFor(() => dp.stats().frontends.fe.connectionsActive === 1, 1000, "one to close");
    const four = await client(port);
    four.write("ok");
    assert.equal((await readBytes(four, 2)).toString(), "ok");
  });

  for (const version of ["v1", "v2"] as const) {
    it(`sends a PROXY ${version} header before the client's bytes`, async () => {
      const backend = await peer(tcpServer(() => {}));
      const { port } = await proxy({
        backends: [{ name: "pp", port: backend.port }],
        settings: { proxyProtocol: version },
      });
      const s = await client(port);
      s.write("PAYLOAD");
      await waitFor(() => Buffer.concat(backend.received[0] ?? []).includes("PAYLOAD"), 2000, "payload");
      const got = Buffer.concat(backend.received[0]);
      const clientPort = s.localPort!;
      if (version === "v1") {
        assert.equal(
          got.toString("latin1"),
          `PROXY TCP4 127.0.0.1 127.0.0.1 ${clientPort} ${port}\r\nPAYLOAD`,
        );
      } else {
        const expected = Buffer.alloc(28);
        Buffer.from("0d0a0d0a000d0a515549540a2111000c7f0000017f000001", "hex").copy(expected);
        expected.writeUInt16BE(clientPort, 24);
        expected.writeUInt16BE(port, 26);
        assert.deepEqual(got, Buffer.concat([expected, Buffer.from("PAYLOAD")]));
      }
    });
  }

  it("proxies an IPv6 frontend to an IPv4 backend and writes a TCP6 PROXY header", async (t) => {
    const v6 = await new Promise<boolean>((resolve) => {
      const probe = createNetServer();
      probe.once("error", () => resolve(false));
      probe.listen(0, "::1", () => probe.close(() => resolve(true)));
    });
    if (!v6) {
      t.skip("no ::1 on this host");
      return;
    }
    const backend = await peer(tcpServer(() => {}));
    const dp = new ProxyDataplane();
    defer(() => dp.stop(0));
    await dp.apply(
      desiredState([
        desiredFrontend({
          listen: { host: "::1", port: 0 },
          backends: [{ name: "b", port: backend.port }],
          settings: { proxyProtocol: "v1" },
        }),
      ]),
    );
    const port = dp.address("fe")!.port;
    const s = await connectTo(port, "::1");
    defer(() => void s.destroy());
    s.write("six");
    await waitFor(() => Buffer.concat(backend.received[0] ?? []).includes("six"), 2000, "payload");
    assert.equal(
      Buffer.concat(backend.received[0]).toString("latin1"),
      `PROXY TCP6 ::1 ::1 ${s.localPort} ${port}\r\nsix`,
    );
  });

  it("survives clients that reset mid-connection", async () => {
    const echo = await peer(tcpServer());
    const { dp, port } = await proxy({ backends: [{ name: "echo", port: echo.port }] });
    for (let i = 0; i < 10; i++) {
      const s = await client(port);
      s.write("garbage\0\xff");
      if (i % 2 === 0) await delay(5);
      s.resetAndDestroy();
    }
    await waitFor(() => dp.stats().frontends.fe.connectionsActive === 0, 2000, "all resets to settle");
    const s = await client(port);
    s.write("alive");
    assert.equal((await readBytes(s, 5)).toString(), "alive");
  });

  it("closes the client when its backend resets, and keeps serving", async () => {
    const resetting = await peer(
      tcpServer((socket) => {
        socket.once("data", () => socket.resetAndDestroy());
      }),
    );
    const { dp, port } = await proxy({ backends: [{ name: "reset", port: resetting.port }] });
    for (let i = 0; i < 5; i++) {
      const s = await client(port);
      s.write("boom");
      await closed(s, 2000);
    }
    await waitFor(() => dp.stats().frontends.fe.connectionsActive === 0, 2000, "resets to settle");
    const echo = await peer(tcpServer());
    await dp.apply(desiredState([desiredFrontend({ backends: [{ name: "echo", port: echo.port }] })], 2));
    const s = await client(port);
    s.write("alive");
    assert.equal((await readBytes(s, 5)).toString(), "alive");
  });
});
