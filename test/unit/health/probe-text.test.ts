// Pure pieces of the probes: the Host header and how errors read as reasons.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { HttpCheck } from "../../../src/config/types.ts";
import { describeError } from "../../../src/health/probes/deadline.ts";
import { hostHeader } from "../../../src/health/probes/http.ts";

const base: HttpCheck = {
  name: "h",
  type: "http",
  interval: 1000,
  fastInterval: 500,
  downInterval: 2000,
  timeout: 500,
  rise: 2,
  fall: 3,
  jitter: 0,
  method: "GET",
  path: "/",
  expectStatus: [],
  verify: false,
};

describe("hostHeader", () => {
  const rows: [string, number, Partial<HttpCheck>, string][] = [
    ["127.0.0.1", 8080, {}, "127.0.0.1:8080"],
    ["127.0.0.1", 80, {}, "127.0.0.1"],
    ["127.0.0.1", 443, {}, "127.0.0.1:443"],
    ["127.0.0.1", 443, { type: "https" }, "127.0.0.1"],
    ["127.0.0.1", 80, { type: "https" }, "127.0.0.1:80"],
    ["::1", 8080, {}, "[::1]:8080"],
    ["::1", 80, {}, "[::1]"],
    ["127.0.0.1", 8080, { host: "app.example" }, "app.example"],
    ["127.0.0.1", 8080, { host: "app.example:9000" }, "app.example:9000"],
  ];
  for (const [address, port, extra, want] of rows) {
    test(`${address} port ${port} ${JSON.stringify(extra)} -> ${want}`, () => {
      assert.equal(hostHeader({ address, port }, { ...base, ...extra }), want);
    });
  }
});

describe("describeError", () => {
  const err = (message: string, props: Record<string, string>) => Object.assign(new Error(message), props);
  const rows: [unknown, string][] = [
    [
      err("connect ECONNREFUSED 127.0.0.1:1", { code: "ECONNREFUSED", syscall: "connect" }),
      "connect ECONNREFUSED",
    ],
    [err("read ECONNRESET", { code: "ECONNRESET", syscall: "read" }), "read ECONNRESET"],
    [err("socket hang up", { code: "ECONNRESET" }), "connection closed before a response"],
    [
      err("self-signed certificate", { code: "DEPTH_ZERO_SELF_SIGNED_CERT" }),
      "tls DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate",
    ],
    [
      err("Hostname/IP does not match", { code: "ERR_TLS_CERT_ALTNAME_INVALID" }),
      "tls ERR_TLS_CERT_ALTNAME_INVALID: Hostname/IP does not match",
    ],
    [
      err("Parse Error: Expected HTTP/", { code: "HPE_INVALID_CONSTANT" }),
      "bad HTTP response (HPE_INVALID_CONSTANT)",
    ],
    [err("odd", { code: "EWHATEVER" }), "EWHATEVER: odd"],
    [new Error("plain"), "plain"],
    ["a string", "a string"],
  ];
  for (const [e, want] of rows) {
    test(`reads as "${want}"`, () => assert.equal(describeError(e), want));
  }
});
