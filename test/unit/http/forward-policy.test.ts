import assert from "node:assert/strict";
import { test } from "node:test";
import { HTTP_DEFAULTS, type Route } from "../../../src/config/routes.ts";
import {
  type ForwardPolicy,
  frontendPolicy,
  routePolicies,
  routePolicy,
} from "../../../src/dataplane/proxy/http/forward-policy.ts";

const BASE: ForwardPolicy = frontendPolicy(3000, 2, {
  ...HTTP_DEFAULTS,
  responseTimeout: 60_000,
  requestTimeout: 0,
  retries: 2,
});

test("the frontend policy takes connect settings from the frontend and the rest from http", () => {
  assert.deepEqual(BASE, {
    connectTimeout: 3000,
    connectRetries: 2,
    responseTimeout: 60_000,
    requestTimeout: 0,
    retries: 2,
  });
});

// Each override alone replaces exactly its own field; 0 is a value, not "unset".
const rows: { override: Partial<ForwardPolicy>; expect: ForwardPolicy }[] = [
  { override: {}, expect: BASE },
  { override: { connectTimeout: 250 }, expect: { ...BASE, connectTimeout: 250 } },
  { override: { connectRetries: 0 }, expect: { ...BASE, connectRetries: 0 } },
  { override: { responseTimeout: 100 }, expect: { ...BASE, responseTimeout: 100 } },
  { override: { requestTimeout: 5000 }, expect: { ...BASE, requestTimeout: 5000 } },
  { override: { retries: 0 }, expect: { ...BASE, retries: 0 } },
  {
    override: { connectTimeout: 1, connectRetries: 10, responseTimeout: 2, requestTimeout: 3, retries: 10 },
    expect: { connectTimeout: 1, connectRetries: 10, responseTimeout: 2, requestTimeout: 3, retries: 10 },
  },
];

for (const { override, expect } of rows) {
  test(`a forward route overriding ${JSON.stringify(override)} gets exactly that over the frontend's`, () => {
    assert.deepEqual(routePolicy(BASE, { type: "forward", service: "s", ...override }), expect);
  });
}

test("a route's requestTimeout 0 turns off a frontend request timeout", () => {
  const base = { ...BASE, requestTimeout: 1000 };
  assert.equal(routePolicy(base, { type: "forward", service: "s", requestTimeout: 0 }).requestTimeout, 0);
});

test("only forward routes that override something get a policy of their own", () => {
  const routes: Route[] = [
    { name: "plain", match: {}, action: { type: "forward", service: "a" } },
    { name: "rewrite", match: {}, action: { type: "forward", service: "a", rewritePrefix: "/x/" } },
    { name: "fast", match: {}, action: { type: "forward", service: "a", responseTimeout: 100 } },
    { name: "redirect", match: {}, action: { type: "redirect", status: 302, location: "/" } },
    { name: "no-retry", match: {}, action: { type: "forward", service: "b", retries: 0 } },
  ];
  const m = routePolicies(BASE, routes);
  assert.deepEqual(
    [...m.keys()].map((r) => r.name),
    ["fast", "no-retry"],
  );
  assert.equal(m.get(routes[2])?.responseTimeout, 100);
  assert.equal(m.get(routes[4])?.retries, 0);
  assert.equal(m.get(routes[4])?.responseTimeout, BASE.responseTimeout);
});
