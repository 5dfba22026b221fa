import assert from "node:assert/strict";
import { test } from "node:test";
import {
  canonicalIp,
  formatHostPort,
  ipFamily,
  isLoopback,
  isWildcard,
  listenConflicts,
  parseListen,
} from "../../../src/config/address.ts";

test("ipFamily accepts IPv4 and IPv6 literals and refuses hostnames and malformed addresses", () => {
  const table: [string, 0 | 4 | 6][] = [
    ["127.0.0.1", 4],
    ["0.0.0.0", 4],
    ["255.255.255.255", 4],
    ["::1", 6],
    ["::", 6],
    ["fe80::1%eth0", 6],
    ["::ffff:127.0.0.1", 6],
    ["2001:db8::42", 6],
    ["localhost", 0],
    ["example.com", 0],
    ["1.2.3", 0],
    ["256.1.1.1", 0],
    ["01.2.3.4", 0],
    ["[::1]", 0],
    ["1::2::3", 0],
    ["", 0],
    [" 1.2.3.4", 0],
  ];
  for (const [address, family] of table) assert.equal(ipFamily(address), family, address);
});

test("canonicalIp expands IPv6 spellings to one form and leaves IPv4 alone", () => {
  const table: [string, string][] = [
    ["127.0.0.1", "127.0.0.1"],
    ["::1", "0000:0000:0000:0000:0000:0000:0000:0001"],
    ["0:0:0:0:0:0:0:1", "0000:0000:0000:0000:0000:0000:0000:0001"],
    ["::", "0000:0000:0000:0000:0000:0000:0000:0000"],
    ["2001:DB8::42", "2001:0db8:0000:0000:0000:0000:0000:0042"],
    ["::ffff:127.0.0.1", "0000:0000:0000:0000:0000:ffff:7f00:0001"],
    ["fe80::1%eth0", "fe80:0000:0000:0000:0000:0000:0000:0001%eth0"],
    ["1:2:3:4:5:6:7:8", "0001:0002:0003:0004:0005:0006:0007:0008"],
  ];
  for (const [input, canonical] of table) assert.equal(canonicalIp(input), canonical, input);
});

test("isLoopback and isWildcard classify addresses", () => {
  const table: [string, boolean, boolean][] = [
    // address, loopback, wildcard
    ["127.0.0.1", true, false],
    ["127.1.2.3", true, false],
    ["::1", true, false],
    ["0:0::1", true, false],
    ["::ffff:127.0.0.1", true, false],
    ["0.0.0.0", false, true],
    ["::", false, true],
    ["0::0", false, true],
    ["10.0.0.1", false, false],
    ["2001:db8::1", false, false],
    ["::ffff:10.0.0.1", false, false],
  ];
  for (const [address, loopback, wildcard] of table) {
    assert.equal(isLoopback(address), loopback, `${address} loopback`);
    assert.equal(isWildcard(address), wildcard, `${address} wildcard`);
  }
});

test("parseListen reads address:port with bracketed IPv6", () => {
  const table: [string, string, number][] = [
    ["127.0.0.1:8080", "127.0.0.1", 8080],
    ["0.0.0.0:1", "0.0.0.0", 1],
    ["[::1]:8080", "::1", 8080],
    ["[::]:65535", "::", 65535],
    ["[fe80::1%eth0]:80", "fe80::1%eth0", 80],
  ];
  for (const [text, host, port] of table) {
    assert.deepEqual(parseListen(text), { ok: true, value: { host, port } }, text);
  }
});

test("parseListen refuses hostnames, bare IPv6, missing or out-of-range ports", () => {
  const table: [string, RegExp][] = [
    ["localhost:8080", /not an IP address/],
    ["example.com:80", /not an IP address/],
    ["::1:8080", /brackets/],
    ["::1", /brackets/],
    ["127.0.0.1", /no port/],
    ["127.0.0.1:", /no valid port/],
    ["127.0.0.1:http", /no valid port/],
    ["127.0.0.1:0", /out of range/],
    ["127.0.0.1:65536", /out of range/],
    ["127.0.0.1:123456", /no valid port/],
    [":8080", /no address/],
    ["[::1]8080", /not host:port/],
    ["[127.0.0.1]:80", /not an IPv6 address/],
    ["[::1:80", /not host:port/],
  ];
  for (const [text, message] of table) {
    const r = parseListen(text);
    assert.equal(r.ok, false, text);
    if (!r.ok) assert.match(r.message, message, text);
  }
});

test("formatHostPort is the inverse of parseListen", () => {
  for (const text of ["127.0.0.1:8080", "[::1]:8080", "[2001:db8::1]:443"]) {
    const r = parseListen(text);
    assert.ok(r.ok);
    if (r.ok) assert.equal(formatHostPort(r.value), text);
  }
});

test("listenConflicts: same port and same address, or a wildcard covering the other", () => {
  const hp = (text: string) => {
    const r = parseListen(text);
    if (!r.ok) throw new Error(text);
    return r.value;
  };
  const table: [string, string, boolean][] = [
    ["127.0.0.1:80", "127.0.0.1:80", true],
    ["127.0.0.1:80", "127.0.0.1:81", false],
    ["127.0.0.1:80", "127.0.0.2:80", false],
    ["0.0.0.0:80", "127.0.0.1:80", true],
    ["127.0.0.1:80", "0.0.0.0:80", true],
    ["0.0.0.0:80", "0.0.0.0:80", true],
    ["0.0.0.0:80", "0.0.0.0:81", false],
    ["0.0.0.0:80", "[::1]:80", false],
    ["0.0.0.0:80", "[::ffff:127.0.0.1]:80", true],
    ["[::]:80", "127.0.0.1:80", true],
    ["[::]:80", "[::1]:80", true],
    ["[::]:80", "0.0.0.0:80", true],
    ["[::1]:80", "[0:0::1]:80", true],
    ["[::1]:80", "[::2]:80", false],
    ["[::1]:80", "127.0.0.1:80", false],
  ];
  for (const [a, b, conflict] of table) {
    assert.equal(listenConflicts(hp(a), hp(b)), conflict, `${a} vs ${b}`);
    assert.equal(listenConflicts(hp(b), hp(a)), conflict, `${b} vs ${a} (symmetric)`);
  }
});
