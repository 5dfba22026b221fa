// Retries, retry budget, outlier detection, sticky sessions, hash-on, header rules,
// access log and L7 stats, end to end on loopback with real backends.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import type { HttpSettings } from "../../../src/config/routes.ts";
import { createHttpListener, type HttpListener } from "../../../src/dataplane/proxy/http/index.ts";
import type { ProxyLogger } from "../../../src/dataplane/proxy/listener.ts";
import {
  type BackendSpec,
  desiredFrontend,
  rawRequest,
  sleep,
  startHttpBackend,
  startRawBackend,
  statusLines,
} from "./harness.ts";

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

interface Reply {
  status: number;
  head: string;
  body: string;
  header(name: string): string[];
}

async function get(
  port: number,
  path = "/",
  headers: Record<string, string> = {},
  method = "GET",
  body = "",
): Promise<Reply> {
  let req = `${method} ${path} HTTP/1.1\r\nHost: www.test\r\nConnection: close\r\n`;
  for (const [k, v] of Object.entries(headers)) req += `${k}: ${v}\r\n`;
  if (body !== "") req += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
  const text = await rawRequest(port, `${req}\r\n${body}`);
  const end = text.indexOf("\r\n\r\n");
  const head = text.slice(0, end);
  return {
    status: statusLines(text)[0] ?? 0,
    head,
    body: text.slice(end + 4),
    header(name) {
      const out: string[] = [];
      for (const line of head.split("\r\n").slice(1)) {
        const c = line.indexOf(":");
        if (line.slice(0, c).toLowerCase() === name.toLowerCase()) out.push(line.slice(c + 1).trim());
      }
      return out;
    },
  };
}

/** Backends that answer their own name (and, at /headers, the request headers as JSON). */
async function named(names: string[], status: (name: string) => number = () => 200): Promise<BackendSpec[]> {
  const specs: BackendSpec[] = [];
  for (const name of names) {
    const b = await startHttpBackend((req, res) => {
      res.statusCode = status(name);
      res.setHeader("Server", "test-backend");
      res.end(req.url === "/headers" ? JSON.stringify(req.headers) : name);
    });
    cleanups.push(() => b.close());
    specs.push({ name, port: b.port });
  }
  return specs;
}

async function proxy(
  backends: BackendSpec[],
  http: Partial<HttpSettings>,
  opts: Parameters<typeof createHttpListener>[1] = {},
): Promise<{ l: HttpListener; port: number }> {
  const l = createHttpListener(desiredFrontend(backends, { http }), opts);
  await l.start();
  cleanups.push(() => l.stop(50));
  return { l, port: l.address()!.port };
}

/** A backend that accepts, reads the request and closes without a byte (a reset before any response). */
async function resetting(name: string): Promise<BackendSpec> {
  const b = await startRawBackend((s) => s.on("data", () => s.destroy()));
  cleanups.push(() => b.close());
  return { name, port: b.port };
}

describe("retries of idempotent requests after a reset before any response byte", () => {
  test("a GET reset by one backend is answered by another", async () => {
    const specs = [await resetting("a-reset"), ...(await named(["b-good"]))];
    const { l, port } = await proxy(specs, {});
    // Three: the retry budget's minimum (3 per second) covers them whatever the traffic.
    for (let i = 0; i < 3; i++) {
      const r = await get(port);
      assert.equal(r.status, 200, `request ${i}`);
      assert.equal(r.body, "b-good");
    }
    assert.ok(l.stats().http.retries >= 1, "retries are counted");
  });

  test("a bodiless POST is retried too (no body to replay, so it counts as idempotent)", async () => {
    const specs = [await resetting("a-reset"), ...(await named(["b-good"]))];
    const { port } = await proxy(specs, {});
    for (let i = 0; i < 2; i++) assert.equal((await get(port, "/", {}, "POST")).status, 200);
  });

  test("a POST with a body is not replayed: 502", async () => {
    const specs = [await resetting("a-reset")];
    const { port } = await proxy(specs, {});
    const r = await get(port, "/", {}, "POST", "data");
    assert.equal(r.status, 502);
  });

  test("retries: 0 turns retries off", async () => {
    const specs = [await resetting("a-reset"), ...(await named(["b-good"]))];
    const { port } = await proxy(specs, { retries: 0 });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await get(port)).status);
    assert.ok(statuses.includes(502), `no retry after a reset: ${statuses}`);
  });

  test("an exhausted retry budget answers 502 instead of retrying", async () => {
    const specs = [await resetting("a-reset"), ...(await named(["b-good"]))];
    const { l, port } = await proxy(specs, { retryBudget: { percent: 0, minPerSecond: 0, window: 10_000 } });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await get(port)).status);
    const failed = statuses.filter((s) => s === 502).length;
    assert.ok(failed >= 1, `some requests met the resetting backend: ${statuses}`);
    assert.equal(l.stats().http.retriesRefused, failed, "every 502 is a refused retry");
    assert.equal(l.stats().http.retries, 0);
  });
});

