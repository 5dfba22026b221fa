import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type RouteMatch, routesSchema } from "../../../src/config/routes.ts";
import {
  compileMatch,
  expandLocation,
  hostMatches,
  MatchContext,
  type RouteRequest,
  Router,
  rewritePath,
} from "../../../src/dataplane/proxy/http/router.ts";

function reqOf(o: Partial<RouteRequest> = {}): RouteRequest {
  return {
    method: "GET",
    host: "www.example.com",
    target: "/",
    headers: [],
    clientAddress: "127.0.0.1",
    ...o,
  };
}

function matches(m: RouteMatch, r: Partial<RouteRequest>): boolean {
  return compileMatch(m)(new MatchContext(reqOf(r)));
}

describe("host patterns", () => {
  const table: [string, string, boolean][] = [
    ["example.com", "example.com", true],
    ["example.com", "www.example.com", false],
    ["*.example.com", "www.example.com", true],
    ["*.example.com", "a.b.example.com", true],
    ["*.example.com", "example.com", false],
    ["*.example.com", "badexample.com", false],
    ["*.example.com", "www.example.com.evil", false],
  ];
  for (const [pattern, host, want] of table) {
    test(`${pattern} ${want ? "matches" : "does not match"} ${host}`, () => {
      assert.equal(hostMatches(pattern, host), want);
    });
  }
});

describe("route conditions (truth table)", () => {
  const table: [string, RouteMatch, Partial<RouteRequest>, boolean][] = [
    ["empty match", {}, {}, true],
    ["host exact, port ignored", { host: ["api.example.com"] }, { host: "api.example.com:8080" }, true],
    ["host exact miss", { host: ["api.example.com"] }, { host: "www.example.com" }, false],
    ["host list", { host: ["a.test", "*.example.com"] }, { host: "x.example.com" }, true],
    ["host ipv6 literal", { host: ["[::1]"] }, { host: "[::1]:80" }, true],
    ["path exact", { path: "/health" }, { target: "/health?full=1" }, true],
    ["path exact miss on prefix", { path: "/health" }, { target: "/healthz" }, false],
    ["path prefix", { pathPrefix: "/api/" }, { target: "/api/v1/users" }, true],
    ["path prefix miss", { pathPrefix: "/api/" }, { target: "/apix" }, false],
    ["path prefix ignores the query", { pathPrefix: "/a" }, { target: "/b?x=/a" }, false],
    ["path regex", { pathRegex: "^/user/[0-9]+$" }, { target: "/user/42" }, true],
    ["path regex miss", { pathRegex: "^/user/[0-9]+$" }, { target: "/user/abc" }, false],
    ["method", { method: ["POST", "PUT"] }, { method: "PUT" }, true],
    ["method miss", { method: ["POST"] }, { method: "GET" }, false],
    ["header present", { header: [{ name: "X-Debug", present: true }] }, { headers: ["x-debug", ""] }, true],
    ["header present miss", { header: [{ name: "X-Debug", present: true }] }, { headers: [] }, false],
    ["header absent", { header: [{ name: "X-Debug", present: false }] }, { headers: [] }, true],
    [
      "header equals",
      { header: [{ name: "X-Env", equals: "canary" }] },
      { headers: ["X-ENV", "canary"] },
      true,
    ],
    [
      "header equals is case-sensitive on the value",
      { header: [{ name: "X-Env", equals: "canary" }] },
      { headers: ["X-Env", "Canary"] },
      false,
    ],
    [
      "header regex",
      { header: [{ name: "User-Agent", regex: "curl/" }] },
      { headers: ["User-Agent", "curl/8.1"] },
      true,
    ],
    [
      "header: any of repeated fields",
      { header: [{ name: "X-A", equals: "2" }] },
      { headers: ["X-A", "1", "X-A", "2"] },
      true,
    ],
    [
      "two header conditions, both must hold",
      {
        header: [
          { name: "A", present: true },
          { name: "B", present: true },
        ],
      },
      { headers: ["A", "1"] },
      false,
    ],
    ["query equals", { query: [{ name: "v", equals: "2" }] }, { target: "/p?a=1&v=2" }, true],
    ["query equals decoded", { query: [{ name: "q", equals: "a b" }] }, { target: "/p?q=a%20b" }, true],
    [
      "query present without value",
      { query: [{ name: "debug", present: true }] },
      { target: "/p?debug" },
      true,
    ],
    ["query miss", { query: [{ name: "v", equals: "2" }] }, { target: "/p?v=3" }, false],
    ["query absent", { query: [{ name: "v", present: false }] }, { target: "/p" }, true],
    [
      "cookie equals",
      { cookie: [{ name: "beta", equals: "1" }] },
      { headers: ["Cookie", "a=b; beta=1"] },
      true,
    ],
    [
      "cookie quoted value",
      { cookie: [{ name: "beta", equals: "1" }] },
      { headers: ["Cookie", 'beta="1"'] },
      true,
    ],
    [
      "cookie in second Cookie field",
      { cookie: [{ name: "s", regex: "^x" }] },
      { headers: ["Cookie", "a=1", "cookie", "s=xyz"] },
      true,
    ],
    ["cookie miss", { cookie: [{ name: "beta", equals: "1" }] }, { headers: ["Cookie", "beta=0"] }, false],
    ["client cidr v4", { clientCidr: ["10.0.0.0/8"] }, { clientAddress: "10.1.2.3" }, true],
    ["client cidr v4 miss", { clientCidr: ["10.0.0.0/8"] }, { clientAddress: "11.1.2.3" }, false],
    [
      "client cidr v4-mapped v6 client",
      { clientCidr: ["127.0.0.0/8"] },
      { clientAddress: "::ffff:127.0.0.1" },
      true,
    ],
    ["client cidr v6", { clientCidr: ["::1/128"] }, { clientAddress: "::1" }, true],
    ["client cidr single address", { clientCidr: ["192.0.2.7"] }, { clientAddress: "192.0.2.7" }, true],
    ["not", { not: { method: ["POST"] } }, { method: "GET" }, true],
    ["not miss", { not: { method: ["POST"] } }, { method: "POST" }, false],
    [
      "host and not method",
      { host: ["*.example.com"], not: { method: ["POST"] } },
      { host: "a.example.com", method: "POST" },
      false,
    ],
    ["double not", { not: { not: { path: "/x" } } }, { target: "/x" }, true],
  ];
  for (const [name, m, r, want] of table) {
    test(`${name}: ${want}`, () => {
      assert.equal(matches(m, r), want);
    });
  }
});

