// The XDP dataplane: programs the kernel fast path from the desired state.
// apply(desired) -> plan (pure, plan.ts) -> map writes through libbpf (loader.ts).
import { LodestoneError } from "../../errors.ts";
import type { DesiredFrontend, DesiredState } from "../../model/desired.ts";
import type { Dataplane, DataplaneStats, TrafficCounters } from "../types.ts";
import { ensureBpfObject } from "./build.ts";
import {
  decodeFlow,
  decodeNatEntry,
  decodeReal,
  decodeU32,
  decodeVipKey,
  decodeVipMeta,
  encodeAddress,
  encodeU32,
  LS_FAMILY_V4,
  LS_FAMILY_V6,
  LS_RING_ENTRIES_DEFAULT,
  LS_STATS_GLOBAL,
  LS_VIP_FRAG_ALIAS,
  STRUCTS,
  type Stats,
  sumPerCpuStats,
} from "./layout.ts";
import { type AttachMode, type Attachment, XdpProgram } from "./loader.ts";
import { interfaceKind, interfaceMac, resolveNeighbor } from "./neighbors.ts";
import {
  type BackendLink,
  type MapOp,
  type PlanInput,
  type ProgrammedReal,
  ProgrammedState,
  plan,
  validate,
  type XdpFrontendOptions,
} from "./plan.ts";

export type { XdpFrontendOptions } from "./plan.ts";

export interface XdpDataplaneOptions {
  /**
   * XDP settings by frontend name. Until lodestone.yaml grows `dataplane: xdp` and an
   * `xdp:` block, a frontend is programmed here when it is named in this record (or
   * when its settings already say dataplane "xdp" and carry `xdp`).
   */
  frontends?: Record<string, XdpFrontendOptions>;
  /** Compiled object; default: built from source on demand (dist/bpf/lodestone.bpf.o). */
  objectPath?: string;
  /** bpffs directory for pinned maps (default /sys/fs/bpf/lodestone). */
  pinRoot?: string;
  ringEntries?: number;
  attachMode?: AttachMode;
  /** Detach from interfaces on stop (default true). false leaves the fast path forwarding. */
  detachOnStop?: boolean;
  neighborTimeoutMs?: number;
  log?: (level: "debug" | "info" | "warn", message: string) => void;
}

export interface XdpVipStats extends Stats {
  backends: Record<string, Stats>;
}

/** Extra per-frontend counters in `stats()` (beside the generic TrafficCounters). */
export interface XdpFrontendCounters {
  packets: number;
  replyPackets: number;
  drops: Stats["drops"];
}

export interface XdpStats {
  /** Traffic the program saw that matched no VIP (passed to the kernel). */
  passed: { packets: number; bytes: number };
  frontends: Record<string, XdpVipStats>;
}

type FrontendSettingsWithXdp = { dataplane?: string; xdp?: XdpFrontendOptions };

