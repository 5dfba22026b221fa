// The TypeScript view of bpf/lodestone_maps.h: constants, struct sizes and field
// offsets, and encoders/decoders between JS objects and the bytes the maps hold.
// test/integration/xdp/layout.test.ts reads the compiled object's BTF and checks
// every size and offset here against the C structs, so the two cannot drift.
import { isIPv4, isIPv6 } from "node:net";
import { endianness } from "node:os";
import { LodestoneError } from "../../errors.ts";

export const LS_MAX_VIPS = 256;
export const LS_MAX_REALS = 4096;
export const LS_RING_ENTRIES_DEFAULT = 1 << 20;
export const LS_REAL_NONE = 0xffffffff;
export const LS_FAMILY_V4 = 4;
export const LS_FAMILY_V6 = 6;
export const LS_VIP_NAT = 1 << 0;
export const LS_VIP_HASH_SRC = 1 << 1;
export const LS_VIP_HASH_3TUPLE = 1 << 2;
export const LS_VIP_FRAG_ALIAS = 1 << 3;
export const LS_REAL_ACTIVE = 1 << 0;
export const LS_FLOW_FIN_FWD = 1 << 0;
export const LS_FLOW_FIN_REPLY = 1 << 1;
export const LS_STATS_GLOBAL = LS_MAX_VIPS;
export const DROP_REASONS = ["noBackend", "badReal", "natPorts", "redirect"] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

/** Map names as declared in lodestone.bpf.c. */
export const MAP_NAMES = ["vips", "ring", "reals", "conntrack", "nat", "vip_stats", "real_stats"] as const;
export type MapName = (typeof MAP_NAMES)[number];

/** Every struct: total size and each field's byte offset and size, as the C compiler lays them out. */
export const STRUCTS = {
  ls_vip_key: { size: 20, fields: { addr: [0, 16], port: [16, 2], proto: [18, 1], family: [19, 1] } },
  ls_vip_meta: {
    size: 36,
    fields: {
      flags: [0, 4],
      vip_id: [4, 4],
      ring_offset: [8, 4],
      ring_size: [12, 4],
      nat_addr: [16, 16],
      nat_port_min: [32, 2],
      nat_port_max: [34, 2],
    },
  },
  ls_real: {
    size: 40,
    fields: {
      addr: [0, 16],
      port: [16, 2],
      family: [18, 1],
      flags: [19, 1],
      mac: [20, 6],
      src_mac: [26, 6],
      ifindex: [32, 4],
      vip_id: [36, 4],
    },
  },
  ls_flow_key: {
    size: 40,
    fields: { src: [0, 16], dst: [16, 16], sport: [32, 2], dport: [34, 2], proto: [36, 1], family: [37, 1] },
  },
  ls_flow: {
    size: 24,
    fields: { real_id: [0, 4], vip_id: [4, 4], created_ns: [8, 8], nat_port: [16, 2], closing: [18, 1] },
  },
  ls_nat_entry: {
    size: 60,
    fields: {
      client: [0, 16],
      vip: [16, 16],
      client_port: [32, 2],
      vip_port: [34, 2],
      client_mac: [36, 6],
      lb_mac: [42, 6],
      ifindex: [48, 4],
      vip_id: [52, 4],
      real_id: [56, 4],
    },
  },
  ls_stats: {
    size: 80,
    fields: {
      packets: [0, 8],
      bytes: [8, 8],
      new_flows: [16, 8],
      ct_misses: [24, 8],
      reply_packets: [32, 8],
      reply_bytes: [40, 8],
      drops: [48, 32],
    },
  },
} as const satisfies Record<string, { size: number; fields: Record<string, readonly [number, number]> }>;

const F = STRUCTS;
const LE = endianness() === "LE";

