// The L7 keys of a frontend (routes, http, tls) through the whole loader: one row per
// rule, the exact key path the error names; and examples/l7.yaml validates once its
// certificate paths point at real files.
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { formatIssue, parseConfig } from "../../../src/config/index.ts";
import { writeSelfSignedCert } from "../../helpers/certs.ts";

const dir = mkdtempSync(join(tmpdir(), "lodestone-l7cfg-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const CERT = join(dir, "www.pem");
const KEY = join(dir, "www.key");
writeSelfSignedCert(CERT, KEY, { cn: "www.test" });

const BASE = `backends:
  b1: { address: 127.0.0.1, port: 9001 }
services:
  svc:
    pools:
      - { name: p, backends: { b1: {} } }
  api:
    pools:
      - { name: p, backends: { b1: {} } }
frontends:
  fe: { listen: 127.0.0.1:8080, protocol: http, service: svc }
`;

function withFe(fe: string): string {
  return BASE.replace(/ {2}fe: \{.*\}\n/, `  fe: { ${fe} }\n`);
}

const TLS = `tls: { certificates: [{ cert: ${CERT}, key: ${KEY} }] }`;

const invalid: { rule: string; fe: string; path: string; message: RegExp }[] = [
  {
    rule: "a route forwarding to a service needs that service to exist",
    fe: "listen: 127.0.0.1:8080, protocol: http, service: svc, routes: [{ match: { path: /a }, service: nosuch }]",
    path: "frontends.fe.routes[0].service",
    message: /unknown service "nosuch" \(services: api, svc\)/,
  },
  {
    rule: "https needs tls",
    fe: "listen: 127.0.0.1:8080, protocol: https, service: svc",
    path: "frontends.fe.protocol",
    message: /protocol https needs tls/,
  },
  {
    rule: "tls only on https frontends",
    fe: `listen: 127.0.0.1:8080, protocol: http, service: svc, ${TLS}`,
    path: "frontends.fe.tls",
    message: /tls settings need protocol https \(this frontend is http\)/,
  },
  {
    rule: "http settings only on http/https frontends",
    fe: "listen: 127.0.0.1:8080, protocol: tcp, service: svc, http: { retries: 1 }",
    path: "frontends.fe.http",
    message: /http settings need protocol http or https \(this frontend is tcp\)/,
  },
  {
    rule: "a missing certificate file is named",
    fe: `listen: 127.0.0.1:8080, protocol: https, service: svc, tls: { certificates: [{ cert: ${dir}/nope.pem, key: ${KEY} }] }`,
    path: "frontends.fe.tls.certificates[0].cert",
    message: new RegExp(`cannot read ${dir}/nope\\.pem: no such file`),
  },
  {
    rule: "a directory is not a key file",
    fe: `listen: 127.0.0.1:8080, protocol: https, service: svc, tls: { certificates: [{ cert: ${CERT}, key: ${dir} }] }`,
    path: "frontends.fe.tls.certificates[0].key",
    message: /not a regular file/,
  },
  {
    rule: "alpn knows h2 and http/1.1 only",
    fe: `listen: 127.0.0.1:8080, protocol: https, service: svc, tls: { certificates: [{ cert: ${CERT}, key: ${KEY} }], alpn: [spdy] }`,
    path: "frontends.fe.tls.alpn[0]",
    message: /expected h2 or http\/1\.1/,
  },
  {
    rule: "sticky and hash-on exclude each other",
    fe: "listen: 127.0.0.1:8080, protocol: http, service: svc, http: { sticky: { cookie: { name: lb } }, hash-on: client-ip }",
    path: "frontends.fe.http",
    message: /sticky and hash-on both choose the backend/,
  },
  {
    rule: "hash-on takes client-ip, a header or a cookie",
    fe: "listen: 127.0.0.1:8080, protocol: http, service: svc, http: { hash-on: client-port }",
    path: "frontends.fe.http.hash-on",
    message: /expected client-ip, \{ header: X-Name \} or \{ cookie: name \}/,
  },
  {
    rule: "a sticky cookie needs a valid name",
    fe: 'listen: 127.0.0.1:8080, protocol: http, service: svc, http: { sticky: { cookie: { name: "a b" } } }',
    path: "frontends.fe.http.sticky.cookie.name",
    message: /"a b" is not a cookie name/,
  },
  {
    rule: "an unreadable sticky key file is named",
    fe: `listen: 127.0.0.1:8080, protocol: http, service: svc, http: { sticky: { cookie: { name: lb, key-file: ${dir}/none } } }`,
    path: "frontends.fe.http.sticky.cookie.key-file",
    message: /no such file/,
  },
  {
    rule: "header rules may not touch framing fields",
    fe: "listen: 127.0.0.1:8080, protocol: http, service: svc, http: { request-headers: { remove: [Content-Length] } }",
    path: "frontends.fe.http.request-headers",
    message: /Content-Length is managed by the proxy/,
  },
  {
    rule: "header rule values hold no control characters",
    fe: 'listen: 127.0.0.1:8080, protocol: http, service: svc, http: { response-headers: { set: { X-A: "a\\nb" } } }',
    path: "frontends.fe.http.response-headers.set.X-A",
    message: /no control characters/,
  },
  {
    rule: "trusted proxies are CIDRs",
    fe: "listen: 127.0.0.1:8080, protocol: http, service: svc, http: { trusted-proxies: [10.0.0.0/33] }",
    path: "frontends.fe.http.trusted-proxies[0]",
    message: /is not a CIDR/,
  },
  {
    rule: "x-forwarded-for is append or replace",
    fe: "listen: 127.0.0.1:8080, protocol: http, service: svc, http: { x-forwarded-for: drop }",
    path: "frontends.fe.http.x-forwarded-for",
    message: /expected append or replace/,
  },
  {
    rule: "retries are bounded",
    fe: "listen: 127.0.0.1:8080, protocol: http, service: svc, http: { retries: 11 }",
    path: "frontends.fe.http.retries",
    message: /from 0 to 10/,
  },
  {
    rule: "retry budget percent is a percentage",
    fe: "listen: 127.0.0.1:8080, protocol: http, service: svc, http: { retry-budget: { percent: 120 } }",
    path: "frontends.fe.http.retry-budget.percent",
    message: /percentage from 0 to 100/,
  },
  {
    rule: "route header rules need a service action",
    fe: "listen: 127.0.0.1:8080, protocol: http, service: svc, routes: [{ match: { path: /a }, respond: { status: 200 }, request-headers: { remove: [X-A] } }]",
    path: "frontends.fe.routes[0]",
    message: /request-headers \/ response-headers on a route need a service action/,
  },
  {
    rule: "upstream is http1 or h2",
    fe: "listen: 127.0.0.1:8080, protocol: http, service: svc, http: { upstream: h3 }",
    path: "frontends.fe.http.upstream",
    message: /expected http1 or h2/,
  },
  {
    rule: "an unreadable upstream CA file is named",
    fe: `listen: 127.0.0.1:8080, protocol: http, service: svc, http: { upstream-tls: { ca: ${dir}/no-ca.pem } }`,
    path: "frontends.fe.http.upstream-tls.ca",
    message: /cannot read .*no-ca\.pem: no such file/,
  },
  {
    rule: "upstream SNI is a DNS name",
    fe: 'listen: 127.0.0.1:8080, protocol: http, service: svc, http: { upstream-tls: { sni: "a b" } }',
    path: "frontends.fe.http.upstream-tls.sni",
    message: /not a DNS name/,
  },
  {
    rule: "outlier detection keys are checked",
    fe: "listen: 127.0.0.1:8080, protocol: http, service: svc, http: { outlier-detection: { consecutive-5xx: 3 } }",
    path: "frontends.fe.http.outlier-detection.consecutive-5xx",
    message: /unknown key "consecutive-5xx"/,
  },
  {
    rule: "per-route timeouts and retries need a service action",
    fe: "listen: 127.0.0.1:8080, protocol: http, service: svc, routes: [{ match: { path: /a }, respond: { status: 200 }, response-timeout: 1s, retries: 0 }]",
    path: "frontends.fe.routes[0]",
    message: /response-timeout, retries on a route need a service action/,
  },
  {
    rule: "a route's response-timeout is a positive duration",
    fe: "listen: 127.0.0.1:8080, protocol: http, service: svc, routes: [{ service: api, response-timeout: 0s }]",
    path: "frontends.fe.routes[0].response-timeout",
    message: /must be longer than 0s/,
  },
  {
    rule: "a route's request-timeout is a duration",
    fe: "listen: 127.0.0.1:8080, protocol: http, service: svc, routes: [{ service: api, request-timeout: soon }]",
    path: "frontends.fe.routes[0].request-timeout",
    message: /duration/,
  },
  {
    rule: "a route's retries are 0 to 10",
    fe: "listen: 127.0.0.1:8080, protocol: http, service: svc, routes: [{ service: api, retries: 11 }]",
    path: "frontends.fe.routes[0].retries",
    message: /expected an integer from 0 to 10/,
  },
  {
    rule: "a route's connect-retries are 0 to 10",
    fe: "listen: 127.0.0.1:8080, protocol: http, service: svc, routes: [{ service: api, connect-retries: -1 }]",
    path: "frontends.fe.routes[0].connect-retries",
    message: /expected an integer from 0 to 10/,
  },
  {
    rule: "route keys are checked (retry-on is not one)",
    fe: "listen: 127.0.0.1:8080, protocol: http, service: svc, routes: [{ service: api, retry-on: 5xx }]",
    path: "frontends.fe.routes[0].retry-on",
    message: /unknown key "retry-on"/,
  },
];

for (const c of invalid) {
  test(`L7 rule: ${c.rule}`, () => {
    const r = parseConfig(withFe(c.fe), "l7.yaml");
    assert.equal(r.ok, false, "config should be invalid");
    if (r.ok) return;
    assert.equal(
      r.errors.length,
      1,
      `exactly one error expected, got:\n${r.errors.map(formatIssue).join("\n")}`,
    );
    assert.equal(r.errors[0].path, c.path);
    assert.match(r.errors[0].message, c.message);
    assert.ok(r.errors[0].line >= 10, "the error points into the frontend");
  });
}

test("http, https and L7 settings normalize to camelCase with defaults", () => {
  const r = parseConfig(
    withFe(
      `listen: 127.0.0.1:8443, protocol: https, service: svc, ${TLS}, routes: [{ match: { path-prefix: /api/ }, service: api }], http: { retries: 1, outlier-detection: { consecutive-errors: 3 }, hash-on: { header: X-User } }`,
    ),
    "l7.yaml",
  );
  assert.deepEqual(r.ok ? [] : r.errors.map(formatIssue), []);
  if (!r.ok) return;
  const fe = r.config.frontends.fe;
  assert.deepEqual(fe.routes, [
    { name: "routes[0]", match: { pathPrefix: "/api/" }, action: { type: "forward", service: "api" } },
  ]);
  assert.equal(fe.http?.retries, 1);
  assert.equal(fe.http?.outlier.consecutiveErrors, 3);
  assert.equal(fe.http?.outlier.baseEjectionTime, 30_000);
  assert.deepEqual(fe.http?.hashOn, { header: "x-user" });
  assert.deepEqual(fe.tls?.alpn, ["http/1.1"]);
});

test("per-route timeouts and retries normalize onto the forward action; http.request-timeout defaults to none", () => {
  const r = parseConfig(
    withFe(
      "listen: 127.0.0.1:8080, protocol: http, service: svc, http: { response-timeout: 30s }, routes: [{ match: { path-prefix: /slow/ }, service: api, connect-timeout: 500ms, connect-retries: 0, response-timeout: 2m, request-timeout: 0s, retries: 0 }, { service: svc }]",
    ),
    "l7.yaml",
  );
  assert.deepEqual(r.ok ? [] : r.errors.map(formatIssue), []);
  if (!r.ok) return;
  const fe = r.config.frontends.fe;
  assert.deepEqual(fe.routes, [
    {
      name: "routes[0]",
      match: { pathPrefix: "/slow/" },
      action: {
        type: "forward",
        service: "api",
        connectTimeout: 500,
        connectRetries: 0,
        responseTimeout: 120_000,
        requestTimeout: 0,
        retries: 0,
      },
    },
    { name: "routes[1]", match: {}, action: { type: "forward", service: "svc" } },
  ]);
  assert.equal(fe.http?.responseTimeout, 30_000);
  assert.equal(fe.http?.requestTimeout, 0);
});

test("a tcp frontend carries no http block", () => {
  const r = parseConfig(withFe("listen: 127.0.0.1:8080, protocol: tcp, service: svc"), "l7.yaml");
  assert.ok(r.ok);
  assert.equal(r.ok && r.config.frontends.fe.http, undefined);
});

test("examples/l7.yaml validates once its certificate paths exist", () => {
  const text = readFileSync(new URL("../../../examples/l7.yaml", import.meta.url), "utf8")
    .replaceAll("/etc/lodestone/www.pem", CERT)
    .replaceAll("/etc/lodestone/www.key", KEY);
  const r = parseConfig(text, "l7.yaml");
  assert.deepEqual(r.ok ? [] : r.errors.map(formatIssue), []);
});

test("examples/l7.yaml names its certificate when the file is missing", () => {
  const path = join(dir, "missing.yaml");
  writeFileSync(path, "");
  chmodSync(path, 0o600);
  const text = readFileSync(new URL("../../../examples/l7.yaml", import.meta.url), "utf8").replaceAll(
    "/etc/lodestone/www.pem",
    `${dir}/absent.pem`,
  );
  const r = parseConfig(text.replaceAll("/etc/lodestone/www.key", KEY), "l7.yaml");
  assert.equal(r.ok, false);
  assert.match(r.ok ? "" : r.errors.map(formatIssue).join("\n"), /cannot read .*absent\.pem: no such file/);
});
