import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeSockaddr, encodeSockaddr } from "../../../src/dataplane/proxy/epoll/sockaddr.ts";

describe("sockaddr", () => {
  it("encodes IPv4 as struct sockaddr_in: family, port in network order, address", () => {
    assert.deepEqual(
      [...encodeSockaddr("127.0.0.1", 8080)],
      [2, 0, 0x1f, 0x90, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
    );
  });

  it("encodes IPv6 as struct sockaddr_in6: family, port, flow info, address, scope", () => {
    const b = encodeSockaddr("::1", 443);
    assert.equal(b.length, 28);
    assert.deepEqual([...b.subarray(0, 8)], [10, 0, 0x01, 0xbb, 0, 0, 0, 0]);
    assert.deepEqual([...b.subarray(8, 24)], [...new Array(15).fill(0), 1]);
    assert.deepEqual([...b.subarray(24)], [0, 0, 0, 0]);
  });

  // address as written -> as read back (libc's canonical text, as Node prints it)
  const roundTrips: [string, number, string, "IPv4" | "IPv6"][] = [
    ["127.0.0.1", 0, "127.0.0.1", "IPv4"],
    ["0.0.0.0", 65535, "0.0.0.0", "IPv4"],
    ["255.255.255.255", 1, "255.255.255.255", "IPv4"],
    ["::", 80, "::", "IPv6"],
    ["::1", 80, "::1", "IPv6"],
    ["fe80:0:0:0:0:0:0:1", 80, "fe80::1", "IPv6"],
    ["2001:DB8::A", 80, "2001:db8::a", "IPv6"],
    ["::ffff:10.1.2.3", 80, "::ffff:10.1.2.3", "IPv6"],
    ["1:2:3:4:5:6:7:8", 80, "1:2:3:4:5:6:7:8", "IPv6"],
  ];
  for (const [input, port, text, family] of roundTrips) {
    it(`reads back ${input} port ${port} as ${text}`, () => {
      const b = encodeSockaddr(input, port);
      assert.deepEqual(decodeSockaddr(b, b.length), { address: text, port, family });
    });
  }

  for (const bad of ["localhost", "127.0.0.256", "1.2.3", "::g", "1:2:3:4:5:6:7:8:9", "", "127.0.0.1 "]) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      assert.throws(
        () => encodeSockaddr(bad, 80),
        (err: Error & { code?: string }) => err.code === "SOCKADDR_INVALID",
      );
    });
  }

  for (const port of [-1, 65536, 1.5, Number.NaN]) {
    it(`refuses port ${port}`, () => {
      assert.throws(
        () => encodeSockaddr("127.0.0.1", port),
        (err: Error & { code?: string }) => err.code === "SOCKADDR_INVALID",
      );
    });
  }

  it("returns null for a family it does not know, or a length too short for the family", () => {
    const unix = Buffer.alloc(28);
    unix.writeUInt16LE(1, 0); // AF_UNIX
    assert.equal(decodeSockaddr(unix, 28), null);
    assert.equal(decodeSockaddr(encodeSockaddr("127.0.0.1", 1), 8), null);
    assert.equal(decodeSockaddr(encodeSockaddr("::1", 1), 16), null);
    assert.equal(decodeSockaddr(Buffer.alloc(0), 0), null);
  });
});
