import assert from "node:assert/strict";
import { test } from "node:test";
import { deepEqual } from "../../../src/config/diff.ts";
import { type Config, diffConfig, formatIssue, isEmpty, parseConfig } from "../../../src/config/index.ts";

const BASE = `healthchecks:
  hc: { type: tcp }
  gone: { type: tcp }
backends:
  b1: { address: 127.0.0.1, port: 9001, healthcheck: hc }
  b2: { address: 127.0.0.1, port: 9002 }
services:
  svc:
    pools:
      - { name: p, backends: { b1: {}, b2: {} } }
frontends:
  fe: { listen: 127.0.0.1:8080, service: svc }
`;

function load(text: string): Config {
  const r = parseConfig(text, "d.yaml");
  if (!r.ok) assert.fail(r.errors.map(formatIssue).join("\n"));
  return r.config;
}

const none = { added: [], removed: [], changed: [] };

test("identical configs have an empty diff", () => {
  const d = diffConfig(load(BASE), load(BASE));
  assert.deepEqual(d, {
    healthchecks: none,
    backends: none,
    services: none,
    frontends: none,
    admin: false,
    runtime: false,
  });
  assert.equal(isEmpty(d), true);
});

test("reordering entries or spelling a default out changes nothing", () => {
  const reordered = BASE.replace(
    "  b1: { address: 127.0.0.1, port: 9001, healthcheck: hc }\n  b2: { address: 127.0.0.1, port: 9002 }\n",
    "  b2: { address: 127.0.0.1, port: 9002 }\n  b1: { port: 9001, address: 127.0.0.1, healthcheck: hc }\n",
  ).replace("{ type: tcp }\n  gone", "{ type: tcp, interval: 2s, rise: 2 }\n  gone");
  assert.equal(isEmpty(diffConfig(load(BASE), load(reordered))), true);
});

test("diffConfig lists added, removed and changed names per section, sorted", () => {
  const next = BASE.replace("  gone: { type: tcp }\n", "  new-hc: { type: http }\n")
    .replace("healthcheck: hc }", "healthcheck: new-hc }")
    .replace(
      "  b2: { address: 127.0.0.1, port: 9002 }\n",
      "  b3: { address: 127.0.0.1, port: 9003 }\n  a0: { address: 127.0.0.1, port: 9004 }\n",
    )
    .replace("{ b1: {}, b2: {} }", "{ b1: { weight: 50 }, b3: {}, a0: {} }")
    .replace("fe: { listen: 127.0.0.1:8080, service: svc }", "fe: { listen: 127.0.0.1:8081, service: svc }")
    .concat("runtime: { log-level: debug }\n");
  const d = diffConfig(load(BASE), load(next));
  assert.deepEqual(d, {
    healthchecks: { added: ["new-hc"], removed: ["gone"], changed: [] },
    backends: { added: ["a0", "b3"], removed: ["b2"], changed: ["b1"] },
    services: { added: [], removed: [], changed: ["svc"] },
    frontends: { added: [], removed: [], changed: ["fe"] },
    admin: false,
    runtime: true,
  });
  assert.equal(isEmpty(d), false);
});

test("a change to admin alone makes the diff non-empty", () => {
  const d = diffConfig(load(BASE), load(`${BASE}admin: { listen: 127.0.0.1:9800 }\n`));
  assert.equal(d.admin, true);
  assert.equal(isEmpty(d), false);
});

test("deepEqual: structural, key order free, undefined keys count as absent", () => {
  const table: [unknown, unknown, boolean][] = [
    [1, 1, true],
    [1, 2, false],
    ["a", "a", true],
    [null, null, true],
    [null, {}, false],
    [{ a: 1, b: 2 }, { b: 2, a: 1 }, true],
    [{ a: 1 }, { a: 1, b: undefined }, true],
    [{ a: 1 }, { a: 1, b: 2 }, false],
    [[1, 2], [1, 2], true],
    [[1, 2], [2, 1], false],
    [[], {}, false],
    [{ a: [{ b: 1 }] }, { a: [{ b: 1 }] }, true],
    [{ a: [{ b: 1 }] }, { a: [{ b: 2 }] }, false],
    [Number.NaN, Number.NaN, true],
  ];
  for (const [a, b, eq] of table) {
    assert.equal(deepEqual(a, b), eq, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    assert.equal(deepEqual(b, a), eq, "symmetric");
  }
});