describe("passive outlier detection", () => {
  test("consecutive 5xx eject a backend for the ejection time, then it returns; events reported", async () => {
    const specs = await named(["bad", "good"], (n) => (n === "bad" ? 500 : 200));
    const events: string[] = [];
    const { l, port } = await proxy(
      specs,
      {
        outlier: {
          consecutiveErrors: 2,
          baseEjectionTime: 400,
          maxEjectionTime: 1000,
          maxEjectedPercent: 50,
        },
      },
      { onOutlier: (b, ejected) => events.push(`${ejected ? "out" : "in"} ${b}`) },
    );
    for (let i = 0; i < 4; i++) await get(port); // round robin: bad answers 500 twice
    assert.deepEqual(events, ["out bad"]);
    for (let i = 0; i < 6; i++) assert.equal((await get(port)).body, "good", "ejected backend gets nothing");
    assert.equal(l.stats().http.ejected, 1);
    const deadline = Date.now() + 3000;
    while (events.length < 2 && Date.now() < deadline) await sleep(20);
    assert.deepEqual(events, ["out bad", "in bad"]);
    const bodies = new Set<string>();
    for (let i = 0; i < 2; i++) bodies.add((await get(port)).body);
    assert.ok(bodies.has("bad"), "returned backend gets traffic again");
    assert.equal(l.stats().http.ejections, 1);
  });

  test("max-ejected-percent keeps the last backend in: everyone failing ejects at most half", async () => {
    const specs = await named(["a", "b"], () => 503);
    const events: string[] = [];
    const { port } = await proxy(
      specs,
      {
        outlier: {
          consecutiveErrors: 1,
          baseEjectionTime: 10_000,
          maxEjectionTime: 10_000,
          maxEjectedPercent: 50,
        },
      },
      { onOutlier: (b, e) => events.push(`${e} ${b}`) },
    );
    for (let i = 0; i < 6; i++) assert.equal((await get(port)).status, 503);
    assert.equal(events.length, 1, "one of two ejected, never both");
  });
});

