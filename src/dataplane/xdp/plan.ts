// From a desired state to map writes: the pure heart of the XDP control plane.
// Given what is programmed now and what should be, `plan` returns the ordered
// map operations and the new programmed state. Only what changed is written:
// Maglev slots are diffed one by one, backends and VIPs rewritten when their
// bytes change. Ordering keeps the fast path consistent at every step:
// removals first, then backends before the ring slots naming them, the ring
// before the VIP pointing at it, flushes after the ring stops choosing them.

import { LodestoneError } from "../../errors.ts";
import type { DesiredBackend, DesiredFrontend } from "../../model/desired.ts";
import {
  encodeAddress,
  encodeReal,
  encodeU32,
  encodeVipKey,
  encodeVipMeta,
  type L4Proto,
  LS_MAX_REALS,
  LS_MAX_VIPS,
  LS_REAL_ACTIVE,
  LS_REAL_NONE,
  LS_VIP_FRAG_ALIAS,
  LS_VIP_HASH_3TUPLE,
  LS_VIP_HASH_SRC,
  LS_VIP_NAT,
  type VipKey,
  type VipMeta,
} from "./layout.ts";
import { IdPool, RingSpace } from "./ring-space.ts";

/** Per-frontend XDP settings (the future `xdp:` block of a frontend in lodestone.yaml). */
export interface XdpFrontendOptions {
  /** Interface the VIP's traffic arrives on; the program is attached there. */
  interface: string;
  /** dsr: rewrite the destination MAC only, backends hold the VIP on loopback. nat: rewrite addresses. */
  mode: "dsr" | "nat";
  /** nat: our address on the backends' side, which they reply to (same family as the VIP). */
  natAddress?: string;
  /** nat: source ports handed out for flows, inclusive (default 61000-65535, above Linux's ephemeral range). */
  natPorts?: { min: number; max: number };
  /** Hash on (source, destination, protocol) so every IP fragment of a flow reaches one backend. */
  fragments?: boolean;
}

/** Link-layer facts about one backend, found by the dataplane (neighbour table) before planning. */
export interface BackendLink {
  mac: string;
  /** Our MAC on `ifindex`. */
  srcMac: string;
  ifindex: number;
}

export interface PlanInput {
  desired: DesiredFrontend;
  options: XdpFrontendOptions;
  /** By backend name; backends missing here are not programmed (their ring slots become empty). */
  links: Record<string, BackendLink>;
}

export type MapOp =
  | { kind: "update"; map: "vips" | "reals"; key: Buffer; value: Buffer }
  /** Ring slots (absolute indexes into the ring array) and their new backend ids, written in one batch. */
  | { kind: "ring"; map: "ring"; slots: Uint32Array; values: Uint32Array }
  | { kind: "delete"; map: "vips"; key: Buffer }
  /** Reset a counter slot before a new owner uses it. */
  | { kind: "zero-stats"; map: "vip_stats" | "real_stats"; id: number }
  /** Delete every conntrack and NAT entry that points at this backend slot. */
  | { kind: "flush"; realId: number };

export interface ProgrammedReal {
  id: number;
  /** Backend name when known (unknown right after recovering from pinned maps). */
  name: string | null;
  address: string;
  port: number;
  value: Buffer;
  /** A flush has been done for the current weight-0 + flush episode. */
  flushed: boolean;
}

export interface ProgrammedVip {
  frontend: string;
  key: VipKey;
  keyBytes: Buffer;
  meta: VipMeta;
  metaBytes: Buffer;
  /** fragments: the same VIP under port 0 (flag FRAG_ALIAS), which fragments without ports look up. */
  fragKeyBytes: Buffer | null;
  fragMetaBytes: Buffer | null;
  ring: Uint32Array;
  /** By endpoint identity "address|port". */
  reals: Map<string, ProgrammedReal>;
}

export class ProgrammedState {
  /** By VIP key (hex of its bytes): stable across frontend renames and daemon restarts. */
  readonly vips = new Map<string, ProgrammedVip>();
  readonly vipIds = new IdPool(LS_MAX_VIPS);
  readonly realIds = new IdPool(LS_MAX_REALS);
  readonly ringSpace: RingSpace;

  constructor(ringCapacity: number) {
    this.ringSpace = new RingSpace(ringCapacity);
  }
}

