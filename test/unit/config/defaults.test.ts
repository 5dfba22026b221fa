import assert from "node:assert/strict";
import { test } from "node:test";
import { formatIssue, parseConfig } from "../../../src/config/index.ts";
import { configSchema, parseStatusRange } from "../../../src/config/schema.ts";
import type { Config } from "../../../src/config/types.ts";

function ok(text: string): Config {
  const r = parseConfig(text, "t.yaml");
  if (!r.ok) assert.fail(r.errors.map(formatIssue).join("\n"));
  return r.config;
}

const MINIMAL = `
backends:
  b1: { address: 127.0.0.1, port: 9001 }
services:
  svc:
    pools:
      - { name: p, backends: { b1: {} } }
frontends:
  fe: { listen: 127.0.0.1:8080, service: svc }
`;

test("a minimal config is filled with every default and renamed to camelCase", () => {
  const expected: Config = {
    healthchecks: {},
    backends: { b1: { name: "b1", address: "127.0.0.1", port: 9001 } },
    services: {
      svc: {
        name: "svc",
        algorithm: "round-robin",
        maglev: { tableSize: 65537, seed: 0 },
        hashOn: "client-address",
        pools: [{ name: "p", members: [{ backend: "b1", weight: 100 }] }],
      },
    },
    frontends: {
      fe: {
        name: "fe",
        listen: { host: "127.0.0.1", port: 8080 },
        protocol: "tcp",
        service: "svc",
        dataplane: "proxy",
        connectTimeout: 3000,
        idleTimeout: 300_000,
        maxConnections: 0,
        connectRetries: 2,
        proxyProtocol: "none",
        udp: { sessionTimeout: 30_000, maxSessions: 65536 },
        routes: [],
      },
    },
    admin: { listen: { host: "127.0.0.1", port: 9700 } },
    runtime: { workers: 1, warmup: { minDelay: 0, maxWait: 5000 }, drainTimeout: 10_000, logLevel: "info" },
  };
  assert.deepEqual(ok(MINIMAL), expected);
});

test("an empty file is a valid config with empty sections and default admin/runtime", () => {
  for (const text of ["", "\n", "# only a comment\n", "backends:\nservices:\n"]) {
    const c = ok(text);
    assert.deepEqual([c.healthchecks, c.backends, c.services, c.frontends], [{}, {}, {}, {}]);
    assert.deepEqual(c.admin.listen, { host: "127.0.0.1", port: 9700 });
  }
});

test("healthcheck timing defaults follow the interval", () => {
  const table: [string, { interval: number; timeout: number; fastInterval: number; downInterval: number }][] =
    [
      ["{ type: tcp }", { interval: 2000, timeout: 1000, fastInterval: 1000, downInterval: 4000 }],
      [
        "{ type: tcp, interval: 10s }",
        { interval: 10_000, timeout: 1000, fastInterval: 5000, downInterval: 20_000 },
      ],
      [
        "{ type: tcp, interval: 500ms }",
        { interval: 500, timeout: 500, fastInterval: 250, downInterval: 1000 },
      ],
      [
        "{ type: tcp, interval: 150ms }",
        { interval: 150, timeout: 150, fastInterval: 100, downInterval: 300 },
      ],
      [
        "{ type: tcp, interval: 3s, timeout: 2s, fast-interval: 1s, down-interval: 1m }",
        { interval: 3000, timeout: 2000, fastInterval: 1000, downInterval: 60_000 },
      ],
    ];
  for (const [yaml, want] of table) {
    const hc = ok(`healthchecks:\n  h: ${yaml}\n`).healthchecks.h;
    const { interval, timeout, fastInterval, downInterval } = hc;
    assert.deepEqual({ interval, timeout, fastInterval, downInterval }, want, yaml);
    assert.deepEqual([hc.rise, hc.fall, hc.jitter], [2, 3, 0.1], yaml);
  }
});

test("each check type gets its own defaults", () => {
  const c = ok(`healthchecks:
  t: { type: tcp, port: 81 }
  h: { type: http }
  s: { type: https, sni: example.com }
  u: { type: udp, send: ping }
  a: { type: agent, port: 9999, rise: 1, fall: 1, jitter: 0 }
`);
  const timing = {
    interval: 2000,
    timeout: 1000,
    fastInterval: 1000,
    downInterval: 4000,
    rise: 2,
    fall: 3,
    jitter: 0.1,
  };
  const status = [{ min: 200, max: 399 }];
  assert.deepEqual(c.healthchecks, {
    t: { name: "t", type: "tcp", port: 81, ...timing },
    h: { name: "h", type: "http", method: "GET", path: "/", expectStatus: status, verify: false, ...timing },
    s: {
      name: "s",
      type: "https",
      sni: "example.com",
      method: "GET",
      path: "/",
      expectStatus: status,
      verify: false,
      ...timing,
    },
    u: { name: "u", type: "udp", send: "ping", ...timing },
    a: { name: "a", type: "agent", port: 9999, ...timing, rise: 1, fall: 1, jitter: 0 },
  });
});

