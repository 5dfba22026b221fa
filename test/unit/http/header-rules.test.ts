import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  compileHeaderRules,
  type ForwardContext,
  forwardRequestHead,
  forwardResponseHead,
} from "../../../src/dataplane/proxy/http/forward-head.ts";
import { parseRequest, parseResponse } from "../../../src/dataplane/proxy/http/parse.ts";

const base: ForwardContext = {
  clientAddress: "192.0.2.1",
  proto: "https",
  path: "/",
  fallbackHost: "10.0.0.1:80",
};
const REQ =
  "GET / HTTP/1.1\r\nHost: www.test\r\nX-Forwarded-For: 10.1.1.1\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: outer.test\r\nX-Debug: 1\r\nAccept: */*\r\n\r\n";

function fields(raw: string, ctx: Partial<ForwardContext>): Record<string, string[]> {
  const { head } = parseRequest(Buffer.from(raw));
  const out: Record<string, string[]> = {};
  for (const line of forwardRequestHead(head, { ...base, ...ctx })
    .split("\r\n")
    .slice(1)) {
    if (line === "") continue;
    const c = line.indexOf(":");
    const k = line.slice(0, c).toLowerCase();
    out[k] ??= [];
    out[k].push(line.slice(c + 2));
  }
  return out;
}

describe("X-Forwarded-* by trust mode", () => {
  // [mode, X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host]
  const table: [ForwardContext["forwarded"], string, string, string][] = [
    [undefined, "10.1.1.1, 192.0.2.1", "https", "www.test"],
    ["append", "10.1.1.1, 192.0.2.1", "https", "www.test"],
    ["replace", "192.0.2.1", "https", "www.test"],
    ["trust", "10.1.1.1, 192.0.2.1", "http", "outer.test"],
  ];
  for (const [mode, xff, proto, host] of table) {
    test(`${mode ?? "default"}: For=${xff}, Proto=${proto}, Host=${host}`, () => {
      const f = fields(REQ, { forwarded: mode });
      assert.deepEqual(f["x-forwarded-for"], [xff]);
      assert.deepEqual(f["x-forwarded-proto"], [proto]);
      assert.deepEqual(f["x-forwarded-host"], [host]);
    });
  }
  test("a trusted client that sent no Proto/Host gets ours", () => {
    const f = fields("GET / HTTP/1.1\r\nHost: www.test\r\n\r\n", { forwarded: "trust" });
    assert.deepEqual(f["x-forwarded-proto"], ["https"]);
    assert.deepEqual(f["x-forwarded-host"], ["www.test"]);
    assert.deepEqual(f["x-forwarded-for"], ["192.0.2.1"]);
  });
});

describe("request header rules", () => {
  const rules = compileHeaderRules({
    set: { Accept: "text/plain", "X-Env": "prod" },
    add: { "X-Tag": "a" },
    remove: ["x-debug"],
  });
  test("set replaces, add appends, remove drops (case-insensitively)", () => {
    const f = fields(REQ, { rules });
    assert.deepEqual(f.accept, ["text/plain"]);
    assert.deepEqual(f["x-env"], ["prod"]);
    assert.deepEqual(f["x-tag"], ["a"]);
    assert.equal(f["x-debug"], undefined);
    assert.deepEqual(f.host, ["www.test"], "Host is never dropped");
  });
  test("add keeps an existing field of the same name", () => {
    const f = fields("GET / HTTP/1.1\r\nHost: h\r\nX-Tag: z\r\n\r\n", { rules });
    assert.deepEqual(f["x-tag"], ["z", "a"]);
  });
  test("removing X-Forwarded-For stops the proxy from sending one", () => {
    const f = fields(REQ, { rules: compileHeaderRules({ set: {}, add: {}, remove: ["X-Forwarded-For"] }) });
    assert.equal(f["x-forwarded-for"], undefined);
  });
  test("empty rules compile to null", () => {
    assert.equal(compileHeaderRules({ set: {}, add: {}, remove: [] }), null);
    assert.equal(compileHeaderRules(undefined), null);
  });
  test("Via is added when asked, with the client's version", () => {
    assert.deepEqual(fields(REQ, { via: true }).via, ["1.1 lodestone"]);
    assert.deepEqual(fields("GET / HTTP/1.0\r\n\r\n", { via: true }).via, ["1.0 lodestone"]);
    assert.equal(fields(REQ, {}).via, undefined);
  });
});

describe("response header rules", () => {
  const { head } = parseResponse(
    Buffer.from("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 0\r\nX-A: 1\r\n\r\n"),
    "GET",
  );
  test("remove, set, add, Via and Set-Cookie", () => {
    const out = forwardResponseHead(head, 1, true, false, {
      rules: compileHeaderRules({ set: { "X-A": "2" }, add: { "X-B": "3" }, remove: ["server"] }),
      via: true,
      setCookie: "lb=x.y; Path=/",
    });
    const lines = out.split("\r\n");
    assert.ok(!lines.some((l) => l.startsWith("Server:")));
    assert.ok(lines.includes("X-A: 2") && !lines.includes("X-A: 1"));
    assert.ok(lines.includes("X-B: 3"));
    assert.ok(lines.includes("Via: 1.1 lodestone"));
    assert.ok(lines.includes("Set-Cookie: lb=x.y; Path=/"));
    assert.ok(lines.includes("Content-Length: 0"));
    assert.ok(out.endsWith("\r\n\r\n"));
  });
});

describe("frontend and route rules merged", () => {
  // Frontend: set X-A: fe, add X-B: fe, remove X-C. Route: set X-B: route, remove X-A.
  const merged = compileHeaderRules(
    { set: { "X-A": "fe" }, add: { "X-B": "fe" }, remove: ["X-C"] },
    { set: { "X-B": "route" }, add: {}, remove: ["x-a"] },
  );
  test("a route's set or remove overrides what the frontend wrote for that name", () => {
    assert.equal(merged?.lines, "X-B: route\r\n");
    assert.deepEqual([...(merged?.drop ?? [])].sort(), ["x-a", "x-b", "x-c"]);
  });
  test("an absent route adds nothing", () => {
    const fe = { set: { "X-A": "1" }, add: {}, remove: [] };
    assert.deepEqual(compileHeaderRules(fe, undefined), compileHeaderRules(fe));
  });
});
