// Per-route timeouts and retries on forward routes: a route's own response-timeout,
// request-timeout, retries and connect-retries apply to its requests only, while
// requests of other routes keep the frontend's.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import type { HttpSettings } from "../../../src/config/routes.ts";
import type { HttpListener } from "../../../src/dataplane/proxy/http/index.ts";
import {
  type BackendSpec,
  deadPort,
  desiredFrontend,
  rawRequest,
  startHttpBackend,
  startProxy,
  startRawBackend,
  statusLines,
} from "./harness.ts";

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function proxy(
  backends: BackendSpec[],
  routes: unknown[],
  http: Partial<HttpSettings> = {},
): Promise<{ l: HttpListener; port: number }> {
  const { proxy: l, port } = await startProxy(desiredFrontend(backends, { routes, http }));
  cleanups.push(() => l.stop(50));
  return { l, port };
}

function get(port: number, path: string): Promise<string> {
  return rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`, { timeout: 5000 });
}

/** A backend that answers its name after `delayMs`. */
async function slowBackend(name: string, delayMs: number): Promise<BackendSpec> {
  const b = await startHttpBackend((_req, res) => {
    const t = setTimeout(() => res.end(name), delayMs);
    res.on("close", () => clearTimeout(t));
  });
  cleanups.push(() => b.close());
  return { name, port: b.port };
}

/** A backend that reads the request and closes without a byte (reset before any response). */
async function resetting(name: string): Promise<BackendSpec> {
  const b = await startRawBackend((s) => s.on("data", () => s.destroy()));
  cleanups.push(() => b.close());
  return { name, port: b.port };
}

/**
 * Routes as written in lodestone.yaml (the listener normalizes them through the config
 * schema): /special/ forwards to the frontend's own service with `overrides`.
 */
function specialRoute(overrides: Record<string, string | number>): unknown[] {
  return [{ name: "special", match: { "path-prefix": "/special/" }, service: "web", ...overrides }];
}

describe("per-route timeouts", () => {
  test("a route with a short response-timeout gets 504 while the default route waits for the answer", async () => {
    const b = await slowBackend("slow", 600);
    const { l, port } = await proxy([b], specialRoute({ "response-timeout": "150ms" }));
    const t0 = Date.now();
    const [special, plain] = await Promise.all([get(port, "/special/x"), get(port, "/other")]);
    assert.deepEqual(statusLines(special), [504]);
    assert.match(special, /did not respond in time/);
    assert.deepEqual(statusLines(plain), [200]);
    assert.match(plain, /\r\n\r\nslow$/);
    assert.ok(Date.now() - t0 >= 550, "the default route waited for the backend");
    assert.equal(l.counters.errors[504], 1);
  });

  test("request-timeout: 504 before the response starts, a cut connection once it has started", async () => {
    // Answers /head-late after 1 s; for /trickle sends the head and 1 byte of 100, then stalls.
    const b = await startRawBackend((s) =>
      s.on("data", (d: Buffer) => {
        const line = d.toString("latin1");
        if (line.startsWith("GET /special/trickle") || line.startsWith("GET /trickle")) {
          s.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nx");
        } else {
          const t = setTimeout(() => s.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), 1000);
          s.on("close", () => clearTimeout(t));
        }
      }),
    );
    cleanups.push(() => b.close());
    const { port } = await proxy(
      [{ name: "raw", port: b.port }],
      specialRoute({ "request-timeout": "200ms" }),
    );

    const t0 = Date.now();
    const late = await get(port, "/special/head-late");
    assert.deepEqual(statusLines(late), [504]);
    assert.ok(Date.now() - t0 < 900, "answered at the request timeout, not when the backend did");

    const t1 = Date.now();
    const cut = await get(port, "/special/trickle");
    assert.deepEqual(statusLines(cut), [200], "the head already went out");
    assert.ok(cut.endsWith("\r\n\r\nx"), "the body stops where the backend stalled");
    const elapsed = Date.now() - t1;
    assert.ok(elapsed >= 150 && elapsed < 2000, `cut at the request timeout (${elapsed} ms)`);

    // No request-timeout on the default route: the slow answer arrives.
    assert.deepEqual(statusLines(await get(port, "/head-late")), [200]);
  });

  test("a route's request-timeout 0s turns off the frontend's", async () => {
    const b = await slowBackend("slow", 400);
    const { port } = await proxy([b], specialRoute({ "request-timeout": "0s" }), { requestTimeout: 150 });
    const [special, plain] = await Promise.all([get(port, "/special/x"), get(port, "/other")]);
    assert.deepEqual(statusLines(special), [200]);
    assert.deepEqual(statusLines(plain), [504]);
  });
});

describe("per-route retries", () => {
  test("a route with retries 0 does not retry a reset while the default route does", async () => {
    const good = await slowBackend("good", 0);
    const backends = [await resetting("a-reset"), good];
    const { l, port } = await proxy(backends, specialRoute({ retries: 0 }));
    // Round-robin over two backends: every other request meets the resetting one.
    const special: number[] = [];
    for (let i = 0; i < 4; i++) special.push(statusLines(await get(port, "/special/x"))[0]);
    assert.equal(special.filter((s) => s === 502).length, 2, `no retry on the route: ${special}`);
    assert.equal(l.stats().http.retries, 0);

    const plain: number[] = [];
    for (let i = 0; i < 4; i++) plain.push(statusLines(await get(port, "/other"))[0]);
    assert.deepEqual(plain, [200, 200, 200, 200]);
    assert.ok(l.stats().http.retries >= 1, "the default route retried the resets");
  });

  test("a route with connect-retries 0 answers 503 after one refused connect; the default route tries the next backend", async () => {
    const good = await slowBackend("good", 0);
    const backends = [{ name: "a-dead", port: await deadPort() }, good];
    const { port } = await proxy(backends, specialRoute({ "connect-retries": 0 }), {
      // Outlier detection would take the dead backend out of the picks and hide the difference.
      outlier: { consecutiveErrors: 0, baseEjectionTime: 1000, maxEjectionTime: 1000, maxEjectedPercent: 50 },
    });
    const special: number[] = [];
    for (let i = 0; i < 4; i++) special.push(statusLines(await get(port, "/special/x"))[0]);
    assert.equal(special.filter((s) => s === 503).length, 2, `no connect retry on the route: ${special}`);
    const plain: number[] = [];
    for (let i = 0; i < 4; i++) plain.push(statusLines(await get(port, "/other"))[0]);
    assert.deepEqual(plain, [200, 200, 200, 200]);
  });
});
