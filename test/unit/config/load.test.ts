import assert from "node:assert/strict";
import { test } from "node:test";
import { formatIssue, parseConfig } from "../../../src/config/index.ts";
import { closestKey } from "../../../src/config/issues.ts";

function errors(text: string): string[] {
  const r = parseConfig(text, "f.yaml");
  assert.equal(r.ok, false, "expected errors");
  return r.ok ? [] : r.errors.map(formatIssue);
}

test("formatIssue prints file:line:col: path: message, and omits an empty path", () => {
  assert.equal(
    formatIssue({ file: "a.yaml", line: 3, column: 7, path: "backends.b1.port", message: "expected x" }),
    "a.yaml:3:7: backends.b1.port: expected x",
  );
  assert.equal(formatIssue({ file: "a.yaml", line: 1, column: 1, path: "", message: "m" }), "a.yaml:1:1: m");
});

test("formatIssue prints no line:column for a whole-file problem (line 0), e.g. a reload of a missing file", () => {
  assert.equal(
    formatIssue({
      file: "a.yaml",
      line: 0,
      column: 0,
      path: "",
      message: "cannot read a.yaml: no such file",
    }),
    "a.yaml: cannot read a.yaml: no such file",
  );
  assert.equal(
    formatIssue({ file: "a.yaml", line: 0, column: 0, path: "admin", message: "m" }),
    "a.yaml: admin: m",
  );
});

test("every error in the file is reported at once, sorted by position", () => {
  const text = `healthchecks:
  hc: { type: tcp, interval: 5 }
backends:
  b1: { address: localhost, port: 9001, healthcheck: missing }
services:
  svc:
    algorithm: maglev
    maglev: { table-size: 100 }
    pools:
      - { name: p, backends: { b1: { weight: 101 }, ghost: {} } }
frontends:
  fe: { listen: "127.0.0.1:8080", service: nosvc, colour: blue }
  fe2: { listen: "127.0.0.1:8080", service: svc }
admin: { listen: 10.0.0.1:9700 }
`;
  assert.deepEqual(errors(text), [
    "f.yaml:2:30: healthchecks.hc.interval: a bare number is not a duration: use a unit, e.g. 5s or 5ms",
    'f.yaml:4:18: backends.b1.address: "localhost" is not an IP address (v4 or v6; hostnames are not resolved)',
    'f.yaml:4:54: backends.b1.healthcheck: unknown healthcheck "missing" (healthchecks: hc)',
    "f.yaml:8:27: services.svc.maglev.table-size: 100 is not prime (Maglev needs a prime table size): nearest primes are 97 and 101",
    "f.yaml:10:46: services.svc.pools[0].backends.b1.weight: expected an integer weight from 0 to 100, got 101",
    'f.yaml:10:53: services.svc.pools[0].backends.ghost: unknown backend "ghost" (backends: b1)',
    'f.yaml:12:44: frontends.fe.service: unknown service "nosvc" (services: svc)',
    'f.yaml:12:51: frontends.fe.colour: unknown key "colour"; allowed keys: listen, protocol, service, dataplane, xdp, connect-timeout, idle-timeout, max-connections, connect-retries, proxy-protocol, udp, routes, http, tls',
    "f.yaml:14:18: admin.listen: admin API on non-loopback 10.0.0.1:9700 without token-file or token-env: lodestone refuses to start with an unauthenticated API on the network (set one, or listen on 127.0.0.1)",
  ]);
});

test("a frontend with a schema error is left out of the listen-conflict check but its references are checked", () => {
  // fe fails (unknown key), so fe2 has no listener to conflict with; nosvc is still reported.
  const out = errors(`frontends:
  fe: { listen: 127.0.0.1:80, service: nosvc, bad: 1 }
  fe2: { listen: 127.0.0.1:80, service: nosvc }
`);
  assert.equal(out.length, 3);
  assert.match(out[0], /^f\.yaml:2:40: frontends\.fe\.service: unknown service/);
  assert.match(out[1], /^f\.yaml:2:47: frontends\.fe\.bad: unknown key/);
  assert.match(out[2], /^f\.yaml:3:41: frontends\.fe2\.service: unknown service/);
});