describe("session persistence", () => {
  test("a sticky cookie keeps a client on its backend, and moves when that backend goes down", async () => {
    const specs = await named(["web-1", "web-2", "web-3"]);
    const fe = desiredFrontend(specs, { http: { sticky: { cookie: { name: "lb", ttl: 60_000 } } } });
    const l = createHttpListener(fe);
    await l.start();
    cleanups.push(() => l.stop(50));
    const port = l.address()!.port;

    const first = await get(port);
    const set = first.header("set-cookie");
    assert.equal(set.length, 1);
    assert.match(set[0], new RegExp(`^lb=${first.body}\\.[A-Za-z0-9_-]{22}; Path=/; HttpOnly; Max-Age=60$`));
    const cookie = set[0].split(";")[0];
    for (let i = 0; i < 8; i++) {
      const r = await get(port, "/", { Cookie: `other=1; ${cookie}` });
      assert.equal(r.body, first.body, `request ${i} sticks`);
      assert.deepEqual(r.header("set-cookie"), [], "no new cookie while it holds");
    }

    // The pinned backend goes down (weight 0): the next request moves and is re-pinned.
    const down = desiredFrontend(
      specs.map((s) => (s.name === first.body ? { ...s, weight: 0 } : s)),
      { http: { sticky: { cookie: { name: "lb", ttl: 60_000 } } } },
    );
    l.update(down);
    const moved = await get(port, "/", { Cookie: cookie });
    assert.notEqual(moved.body, first.body);
    assert.match(moved.header("set-cookie")[0], new RegExp(`^lb=${moved.body}\\.`));
  });

  test("forged or garbage cookies are ignored (the balancer picks, a valid cookie is issued)", async () => {
    const specs = await named(["web-1", "web-2"]);
    const { port } = await proxy(specs, { sticky: { cookie: { name: "lb", ttl: 0 } } });
    for (const value of ["web-2", "web-2.AAAAAAAAAAAAAAAAAAAAAA", "", ".", "x".repeat(4000), '"web-1"']) {
      const r = await get(port, "/", { Cookie: `lb=${value}` });
      assert.equal(r.status, 200);
      assert.match(r.header("set-cookie")[0] ?? "", new RegExp(`^lb=${r.body}\\.`), JSON.stringify(value));
    }
  });

  test("hash-on a header sends one key to one backend and spreads keys", async () => {
    const specs = await named(["h-1", "h-2", "h-3"]);
    const { port } = await proxy(specs, { hashOn: { header: "x-user" } });
    const alice = (await get(port, "/", { "X-User": "alice" })).body;
    for (let i = 0; i < 6; i++) assert.equal((await get(port, "/", { "X-User": "alice" })).body, alice);
    const seen = new Set<string>();
    for (let i = 0; i < 24; i++) seen.add((await get(port, "/", { "X-User": `user-${i}` })).body);
    assert.ok(seen.size >= 2, `keys spread over backends (saw ${[...seen].join(",")})`);
    assert.equal((await get(port)).status, 200, "a request without the header is balanced normally");
  });

  test("hash-on keys of any shape (long, empty, non-ASCII, repeated) are balanced, never a crash", async () => {
    const specs = await named(["k-1", "k-2"]);
    const { port } = await proxy(specs, { hashOn: { header: "x-user" } });
    const odd = ["x".repeat(8000), "", " ", "\xe9t\xe9", "::ffff:10.0.0.1", "1.2.3.4"];
    for (const v of odd) {
      const r = await get(port, "/", { "X-User": v });
      assert.equal(r.status, 200, JSON.stringify(v.slice(0, 20)));
    }
    const both = await rawRequest(
      port,
      "GET / HTTP/1.1\r\nHost: h\r\nX-User: a\r\nX-User: b\r\nConnection: close\r\n\r\n",
    );
    assert.deepEqual(statusLines(both), [200]);
  });

  test("hash-on client-ip pins one client to one backend even on a round-robin service", async () => {
    const specs = await named(["ip-1", "ip-2", "ip-3"]);
    const { port } = await proxy(specs, { hashOn: "client-ip" });
    const first = (await get(port)).body;
    for (let i = 0; i < 6; i++) assert.equal((await get(port)).body, first);
  });

  test("hash-on a cookie", async () => {
    const specs = await named(["c-1", "c-2", "c-3"]);
    const { port } = await proxy(specs, { hashOn: { cookie: "sid" } });
    const first = (await get(port, "/", { Cookie: "sid=abc" })).body;
    for (let i = 0; i < 5; i++) assert.equal((await get(port, "/", { Cookie: "sid=abc" })).body, first);
  });
});

describe("header rules and X-Forwarded trust", () => {
  test("request and response rules, Via", async () => {
    const specs = await named(["echo"]);
    const { port } = await proxy(specs, {
      via: true,
      requestHeaders: { set: { "X-Env": "prod" }, add: { "X-Tag": "t" }, remove: ["X-Debug"] },
      responseHeaders: { set: { "X-Frame-Options": "DENY" }, add: {}, remove: ["Server"] },
    });
    const r = await get(port, "/headers", { "X-Debug": "1", "X-Env": "dev" });
    const seen = JSON.parse(r.body) as Record<string, string>;
    assert.equal(seen["x-env"], "prod");
    assert.equal(seen["x-tag"], "t");
    assert.equal(seen["x-debug"], undefined);
    assert.equal(seen.via, "1.1 lodestone");
    assert.deepEqual(r.header("server"), []);
    assert.deepEqual(r.header("x-frame-options"), ["DENY"]);
    assert.deepEqual(r.header("via"), ["1.1 lodestone"]);
  });

  test("a route's rules apply on top of the frontend's, only to that route", async () => {
    const specs = await named(["echo"]);
    const fe = desiredFrontend(specs, {
      http: { requestHeaders: { set: { "X-Env": "prod" }, add: {}, remove: [] } },
      routes: [
        {
          match: { "path-prefix": "/headers" },
          service: "web",
          "request-headers": { set: { "X-Env": "route" }, add: { "X-Route": "1" } },
          "response-headers": { set: { "X-Route-Reply": "yes" } },
        },
      ],
    });
    const l = createHttpListener(fe);
    await l.start();
    cleanups.push(() => l.stop(50));
    const port = l.address()!.port;
    const r = await get(port, "/headers");
    const seen = JSON.parse(r.body) as Record<string, string>;
    assert.equal(seen["x-env"], "route");
    assert.equal(seen["x-route"], "1");
    assert.deepEqual(r.header("x-route-reply"), ["yes"]);
    const other = await get(port, "/other");
    assert.deepEqual(other.header("x-route-reply"), [], "another path gets the frontend's rules only");
  });

  // [trusted-proxies, x-forwarded-for mode, expected X-Forwarded-For, expected X-Forwarded-Proto]
  const table: [string[], "append" | "replace", string, string][] = [
    [[], "append", "203.0.113.9, 127.0.0.1", "http"],
    [[], "replace", "127.0.0.1", "http"],
    [["127.0.0.0/8"], "replace", "203.0.113.9, 127.0.0.1", "https"],
    [["10.0.0.0/8"], "append", "127.0.0.1", "http"],
  ];
  for (const [trusted, mode, xff, proto] of table) {
    test(`trusted ${JSON.stringify(trusted)}, ${mode}: X-Forwarded-For ${xff}, Proto ${proto}`, async () => {
      const specs = await named(["echo"]);
      const { port } = await proxy(specs, { trustedProxies: trusted, xForwardedFor: mode });
      const r = await get(port, "/headers", {
        "X-Forwarded-For": "203.0.113.9",
        "X-Forwarded-Proto": "https",
      });
      const seen = JSON.parse(r.body) as Record<string, string>;
      assert.equal(seen["x-forwarded-for"], xff);
      assert.equal(seen["x-forwarded-proto"], proto);
    });
  }
});

