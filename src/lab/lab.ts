// `lodestone lab`: a working XDP load balancer in network namespaces, end to end.
// Builds the lab topology (topology.ts), starts an HTTP backend in each backend
// namespace, runs `lodestone run` inside the balancer namespace with two XDP (DSR)
// frontends (an IPv4 and an IPv6 VIP), drives bounded load from the client namespace
// and reports, per backend, what the client saw and what the XDP counters say.
// Everything is left running for a look around until `lodestone lab down`.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { readStatus, type XdpStatus } from "../cli/commands/xdp.ts";
import { DEFAULT_PASS_OBJECT_PATH, ensureBpfObject } from "../dataplane/xdp/build.ts";
import { unpinMaps } from "../dataplane/xdp/loader.ts";
import { LodestoneError } from "../errors.ts";
import type { LoadResult } from "./client.ts";
import {
  BACKEND_NAMES,
  destroyLabNamespaces,
  LAB_PREFIX,
  LAB_V4,
  LAB_V6,
  LabTopology,
  NODE,
  REPO,
} from "./topology.ts";

const runFile = promisify(execFile);

export const LAB_PORT = 80;
/** State (config, logs) and pinned maps of a lab live under these, named like its namespaces. */
export const LAB_STATE_ROOT = "/run";
export const LAB_BPFFS_ROOT = "/sys/fs/bpf";

