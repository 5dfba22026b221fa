import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  decodeAddress,
  decodeFlow,
  decodeFlowKey,
  decodeMac,
  decodeReal,
  decodeVipKey,
  decodeVipMeta,
  encodeAddress,
  encodeFlowKey,
  encodeMac,
  encodeReal,
  encodeVipKey,
  encodeVipMeta,
  LS_FAMILY_V4,
  LS_FAMILY_V6,
  LS_FLOW_FIN_FWD,
  LS_FLOW_FIN_REPLY,
  LS_VIP_NAT,
  perCpuStride,
  STRUCTS,
  sumPerCpuStats,
} from "../../../src/dataplane/xdp/layout.ts";
import { LodestoneError } from "../../../src/errors.ts";

describe("XDP map layout: addresses", () => {
  const cases: Array<[string, string, number]> = [
    ["10.1.2.3", "0a010203000000000000000000000000", LS_FAMILY_V4],
    ["255.255.255.255", "ffffffff000000000000000000000000", LS_FAMILY_V4],
    ["fd00:77::2", "fd000077000000000000000000000002", LS_FAMILY_V6],
    ["::1", "00000000000000000000000000000001", LS_FAMILY_V6],
    ["::", "00000000000000000000000000000000", LS_FAMILY_V6],
    ["2001:db8:1:2:3:4:5:6", "20010db8000100020003000400050006", LS_FAMILY_V6],
    ["::ffff:10.0.0.1", "00000000000000000000ffff0a000001", LS_FAMILY_V6],
    ["fe80::1%eth0", "fe800000000000000000000000000001", LS_FAMILY_V6],
  ];
  for (const [text, hex, family] of cases) {
    it(`encodes ${text} as 16 network-order bytes, family ${family}`, () => {
      const { bytes, family: fam } = encodeAddress(text);
      assert.equal(bytes.toString("hex"), hex);
      assert.equal(fam, family);
    });
  }

  const roundTrips: Array<[string, string]> = [
    ["10.1.2.3", "10.1.2.3"],
    ["fd00:77::2", "fd00:77::2"],
    ["fd00:0:0:0:0:0:0:2", "fd00::2"],
    ["2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"],
    ["::", "::"],
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
  ];
  for (const [input, canonical] of roundTrips) {
    it(`decodes ${input} back as ${canonical}`, () => {
      const { bytes, family } = encodeAddress(input);
      assert.equal(decodeAddress(bytes, family), canonical);
    });
  }

  for (const bad of ["", "10.0.0", "example.com", "10.0.0.256", "1:2:3:4:5:6:7:8:9"]) {
    it(`rejects ${JSON.stringify(bad)} with XDP_BAD_ADDRESS`, () => {
      assert.throws(
        () => encodeAddress(bad),
        (e: unknown) => e instanceof LodestoneError && e.code === "XDP_BAD_ADDRESS",
      );
    });
  }
});

describe("XDP map layout: MACs", () => {
  it("round-trips a MAC", () => {
    assert.equal(decodeMac(encodeMac("0A:1b:2c:3d:4e:5f")), "0a:1b:2c:3d:4e:5f");
  });
  for (const bad of ["", "00:11:22:33:44", "00:11:22:33:44:gg", "0011.2233.4455"]) {
    it(`rejects ${JSON.stringify(bad)} with XDP_BAD_MAC`, () => {
      assert.throws(
        () => encodeMac(bad),
        (e: unknown) => e instanceof LodestoneError && e.code === "XDP_BAD_MAC",
      );
    });
  }
});