describe("access log and stats", () => {
  test("one JSON-able log line per request, responses by class and a latency histogram", async () => {
    const specs = await named(["a"]);
    const lines: Record<string, unknown>[] = [];
    const log: ProxyLogger = {
      debug() {},
      warn() {},
      error() {},
      info(obj, msg) {
        if (msg === "access") lines.push(obj as Record<string, unknown>);
      },
    };
    const fe = desiredFrontend(specs, {
      http: { accessLog: true },
      routes: [{ match: { path: "/teapot" }, respond: { status: 418, body: "tea" } }],
    });
    const l = createHttpListener(fe, { log });
    await l.start();
    cleanups.push(() => l.stop(50));
    const port = l.address()!.port;
    await get(port, "/x?y=1");
    await get(port, "/teapot");
    await rawRequest(port, "BROKEN\r\n\r\n");
    assert.equal(lines.length, 2);
    assert.deepEqual(
      { ...lines[0], ms: 0 },
      {
        frontend: "www",
        client: "127.0.0.1",
        method: "GET",
        host: "www.test",
        path: "/x?y=1",
        status: 200,
        backend: "a",
        ms: 0,
        retries: 0,
      },
    );
    assert.equal(typeof lines[0].ms, "number");
    assert.equal(lines[1].status, 418);
    assert.equal(lines[1].backend, undefined);
    JSON.stringify(lines); // serializable
    const s = l.stats().http;
    assert.deepEqual(s.responses, { "1xx": 0, "2xx": 1, "3xx": 0, "4xx": 2, "5xx": 0 });
    assert.equal(s.latency.count, 2, "the refused request has no latency");
    assert.equal(s.latency.counts.at(-1), 2, "the +Inf bucket holds every observation");
    assert.equal(s.latency.counts.length, s.latency.bounds.length + 1);
    assert.equal(s.requests, 2);
  });

  test("proxy-written errors (413, 408, 503) count in responses by class and in the access log", async () => {
    const lines: Record<string, unknown>[] = [];
    const log: ProxyLogger = {
      debug() {},
      warn() {},
      error() {},
      info(obj, msg) {
        if (msg === "access") lines.push(obj as Record<string, unknown>);
      },
    };
    const { l, port } = await proxy(
      [{ name: "off", port: 9, weight: 0 }],
      { accessLog: true, maxBodySize: 10, requestHeadTimeout: 200 },
      { log },
    );
    await get(port, "/big", {}, "POST", "x".repeat(100));
    await get(port, "/none");
    await rawRequest(port, "GET / HTTP/1.1\r\nHost:", { timeout: 2000 });
    const s = l.stats().http;
    assert.deepEqual(s.responses, { "1xx": 0, "2xx": 0, "3xx": 0, "4xx": 2, "5xx": 1 });
    assert.deepEqual(
      lines.map((x) => x.status),
      [413, 503],
      "the 408 has no request to log (its head never completed)",
    );
  });

  test("access log off by default", async () => {
    const specs = await named(["a"]);
    let n = 0;
    const log: ProxyLogger = { debug() {}, warn() {}, error() {}, info: () => void n++ };
    const { port } = await proxy(specs, {}, { log });
    await get(port);
    assert.equal(n, 0);
  });
});