export interface LabOptions {
  /** Names are lslab-<tag>-*; default "lab". */
  tag?: string;
  /** Requests in total (half to each VIP), default 300. */
  requests?: number;
  /** Upper bound on the load's duration, seconds, default 10. */
  seconds?: number;
  /** XDP attach mode for the balancer, default auto (generic on the lab's veth; native puts XDP_PASS on the peer). */
  attachMode?: "auto" | "native" | "generic";
  /** Remove everything at the end instead of leaving it running. */
  down?: boolean;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface LabBackendReport {
  name: string;
  address: string;
  address6: string;
  /** Answers the client got from this backend, over both VIPs. */
  client: number;
  /** From the XDP per-backend counters, summed over the two VIPs. */
  xdp: { newFlows: number; packets: number; bytes: number };
}

export interface LabReport {
  prefix: string;
  namespaces: string[];
  vips: string[];
  pinRoot: string;
  stateDir: string;
  load: LoadResult[];
  backends: LabBackendReport[];
  /** Packets the program passed to the kernel (not for a VIP: ARP, ND, ...). */
  passed: number;
  left: "running" | "removed";
}

/** Why the lab cannot run here, or null. */
export function labSkipReason(): string | null {
  if (process.platform !== "linux") return "the lab needs Linux (network namespaces, XDP)";
  if (process.getuid?.() !== 0) return "the lab needs root (network namespaces, bpf())";
  for (const tool of ["clang", "ip", "nsenter", "curl"]) {
    if (!["/usr/bin", "/usr/sbin", "/bin", "/sbin"].some((d) => existsSync(join(d, tool)))) {
      return `${tool} is not installed (scripts/setup.sh installs it)`;
    }
  }
  if (!["x86_64", "aarch64"].some((a) => existsSync(`/usr/lib/${a}-linux-gnu/libbpf.so.1`))) {
    return "libbpf.so.1 is not installed (Debian libbpf1, from scripts/setup.sh)";
  }
  return null;
}

function labConfig(pinRoot: string, attachMode: string): string {
  const backends = BACKEND_NAMES.map(
    (b, i) =>
      `  ${b}: { address: ${LAB_V4.backends[i]}, port: ${LAB_PORT}, healthcheck: tcp }\n` +
      `  ${b}-v6: { address: "${LAB_V6.backends[i]}", port: ${LAB_PORT}, healthcheck: tcp }`,
  ).join("\n");
  const members = (suffix: string) => BACKEND_NAMES.map((b) => `${b}${suffix}: {}`).join(", ");
  return `# Written by \`lodestone lab\`: two XDP (DSR) VIPs over three HTTP backends.
healthchecks:
  tcp: { type: tcp, interval: 1s, rise: 1, fall: 2 }
backends:
${backends}
services:
  web:
    algorithm: maglev
    hash-on: client-address-port
    pools: [{ name: main, backends: { ${members("")} } }]
  web-v6:
    algorithm: maglev
    hash-on: client-address-port
    pools: [{ name: main, backends: { ${members("-v6")} } }]
frontends:
  vip4:
    listen: ${LAB_V4.vip}:${LAB_PORT}
    service: web
    dataplane: xdp
    xdp: { interface: eth0, mode: dsr }
  vip6:
    listen: "[${LAB_V6.vip}]:${LAB_PORT}"
    service: web-v6
    dataplane: xdp
    xdp: { interface: eth0, mode: dsr }
runtime:
  warmup: { max-wait: 3s }
  xdp: { pin-root: ${pinRoot}, attach-mode: ${attachMode} }
`;
}

/** A detached process inside a namespace, its output appended to `logFile`; it outlives us. */
function spawnIn(ns: string, args: string[], logFile: string): ChildProcess {
  const fd = openSync(logFile, "a");
  const child = spawn("nsenter", [`--net=/run/netns/${ns}`, ...args], {
    cwd: REPO,
    detached: true,
    stdio: ["ignore", fd, fd],
  });
  child.on("error", () => {});
  child.unref();
  return child;
}

const tail = (file: string, lines = 20): string => {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
};

async function waitFor(
  what: string,
  timeoutMs: number,
  check: () => boolean | Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new LodestoneError("LAB_TIMEOUT", `timed out after ${timeoutMs / 1000}s waiting for ${what}`);
}

/** The status of the lab's pinned maps, or null while nothing is pinned yet. */
function status(pinRoot: string): XdpStatus | null {
  try {
    return readStatus(pinRoot);
  } catch {
    return null;
  }
}

async function load(ns: string, url: string, count: number, seconds: number): Promise<LoadResult> {
  const { stdout } = await runFile(
    "nsenter",
    [`--net=/run/netns/${ns}`, NODE, join(REPO, "src/lab/client.ts"), url, String(count), String(seconds)],
    { cwd: REPO, timeout: (seconds + 15) * 1000 },
  );
  return JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as LoadResult;
}

export async function runLab(options: LabOptions = {}): Promise<LabReport> {
  const log = options.log ?? (() => {});
  const skip = labSkipReason();
  if (skip) throw new LodestoneError("LAB_UNAVAILABLE", skip);
  const requests = options.requests ?? 300;
  const seconds = options.seconds ?? 10;
  const attachMode = options.attachMode ?? "auto";
  const topo = new LabTopology(options.tag ?? "lab");
  const stateDir = join(LAB_STATE_ROOT, topo.prefix);
  const pinRoot = join(LAB_BPFFS_ROOT, topo.prefix);

  log("building the XDP program");
  ensureBpfObject(); // also builds pass.bpf.o, for the balancer's veth peer in native mode
  log(`creating namespaces ${topo.prefix}-{sw,cl,lb,b1,b2,b3}`);
  await topo.create();
  try {
    mkdirSync(stateDir, { recursive: true });
    // Only native XDP_TX on a veth needs NAPI on the peer (auto is generic on a veth).
    if (attachMode === "native") await topo.passOnBalancerPeer(DEFAULT_PASS_OBJECT_PATH);

    const backendLogs = BACKEND_NAMES.map((b) => join(stateDir, `${b}.log`));
    BACKEND_NAMES.forEach((b, i) => {
      spawnIn(
        topo.ns.backends[i],
        [NODE, join(REPO, "src/lab/backend.ts"), b, String(LAB_PORT)],
        backendLogs[i],
      );
    });
    await waitFor("the backends to listen", 15000, () =>
      backendLogs.every((f) => existsSync(f) && readFileSync(f, "utf8").includes("listening")),
    );

    const configFile = join(stateDir, "lodestone.yaml");
    writeFileSync(configFile, labConfig(pinRoot, attachMode));
    const daemonLog = join(stateDir, "lodestone.log");
    log(`starting lodestone in ${topo.ns.lb} (config ${configFile}, log ${daemonLog})`);
    const daemon = spawnIn(
      topo.ns.lb,
      [NODE, join(REPO, "src/cli/main.ts"), "run", "-c", configFile],
      daemonLog,
    );
    let exited: string | null = null;
    daemon.on("exit", (code, sig) => {
      exited = `lodestone run exited (${sig ?? code})`;
    });
    await waitFor("lodestone to program both VIPs with 3 active backends", 30000, () => {
      if (exited) throw new LodestoneError("LAB_DAEMON_FAILED", `${exited}:\n${tail(daemonLog)}`);
      const s = status(pinRoot);
      return (
        s !== null &&
        s.vips.length === 2 &&
        s.vips.every((v) => v.backends.filter((b) => b.active).length === 3)
      );
    }).catch((err: Error) => {
      throw new LodestoneError("LAB_DAEMON_FAILED", `${err.message}\nlodestone log:\n${tail(daemonLog)}`);
    });

    log(`load: ${requests} requests or ${seconds}s from ${topo.ns.client}`);
    const half = Math.ceil(requests / 2);
    const results = [
      await load(topo.ns.client, `http://${LAB_V4.vip}:${LAB_PORT}/`, half, seconds / 2),
      await load(topo.ns.client, `http://[${LAB_V6.vip}]:${LAB_PORT}/`, requests - half, seconds / 2),
    ];

    const s = status(pinRoot);
    const backends: LabBackendReport[] = BACKEND_NAMES.map((name, i) => {
      const xdp = { newFlows: 0, packets: 0, bytes: 0 };
      for (const vip of s?.vips ?? []) {
        for (const b of vip.backends) {
          if (b.address === LAB_V4.backends[i] || b.address === LAB_V6.backends[i]) {
            xdp.newFlows += b.stats.newFlows;
            xdp.packets += b.stats.packets;
            xdp.bytes += b.stats.bytes;
          }
        }
      }
      return {
        name,
        address: LAB_V4.backends[i],
        address6: LAB_V6.backends[i],
        client: results.reduce((n, r) => n + (r.byBackend[name] ?? 0), 0),
        xdp,
      };
    });
    const report: LabReport = {
      prefix: topo.prefix,
      namespaces: topo.all,
      vips: [`${LAB_V4.vip}:${LAB_PORT}`, `[${LAB_V6.vip}]:${LAB_PORT}`],
      pinRoot,
      stateDir,
      load: results,
      backends,
      passed: s?.passed.packets ?? 0,
      left: "running",
    };
    if (options.down) {
      await labDown(options.tag ?? "lab");
      report.left = "removed";
    }
    return report;
  } catch (err) {
    await labDown(options.tag ?? "lab");
    throw err;
  }
}

/**
 * Remove a lab: its processes, namespaces, pinned maps and state directory. Without a
 * tag, every lab (every `lslab-` name). Returns what was removed.
 */
export async function labDown(tag?: string): Promise<string[]> {
  if (tag !== undefined && !/^[a-z0-9]{1,8}$/.test(tag)) {
    throw new LodestoneError("LAB_BAD_TAG", `lab tag "${tag}": 1 to 8 lowercase letters or digits`);
  }
  const prefix = tag === undefined ? LAB_PREFIX : `${LAB_PREFIX}${tag}-`;
  const removed = await destroyLabNamespaces(prefix);
  const match = (name: string) =>
    tag === undefined ? name.startsWith(LAB_PREFIX) : name === `${LAB_PREFIX}${tag}`;
  for (const root of [LAB_BPFFS_ROOT, LAB_STATE_ROOT]) {
    let names: string[] = [];
    try {
      names = readdirSync(root).filter(match);
    } catch {
      continue;
    }
    for (const name of names) {
      const dir = join(root, name);
      if (root === LAB_BPFFS_ROOT) {
        try {
          unpinMaps(dir);
        } catch {
          // not lodestone's maps, or already gone: rmSync below says if it cannot remove
        }
      }
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    }
  }
  return removed;
}

/** The report as the lines `lodestone lab` prints. */
export function formatLabReport(r: LabReport): string {
  const lines: string[] = [];
  lines.push(`lab ${r.prefix}: VIPs ${r.vips.join(" and ")} (XDP, DSR) on ${r.prefix}-lb eth0`);
  for (const l of r.load) {
    lines.push(
      `load ${l.url}: ${l.ok} ok, ${l.errors} errors of ${l.requested} requests in ${(l.elapsedMs / 1000).toFixed(2)} s` +
        (l.errorSamples.length ? ` (${l.errorSamples.join("; ")})` : ""),
    );
  }
  const header = ["backend", "address", "client answers", "xdp new flows", "xdp packets", "xdp bytes"];
  const rows = r.backends.map((b) => [
    b.name,
    `${b.address}, ${b.address6}`,
    String(b.client),
    String(b.xdp.newFlows),
    String(b.xdp.packets),
    String(b.xdp.bytes),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  for (const row of [header, ...rows])
    lines.push(
      row
        .map((c, i) => c.padEnd(widths[i]))
        .join("  ")
        .trimEnd(),
    );
  lines.push(`passed to the kernel (not for a VIP): ${r.passed} packets`);
  lines.push(
    r.left === "running"
      ? `left running: try \`ip netns exec ${r.prefix}-cl curl http://${LAB_V4.vip}/\`, ` +
          `\`lodestone xdp status --pin-root ${r.pinRoot}\`; logs in ${r.stateDir}. Remove with \`lodestone lab down${r.prefix === `${LAB_PREFIX}lab` ? "" : ` --tag ${r.prefix.slice(LAB_PREFIX.length)}`}\`.`
      : "removed everything it made.",
  );
  return `${lines.join("\n")}\n`;
}