export const DEFAULT_NAT_PORTS = { min: 61000, max: 65535 };

function endpoint(address: string, port: number): string {
  return `${address}|${port}`;
}

function l4(desired: DesiredFrontend): L4Proto {
  if (desired.protocol === "tcp" || desired.protocol === "udp") return desired.protocol;
  throw new LodestoneError(
    "XDP_UNSUPPORTED",
    `frontend ${desired.name}: the XDP dataplane balances tcp and udp, not ${desired.protocol}`,
  );
}

/** Check a frontend can run on XDP; throws LodestoneError(XDP_UNSUPPORTED / XDP_BAD_OPTIONS) naming it. */
export function validate(input: PlanInput): void {
  const { desired, options } = input;
  const where = `frontend ${desired.name}`;
  l4(desired);
  if (!desired.maglev) {
    throw new LodestoneError(
      "XDP_UNSUPPORTED",
      `${where}: the XDP dataplane needs algorithm maglev (got ${desired.algorithm})`,
    );
  }
  let vipFamily: number;
  try {
    vipFamily = encodeAddress(desired.listen.host).family;
  } catch {
    throw new LodestoneError(
      "XDP_BAD_OPTIONS",
      `${where}: listen address ${desired.listen.host} is not an IP`,
    );
  }
  if (/^(0\.0\.0\.0|::)$/.test(desired.listen.host)) {
    throw new LodestoneError(
      "XDP_BAD_OPTIONS",
      `${where}: XDP needs a concrete VIP, not ${desired.listen.host}`,
    );
  }
  if (options.mode !== "dsr" && options.mode !== "nat") {
    throw new LodestoneError("XDP_BAD_OPTIONS", `${where}: xdp mode must be dsr or nat`);
  }
  if (options.mode === "nat") {
    if (!options.natAddress) {
      throw new LodestoneError("XDP_BAD_OPTIONS", `${where}: xdp mode nat needs a nat address`);
    }
    if (encodeAddress(options.natAddress).family !== vipFamily) {
      throw new LodestoneError(
        "XDP_BAD_OPTIONS",
        `${where}: nat address ${options.natAddress} and VIP ${desired.listen.host} differ in family`,
      );
    }
    if (options.fragments) {
      throw new LodestoneError(
        "XDP_BAD_OPTIONS",
        `${where}: nat mode needs ports, so it cannot hash fragments`,
      );
    }
    const ports = options.natPorts ?? DEFAULT_NAT_PORTS;
    if (!(ports.min >= 1 && ports.max <= 65535 && ports.min <= ports.max)) {
      throw new LodestoneError("XDP_BAD_OPTIONS", `${where}: nat ports must be 1 <= min <= max <= 65535`);
    }
  }
  for (const b of desired.backends) {
    if (options.mode === "dsr" && b.port !== desired.listen.port) {
      throw new LodestoneError(
        "XDP_BAD_OPTIONS",
        `${where}: in dsr mode backend ${b.name} must listen on the VIP's port ${desired.listen.port}, not ${b.port} (use nat to change ports)`,
      );
    }
    if (encodeAddress(b.address).family !== vipFamily) {
      throw new LodestoneError(
        "XDP_BAD_OPTIONS",
        `${where}: backend ${b.name} (${b.address}) is not in the VIP's address family`,
      );
    }
  }
}

export function vipKeyOf(desired: DesiredFrontend): VipKey {
  return { address: desired.listen.host, port: desired.listen.port, proto: l4(desired) };
}

function vipFlags(desired: DesiredFrontend, options: XdpFrontendOptions): number {
  let flags = options.mode === "nat" ? LS_VIP_NAT : 0;
  if (options.fragments) flags |= LS_VIP_HASH_3TUPLE;
  else if (desired.hashOn === "client-address") flags |= LS_VIP_HASH_SRC;
  return flags;
}

/** Established flows may stay on a backend unless health says it is gone. */
function realFlags(b: DesiredBackend): number {
  return b.state === "down" || b.state === "removed" ? 0 : LS_REAL_ACTIVE;
}

function removeVip(state: ProgrammedState, hex: string, ops: MapOp[]): void {
  const vip = state.vips.get(hex)!;
  ops.push({ kind: "delete", map: "vips", key: vip.keyBytes });
  if (vip.fragKeyBytes) ops.push({ kind: "delete", map: "vips", key: vip.fragKeyBytes });
  for (const real of vip.reals.values()) removeReal(state, real, ops);
  state.ringSpace.free(vip.meta.ringOffset, vip.meta.ringSize);
  state.vipIds.release(vip.meta.vipId);
  state.vips.delete(hex);
}