test("YAML syntax errors are reported with their position and no schema noise", () => {
  const table: [string, RegExp][] = [
    ["backends:\n  b1: { address: 127.0.0.1, port: 9001\n", /^f\.yaml:3:1: YAML syntax: /],
    ["backends:\n  b1: 1\n  b1: 2\n", /^f\.yaml:3:3: YAML syntax: Map keys must be unique/],
    ["a: b: c\n", /^f\.yaml:1:4: YAML syntax: /],
    ["backends:\n\t b1: {}\n", /^f\.yaml:2:1: YAML syntax: /],
  ];
  for (const [text, re] of table) {
    const out = errors(text);
    assert.ok(out.length >= 1, text);
    assert.match(out[0], re, JSON.stringify(text));
    for (const line of out) assert.match(line, /YAML syntax/);
  }
});

test("an unquoted bracketed IPv6 listen address gets a hint to quote it", () => {
  const out = errors("frontends:\n  fe:\n    listen: [::1]:8080\n    service: s\n");
  assert.match(out[0], /^f\.yaml:3:\d+: YAML syntax: .*quote IPv6 listen addresses/);
});

test("a document that is not a mapping is one clear error", () => {
  assert.deepEqual(errors("- a\n- b\n"), [
    "f.yaml:1:1: expected a mapping with the sections healthchecks, backends, services, frontends, admin, runtime, got a list",
  ]);
  assert.match(errors("just text\n")[0], /got "just text"/);
});

test("errors inside YAML merge keys point at the key that is written in the entry", () => {
  const out = errors(`healthchecks:
  base: &base { type: tcp, interval: 1s }
  a: { <<: *base, rise: 0 }
`);
  assert.deepEqual(out, ["f.yaml:3:25: healthchecks.a.rise: expected an integer from 1 to 100, got 0"]);
});

test("merged values are checked where they are defined in the merged mapping", () => {
  const out = errors(`healthchecks:
  base: &base { type: tcp, timeout: 0s }
  a: { <<: *base }
`);
  // base itself and a (which inherits timeout: 0s) both fail; a's error points at the inherited value.
  assert.deepEqual(out, [
    "f.yaml:2:37: healthchecks.a.timeout: must be longer than 0s",
    "f.yaml:2:37: healthchecks.base.timeout: must be longer than 0s",
  ]);
});

test("aliases that expand beyond the limit are refused instead of exhausting memory", () => {
  const lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"];
  for (let i = 1; i < 8; i++)
    lines.push(
      `a${i}: &a${i} [*a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}]`,
    );
  const out = errors(`${lines.join("\n")}\n`);
  assert.equal(out.length, 1);
  assert.match(out[0], /^f\.yaml:1:1: YAML: .*alias/i);
});

test("a byte-order mark at the start of the file is ignored", () => {
  const r = parseConfig("\uFEFFbackends:\n  b1: { address: 127.0.0.1, port: 1 }\n", "f.yaml");
  assert.equal(r.ok, true);
});

test("names that are numbers in YAML are kept as string names", () => {
  const r = parseConfig("backends:\n  1: { address: 127.0.0.1, port: 1 }\n", "f.yaml");
  assert.ok(r.ok);
  if (r.ok) assert.equal(r.config.backends["1"].name, "1");
});

test("a deeply broken document gives a bounded, de-duplicated list of syntax errors", () => {
  const out = errors("[".repeat(5000));
  assert.ok(out.length <= 21, `got ${out.length} lines`);
  assert.equal(new Set(out).size, out.length);
  for (const line of out) assert.match(line, /^f\.yaml:\d+:\d+: YAML syntax: /);
});