// Host-order integers (the kernel's own layout) vs network-order ports and addresses.
function writeHost32(buf: Buffer, value: number, off: number): void {
  if (LE) buf.writeUInt32LE(value >>> 0, off);
  else buf.writeUInt32BE(value >>> 0, off);
}
function readHost32(buf: Buffer, off: number): number {
  return LE ? buf.readUInt32LE(off) : buf.readUInt32BE(off);
}
function writeHost16(buf: Buffer, value: number, off: number): void {
  if (LE) buf.writeUInt16LE(value, off);
  else buf.writeUInt16BE(value, off);
}
function readHost16(buf: Buffer, off: number): number {
  return LE ? buf.readUInt16LE(off) : buf.readUInt16BE(off);
}
function readHost64(buf: Buffer, off: number): bigint {
  return LE ? buf.readBigUInt64LE(off) : buf.readBigUInt64BE(off);
}

export type L4Proto = "tcp" | "udp";

export function protoNumber(proto: L4Proto): number {
  return proto === "tcp" ? IPPROTO_TCP : IPPROTO_UDP;
}

export function protoName(n: number): L4Proto {
  if (n === IPPROTO_TCP) return "tcp";
  if (n === IPPROTO_UDP) return "udp";
  throw new LodestoneError("XDP_BAD_MAP_VALUE", `unknown IP protocol ${n} in a map entry`);
}

/** An address as the maps hold it: 16 bytes, network order, IPv4 in the first 4. */
export function encodeAddress(address: string): { bytes: Buffer; family: number } {
  const bytes = Buffer.alloc(16);
  if (isIPv4(address)) {
    address.split(".").forEach((part, i) => {
      bytes[i] = Number(part);
    });
    return { bytes, family: LS_FAMILY_V4 };
  }
  if (isIPv6(address)) {
    const words = ipv6Words(address);
    words.forEach((w, i) => {
      bytes.writeUInt16BE(w, i * 2);
    });
    return { bytes, family: LS_FAMILY_V6 };
  }
  throw new LodestoneError("XDP_BAD_ADDRESS", `not an IP address: ${JSON.stringify(address)}`);
}

function ipv6Words(address: string): number[] {
  let text = address.split("%")[0];
  // A trailing dotted quad (::ffff:1.2.3.4) becomes two hex words.
  const v4 = text.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (v4) {
    const p = v4[1].split(".").map(Number);
    text =
      text.slice(0, -v4[1].length) +
      ((p[0] << 8) | p[1]).toString(16) +
      ":" +
      ((p[2] << 8) | p[3]).toString(16);
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, null];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const fill = tail === null ? [] : new Array(8 - h.length - t.length).fill("0");
  return [...h, ...fill, ...t].map((x) => Number.parseInt(x, 16));
}

export function decodeAddress(bytes: Buffer, family: number): string {
  if (family === LS_FAMILY_V4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const words: string[] = [];
  for (let i = 0; i < 8; i++) words.push(bytes.readUInt16BE(i * 2).toString(16));
  // Compress the longest run of zero words, as RFC 5952 asks.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === "0") j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return words.join(":");
  return `${words.slice(0, best).join(":")}::${words.slice(best + bestLen).join(":")}`;
}

export function encodeMac(mac: string): Buffer {
  const parts = mac.split(":");
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new LodestoneError("XDP_BAD_MAC", `not a MAC address: ${JSON.stringify(mac)}`);
  }
  return Buffer.from(parts.map((p) => Number.parseInt(p, 16)));
}

export function decodeMac(bytes: Buffer): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(":");
}

export interface VipKey {
  address: string;
  /** 0 = every port. */
  port: number;
  proto: L4Proto;
}

export function encodeVipKey(key: VipKey): Buffer {
  const buf = Buffer.alloc(F.ls_vip_key.size);
  const { bytes, family } = encodeAddress(key.address);
  bytes.copy(buf, F.ls_vip_key.fields.addr[0]);
  buf.writeUInt16BE(key.port, F.ls_vip_key.fields.port[0]);
  buf[F.ls_vip_key.fields.proto[0]] = protoNumber(key.proto);
  buf[F.ls_vip_key.fields.family[0]] = family;
  return buf;
}

export function decodeVipKey(buf: Buffer): VipKey {
  const f = F.ls_vip_key.fields;
  return {
    address: decodeAddress(buf.subarray(f.addr[0], f.addr[0] + 16), buf[f.family[0]]),
    port: buf.readUInt16BE(f.port[0]),
    proto: protoName(buf[f.proto[0]]),
  };
}

