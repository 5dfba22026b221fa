import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  encodeProxyHeader,
  encodeProxyV1,
  encodeProxyV2,
  ipv6Bytes,
  PROXY_V2_SIGNATURE,
} from "../../../src/dataplane/proxy/proxy-protocol.ts";

const SIG = "0d0a0d0a000d0a515549540a";

describe("PROXY protocol v1", () => {
  it("encodes the spec's TCP4 example byte for byte", () => {
    const header = encodeProxyV1({
      source: { address: "192.168.0.1", port: 56324 },
      destination: { address: "192.168.0.11", port: 443 },
    });
    assert.equal(header.toString("latin1"), "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
  });

  it("encodes the spec's longest TCP4 line within the 107-byte limit", () => {
    const header = encodeProxyV1({
      source: { address: "255.255.255.255", port: 65535 },
      destination: { address: "255.255.255.255", port: 65535 },
    });
    assert.equal(header.toString("latin1"), "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n");
    assert.ok(header.length <= 107);
  });

  it("encodes TCP6 for IPv6 peers", () => {
    const header = encodeProxyV1({
      source: { address: "2001:db8::1", port: 40000 },
      destination: { address: "::1", port: 8080 },
    });
    assert.equal(header.toString("latin1"), "PROXY TCP6 2001:db8::1 ::1 40000 8080\r\n");
  });

  it("unmaps IPv4-mapped IPv6 addresses from dual-stack sockets to TCP4", () => {
    const header = encodeProxyV1({
      source: { address: "::ffff:10.0.0.7", port: 1234 },
      destination: { address: "::FFFF:10.0.0.1", port: 80 },
    });
    assert.equal(header.toString("latin1"), "PROXY TCP4 10.0.0.7 10.0.0.1 1234 80\r\n");
  });

  it("promotes an IPv4 end to IPv4-mapped IPv6 when the other end is IPv6", () => {
    const header = encodeProxyV1({
      source: { address: "10.0.0.7", port: 1234 },
      destination: { address: "2001:db8::5", port: 80 },
    });
    assert.equal(header.toString("latin1"), "PROXY TCP6 ::ffff:10.0.0.7 2001:db8::5 1234 80\r\n");
  });

  it("writes UNKNOWN when the addresses are not known", () => {
    assert.equal(encodeProxyV1(null).toString("latin1"), "PROXY UNKNOWN\r\n");
  });

  it("rejects a hostname and an out-of-range port with a coded error", () => {
    assert.throws(
      () =>
        encodeProxyV1({
          source: { address: "example.com", port: 1 },
          destination: { address: "1.2.3.4", port: 2 },
        }),
      { code: "PROXY_PROTOCOL_ADDRESS" },
    );
    assert.throws(
      () =>
        encodeProxyV1({
          source: { address: "1.2.3.4", port: 70000 },
          destination: { address: "1.2.3.4", port: 2 },
        }),
      { code: "PROXY_PROTOCOL_ADDRESS" },
    );
  });
});

describe("PROXY protocol v2", () => {
  it("starts with the 12-byte signature \\r\\n\\r\\n\\0\\r\\nQUIT\\n", () => {
    assert.equal(PROXY_V2_SIGNATURE.toString("hex"), SIG);
    assert.equal(PROXY_V2_SIGNATURE.toString("latin1"), "\r\n\r\n\0\r\nQUIT\n");
  });

  it("encodes TCP over IPv4 as PROXY, 0x11, length 12, addresses then ports", () => {
    const header = encodeProxyV2({
      source: { address: "192.168.0.1", port: 56324 },
      destination: { address: "192.168.0.11", port: 443 },
    });
    assert.equal(
      header.toString("hex"),
      // sig | ver/cmd | fam | len | src c0a80001 | dst c0a8000b | sport dc04 | dport 01bb
      `${SIG}2111000cc0a80001c0a8000bdc0401bb`,
    );
    assert.equal(header.length, 16 + 12);
  });

  it("encodes TCP over IPv6 as 0x21 with length 36", () => {
    const header = encodeProxyV2({
      source: { address: "2001:db8::1", port: 1 },
      destination: { address: "::1", port: 65535 },
    });
    assert.equal(
      header.toString("hex"),
      `${SIG}21210024` +
        "20010db8000000000000000000000001" +
        "00000000000000000000000000000001" +
        "0001" +
        "ffff",
    );
  });

  it("encodes UDP over IPv4 as 0x12 when the transport is dgram", () => {
    const header = encodeProxyV2(
      { source: { address: "127.0.0.1", port: 5353 }, destination: { address: "127.0.0.2", port: 53 } },
      "dgram",
    );
    assert.equal(header.toString("hex"), `${SIG}2112000c7f0000017f00000214e90035`);
  });

  it("encodes UDP over IPv6 as 0x22", () => {
    const header = encodeProxyV2(
      { source: { address: "::1", port: 1 }, destination: { address: "::1", port: 2 } },
      "dgram",
    );
    assert.equal(header.subarray(12, 16).toString("hex"), "21220024");
  });

  it("writes a LOCAL header with family UNSPEC and no body when addresses are unknown", () => {
    assert.equal(encodeProxyV2(null).toString("hex"), `${SIG}20000000`);
  });

  it("unmaps IPv4-mapped addresses to a 12-byte IPv4 body", () => {
    const header = encodeProxyV2({
      source: { address: "::ffff:127.0.0.1", port: 80 },
      destination: { address: "::ffff:127.0.0.1", port: 81 },
    });
    assert.equal(header.toString("hex"), `${SIG}2111000c7f0000017f00000100500051`);
  });
});

describe("IPv6 text to bytes", () => {
  const cases: Array<[string, string]> = [
    ["::", "00000000000000000000000000000000"],
    ["::1", "00000000000000000000000000000001"],
    ["1::", "00010000000000000000000000000000"],
    ["2001:db8:85a3::8a2e:370:7334", "20010db885a3000000008a2e03707334"],
    ["fe80::1%eth0", "fe800000000000000000000000000001"],
    ["::ffff:192.0.2.128", "00000000000000000000ffffc0000280"],
    ["1:2:3:4:5:6:7:8", "00010002000300040005000600070008"],
  ];
  for (const [text, hex] of cases) {
    it(`${text} -> ${hex}`, () => assert.equal(ipv6Bytes(text).toString("hex"), hex));
  }
});

describe("header by setting", () => {
  it("is empty for none and matches the encoders for v1 and v2", () => {
    const a = { source: { address: "1.2.3.4", port: 5 }, destination: { address: "6.7.8.9", port: 10 } };
    assert.equal(encodeProxyHeader("none", a).length, 0);
    assert.deepEqual(encodeProxyHeader("v1", a), encodeProxyV1(a));
    assert.deepEqual(encodeProxyHeader("v2", a), encodeProxyV2(a));
  });
});