test("expect-status accepts a code, a range, a class, or a list of them", () => {
  const table: [string, { min: number; max: number }[]][] = [
    ["200", [{ min: 200, max: 200 }]],
    ['"204"', [{ min: 204, max: 204 }]],
    ['"200-299"', [{ min: 200, max: 299 }]],
    ['"3xx"', [{ min: 300, max: 399 }]],
    [
      '[200, "301-302", "5xx"]',
      [
        { min: 200, max: 200 },
        { min: 301, max: 302 },
        { min: 500, max: 599 },
      ],
    ],
  ];
  for (const [yaml, want] of table) {
    const hc = ok(`healthchecks:\n  h: { type: http, expect-status: ${yaml} }\n`).healthchecks.h;
    assert.ok(hc.type === "http");
    if (hc.type === "http") assert.deepEqual(hc.expectStatus, want, yaml);
  }
});

test("parseStatusRange refuses out-of-range and reversed statuses", () => {
  for (const bad of [99, 600, "700", "399-200", "6xx", "20", "abc", 200.5]) {
    assert.equal(parseStatusRange(bad), null, String(bad));
  }
});

test("settings written in the file override the defaults", () => {
  const c = ok(`backends:
  b1: { address: "::1", port: 1 }
services:
  svc:
    algorithm: maglev
    maglev: { table-size: 251, seed: 42 }
    hash-on: client-address-port
    pools:
      - { name: p, backends: { b1: { weight: 7 } } }
frontends:
  fe:
    listen: "[::1]:5353"
    protocol: udp
    service: svc
    connect-timeout: 250ms
    idle-timeout: 1m30s
    max-connections: 10
    connect-retries: 0
    proxy-protocol: v2
    udp: { session-timeout: 5s, max-sessions: 100 }
admin: { listen: "[::1]:9701", token-env: LS_TOKEN }
runtime: { workers: auto, warmup: { min-delay: 1s, max-wait: 2s }, drain-timeout: 0s, log-level: debug }
`);
  assert.deepEqual(c.services.svc, {
    name: "svc",
    algorithm: "maglev",
    maglev: { tableSize: 251, seed: 42 },
    hashOn: "client-address-port",
    pools: [{ name: "p", members: [{ backend: "b1", weight: 7 }] }],
  });
  assert.deepEqual(c.frontends.fe, {
    name: "fe",
    listen: { host: "::1", port: 5353 },
    protocol: "udp",
    service: "svc",
    dataplane: "proxy",
    connectTimeout: 250,
    idleTimeout: 90_000,
    maxConnections: 10,
    connectRetries: 0,
    proxyProtocol: "v2",
    udp: { sessionTimeout: 5000, maxSessions: 100 },
    routes: [],
  });
  assert.deepEqual(c.admin, { listen: { host: "::1", port: 9701 }, tokenEnv: "LS_TOKEN" });
  assert.deepEqual(c.runtime, {
    workers: "auto",
    warmup: { minDelay: 1000, maxWait: 2000 },
    drainTimeout: 0,
    logLevel: "debug",
  });
});

test("pool members keep file order and names are kept as keys", () => {
  const c = ok(`backends:
  z: { address: 127.0.0.1, port: 1 }
  a: { address: 127.0.0.1, port: 2 }
services:
  svc:
    pools:
      - { name: p, backends: { z: {}, a: { weight: 1 } } }
`);
  assert.deepEqual(Object.keys(c.backends), ["z", "a"]);
  assert.deepEqual(c.services.svc.pools[0].members, [
    { backend: "z", weight: 100 },
    { backend: "a", weight: 1 },
  ]);
});

test("the composed configSchema produces the same Config as the loader", async () => {
  const { parse } = await import("yaml");
  const text = `${MINIMAL}healthchecks:\n  h: { type: http, interval: 1s, expect-status: "2xx" }\nadmin: { token-file: /tmp/t }\n`;
  assert.deepEqual(configSchema.parse(parse(text)), ok(text));
});