describe("router: order and actions", () => {
  const routes = routesSchema.parse([
    { match: { "path-prefix": "/old/" }, redirect: { location: "/new/{suffix}", status: 301 } },
    { match: { host: "*.example.com", not: { method: "POST" } }, service: "api" },
    { match: { path: "/teapot" }, respond: { status: 418, body: "short and stout" } },
    { match: { "path-prefix": "/v1/" }, service: "legacy", "rewrite-prefix": "/api/v1/" },
    { name: "deny-admin", match: { "path-prefix": "/admin" }, reject: { status: 403 } },
    { match: { "path-prefix": "/drop" }, reject: "close" },
  ]);

  test("first match wins", () => {
    const r = new Router(routes);
    assert.equal(r.match(reqOf({ target: "/old/x", host: "a.example.com" }))?.route.action.type, "redirect");
    assert.equal(r.match(reqOf({ target: "/x", host: "a.example.com" }))?.route.action.type, "forward");
    assert.equal(
      r.match(reqOf({ target: "/teapot", host: "a.example.com", method: "POST" }))?.route.action.type,
      "respond",
    );
  });

  test("no match falls through to the frontend's service (null)", () => {
    assert.equal(new Router(routes).match(reqOf({ host: "other.test", target: "/" })), null);
  });

  test("routes get names from their position unless named", () => {
    assert.deepEqual(
      routes.map((r) => r.name),
      ["routes[0]", "routes[1]", "routes[2]", "routes[3]", "deny-admin", "routes[5]"],
    );
  });

  test("actions are normalized", () => {
    assert.deepEqual(routes[0].action, { type: "redirect", status: 301, location: "/new/{suffix}" });
    assert.deepEqual(routes[2].action, {
      type: "respond",
      status: 418,
      headers: {},
      body: "short and stout",
    });
    assert.deepEqual(routes[3].action, { type: "forward", service: "legacy", rewritePrefix: "/api/v1/" });
    assert.deepEqual(routes[4].action, { type: "reject", status: 403 });
    assert.deepEqual(routes[5].action, { type: "reject", status: 0 });
  });

  test("rewrite-prefix replaces the matched prefix and keeps the query", () => {
    assert.equal(rewritePath(routes[3].action, routes[3], "/v1/users?id=3"), "/api/v1/users?id=3");
    assert.equal(rewritePath(routes[1].action, routes[1], "/v1/users"), "/v1/users");
  });

  test("redirect templates expand scheme, host, path, query, uri and suffix", () => {
    const ctx = new MatchContext(reqOf({ host: "www.example.com:8080", target: "/old/a/b?x=1" }));
    assert.equal(expandLocation("/new/{suffix}", ctx, "http", routes[0]), "/new/a/b");
    assert.equal(
      expandLocation("https://{hostname}{uri}", ctx, "http", routes[0]),
      "https://www.example.com/old/a/b?x=1",
    );
    assert.equal(
      expandLocation("{scheme}://{host}{path}?{query}", ctx, "https", routes[0]),
      "https://www.example.com:8080/old/a/b?x=1",
    );
  });
});

describe("routes schema: bad routes are clear errors", () => {
  const bad: [string, unknown, RegExp][] = [
    ["no action", [{ match: { path: "/" } }], /exactly one action/],
    ["two actions", [{ service: "a", reject: "close" }], /exactly one action.*service, reject/],
    ["unknown match key", [{ match: { paht: "/" }, service: "a" }], /unknown key "paht"/],
    ["bad regex", [{ match: { "path-regex": "(" }, service: "a" }], /not a valid regular expression/],
    ["bad host", [{ match: { host: "a b" }, service: "a" }], /not a host name/],
    ["path without slash", [{ match: { "path-prefix": "api" }, service: "a" }], /must start with "\/"/],
    ["bad cidr", [{ match: { "client-cidr": "10.0.0.0/33" }, service: "a" }], /not a CIDR/],
    [
      "field match with two conditions",
      [{ match: { header: { name: "a", equals: "1", present: true } }, service: "a" }],
      /exactly one of present, equals, regex/,
    ],
    ["redirect status 200", [{ redirect: { location: "/x", status: 200 } }], /301, 302, 303, 307 or 308/],
    ["rewrite without prefix", [{ service: "a", "rewrite-prefix": "/b/" }], /rewrite-prefix needs/],
    ["reject with bad status", [{ reject: { status: 200 } }], /.+/],
  ];
  for (const [name, input, message] of bad) {
    test(`${name} is refused`, () => {
      const r = routesSchema.safeParse(input);
      assert.equal(r.success, false);
      assert.match(r.error!.issues.map((i) => i.message).join("; "), message);
    });
  }

  test("scalars are accepted where lists are allowed", () => {
    const [r] = routesSchema.parse([{ match: { host: "A.Example.com", method: "post" }, service: "x" }]);
    assert.deepEqual(r.match, { host: ["a.example.com"], method: ["POST"] });
  });
});
