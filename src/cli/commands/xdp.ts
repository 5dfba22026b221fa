// `lodestone xdp ...`: operate the XDP fast path from outside the daemon.
//   build                   compile the program (scripts/build-bpf.sh)
//   check                   compile if needed and run it through the kernel verifier (nothing attached)
//   status [--json]         VIPs, backends and counters from the pinned maps
//   detach <interface>      remove any XDP program from an interface
//   unpin                   remove the pinned maps (drops conntrack state)
// Errors: one line on stderr, exit 1 (3 for an internal error), no stack trace.
import type { Command } from "commander";
import { buildBpfObject, DEFAULT_OBJECT_PATH, ensureBpfObject } from "../../dataplane/xdp/build.ts";
import {
  decodeFlow,
  decodeReal,
  decodeU32,
  decodeVipKey,
  decodeVipMeta,
  encodeAddress,
  encodeU32,
  LS_REAL_ACTIVE,
  LS_STATS_GLOBAL,
  LS_VIP_FRAG_ALIAS,
  LS_VIP_HASH_3TUPLE,
  LS_VIP_HASH_SRC,
  LS_VIP_NAT,
  type Stats,
  sumPerCpuStats,
} from "../../dataplane/xdp/layout.ts";
import {
  closeMaps,
  DEFAULT_PIN_ROOT,
  detachInterface,
  openPinnedMaps,
  unpinMaps,
  XdpProgram,
} from "../../dataplane/xdp/loader.ts";
import { LodestoneError } from "../../errors.ts";

type Out = (s: string) => void;

export interface XdpStatusBackend {
  slot: number;
  address: string;
  port: number;
  mac: string;
  active: boolean;
  flows: number;
  stats: Stats;
}

export interface XdpStatusVip {
  address: string;
  port: number;
  proto: string;
  mode: "dsr" | "nat";
  hash: "5-tuple" | "source" | "3-tuple";
  natAddress: string | null;
  ringSize: number;
  stats: Stats;
  backends: XdpStatusBackend[];
}

export interface XdpStatus {
  pinRoot: string;
  passed: { packets: number; bytes: number };
  vips: XdpStatusVip[];
}

/** Read everything `status` shows from the pinned maps. */
export function readStatus(pinRoot = DEFAULT_PIN_ROOT): XdpStatus {
  const { maps, cpus } = openPinnedMaps(pinRoot);
  try {
    const stats = (map: "vip_stats" | "real_stats", id: number) =>
      sumPerCpuStats(maps[map].lookup(encodeU32(id)) ?? Buffer.alloc(maps[map].valueSize), cpus);
    const flowsByReal = new Map<number, number>();
    for (const key of maps.conntrack.keys()) {
      const v = maps.conntrack.lookup(key);
      if (v) {
        const id = decodeFlow(v).realId;
        flowsByReal.set(id, (flowsByReal.get(id) ?? 0) + 1);
      }
    }
    const reals: Array<{ id: number; real: NonNullable<ReturnType<typeof decodeReal>> }> = [];
    for (const key of maps.reals.keys()) {
      const v = maps.reals.lookup(key);
      const real = v ? decodeReal(v) : null;
      if (real) reals.push({ id: decodeU32(key), real });
    }
    const vips: XdpStatusVip[] = [];
    for (const keyBytes of maps.vips.keys()) {
      const metaBytes = maps.vips.lookup(keyBytes);
      if (!metaBytes) continue;
      const key = decodeVipKey(keyBytes);
      const meta = decodeVipMeta(metaBytes, encodeAddress(key.address).family);
      if (meta.flags & LS_VIP_FRAG_ALIAS) continue; // shown as its VIP's "hash 3-tuple"
      vips.push({
        address: key.address,
        port: key.port,
        proto: key.proto,
        mode: meta.flags & LS_VIP_NAT ? "nat" : "dsr",
        hash:
          meta.flags & LS_VIP_HASH_3TUPLE ? "3-tuple" : meta.flags & LS_VIP_HASH_SRC ? "source" : "5-tuple",
        natAddress: meta.natAddress,
        ringSize: meta.ringSize,
        stats: stats("vip_stats", meta.vipId),
        backends: reals
          .filter((r) => r.real.vipId === meta.vipId)
          .map((r) => ({
            slot: r.id,
            address: r.real.address,
            port: r.real.port,
            mac: r.real.mac,
            active: (r.real.flags & LS_REAL_ACTIVE) !== 0,
            flows: flowsByReal.get(r.id) ?? 0,
            stats: stats("real_stats", r.id),
          })),
      });
    }
    const global = stats("vip_stats", LS_STATS_GLOBAL);
    return { pinRoot, passed: { packets: global.packets, bytes: global.bytes }, vips };
  } finally {
    closeMaps(maps);
  }
}

