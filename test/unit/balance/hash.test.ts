import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { flowHash, flowKeyBytes } from "../../../src/balance/flow.ts";
import { murmur3_32, murmur3String } from "../../../src/balance/hash.ts";

describe("murmur3_32", () => {
  // Published MurmurHash3_x86_32 test vectors (SMHasher / widely reproduced).
  const vectors: [string, number, number][] = [
    ["", 0, 0],
    ["", 1, 0x514e28b7],
    ["", 0xffffffff, 0x81f16f39],
    ["a", 0x9747b28c, 0x7fa09ea6],
    ["aaaa", 0x9747b28c, 0x5a97808a],
    ["abc", 0, 0xb3dd93fa],
    ["hello", 0, 0x248bfa47],
    ["Hello, world!", 1234, 0xfaf6cdb3],
    ["The quick brown fox jumps over the lazy dog", 0x9747b28c, 0x2fa826cd],
  ];
  for (const [text, seed, expected] of vectors) {
    test(`murmur3_32(${JSON.stringify(text)}, 0x${seed.toString(16)}) = 0x${expected.toString(16)}`, () => {
      assert.equal(murmur3String(text, seed), expected);
    });
  }

  test("hashes only the first `length` bytes of the buffer", () => {
    const bytes = new TextEncoder().encode("hello world");
    assert.equal(murmur3_32(bytes, 5, 0), murmur3String("hello", 0));
  });

  test("hashes names as UTF-8 (non-ASCII)", () => {
    const bytes = new TextEncoder().encode("café-1");
    assert.equal(bytes.length, 7);
    assert.equal(murmur3String("café-1", 0), murmur3_32(bytes, 7, 0));
  });
});

describe("flow key bytes", () => {
  const cases: [string, string, number, "client-address" | "client-address-port", number[]][] = [
    ["IPv4", "192.0.2.1", 443, "client-address", [192, 0, 2, 1]],
    ["IPv4 + port", "192.0.2.1", 443, "client-address-port", [192, 0, 2, 1, 1, 187]],
    ["IPv4-mapped IPv6 hashes as IPv4", "::ffff:192.0.2.1", 443, "client-address", [192, 0, 2, 1]],
    ["IPv4-mapped IPv6, hex form", "::ffff:c000:201", 1, "client-address-port", [192, 0, 2, 1, 0, 1]],
    ["IPv6 loopback", "::1", 0, "client-address", [...new Array(15).fill(0), 1]],
    ["IPv6 all zero", "::", 0, "client-address", new Array(16).fill(0)],
    [
      "IPv6 full form",
      "2001:db8:0:0:0:0:0:ff01",
      65535,
      "client-address-port",
      [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0x01, 0xff, 0xff],
    ],
    [
      "IPv6 compressed",
      "2001:DB8::ff01",
      0,
      "client-address",
      [0x20, 1, 0xd, 0xb8, ...new Array(10).fill(0), 0xff, 1],
    ],
    ["IPv6 trailing ::", "fe80::", 0, "client-address", [0xfe, 0x80, ...new Array(14).fill(0)]],
    ["IPv6 zone is ignored", "fe80::1%eth0", 0, "client-address", [0xfe, 0x80, ...new Array(13).fill(0), 1]],
    [
      "IPv6 with embedded IPv4 (not mapped)",
      "64:ff9b::10.0.0.1",
      0,
      "client-address",
      [0, 0x64, 0xff, 0x9b, ...new Array(8).fill(0), 10, 0, 0, 1],
    ],
    ["not an address: UTF-8 of the string", "client-a", 0, "client-address", [...Buffer.from("client-a")]],
    [
      "bad IPv4 octet falls back to the string",
      "1.2.3.256",
      0,
      "client-address",
      [...Buffer.from("1.2.3.256")],
    ],
    ["bad IPv6 (two ::) falls back", "1::2::3", 0, "client-address", [...Buffer.from("1::2::3")]],
    [
      "bad IPv6 (9 groups) falls back",
      "1:2:3:4:5:6:7:8:9",
      0,
      "client-address",
      [...Buffer.from("1:2:3:4:5:6:7:8:9")],
    ],
    ["string + port", "x", 258, "client-address-port", [0x78, 1, 2]],
  ];
  for (const [what, address, port, hashOn, expected] of cases) {
    test(`${what}: ${address} -> [${expected.join(",")}]`, () => {
      assert.deepEqual([...flowKeyBytes({ address, port }, hashOn)], expected);
    });
  }

  test("flowHash is murmur3_32 of exactly those bytes with the seed", () => {
    for (const [, address, port, hashOn] of cases) {
      const bytes = flowKeyBytes({ address, port }, hashOn);
      for (const seed of [0, 7, 0xffffffff]) {
        assert.equal(flowHash({ address, port }, hashOn, seed), murmur3_32(bytes, bytes.length, seed));
      }
    }
  });

  test("a dual-stack socket's view of an IPv4 client hashes like the IPv4 socket's", () => {
    for (const hashOn of ["client-address", "client-address-port"] as const) {
      assert.equal(
        flowHash({ address: "::ffff:10.1.2.3", port: 5000 }, hashOn, 0),
        flowHash({ address: "10.1.2.3", port: 5000 }, hashOn, 0),
      );
    }
  });

  test("a very long non-address string still hashes (beyond the scratch buffer)", () => {
    const address = "x".repeat(2000);
    const bytes = flowKeyBytes({ address, port: 1 }, "client-address-port");
    assert.equal(bytes.length, 2002);
    assert.equal(
      flowHash({ address, port: 1 }, "client-address-port", 3),
      murmur3_32(bytes, bytes.length, 3),
    );
  });
});
