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

describe("L7 routing through the proxy", () => {
  let web: HttpBackend;
  let api: HttpBackend;
  let legacy: HttpBackend;
  let proxy: HttpListener;
  let port: number;

  before(async () => {
    const echo =
      (who: string) => (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) =>
        res.end(`${who} ${req.method} ${req.url}`);
    web = await startHttpBackend(echo("web"));
    api = await startHttpBackend(echo("api"));
    legacy = await startHttpBackend(echo("legacy"));
    ({ proxy, port } = await startProxy(
      desiredFrontend([{ name: "web-1", port: web.port }], {
        routeServices: {
          api: [{ name: "api-1", port: api.port }],
          legacy: [{ name: "legacy-1", port: legacy.port }],
        },
        routes: [
          { match: { "path-prefix": "/old/" }, redirect: { location: "/new/{suffix}", status: 301 } },
          { match: { path: "/secure" }, redirect: { location: "https://{hostname}{uri}", status: 308 } },
          { match: { host: "*.api.test", not: { method: "DELETE" } }, service: "api" },
          { match: { "path-prefix": "/v1/" }, service: "legacy", "rewrite-prefix": "/api/v1/" },
          { match: { "path-regex": "^/items/[0-9]+$" }, service: "api" },
          { match: { header: { name: "X-Canary", equals: "yes" } }, service: "api" },
          { match: { query: { name: "backend", equals: "legacy" } }, service: "legacy" },
          { match: { cookie: { name: "beta", present: true } }, service: "api" },
          { match: { method: ["PUT", "PATCH"] }, service: "legacy" },
          {
            match: { path: "/teapot" },
            respond: { status: 418, headers: { "X-Pot": "tea" }, body: "short and stout\n" },
          },
          {
            match: { "path-prefix": "/admin", not: { "client-cidr": "10.0.0.0/8" } },
            reject: { status: 403 },
          },
          { match: { "path-prefix": "/internal", "client-cidr": "127.0.0.0/8" }, service: "api" },
          { match: { path: "/drop" }, reject: "close" },
          { match: { path: "/ghost" }, service: "nowhere" },
        ],
      }),
    ));
  });
  after(async () => {
    await proxy.stop(100);
    await Promise.all([web.close(), api.close(), legacy.close()]);
  });

  async function get(
    path: string,
    extra: string[] = [],
  ): Promise<{ status: number; body: string; headers: string }> {
    const r = await curl(["-i", ...extra, `http://127.0.0.1:${port}${path}`]);
    assert.equal(r.code, 0, r.stderr);
    const split = r.stdout.indexOf("\r\n\r\n");
    const headers = r.stdout.slice(0, split);
    return { status: Number(headers.split(" ")[1]), headers, body: r.stdout.slice(split + 4) };
  }

  test("no route matches: the frontend's service", async () => {
    assert.equal((await get("/plain")).body, "web GET /plain");
  });

  test("path-prefix redirect with {suffix}", async () => {
    const r = await get("/old/a/b?x=1");
    assert.equal(r.status, 301);
    assert.match(r.headers, /\r\nLocation: \/new\/a\/b\r\n/);
  });

  test("redirect to https with {hostname}{uri}", async () => {
    const r = await get("/secure?x=1", ["-H", "Host: shop.example:8080"]);
    assert.equal(r.status, 308);
    assert.match(r.headers, /\r\nLocation: https:\/\/shop\.example\/secure\?x=1\r\n/);
  });

  test("wildcard host forwards to another service; `not` excludes a method", async () => {
    assert.equal((await get("/x", ["-H", "Host: eu.api.test"])).body, "api GET /x");
    assert.equal((await get("/x", ["-H", "Host: eu.api.test", "-X", "DELETE"])).body, "web DELETE /x");
    assert.equal((await get("/x", ["-H", "Host: api.test"])).body, "web GET /x");
  });

  test("path-prefix with rewrite-prefix", async () => {
    assert.equal((await get("/v1/users?id=7")).body, "legacy GET /api/v1/users?id=7");
  });

  test("path-regex", async () => {
    assert.equal((await get("/items/42")).body, "api GET /items/42");
    assert.equal((await get("/items/abc")).body, "web GET /items/abc");
  });

  test("header equals", async () => {
    assert.equal((await get("/h", ["-H", "X-Canary: yes"])).body, "api GET /h");
    assert.equal((await get("/h", ["-H", "X-Canary: no"])).body, "web GET /h");
  });

  test("query parameter", async () => {
    assert.equal((await get("/q?backend=legacy")).body, "legacy GET /q?backend=legacy");
  });

  test("cookie present", async () => {
    assert.equal((await get("/c", ["-H", "Cookie: a=1; beta=on"])).body, "api GET /c");
  });

  test("method", async () => {
    assert.equal((await get("/m", ["-X", "PATCH"])).body, "legacy PATCH /m");
  });

  test("fixed response with headers", async () => {
    const r = await get("/teapot");
    assert.equal(r.status, 418);
    assert.match(r.headers, /\r\nX-Pot: tea\r\n/);
    assert.equal(r.body, "short and stout\n");
  });

  test("reject 403 outside a client CIDR; client-cidr match forwards from loopback", async () => {
    const r = await get("/admin/panel");
    assert.equal(r.status, 403);
    assert.equal((await get("/internal/x")).body, "api GET /internal/x");
  });

  test("reject close drops the connection without a response", async () => {
    const reply = await rawRequest(port, "GET /drop HTTP/1.1\r\nHost: h\r\n\r\n");
    assert.equal(reply, "");
  });

  test("a route to a service the desired state does not carry: 503", async () => {
    assert.equal((await get("/ghost")).status, 503);
  });

  test("local responses keep the connection alive for the next request", async () => {
    const reply = await rawRequest(
      port,
      "GET /teapot HTTP/1.1\r\nHost: h\r\n\r\nGET /old/z HTTP/1.1\r\nHost: h\r\n\r\nGET /plain HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    );
    assert.deepEqual(statusLines(reply), [418, 301, 200]);
  });

  test("update() swaps routes and targets without a restart", async () => {
    const next = desiredFrontend([{ name: "web-1", port: web.port }], {
      routeServices: { api: [{ name: "api-1", port: api.port }] },
      routes: [{ match: { "path-prefix": "/" }, service: "api" }],
    });
    proxy.update(next);
    assert.equal((await get("/anything")).body, "api GET /anything");
  });
});
