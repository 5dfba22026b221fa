import assert from "node:assert/strict";
import { connect, createServer } from "node:net";
import { after, describe, test } from "node:test";
import { createHttpListener } from "../../../src/dataplane/proxy/http/index.ts";
import {
  desiredFrontend,
  type HttpBackend,
  rawRequest,
  sleep,
  startHttpBackend,
  startProxy,
  statusLines,
} from "./harness.ts";

const backends: HttpBackend[] = [];
after(async () => {
  for (const b of backends) await b.close();
});

/** Wait (bounded: 3 s) for a condition instead of guessing a delay. */
async function until(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not reached in 3 s");
    await sleep(5);
  }
}

async function slowBackend(delayMs: number, text: string): Promise<HttpBackend> {
  const b = await startHttpBackend((_req, res) => {
    setTimeout(() => res.end(text), delayMs);
  });
  backends.push(b);
  return b;
}

describe("listener lifecycle: stop drains, update moves new requests, flush cuts", () => {
  test("stop() lets an in-flight request finish with Connection: close, then refuses new connections", async () => {
    const b = await slowBackend(300, "slow answer");
    const { proxy, port } = await startProxy(desiredFrontend([{ name: "b", port: b.port }]));
    const inflight = rawRequest(port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", { timeout: 3000 });
    await until(() => b.requests.length === 1);
    const stopped = proxy.stop(2000);
    const reply = await inflight;
    await stopped;
    assert.deepEqual(statusLines(reply), [200]);
    assert.match(reply, /Connection: close/);
    assert.ok(reply.endsWith("slow answer"));
    await assert.rejects(
      new Promise((resolve, reject) => {
        const s = connect(port, "127.0.0.1", () => resolve(s));
        s.on("error", reject);
      }),
    );
  });

  test("stop() closes idle keep-alive connections at once", async () => {
    const b = await slowBackend(0, "x");
    const { proxy, port } = await startProxy(desiredFrontend([{ name: "b", port: b.port }]));
    const reply = rawRequest(port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", { timeout: 5000 });
    await until(() => b.requests.length === 1);
    await sleep(50); // the response is on its way back; the connection turns idle
    const started = Date.now();
    await proxy.stop(5000);
    assert.deepEqual(statusLines(await reply), [200]);
    assert.ok(Date.now() - started < 1000, "idle connection was not kept until the deadline");
  });

  test("update() sends new requests to the new backend set", async () => {
    const one = await slowBackend(0, "one");
    const two = await slowBackend(0, "two");
    const { proxy, port } = await startProxy(desiredFrontend([{ name: "one", port: one.port }]));
    try {
      const get = "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
      assert.ok((await rawRequest(port, get)).endsWith("one"));
      proxy.update(desiredFrontend([{ name: "two", port: two.port }]));
      assert.ok((await rawRequest(port, get)).endsWith("two"));
    } finally {
      await proxy.stop(100);
    }
  });

  test("update() with weight 0 and flush ends exchanges on that backend now", async () => {
    const b = await slowBackend(1000, "too late");
    const { proxy, port } = await startProxy(desiredFrontend([{ name: "b", port: b.port }]));
    try {
      const started = Date.now();
      const reply = rawRequest(port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", { timeout: 3000 });
      await until(() => b.requests.length === 1);
      const fe = desiredFrontend([{ name: "b", port: b.port, weight: 0 }]);
      fe.backends[0].flush = true;
      proxy.update(fe);
      const text = await reply;
      assert.ok(!text.includes("too late"));
      assert.ok(Date.now() - started < 900);
    } finally {
      await proxy.stop(100);
    }
  });

  test("a taken port fails start() with LISTEN_FAILED naming EADDRINUSE; stop() frees the port", async () => {
    const b = await slowBackend(0, "x");
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(0, "127.0.0.1", r));
    const taken = (squatter.address() as { port: number }).port;
    const fe = desiredFrontend([{ name: "b", port: b.port }]);
    const onTaken = { ...fe, listen: { host: "127.0.0.1", port: taken } };
    onTaken.settings = { ...fe.settings, listen: onTaken.listen };
    const refused = createHttpListener(onTaken);
    await assert.rejects(refused.start(), { code: "LISTEN_FAILED", message: /EADDRINUSE/ });
    await refused.stop(0);
    await new Promise((r) => squatter.close(r));
    const { proxy, port } = await startProxy(onTaken);
    assert.equal(port, taken);
    const reply = await rawRequest(port, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", {
      timeout: 3000,
    });
    assert.deepEqual(statusLines(reply), [200]);
    await proxy.stop(100);
    // Bound again at once: the listening socket is gone.
    const again = createServer();
    await new Promise<void>((resolve, reject) => {
      again.once("error", reject);
      again.listen(taken, "127.0.0.1", resolve);
    });
    await new Promise((r) => again.close(r));
  });
});