export interface VipMeta {
  flags: number;
  vipId: number;
  ringOffset: number;
  ringSize: number;
  /** NAT mode: our address the backends reply to; null in DSR mode. */
  natAddress: string | null;
  natPortMin: number;
  natPortMax: number;
}

export function encodeVipMeta(meta: VipMeta): Buffer {
  const f = F.ls_vip_meta.fields;
  const buf = Buffer.alloc(F.ls_vip_meta.size);
  writeHost32(buf, meta.flags, f.flags[0]);
  writeHost32(buf, meta.vipId, f.vip_id[0]);
  writeHost32(buf, meta.ringOffset, f.ring_offset[0]);
  writeHost32(buf, meta.ringSize, f.ring_size[0]);
  if (meta.natAddress) encodeAddress(meta.natAddress).bytes.copy(buf, f.nat_addr[0]);
  writeHost16(buf, meta.natPortMin, f.nat_port_min[0]);
  writeHost16(buf, meta.natPortMax, f.nat_port_max[0]);
  return buf;
}

export function decodeVipMeta(buf: Buffer, family: number): VipMeta {
  const f = F.ls_vip_meta.fields;
  const flags = readHost32(buf, f.flags[0]);
  return {
    flags,
    vipId: readHost32(buf, f.vip_id[0]),
    ringOffset: readHost32(buf, f.ring_offset[0]),
    ringSize: readHost32(buf, f.ring_size[0]),
    natAddress:
      flags & LS_VIP_NAT ? decodeAddress(buf.subarray(f.nat_addr[0], f.nat_addr[0] + 16), family) : null,
    natPortMin: readHost16(buf, f.nat_port_min[0]),
    natPortMax: readHost16(buf, f.nat_port_max[0]),
  };
}

export interface Real {
  address: string;
  port: number;
  flags: number;
  mac: string;
  srcMac: string;
  ifindex: number;
  vipId: number;
}

export function encodeReal(real: Real): Buffer {
  const f = F.ls_real.fields;
  const buf = Buffer.alloc(F.ls_real.size);
  const { bytes, family } = encodeAddress(real.address);
  bytes.copy(buf, f.addr[0]);
  buf.writeUInt16BE(real.port, f.port[0]);
  buf[f.family[0]] = family;
  buf[f.flags[0]] = real.flags;
  encodeMac(real.mac).copy(buf, f.mac[0]);
  encodeMac(real.srcMac).copy(buf, f.src_mac[0]);
  writeHost32(buf, real.ifindex, f.ifindex[0]);
  writeHost32(buf, real.vipId, f.vip_id[0]);
  return buf;
}

/** null for an unused slot (family 0). */
export function decodeReal(buf: Buffer): Real | null {
  const f = F.ls_real.fields;
  const family = buf[f.family[0]];
  if (family === 0) return null;
  return {
    address: decodeAddress(buf.subarray(f.addr[0], f.addr[0] + 16), family),
    port: buf.readUInt16BE(f.port[0]),
    flags: buf[f.flags[0]],
    mac: decodeMac(buf.subarray(f.mac[0], f.mac[0] + 6)),
    srcMac: decodeMac(buf.subarray(f.src_mac[0], f.src_mac[0] + 6)),
    ifindex: readHost32(buf, f.ifindex[0]),
    vipId: readHost32(buf, f.vip_id[0]),
  };
}

export function encodeU32(value: number): Buffer {
  const buf = Buffer.alloc(4);
  writeHost32(buf, value, 0);
  return buf;
}

export function decodeU32(buf: Buffer, off = 0): number {
  return readHost32(buf, off);
}

export interface FlowKey {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  proto: L4Proto;
}

export function encodeFlowKey(key: FlowKey): Buffer {
  const f = F.ls_flow_key.fields;
  const buf = Buffer.alloc(F.ls_flow_key.size);
  const src = encodeAddress(key.src);
  src.bytes.copy(buf, f.src[0]);
  encodeAddress(key.dst).bytes.copy(buf, f.dst[0]);
  buf.writeUInt16BE(key.sport, f.sport[0]);
  buf.writeUInt16BE(key.dport, f.dport[0]);
  buf[f.proto[0]] = protoNumber(key.proto);
  buf[f.family[0]] = src.family;
  return buf;
}