function formatStatus(s: XdpStatus): string {
  const lines = [`pinned maps: ${s.pinRoot}`, `passed to the kernel: ${s.passed.packets} packets`];
  if (s.vips.length === 0) lines.push("no VIPs programmed");
  for (const v of s.vips) {
    const host = v.address.includes(":") ? `[${v.address}]` : v.address;
    const drops = Object.entries(v.stats.drops)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k}=${n}`)
      .join(" ");
    lines.push(
      `${host}:${v.port}/${v.proto}  ${v.mode}${v.natAddress ? ` via ${v.natAddress}` : ""}  hash ${v.hash}  ring ${v.ringSize}`,
      `  packets ${v.stats.packets}  bytes ${v.stats.bytes}  new flows ${v.stats.newFlows}  ct misses ${v.stats.ctMisses}` +
        (v.mode === "nat" ? `  replies ${v.stats.replyPackets}` : "") +
        (drops ? `  drops ${drops}` : ""),
    );
    for (const b of v.backends) {
      lines.push(
        `  - ${b.address}:${b.port} ${b.mac}${b.active ? "" : " (inactive)"}  flows ${b.flows}  packets ${b.stats.packets}  new flows ${b.stats.newFlows}`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

function guard(name: string, err: Out, fn: () => void): number {
  try {
    fn();
    return 0;
  } catch (e) {
    if (e instanceof LodestoneError) {
      err(`lodestone xdp ${name}: ${e.message}\n`);
      return 1;
    }
    err(`lodestone xdp ${name}: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 3;
  }
}

export function register(
  program: Command,
  out: Out = (s) => process.stdout.write(s),
  err: Out = (s) => process.stderr.write(s),
): void {
  const xdp = program.command("xdp").description("Operate the XDP/eBPF fast path (root, Linux)");
  xdp
    .command("build")
    .description("Compile the XDP program with clang")
    .option("-o, --out <file>", "output object", DEFAULT_OBJECT_PATH)
    .action((o: { out: string }) => {
      process.exitCode = guard("build", err, () => out(`${buildBpfObject(o.out)}\n`));
    });
  xdp
    .command("check")
    .description("Load the program through the kernel verifier without attaching or pinning anything")
    .option("--object <file>", "compiled object (default: build from source if needed)")
    .action((o: { object?: string }) => {
      process.exitCode = guard("check", err, () => {
        const objectPath = o.object ?? ensureBpfObject();
        XdpProgram.load({ objectPath, pinRoot: null }).close();
        out(`${objectPath}: accepted by the verifier\n`);
      });
    });
  xdp
    .command("status")
    .description("Show VIPs, backends, flows and counters from the pinned maps")
    .option("--pin-root <dir>", "bpffs directory of the pinned maps", DEFAULT_PIN_ROOT)
    .option("--json", "print as JSON")
    .action((o: { pinRoot: string; json?: boolean }) => {
      process.exitCode = guard("status", err, () => {
        const s = readStatus(o.pinRoot);
        out(o.json ? `${JSON.stringify(s)}\n` : formatStatus(s));
      });
    });
  xdp
    .command("detach <interface>")
    .description("Remove any XDP program from an interface (this network namespace)")
    .action((ifname: string) => {
      process.exitCode = guard("detach", err, () => {
        out(detachInterface(ifname) ? `detached from ${ifname}\n` : `nothing attached to ${ifname}\n`);
      });
    });
  xdp
    .command("unpin")
    .description("Remove the pinned maps (drops conntrack state and counters)")
    .option("--pin-root <dir>", "bpffs directory of the pinned maps", DEFAULT_PIN_ROOT)
    .action((o: { pinRoot: string }) => {
      process.exitCode = guard("unpin", err, () => {
        const removed = unpinMaps(o.pinRoot);
        out(removed.length ? `removed ${removed.join(", ")}\n` : `nothing pinned under ${o.pinRoot}\n`);
      });
    });
}
