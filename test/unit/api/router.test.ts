import assert from "node:assert/strict";
import { test } from "node:test";
import { Router } from "../../../src/api/router.ts";

const r = new Router<string>()
  .add("GET", "/api/v1/backends", "list")
  .add("GET", "/api/v1/backends/:name", "one")
  .add("POST", "/api/v1/backends/:name/pause", "pause")
  .add("POST", "/api/v1/services/:s/pools/:p/backends/:b/weight", "weight");

const cases: [string, string, string, unknown][] = [
  ["GET", "/api/v1/backends", "found", { handler: "list", params: {} }],
  ["GET", "/api/v1/backends/", "found", { handler: "list", params: {} }],
  ["GET", "/api/v1/backends/web-1", "found", { handler: "one", params: { name: "web-1" } }],
  ["GET", "/api/v1/backends/a%20b", "found", { handler: "one", params: { name: "a b" } }],
  ["POST", "/api/v1/backends/x/pause", "found", { handler: "pause", params: { name: "x" } }],
  [
    "POST",
    "/api/v1/services/web/pools/main/backends/a/weight",
    "found",
    { handler: "weight", params: { s: "web", p: "main", b: "a" } },
  ],
  ["DELETE", "/api/v1/backends", "method-not-allowed", { allow: ["GET"] }],
  ["GET", "/api/v1/backends/x/pause", "method-not-allowed", { allow: ["POST"] }],
  ["GET", "/api/v1/nothing", "not-found", {}],
  ["GET", "/", "not-found", {}],
  ["GET", "/api/v1/backends/x/y/z", "not-found", {}],
  ["GET", "/api/v1/backends/%E0%A4%A", "bad-path", {}],
];

for (const [method, path, kind, expected] of cases) {
  test(`router: ${method} ${path} -> ${kind}`, () => {
    const m = r.match(method, path);
    assert.equal(m.kind, kind);
    if (m.kind === "found") {
      assert.deepEqual({ handler: m.route.handler, params: m.params }, expected);
    }
    if (m.kind === "method-not-allowed") assert.deepEqual({ allow: m.allow }, expected);
  });
}
