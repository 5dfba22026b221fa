import assert from "node:assert/strict";
import { get as httpGet } from "node:http";
import { connect } from "node:net";
import { after, describe, test } from "node:test";
import { emitsWithin } from "../../helpers/wait.ts";
import {
  deadPort,
  desiredFrontend,
  type FrontendOptions,
  rawRequest,
  sleep,
  startHttpBackend,
  startProxy,
  startRawBackend,
  statusLines,
} from "./harness.ts";

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function proxyFor(
  backends: Parameters<typeof desiredFrontend>[0],
  o: FrontendOptions = {},
): Promise<number> {
  const { proxy, port } = await startProxy(desiredFrontend(backends, o));
  cleanups.push(() => proxy.stop(50));
  return port;
}

const GET = "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";

function body(reply: string): string {
  return reply.slice(reply.indexOf("\r\n\r\n") + 4);
}

describe("proxy errors: 502, 503, 504, 408 with short text bodies", () => {
  test("every backend at weight 0: 503 saying no backend is available", async () => {
    const port = await proxyFor([{ name: "b", port: 9, weight: 0 }]);
    const reply = await rawRequest(port, GET);
    assert.deepEqual(statusLines(reply), [503]);
    assert.match(body(reply), /no backend is available/);
  });

  test("a 503 for a bodiless request keeps the client connection open", async () => {
    const port = await proxyFor([{ name: "b", port: 9, weight: 0 }]);
    const reply = await rawRequest(port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n" + GET);
    assert.deepEqual(statusLines(reply), [503, 503]);
  });

  test("connect refused on every backend: 503 after trying each", async () => {
    const p1 = await deadPort();
    const p2 = await deadPort();
    const { proxy, port } = await startProxy(
      desiredFrontend([
        { name: "d1", port: p1 },
        { name: "d2", port: p2 },
      ]),
    );
    cleanups.push(() => proxy.stop(50));
    const reply = await rawRequest(port, GET);
    assert.deepEqual(statusLines(reply), [503]);
    const s = proxy.stats();
    assert.equal(s.backends.d1.connectErrors + s.backends.d2.connectErrors, 2);
  });

  test("a refused connect is retried on another backend: the client never notices", async () => {
    const good = await startHttpBackend((_req, res) => res.end("fine"));
    cleanups.push(() => good.close());
    const dead = await deadPort();
    const port = await proxyFor([
      { name: "a-dead", port: dead },
      { name: "b-good", port: good.port },
    ]);
    for (let i = 0; i < 6; i++) {
      const reply = await rawRequest(port, GET);
      assert.deepEqual(statusLines(reply), [200], `request ${i}`);
      assert.equal(body(reply), "fine");
    }
  });

  test("backend closes without answering: 502", async () => {
    const b = await startRawBackend((s) => s.on("data", () => s.destroy()));
    cleanups.push(() => b.close());
    const port = await proxyFor([{ name: "b", port: b.port }]);
    const reply = await rawRequest(port, GET);
    assert.deepEqual(statusLines(reply), [502]);
    assert.match(body(reply), /Bad Gateway/);
    assert.doesNotMatch(reply, /127\.0\.0\.1/, "no internals in the error");
  });

  test("backend sends an invalid response: 502", async () => {
    const b = await startRawBackend((s) =>
      s.on("data", () => s.end("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")),
    );
    cleanups.push(() => b.close());
    const port = await proxyFor([{ name: "b", port: b.port }]);
    assert.deepEqual(statusLines(await rawRequest(port, GET)), [502]);
  });

  test("backend sends garbage: 502", async () => {
    const b = await startRawBackend((s) => s.on("data", () => s.end("SSH-2.0-OpenSSH\r\n\r\n")));
    cleanups.push(() => b.close());
    const port = await proxyFor([{ name: "b", port: b.port }]);
    assert.deepEqual(statusLines(await rawRequest(port, GET)), [502]);
  });

  test("backend does not answer within response-timeout: 504", async () => {
    const b = await startRawBackend(); // accepts, reads, never answers
    cleanups.push(() => b.close());
    const port = await proxyFor([{ name: "b", port: b.port }], { http: { responseTimeout: 300 } });
    const started = Date.now();
    const reply = await rawRequest(port, GET);
    assert.deepEqual(statusLines(reply), [504]);
    assert.match(body(reply), /did not respond in time/);
    assert.ok(Date.now() - started >= 250);
  });

  test("a close-delimited response is relayed whole, then the client is closed", async () => {
    const b = await startRawBackend((s) => s.on("data", () => s.end("HTTP/1.1 200 OK\r\n\r\nuntil-close")));
    cleanups.push(() => b.close());
    const port = await proxyFor([{ name: "b", port: b.port }]);
    const reply = await rawRequest(port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert.equal(body(reply), "until-close");
    assert.match(reply, /Connection: close/);
  });

  test("slowloris: a request head not finished within request-head-timeout gets 408", async () => {
    const port = await proxyFor([{ name: "b", port: 9 }], { http: { requestHeadTimeout: 300 } });
    const started = Date.now();
    const reply = await rawRequest(port, "GET / HTTP/1.1\r\nHost: h\r\nX-Slow: 1", { timeout: 3000 });
    assert.deepEqual(statusLines(reply), [408]);
    assert.ok(Date.now() - started >= 250);
  });

  test("an idle keep-alive connection is closed after keep-alive-timeout", async () => {
    const good = await startHttpBackend((_req, res) => res.end("x"));
    cleanups.push(() => good.close());
    const port = await proxyFor([{ name: "b", port: good.port }], { http: { keepAliveTimeout: 200 } });
    const started = Date.now();
    const reply = await rawRequest(port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", { timeout: 3000 });
    assert.deepEqual(statusLines(reply), [200]);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 150 && elapsed < 2500, `closed after ${elapsed} ms`);
  });

  test("a client silent for idle-timeout is cut, even while its request waits for the backend", async () => {
    const b = await startRawBackend(); // accepts, reads, never answers
    cleanups.push(() => b.close());
    const port = await proxyFor([{ name: "b", port: b.port }], {
      idleTimeout: 300,
      http: { responseTimeout: 20_000 },
    });
    const started = Date.now();
    const s = connect(port, "127.0.0.1");
    s.on("error", () => {});
    s.write(GET);
    const closed = await emitsWithin(s, "close", 5000);
    s.destroy();
    const elapsed = Date.now() - started;
    assert.ok(closed, "the proxy closed the silent connection within 5 s");
    assert.ok(elapsed >= 250, `cut after ${elapsed} ms`);
  });

  test("a client that never closes its side after a Connection: close response is let go after 2 s of silence", async () => {
    const good = await startHttpBackend((_req, res) => res.end("x"));
    cleanups.push(() => good.close());
    const { proxy, port } = await startProxy(desiredFrontend([{ name: "b", port: good.port }]));
    cleanups.push(() => proxy.stop(50));
    const s = connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    s.on("error", () => {});
    cleanups.push(async () => void s.destroy());
    let reply = "";
    s.on("data", (d: Buffer) => {
      reply += d.toString("latin1");
    });
    const ended = new Promise((r) => s.on("end", r));
    s.write(GET);
    await ended; // the proxy's FIN; ours never comes
    const finAt = Date.now();
    assert.deepEqual(statusLines(reply), [200]);
    await sleep(1000);
    assert.equal(proxy.stats().connectionsActive, 1, "still lingering after 1 s");
    while (proxy.stats().connectionsActive > 0 && Date.now() - finAt < 6000) await sleep(20);
    const elapsed = Date.now() - finAt;
    assert.equal(proxy.stats().connectionsActive, 0, "gone within 6 s");
    assert.ok(elapsed >= 1900, `gone after ${elapsed} ms`);
  });

  test("a pooled connection the backend closed meanwhile is replaced transparently", async () => {
    // The backend closes each connection 50 ms after its response: the proxy's pooled
    // connection dies while idle and must not turn into a 502 for the next request.
    const b = await startRawBackend((s) =>
      s.on("data", () => {
        s.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        setTimeout(() => s.destroy(), 50);
      }),
    );
    cleanups.push(() => b.close());
    const port = await proxyFor([{ name: "b", port: b.port }]);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(statusLines(await rawRequest(port, GET)), [200]);
      await sleep(100);
    }
    assert.equal(b.connections, 3);
  });

  test("a reused connection the backend drops on arrival is retried once on a fresh one", async () => {
    // The backend answers the first request of each connection and drops the
    // connection on the second: exactly the keep-alive race of a backend timing out
    // an idle connection as the proxy reuses it.
    const b = await startRawBackend((s) => {
      let n = 0;
      s.on("data", () => {
        if (++n === 1) s.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        else s.destroy();
      });
    });
    cleanups.push(() => b.close());
    const port = await proxyFor([{ name: "b", port: b.port }]);
    for (let i = 0; i < 3; i++)
      assert.deepEqual(statusLines(await rawRequest(port, GET)), [200], `request ${i}`);
    assert.equal(b.connections, 3);
  });

  test("a truncated response body cuts the client connection (the client sees an error)", async () => {
    const b = await startRawBackend((s) =>
      s.on("data", () => s.end("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly-this")),
    );
    cleanups.push(() => b.close());
    const port = await proxyFor([{ name: "b", port: b.port }]);
    const outcome = await new Promise<string>((resolve) => {
      const req = httpGet({ port, path: "/", agent: false }, (res) => {
        res.on("data", () => {});
        res.on("end", () => resolve("complete"));
        res.on("error", () => resolve("error"));
        res.on("aborted", () => resolve("error"));
      });
      req.on("error", () => resolve("error"));
    });
    assert.equal(outcome, "error");
  });

  test("an HTTP/1.0 client gets a chunked answer de-chunked and close-delimited", async () => {
    // A non-conforming backend that answers an HTTP/1.0 request with chunked coding.
    const b = await startRawBackend((s) =>
      s.on("data", () =>
        s.write(
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n",
        ),
      ),
    );
    cleanups.push(() => b.close());
    const port = await proxyFor([{ name: "b", port: b.port }]);
    const reply = await rawRequest(port, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert.deepEqual(statusLines(reply), [200]);
    assert.doesNotMatch(reply, /Transfer-Encoding/i);
    assert.match(reply, /Connection: close/);
    assert.equal(body(reply), "hello world");
  });
});