function removeReal(state: ProgrammedState, real: ProgrammedReal, ops: MapOp[]): void {
  ops.push({ kind: "update", map: "reals", key: encodeU32(real.id), value: Buffer.alloc(real.value.length) });
  ops.push({ kind: "flush", realId: real.id });
  state.realIds.release(real.id);
}

/**
 * Compute the map operations that turn `state` into `inputs`, updating `state` to
 * match. Validates every input first: on error nothing is planned and `state` is
 * untouched.
 */
export function plan(state: ProgrammedState, inputs: PlanInput[]): MapOp[] {
  const wanted = new Map<string, PlanInput>();
  const fragAliases = new Map<string, PlanInput>();
  for (const input of inputs) {
    validate(input);
    if (input.options.fragments) {
      const alias = encodeVipKey({ ...vipKeyOf(input.desired), port: 0 }).toString("hex");
      const other = fragAliases.get(alias);
      if (other) {
        throw new LodestoneError(
          "XDP_BAD_OPTIONS",
          `frontends ${other.desired.name} and ${input.desired.name} both hash fragments to ${input.desired.listen.host}/${input.desired.protocol}: fragments carry no port, so only one may`,
        );
      }
      fragAliases.set(alias, input);
    }
    const hex = encodeVipKey(vipKeyOf(input.desired)).toString("hex");
    const other = wanted.get(hex);
    if (other) {
      throw new LodestoneError(
        "XDP_BAD_OPTIONS",
        `frontends ${other.desired.name} and ${input.desired.name} both claim ${input.desired.listen.host}:${input.desired.listen.port}/${input.desired.protocol}`,
      );
    }
    wanted.set(hex, input);
  }

  const ops: MapOp[] = [];
  for (const hex of [...state.vips.keys()]) if (!wanted.has(hex)) removeVip(state, hex, ops);

  for (const [hex, input] of wanted) planVip(state, hex, input, ops);
  return ops;
}