export function decodeFlowKey(buf: Buffer): FlowKey {
  const f = F.ls_flow_key.fields;
  const family = buf[f.family[0]];
  return {
    src: decodeAddress(buf.subarray(f.src[0], f.src[0] + 16), family),
    dst: decodeAddress(buf.subarray(f.dst[0], f.dst[0] + 16), family),
    sport: buf.readUInt16BE(f.sport[0]),
    dport: buf.readUInt16BE(f.dport[0]),
    proto: protoName(buf[f.proto[0]]),
  };
}

export interface Flow {
  realId: number;
  vipId: number;
  createdNs: bigint;
  natPort: number;
  /** LS_FLOW_FIN_* bits: FINs seen so far. */
  closing: number;
}

export function decodeFlow(buf: Buffer): Flow {
  const f = F.ls_flow.fields;
  return {
    realId: readHost32(buf, f.real_id[0]),
    vipId: readHost32(buf, f.vip_id[0]),
    createdNs: readHost64(buf, f.created_ns[0]),
    natPort: buf.readUInt16BE(f.nat_port[0]),
    closing: buf[f.closing[0]],
  };
}

export interface NatEntry {
  client: string;
  vip: string;
  clientPort: number;
  vipPort: number;
  clientMac: string;
  lbMac: string;
  ifindex: number;
  vipId: number;
  realId: number;
}

export function decodeNatEntry(buf: Buffer, family: number): NatEntry {
  const f = F.ls_nat_entry.fields;
  return {
    client: decodeAddress(buf.subarray(f.client[0], f.client[0] + 16), family),
    vip: decodeAddress(buf.subarray(f.vip[0], f.vip[0] + 16), family),
    clientPort: buf.readUInt16BE(f.client_port[0]),
    vipPort: buf.readUInt16BE(f.vip_port[0]),
    clientMac: decodeMac(buf.subarray(f.client_mac[0], f.client_mac[0] + 6)),
    lbMac: decodeMac(buf.subarray(f.lb_mac[0], f.lb_mac[0] + 6)),
    ifindex: readHost32(buf, f.ifindex[0]),
    vipId: readHost32(buf, f.vip_id[0]),
    realId: readHost32(buf, f.real_id[0]),
  };
}

export interface Stats {
  packets: number;
  bytes: number;
  newFlows: number;
  ctMisses: number;
  replyPackets: number;
  replyBytes: number;
  drops: Record<DropReason, number>;
}

export function emptyStats(): Stats {
  return {
    packets: 0,
    bytes: 0,
    newFlows: 0,
    ctMisses: 0,
    replyPackets: 0,
    replyBytes: 0,
    drops: { noBackend: 0, badReal: 0, natPorts: 0, redirect: 0 },
  };
}

/** Bytes per CPU in a per-CPU map value: the kernel rounds each value up to 8. */
export function perCpuStride(valueSize: number): number {
  return Math.ceil(valueSize / 8) * 8;
}

/** Sum a per-CPU ls_stats lookup result (one value per possible CPU) into one Stats. */
export function sumPerCpuStats(buf: Buffer, cpus: number): Stats {
  const f = F.ls_stats.fields;
  const stride = perCpuStride(F.ls_stats.size);
  const out = emptyStats();
  for (let cpu = 0; cpu < cpus; cpu++) {
    const base = cpu * stride;
    out.packets += Number(readHost64(buf, base + f.packets[0]));
    out.bytes += Number(readHost64(buf, base + f.bytes[0]));
    out.newFlows += Number(readHost64(buf, base + f.new_flows[0]));
    out.ctMisses += Number(readHost64(buf, base + f.ct_misses[0]));
    out.replyPackets += Number(readHost64(buf, base + f.reply_packets[0]));
    out.replyBytes += Number(readHost64(buf, base + f.reply_bytes[0]));
    DROP_REASONS.forEach((reason, i) => {
      out.drops[reason] += Number(readHost64(buf, base + f.drops[0] + i * 8));
    });
  }
  return out;
}