test("admin: and runtime: with nothing under them mean all defaults", () => {
  const r = parseConfig("admin:\nruntime:\n", "f.yaml");
  assert.ok(r.ok);
  if (r.ok) {
    assert.deepEqual(r.config.admin, { listen: { host: "127.0.0.1", port: 9700 } });
    assert.equal(r.config.runtime.logLevel, "info");
  }
});

test("names that look like Object.prototype members are ordinary names", () => {
  const ok = parseConfig(
    `backends:
  constructor: { address: 127.0.0.1, port: 1 }
services:
  toString:
    pools:
      - { name: p, backends: { constructor: {} } }
frontends:
  fe: { listen: 127.0.0.1:80, service: toString }
`,
    "f.yaml",
  );
  assert.equal(ok.ok, true);
  assert.deepEqual(errors("frontends:\n  fe: { listen: 127.0.0.1:80, service: hasOwnProperty }\n"), [
    'f.yaml:2:40: frontends.fe.service: unknown service "hasOwnProperty" (services: none are defined)',
  ]);
  assert.match(
    errors("backends:\n  __proto__: { address: 127.0.0.1, port: 1 }\n")[0],
    /"__proto__" is not a name/,
  );
});

test("number errors say what was written: out of range, fractional, quoted, a list, missing", () => {
  const out = errors(`backends:
  a: { address: 127.0.0.1, port: 70000 }
  b: { address: 127.0.0.1, port: "9001" }
  c: { address: 127.0.0.1, port: [1] }
  d: { address: 127.0.0.1 }
services:
  s:
    pools:
      - { name: p, backends: { a: { weight: 150 }, b: { weight: 50.5 }, c: { weight: abc } } }
`);
  assert.deepEqual(out, [
    "f.yaml:2:34: backends.a.port: expected a port number from 1 to 65535, got 70000",
    'f.yaml:3:34: backends.b.port: expected a port number from 1 to 65535, got the string "9001": write the number without quotes',
    "f.yaml:4:34: backends.c.port: expected a port number from 1 to 65535, got a list",
    "f.yaml:5:6: backends.d.port: required: a port number from 1 to 65535",
    "f.yaml:9:45: services.s.pools[0].backends.a.weight: expected an integer weight from 0 to 100, got 150",
    "f.yaml:9:65: services.s.pools[0].backends.b.weight: expected an integer weight from 0 to 100, got 50.5",
    'f.yaml:9:86: services.s.pools[0].backends.c.weight: expected an integer weight from 0 to 100, got "abc"',
  ]);
});

test("an unknown key names the allowed key it most likely meant, and only a close one", () => {
  const cases: [string, string | undefined][] = [
    ["protocoll", "protocol"],
    ["conect-timeout", "connect-timeout"],
    ["connect_timeout", "connect-timeout"],
    ["Listen", "listen"],
    ["servic", "service"],
    ["colour", undefined],
    ["x", undefined],
    ["udpp", "udp"],
    ["tls2", "tls"],
    ["ab", undefined],
  ];
  const allowed = ["listen", "protocol", "service", "connect-timeout", "idle-timeout", "udp", "tls", "http"];
  for (const [key, want] of cases) assert.equal(closestKey(key, allowed), want, key);
  const out = errors(`backends:
  a: { adress: 127.0.0.1, port: 1, colour: blue }
healthcheck: {}
`);
  assert.deepEqual(out, [
    "f.yaml:2:6: backends.a.address: required: an IP address such as 127.0.0.1 or ::1",
    'f.yaml:2:8: backends.a.adress: unknown key "adress" (did you mean "address"?); allowed keys: address, port, healthcheck',
    'f.yaml:2:36: backends.a.colour: unknown key "colour"; allowed keys: address, port, healthcheck',
    'f.yaml:3:1: healthcheck: unknown key "healthcheck" (did you mean "healthchecks"?); allowed keys: healthchecks, backends, services, frontends, admin, runtime',
  ]);
});