function planVip(state: ProgrammedState, hex: string, input: PlanInput, ops: MapOp[]): void {
  const { desired, options, links } = input;
  const maglev = desired.maglev!;
  const key = vipKeyOf(desired);
  let vip = state.vips.get(hex);
  const isNew = !vip;
  if (!vip) {
    const vipId = state.vipIds.alloc("VIP");
    ops.push({ kind: "zero-stats", map: "vip_stats", id: vipId });
    vip = {
      frontend: desired.name,
      key,
      keyBytes: encodeVipKey(key),
      meta: { flags: 0, vipId, ringOffset: 0, ringSize: 0, natAddress: null, natPortMin: 0, natPortMax: 0 },
      metaBytes: Buffer.alloc(0),
      fragKeyBytes: null,
      fragMetaBytes: null,
      ring: new Uint32Array(0),
      reals: new Map(),
    };
    state.vips.set(hex, vip);
  }
  vip.frontend = desired.name;
  const vipId = vip.meta.vipId;

  // Backends: same endpoint keeps its slot (and its conntrack entries and counters).
  const seen = new Map<string, number>();
  const realIdByIndex = new Int32Array(desired.backends.length).fill(-1);
  const keep = new Set<string>();
  desired.backends.forEach((b, i) => {
    const link = links[b.name];
    if (!link) return;
    let ident = endpoint(b.address, b.port);
    const dup = seen.get(ident) ?? 0;
    seen.set(ident, dup + 1);
    if (dup > 0) ident = `${ident}#${dup + 1}`;
    keep.add(ident);
    let real = vip.reals.get(ident);
    if (!real) {
      const id = state.realIds.alloc("backend");
      ops.push({ kind: "zero-stats", map: "real_stats", id });
      real = { id, name: b.name, address: b.address, port: b.port, value: Buffer.alloc(0), flushed: false };
      vip.reals.set(ident, real);
    }
    real.name = b.name;
    const value = encodeReal({
      address: b.address,
      port: b.port,
      flags: realFlags(b),
      mac: link.mac,
      srcMac: link.srcMac,
      ifindex: link.ifindex,
      vipId,
    });
    if (!value.equals(real.value)) {
      ops.push({ kind: "update", map: "reals", key: encodeU32(real.id), value });
      real.value = value;
    }
    realIdByIndex[i] = real.id;
  });

  // The ring, in real ids. Slots naming an unprogrammed backend are empty.
  const ring = new Uint32Array(maglev.length);
  for (let s = 0; s < maglev.length; s++) {
    const idx = maglev[s];
    ring[s] =
      idx >= 0 && idx < realIdByIndex.length && realIdByIndex[idx] >= 0 ? realIdByIndex[idx] : LS_REAL_NONE;
  }
  let ringOffset = vip.meta.ringOffset;
  let oldRegion: { offset: number; size: number } | null = null;
  if (isNew || ring.length !== vip.ring.length) {
    // A new home for the ring, written in full before the VIP points at it.
    if (!isNew) oldRegion = { offset: vip.meta.ringOffset, size: vip.meta.ringSize };
    ringOffset = state.ringSpace.alloc(ring.length);
    const slots = new Uint32Array(ring.length);
    for (let s = 0; s < ring.length; s++) slots[s] = ringOffset + s;
    ops.push({ kind: "ring", map: "ring", slots, values: ring.slice() });
  } else {
    const changed = ringChanges(vip.ring, ring);
    if (changed.length > 0) {
      const slots = new Uint32Array(changed.length);
      const values = new Uint32Array(changed.length);
      changed.forEach((s, i) => {
        slots[i] = ringOffset + s;
        values[i] = ring[s];
      });
      ops.push({ kind: "ring", map: "ring", slots, values });
    }
  }
  vip.ring = ring;

  const ports = options.natPorts ?? DEFAULT_NAT_PORTS;
  const meta: VipMeta = {
    flags: vipFlags(desired, options),
    vipId,
    ringOffset,
    ringSize: ring.length,
    natAddress: options.mode === "nat" ? options.natAddress! : null,
    natPortMin: options.mode === "nat" ? ports.min : 0,
    natPortMax: options.mode === "nat" ? ports.max : 0,
  };
  const metaBytes = encodeVipMeta(meta);
  if (!metaBytes.equals(vip.metaBytes)) {
    ops.push({ kind: "update", map: "vips", key: vip.keyBytes, value: metaBytes });
    vip.meta = meta;
    vip.metaBytes = metaBytes;
  }
  if (options.fragments) {
    const fragKey = encodeVipKey({ ...key, port: 0 });
    const fragMeta = encodeVipMeta({ ...meta, flags: meta.flags | LS_VIP_FRAG_ALIAS });
    if (!vip.fragKeyBytes || !vip.fragMetaBytes?.equals(fragMeta)) {
      ops.push({ kind: "update", map: "vips", key: fragKey, value: fragMeta });
    }
    vip.fragKeyBytes = fragKey;
    vip.fragMetaBytes = fragMeta;
  } else if (vip.fragKeyBytes) {
    ops.push({ kind: "delete", map: "vips", key: vip.fragKeyBytes });
    vip.fragKeyBytes = null;
    vip.fragMetaBytes = null;
  }
  if (oldRegion) state.ringSpace.free(oldRegion.offset, oldRegion.size);

  // Backends gone from the frontend: out of the ring above, now out of the table.
  for (const [ident, real] of [...vip.reals]) {
    if (!keep.has(ident)) {
      removeReal(state, real, ops);
      vip.reals.delete(ident);
    }
  }
  // Flush: once per weight-0 + flush episode, after the ring stopped choosing the backend.
  desired.backends.forEach((b, i) => {
    const id = realIdByIndex[i];
    if (id < 0) return;
    const real = [...vip.reals.values()].find((r) => r.id === id)!;
    const flushNow = b.flush && b.weight === 0;
    if (flushNow && !real.flushed) ops.push({ kind: "flush", realId: id });
    real.flushed = flushNow;
  });
}

/** Slots whose value differs (all of `next` when sizes differ). */
export function ringChanges(prev: Uint32Array, next: Uint32Array): number[] {
  const out: number[] = [];
  if (prev.length !== next.length) {
    for (let s = 0; s < next.length; s++) out.push(s);
    return out;
  }
  for (let s = 0; s < next.length; s++) if (prev[s] !== next[s]) out.push(s);
  return out;
}