export class XdpDataplane implements Dataplane {
  readonly name = "xdp";
  readonly #options: XdpDataplaneOptions;
  #program: XdpProgram | null = null;
  #state: ProgrammedState | null = null;
  /** Set when the maps may not match #state (a failed apply): rebuild from the maps first. */
  #dirty = false;
  #queue: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(options: XdpDataplaneOptions = {}) {
    this.#options = options;
  }

  /** The XDP settings for a frontend, or null when it is not an XDP frontend. */
  optionsFor(frontend: DesiredFrontend): XdpFrontendOptions | null {
    const named = this.#options.frontends?.[frontend.name];
    if (named) return named;
    const settings = frontend.settings as unknown as FrontendSettingsWithXdp;
    if (settings.dataplane === "xdp" && settings.xdp) return settings.xdp;
    return null;
  }

  apply(desired: DesiredState): Promise<void> {
    const run = this.#queue.then(() => this.#apply(desired));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #apply(desired: DesiredState): Promise<void> {
    if (this.#stopped) throw new LodestoneError("XDP_STOPPED", "the XDP dataplane is stopped");
    const selected: Array<[DesiredFrontend, XdpFrontendOptions]> = [];
    for (const f of Object.values(desired.frontends)) {
      const o = this.optionsFor(f);
      if (o) selected.push([f, o]);
    }
    if (selected.length === 0 && !this.#program) return;
    // Refuse bad settings before anything slow (loading, neighbour resolution) happens.
    for (const [f, o] of selected) validate({ desired: f, options: o, links: {} });
    const program = this.#ensureProgram();
    if (this.#dirty || !this.#state) {
      this.#state = recoverState(program, this.#options.ringEntries ?? LS_RING_ENTRIES_DEFAULT);
      this.#dirty = false;
    }

    const inputs: PlanInput[] = [];
    for (const [f, o] of selected) inputs.push({ desired: f, options: o, links: await this.#links(f, o) });

    let ops: MapOp[];
    try {
      ops = plan(this.#state, inputs);
    } catch (err) {
      this.#dirty = true;
      throw err;
    }
    try {
      execute(program, ops);
    } catch (err) {
      this.#dirty = true;
      throw err;
    }

    // Attach where VIPs arrive; detach from interfaces no frontend uses any more.
    const wantIfs = new Set(selected.map(([, o]) => o.interface));
    const attached = new Set(program.attachments().map((a) => a.ifname));
    for (const ifname of wantIfs) {
      if (!attached.has(ifname)) {
        const asked = this.#options.attachMode ?? "auto";
        // On a veth, `auto` means generic: native XDP there copies every cloned skb into
        // an xdp_buff and rebuilds an skb on the peer (which also needs NAPI for XDP_TX),
        // where generic XDP sends the skb it has; bench:xdp measured ~25% less CPU per
        // request (BENCHMARKS.md, "XDP"). Drivers with real native XDP keep it.
        const veth = asked === "auto" && (await interfaceKind(ifname)) === "veth";
        const a = program.attach(ifname, veth ? "generic" : asked);
        this.#options.log?.("info", `xdp: attached to ${ifname} (${a.mode})`);
        if (a.mode === "native" && (await interfaceKind(ifname)) === "veth") {
          // veth drops XDP_TX frames unless its peer has NAPI on (docs/xdp.md, "veth").
          this.#options.log?.(
            "warn",
            `xdp: ${ifname} is a veth: its peer needs an XDP program (dist/bpf/pass.bpf.o) or GRO on, or XDP_TX frames are dropped`,
          );
        }
      }
    }
    for (const ifname of attached) if (!wantIfs.has(ifname)) program.detach(ifname);
  }

  #ensureProgram(): XdpProgram {
    if (this.#program) return this.#program;
    const objectPath = this.#options.objectPath ?? ensureBpfObject();
    this.#program = XdpProgram.load({
      objectPath,
      pinRoot: this.#options.pinRoot,
      ringEntries: this.#options.ringEntries,
      log: (level, line) => {
        if (level === 0) this.#options.log?.("warn", line);
      },
    });
    if (this.#program.reusedMaps) {
      this.#options.log?.("info", `xdp: reusing maps pinned under ${this.#program.pinRoot}`);
    }
    return this.#program;
  }

  async #links(f: DesiredFrontend, o: XdpFrontendOptions): Promise<Record<string, BackendLink>> {
    const program = this.#ensureProgram();
    const srcMac = await interfaceMac(o.interface);
    const ifindex = program.ifindex(o.interface);
    const links: Record<string, BackendLink> = {};
    await Promise.all(
      f.backends.map(async (b) => {
        try {
          const mac = await resolveNeighbor(b.address, o.interface, this.#options.neighborTimeoutMs);
          links[b.name] = { mac, srcMac, ifindex };
        } catch (err) {
          this.#options.log?.(
            "warn",
            `xdp: frontend ${f.name}: backend ${b.name} not programmed: ${(err as Error).message}`,
          );
        }
      }),
    );
    return links;
  }

  attachments(): Attachment[] {
    return this.#program?.attachments() ?? [];
  }

  /** XDP cannot drain: the kernel path has no connections to wait for. Detaches (unless told not to). */
  async stop(_drainTimeout: number): Promise<void> {
    await this.#queue;
    this.#stopped = true;
    const program = this.#program;
    if (!program) return;
    if (this.#options.detachOnStop !== false) {
      for (const a of program.attachments()) program.detach(a.ifname);
    }
    program.close();
    this.#program = null;
  }

  /** Full counters per VIP and backend, summed over CPUs. */
  xdpStats(): XdpStats {
    const out: XdpStats = { passed: { packets: 0, bytes: 0 }, frontends: {} };
    const program = this.#program;
    const state = this.#state;
    if (!program || !state) return out;
    const global = readStats(program, "vip_stats", LS_STATS_GLOBAL);
    out.passed = { packets: global.packets, bytes: global.bytes };
    for (const vip of state.vips.values()) {
      const s: XdpVipStats = { ...readStats(program, "vip_stats", vip.meta.vipId), backends: {} };
      for (const real of vip.reals.values()) {
        s.backends[real.name ?? `${real.address}:${real.port}`] = readStats(program, "real_stats", real.id);
      }
      out.frontends[vip.frontend] = s;
    }
    return out;
  }

  stats(): DataplaneStats {
    const detailed = this.xdpStats();
    const out: DataplaneStats = { frontends: {} };
    const counters = (s: Stats): TrafficCounters => ({
      connectionsTotal: s.newFlows + s.ctMisses,
      connectionsActive: 0,
      bytesIn: s.bytes,
      bytesOut: s.replyBytes,
      connectErrors: s.drops.noBackend + s.drops.badReal + s.drops.natPorts + s.drops.redirect,
    });
    for (const [name, s] of Object.entries(detailed.frontends)) {
      const backends: Record<string, TrafficCounters> = {};
      for (const [b, bs] of Object.entries(s.backends)) backends[b] = counters(bs);
      // Packets and drops by reason ride along for /metrics (lodestone_xdp_*), which reads them raw.
      const entry: DataplaneStats["frontends"][string] & { xdp: XdpFrontendCounters } = {
        ...counters(s),
        backends,
        xdp: { packets: s.packets, replyPackets: s.replyPackets, drops: { ...s.drops } },
      };
      out.frontends[name] = entry;
    }
    return out;
  }

  /** Conntrack entries per backend name for a frontend (for tests and `show`). */
  flowsByBackend(frontend: string): Record<string, number> {
    const program = this.#program;
    const state = this.#state;
    const out: Record<string, number> = {};
    if (!program || !state) return out;
    const vip = [...state.vips.values()].find((v) => v.frontend === frontend);
    if (!vip) return out;
    const byId = new Map<number, ProgrammedReal>();
    for (const r of vip.reals.values()) byId.set(r.id, r);
    for (const key of program.maps.conntrack.keys()) {
      const value = program.maps.conntrack.lookup(key);
      if (!value) continue;
      const flow = decodeFlow(value);
      if (flow.vipId !== vip.meta.vipId) continue;
      const real = byId.get(flow.realId);
      const name = real?.name ?? `#${flow.realId}`;
      out[name] = (out[name] ?? 0) + 1;
    }
    return out;
  }

  /** NAT reverse entries (where a flow's replies go) of a frontend's flows, counted on demand. */
  natEntries(frontend: string): number {
    const program = this.#program;
    const vip = this.#state && [...this.#state.vips.values()].find((v) => v.frontend === frontend);
    if (!program || !vip) return 0;
    const family = STRUCTS.ls_flow_key.fields.family[0];
    let n = 0;
    for (const key of program.maps.nat.keys()) {
      const v = program.maps.nat.lookup(key);
      if (v && decodeNatEntry(v, key[family]).vipId === vip.meta.vipId) n++;
    }
    return n;
  }
}

