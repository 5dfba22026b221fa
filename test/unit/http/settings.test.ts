import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { HTTP_DEFAULTS, httpFrontendSchema } from "../../../src/config/routes.ts";
import { SniTable } from "../../../src/dataplane/proxy/http/tls.ts";

describe("SNI certificate table", () => {
  const t = new SniTable("default");
  t.add("a.example.com", "a");
  t.add("*.example.com", "wild");
  t.add("A.Example.com", "duplicate-ignored");
  t.add("*.b.example.com", "wild-b");
  const table: [string | undefined, string][] = [
    [undefined, "default"],
    ["", "default"],
    ["a.example.com", "a"],
    ["A.EXAMPLE.COM.", "a"],
    ["x.example.com", "wild"],
    ["example.com", "default"],
    ["x.y.example.com", "default"],
    ["z.b.example.com", "wild-b"],
    ["other.org", "default"],
  ];
  for (const [name, want] of table) {
    test(`${JSON.stringify(name)} -> ${want}`, () => assert.equal(t.lookup(name), want));
  }
});

describe("http frontend settings schema", () => {
  test("defaults fill every http setting", () => {
    const s = httpFrontendSchema.parse({});
    assert.deepEqual(s, { routes: [], http: HTTP_DEFAULTS });
  });
  test("kebab-case durations and sizes become camelCase milliseconds and numbers", () => {
    const s = httpFrontendSchema.parse({
      http: {
        "request-head-timeout": "5s",
        "keep-alive-timeout": "1m",
        "max-headers": 50,
        "upstream-max-idle": 0,
      },
    });
    assert.equal(s.http.requestHeadTimeout, 5000);
    assert.equal(s.http.keepAliveTimeout, 60_000);
    assert.equal(s.http.maxHeaders, 50);
    assert.equal(s.http.upstreamMaxIdle, 0);
    assert.equal(s.http.responseTimeout, HTTP_DEFAULTS.responseTimeout);
  });
  test("tls settings normalize with defaults", () => {
    const s = httpFrontendSchema.parse({ tls: { certificates: [{ cert: "c.pem", key: "k.pem" }] } });
    assert.deepEqual(s.tls, {
      certificates: [{ cert: "c.pem", key: "k.pem" }],
      minVersion: "TLSv1.2",
      alpn: ["http/1.1"],
    });
  });
  const bad: [string, unknown, RegExp][] = [
    ["bare number duration", { http: { "response-timeout": 5 } }, /duration/],
    ["unitless duration string", { http: { "response-timeout": "5" } }, /no unit/],
    ["unknown http key", { http: { "max-body": 1 } }, /unknown key "max-body"/],
    ["too few headers allowed", { http: { "max-headers": 0 } }, /from 1 to 10000/],
    ["tls without certificates", { tls: { certificates: [] } }, /at least one certificate/],
    [
      "an unknown ALPN protocol",
      { tls: { certificates: [{ cert: "c", key: "k" }], alpn: ["spdy/3"] } },
      /expected h2 or http\/1\.1/,
    ],
    ["an empty ALPN list", { tls: { certificates: [{ cert: "c", key: "k" }], alpn: [] } }, /at least one/],
    ["a negative retry count", { http: { retries: -1 } }, /from 0 to 10/],
    ["a hash-on of an unknown kind", { http: { "hash-on": { query: "a" } } }, /expected client-ip/],
  ];
  for (const [name, input, message] of bad) {
    test(`${name} is refused`, () => {
      const r = httpFrontendSchema.safeParse(input);
      assert.equal(r.success, false);
      assert.match(r.error!.issues.map((i) => i.message).join("; "), message);
    });
  }
});