describe("XDP map layout: structs", () => {
  it("puts a VIP key's port in network order after the address", () => {
    const buf = encodeVipKey({ address: "10.0.0.1", port: 8080, proto: "tcp" });
    assert.equal(buf.length, STRUCTS.ls_vip_key.size);
    assert.equal(buf.toString("hex"), `0a000001${"0".repeat(24)}1f90` + "06" + "04");
    assert.deepEqual(decodeVipKey(buf), { address: "10.0.0.1", port: 8080, proto: "tcp" });
  });

  it("round-trips VIP metadata with a NAT address", () => {
    const meta = {
      flags: LS_VIP_NAT,
      vipId: 7,
      ringOffset: 65537,
      ringSize: 4093,
      natAddress: "fd00::2",
      natPortMin: 61000,
      natPortMax: 65535,
    };
    const buf = encodeVipMeta(meta);
    assert.equal(buf.length, STRUCTS.ls_vip_meta.size);
    assert.deepEqual(decodeVipMeta(buf, LS_FAMILY_V6), meta);
  });

  it("round-trips a backend and reads an all-zero slot as empty", () => {
    const real = {
      address: "10.0.0.11",
      port: 9000,
      flags: 1,
      mac: "02:00:00:00:00:0b",
      srcMac: "02:00:00:00:00:02",
      ifindex: 3,
      vipId: 2,
    };
    const buf = encodeReal(real);
    assert.equal(buf.length, STRUCTS.ls_real.size);
    assert.deepEqual(decodeReal(buf), real);
    assert.equal(decodeReal(Buffer.alloc(STRUCTS.ls_real.size)), null);
  });

  it("round-trips a flow key", () => {
    const key = { src: "fd00:77::10", dst: "fd00:77:1::1", sport: 40000, dport: 53, proto: "udp" as const };
    const buf = encodeFlowKey(key);
    assert.equal(buf.length, STRUCTS.ls_flow_key.size);
    assert.deepEqual(decodeFlowKey(buf), key);
  });

  it("reads a conntrack value as the program writes it, FINs seen included", () => {
    const f = STRUCTS.ls_flow.fields;
    const buf = Buffer.alloc(STRUCTS.ls_flow.size);
    buf.writeUInt32LE(7, f.real_id[0]);
    buf.writeUInt32LE(3, f.vip_id[0]);
    buf.writeBigUInt64LE(123456789n, f.created_ns[0]);
    buf.writeUInt16BE(61001, f.nat_port[0]);
    buf[f.closing[0]] = LS_FLOW_FIN_FWD | LS_FLOW_FIN_REPLY;
    assert.deepEqual(decodeFlow(buf), {
      realId: 7,
      vipId: 3,
      createdNs: 123456789n,
      natPort: 61001,
      closing: LS_FLOW_FIN_FWD | LS_FLOW_FIN_REPLY,
    });
  });

  it("keeps every field inside its struct and fields from overlapping", () => {
    for (const [name, s] of Object.entries(STRUCTS)) {
      const spans = Object.values(s.fields as Record<string, readonly [number, number]>).sort(
        (a, b) => a[0] - b[0],
      );
      let end = 0;
      for (const [off, size] of spans) {
        assert.ok(off >= end, `${name}: field at ${off} overlaps the previous one`);
        end = off + size;
      }
      assert.ok(end <= s.size, `${name}: fields run past its size`);
    }
  });
});

describe("XDP map layout: per-CPU counters", () => {
  it("sums each counter over every CPU's copy", () => {
    const cpus = 3;
    const stride = perCpuStride(STRUCTS.ls_stats.size);
    const buf = Buffer.alloc(stride * cpus);
    for (let cpu = 0; cpu < cpus; cpu++) {
      const base = cpu * stride;
      buf.writeBigUInt64LE(BigInt(cpu + 1), base); // packets
      buf.writeBigUInt64LE(100n, base + 8); // bytes
      buf.writeBigUInt64LE(1n, base + 16); // new flows
      buf.writeBigUInt64LE(BigInt(cpu), base + 48 + 8); // drops[bad_real]
    }
    const s = sumPerCpuStats(buf, cpus);
    assert.equal(s.packets, 6);
    assert.equal(s.bytes, 300);
    assert.equal(s.newFlows, 3);
    assert.equal(s.drops.badReal, 3);
    assert.equal(s.drops.noBackend, 0);
  });

  it("rounds per-CPU value slots up to 8 bytes", () => {
    assert.equal(perCpuStride(80), 80);
    assert.equal(perCpuStride(36), 40);
    assert.equal(perCpuStride(1), 8);
  });
});