function readStats(program: XdpProgram, map: "vip_stats" | "real_stats", id: number): Stats {
  const value = program.maps[map].lookup(encodeU32(id));
  return sumPerCpuStats(value ?? Buffer.alloc(program.maps[map].valueSize), program.cpus);
}

/** Run planned operations against the maps, in order. */
export function execute(program: XdpProgram, ops: MapOp[]): void {
  for (const op of ops) {
    switch (op.kind) {
      case "ring":
        // Keys and values are host-order u32s: a typed array's bytes are exactly that.
        program.maps.ring.updateBatch(
          Buffer.from(op.slots.buffer, op.slots.byteOffset, op.slots.byteLength),
          Buffer.from(op.values.buffer, op.values.byteOffset, op.values.byteLength),
          op.slots.length,
        );
        break;
      case "update":
        program.maps[op.map].update(op.key, op.value);
        break;
      case "delete":
        program.maps[op.map].delete(op.key);
        break;
      case "zero-stats":
        program.maps[op.map].update(encodeU32(op.id), Buffer.alloc(program.maps[op.map].valueSize));
        break;
      case "flush":
        flushReal(program, op.realId);
        break;
    }
  }
}

/** Delete every conntrack and NAT entry pointing at a backend slot. Returns how many. */
export function flushReal(program: XdpProgram, realId: number): number {
  let n = 0;
  const ct = program.maps.conntrack;
  for (const key of ct.keys()) {
    const v = ct.lookup(key);
    if (v && decodeFlow(v).realId === realId && ct.delete(key)) n++;
  }
  const nat = program.maps.nat;
  const family = STRUCTS.ls_flow_key.fields.family[0];
  for (const key of nat.keys()) {
    const v = nat.lookup(key);
    if (v && decodeNatEntry(v, key[family]).realId === realId && nat.delete(key)) n++;
  }
  return n;
}

/**
 * Rebuild the programmed state from the maps themselves: after a restart with
 * pinned maps (or a failed apply), so the next plan diffs against what the
 * kernel really holds and established flows keep their backends.
 */
export function recoverState(program: XdpProgram, ringCapacity: number): ProgrammedState {
  const state = new ProgrammedState(ringCapacity);
  const realsByVip = new Map<number, ProgrammedReal[]>();
  for (const key of program.maps.reals.keys()) {
    const value = program.maps.reals.lookup(key);
    if (!value) continue;
    const real = decodeReal(value);
    if (!real) continue;
    const id = decodeU32(key);
    const list = realsByVip.get(real.vipId) ?? [];
    list.push({ id, name: null, address: real.address, port: real.port, value, flushed: false });
    realsByVip.set(real.vipId, list);
  }
  const aliases: Array<{ keyBytes: Buffer; metaBytes: Buffer; vipId: number }> = [];
  for (const keyBytes of program.maps.vips.keys()) {
    const metaBytes = program.maps.vips.lookup(keyBytes);
    if (!metaBytes) continue;
    const key = decodeVipKey(keyBytes);
    const family = encodeAddress(key.address).family === LS_FAMILY_V6 ? LS_FAMILY_V6 : LS_FAMILY_V4;
    const meta = decodeVipMeta(metaBytes, family);
    if (meta.flags & LS_VIP_FRAG_ALIAS) {
      aliases.push({ keyBytes, metaBytes, vipId: meta.vipId });
      continue;
    }
    const ring = new Uint32Array(meta.ringSize);
    const values = program.maps.ring.readRange(meta.ringOffset, meta.ringSize);
    for (let s = 0; s < meta.ringSize; s++) ring[s] = decodeU32(values, s * 4);
    state.ringSpace.reserve(meta.ringOffset, meta.ringSize);
    state.vipIds.reserve(meta.vipId);
    const reals = new Map<string, ProgrammedReal>();
    for (const r of realsByVip.get(meta.vipId) ?? []) {
      let ident = `${r.address}|${r.port}`;
      for (let n = 2; reals.has(ident); n++) ident = `${r.address}|${r.port}#${n}`;
      reals.set(ident, r);
      state.realIds.reserve(r.id);
    }
    state.vips.set(keyBytes.toString("hex"), {
      frontend: `${key.address}:${key.port}/${key.proto}`,
      key,
      keyBytes,
      meta,
      metaBytes,
      fragKeyBytes: null,
      fragMetaBytes: null,
      ring,
      reals,
    });
  }
  // A fragment alias belongs to the VIP with its id; one without a VIP is stale.
  for (const a of aliases) {
    const owner = [...state.vips.values()].find((v) => v.meta.vipId === a.vipId);
    if (owner) {
      owner.fragKeyBytes = a.keyBytes;
      owner.fragMetaBytes = a.metaBytes;
    } else {
      program.maps.vips.delete(a.keyBytes);
    }
  }
  // Backend slots whose VIP is gone are stale: reserve them so they get cleaned, not reused blindly.
  for (const [vipId, list] of realsByVip) {
    if (![...state.vips.values()].some((v) => v.meta.vipId === vipId)) {
      for (const r of list) {
        program.maps.reals.update(encodeU32(r.id), Buffer.alloc(program.maps.reals.valueSize));
        flushReal(program, r.id);
      }
    }
  }
  return state;
}
