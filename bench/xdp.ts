// `npm run bench:xdp`: the XDP fast path against the other ways to put an L4 VIP in front
// of three backends, in the lab's network namespaces (src/lab/topology.ts):
//
//   xdp           lodestone's XDP program, DSR (backends answer the client directly)
//   lodestone-l4  lodestone's userspace TCP proxy (dataplane proxy, protocol tcp, 1 process)
//   haproxy       HAProxy `mode tcp`, 1 thread
//   nft-dnat      the kernel's own NAT: nftables DNAT (numgen round-robin) + masquerade
//   direct        no balancer: wrk straight at one backend, the lab's floor of CPU per request
//
// Backends: NGINX (1 worker) in each backend namespace; load: wrk in the client namespace,
// once with keep-alive (requests/s) and once with `Connection: close` (connections/s: one
// request per connection). Interleaved rounds (every mode once per round, order rotated),
// medians, ratios against xdp. CPU: seconds of the balancer's own processes (lodestone,
// HAProxy), the whole machine's busy CPU seconds from /proc/stat, and the lab's own CPU
// (wrk, backends, balancer, ksoftirqd: softirq work is charged to the task it interrupts
// on this kernel, so XDP's and nft's work shows up there), plus who was busy during each
// run (BENCHMARKS.md, "XDP"). Bounded: rounds x modes x 2 runs of --duration seconds.
// Everything is torn down at the end, on error and on Ctrl-C.
import { execFile } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { readStatus } from "../src/cli/commands/xdp.ts";
import { DEFAULT_PASS_OBJECT_PATH, ensureBpfObject } from "../src/dataplane/xdp/build.ts";
import { unpinMaps } from "../src/dataplane/xdp/loader.ts";
import { labSkipReason } from "../src/lab/lab.ts";
import { BACKEND_NAMES, destroyLabNamespaces, LAB_V4, LabTopology, NODE, REPO } from "../src/lab/topology.ts";
import { findExecutable } from "./harness/contenders.ts";
import { wrkArgs } from "./harness/load.ts";
import {
  clockTicks,
  killAllNow,
  type Managed,
  startProcess,
  stopAll,
  stopProcess,
  treeCpuSeconds,
} from "./harness/processes.ts";
import { parseProcStat } from "./harness/procstat.ts";
import { formatRatio, median, ratio } from "./harness/stats.ts";
import { parseWrkOutput, socketErrors, WRK_REPORT_LUA, type WrkResult } from "./harness/wrk-output.ts";

const run = promisify(execFile);
const log = (line: string) => process.stderr.write(`${line}\n`);

const MODES = ["xdp", "lodestone-l4", "haproxy", "nft-dnat", "direct"] as const;
type Mode = (typeof MODES)[number];
const PORT = 80;
const VIP = LAB_V4.vip;
const DEFAULT_CONNECTIONS = 100;
const DEFAULT_THREADS = 2;
const DEFAULT_BACKEND_WORKERS = 1;

interface Options {
  rounds: number;
  durationSec: number;
  connections: number;
  /** wrk threads (every mode alike). */
  threads: number;
  /** NGINX worker processes per backend (every mode alike). */
  backendWorkers: number;
  /** Worker processes (lodestone-l4) or threads (HAProxy) of the userspace balancers. */
  balancerWorkers: number;
  /** How the xdp mode attaches: auto (lodestone's default: generic on a veth), native or generic. */
  xdpAttach: "auto" | "native" | "generic";
  /** Turn on kernel.bpf_stats_enabled during the run and report the XDP program's own time per packet. */
  bpfStats: boolean;
  modes: Mode[];
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    rounds: 3,
    durationSec: 5,
    connections: DEFAULT_CONNECTIONS,
    threads: DEFAULT_THREADS,
    backendWorkers: DEFAULT_BACKEND_WORKERS,
    balancerWorkers: 1,
    xdpAttach: "auto",
    bpfStats: false,
    modes: [...MODES],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--rounds") o.rounds = Math.max(1, Math.min(10, Number(next())));
    else if (a === "--duration") o.durationSec = Math.max(1, Math.min(30, Number(next())));
    else if (a === "--connections") o.connections = Math.max(1, Math.min(1000, Number(next())));
    else if (a === "--threads") o.threads = Math.max(1, Math.min(8, Number(next())));
    else if (a === "--backend-workers") o.backendWorkers = Math.max(1, Math.min(8, Number(next())));
    else if (a === "--balancer-workers") o.balancerWorkers = Math.max(1, Math.min(8, Number(next())));
    else if (a === "--xdp-attach") {
      const v = next();
      if (v !== "auto" && v !== "native" && v !== "generic")
        throw new Error("--xdp-attach: auto, native or generic");
      o.xdpAttach = v;
    } else if (a === "--modes") {
      const list = next().split(",");
      for (const m of list)
        if (!MODES.includes(m as Mode)) throw new Error(`unknown mode ${m}: ${MODES.join(", ")}`);
      o.modes = list as Mode[];
    } else if (a === "--bpf-stats") {
      o.bpfStats = true;
    } else if (a === "--quick") {
      o.rounds = 1;
      o.durationSec = 2;
    } else if (a === "--help" || a === "-h") {
      process.stdout.write(
        `usage: npm run bench:xdp -- [--rounds N (3)] [--duration S (5)] [--connections C (${DEFAULT_CONNECTIONS})] [--threads T (${DEFAULT_THREADS})] [--backend-workers W (${DEFAULT_BACKEND_WORKERS})] [--balancer-workers W (1)] [--xdp-attach auto|native|generic (auto)] [--bpf-stats] [--modes ${MODES.join(",")}] [--quick]\n`,
      );
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  if (![o.rounds, o.durationSec, o.connections, o.threads, o.backendWorkers].every(Number.isFinite))
    throw new Error("options must be numbers");
  return o;
}

// ---------------------------------------------------------------- machine CPU

/** Busy and softirq CPU seconds of the whole machine so far (all cores), from /proc/stat. */
function machineCpu(): { busy: number; softirq: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0];
  // cpu user nice system idle iowait irq softirq steal guest guest_nice
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  const hz = clockTicks();
  return { busy: (user + nice + system + irq + softirq + (steal ?? 0)) / hz, softirq: softirq / hz };
}

/** Per-CPU ticks from /proc/stat: busy (everything but idle and iowait), softirq, total. */
interface CpuTicks {
  busy: number;
  softirq: number;
  total: number;
}

function perCpuTicks(): CpuTicks[] {
  const out: CpuTicks[] = [];
  for (const line of readFileSync("/proc/stat", "utf8").split("\n")) {
    if (!/^cpu\d+ /.test(line)) continue;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    out.push({ busy: total - v[3] - v[4], softirq: v[6], total });
  }
  return out;
}

/** utime+stime ticks of one process (all its threads) and of its busiest thread. */
function processTicks(pid: number): { all: number; threads: number[] } {
  const threads: number[] = [];
  let all = Number.NaN;
  try {
    all = ticksOf(readFileSync(`/proc/${pid}/stat`, "utf8"));
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        threads.push(ticksOf(readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8")));
      } catch {
        // The thread ended.
      }
    }
  } catch {
    // The process ended.
  }
  return { all, threads };
}

function ticksOf(stat: string): number {
  const s = parseProcStat(stat);
  return s ? s.utime + s.stime : Number.NaN;
}

/**
 * Who was busy during the steady part of one wrk run, each as a fraction of one core:
 * wrk (whole process and its busiest thread), each backend's NGINX (master and workers),
 * the balancer's process, and per CPU the busy and softirq shares. This is what says
 * whether the client, the backends or the machine was the limit rather than the balancer.
 */
interface Busy {
  wrk: number;
  wrkThreadMax: number;
  backends: number[];
  balancer: number;
  /** The ksoftirqd threads: softirq work deferred out of the context that raised it. */
  ksoftirqd: number;
  /** Busy CPU not in this bench or the processes above: other work sharing the machine. */
  others: number;
  cpuBusy: number[];
  cpuSoftirq: number[];
}

interface BusySnapshot {
  at: number;
  wrk: { all: number; threads: number[] };
  backends: number[];
  balancer: number;
  ksoftirqd: number;
  /** This bench's own process. */
  self: number;
  cpus: CpuTicks[];
}

function busySnapshot(wrkPid: number, backendPids: number[], balancerPid: number | undefined): BusySnapshot {
  return {
    at: performance.now(),
    wrk: processTicks(wrkPid),
    backends: backendPids.map((p) => treeCpuSeconds(p)),
    balancer: balancerPid ? treeCpuSeconds(balancerPid) : Number.NaN,
    ksoftirqd: ksoftirqdPids().reduce((n, p) => n + processTicks(p).all, 0) / clockTicks(),
    self: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    cpus: perCpuTicks(),
  };
}

function busyBetween(a: BusySnapshot, b: BusySnapshot): Busy {
  const sec = (b.at - a.at) / 1000;
  const hz = clockTicks();
  const threads = b.wrk.threads.map((t, i) => (t - (a.wrk.threads[i] ?? t)) / hz / sec);
  const wrk = (b.wrk.all - a.wrk.all) / hz / sec;
  const backends = b.backends.map((v, i) => (v - a.backends[i]) / sec);
  const balancer = (b.balancer - a.balancer) / sec;
  const ksoftirqd = (b.ksoftirqd - a.ksoftirqd) / sec;
  const ours =
    wrk + backends.reduce((x, y) => x + y, 0) + (Number.isFinite(balancer) ? balancer : 0) + ksoftirqd;
  return {
    wrk,
    wrkThreadMax: threads.length > 0 ? Math.max(...threads) : Number.NaN,
    backends,
    balancer,
    ksoftirqd,
    // Machine busy time less ours and this bench's: what other work took. (Not summed
    // over processes: one that exits between the snapshots takes its time along.)
    others:
      (b.cpus.reduce((n, c, i) => n + c.busy - a.cpus[i].busy, 0) / hz - (b.self - a.self)) / sec - ours,
    cpuBusy: b.cpus.map((c, i) => (c.busy - a.cpus[i].busy) / (c.total - a.cpus[i].total || 1)),
    cpuSoftirq: b.cpus.map((c, i) => (c.softirq - a.cpus[i].softirq) / (c.total - a.cpus[i].total || 1)),
  };
}

/**
 * Cores the lab itself kept busy: wrk, the backends, the balancer's process and the
 * ksoftirqd threads. This kernel accounts CPU time by ticks without IRQ time accounting,
 * so softirq work (XDP, nft, the veths, the TCP stacks) is charged to whichever task it
 * interrupted: mostly the lab's own senders (native XDP on veth runs in wrk's context),
 * else ksoftirqd. Unlike the machine total it leaves out other work sharing the machine.
 */
function labCores(b: Busy): number {
  const sum = (xs: number[]) => xs.reduce((x, y) => x + y, 0);
  return b.wrk + sum(b.backends) + (Number.isFinite(b.balancer) ? b.balancer : 0) + b.ksoftirqd;
}

let ksoftirqdCache: number[] | null = null;

function ksoftirqdPids(): number[] {
  if (ksoftirqdCache) return ksoftirqdCache;
  ksoftirqdCache = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/comm`, "utf8").startsWith("ksoftirqd/")) ksoftirqdCache.push(Number(e));
    } catch {
      // gone
    }
  }
  return ksoftirqdCache;
}

const pct = (f: number) => (Number.isFinite(f) ? `${Math.round(f * 100)}%` : "n/a");

/** One line: "wrk 97% (thread 97%), backends 35/33/34%, balancer 0%, cpu busy 99/98% softirq 52/48%". */
function describeBusy(b: Busy): string {
  return (
    `wrk ${pct(b.wrk)} (busiest thread ${pct(b.wrkThreadMax)}), backends ${b.backends.map(pct).join("/")}, ` +
    `balancer ${pct(b.balancer)}, ksoftirqd ${pct(b.ksoftirqd)}, others ${pct(b.others)}, cpu busy ${b.cpuBusy.map(pct).join("/")}, softirq ${b.cpuSoftirq.map(pct).join("/")}`
  );
}

/** Run count and run time of the XDP programs (needs kernel.bpf_stats_enabled=1). */
async function xdpProgramStats(): Promise<{ runs: number; ns: number }> {
  const { stdout } = await run("bpftool", ["prog", "show", "-j"], { maxBuffer: 16 * 1024 * 1024 });
  let runs = 0;
  let ns = 0;
  for (const p of JSON.parse(stdout) as Array<{ name?: string; run_cnt?: number; run_time_ns?: number }>) {
    if (p.name !== "lodestone_xdp") continue;
    runs += p.run_cnt ?? 0;
    ns += p.run_time_ns ?? 0;
  }
  return { runs, ns };
}

// ---------------------------------------------------------------- the modes

interface Running {
  mode: Mode;
  /** The balancer's own process, when there is one. */
  proc: Managed | null;
  stop(): Promise<void>;
}

function inNs(ns: string, args: string[]): string[] {
  return [`--net=/run/netns/${ns}`, ...args];
}

function backendNginxConf(name: string, dir: string, workers: number): string {
  return `worker_processes ${workers};
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 8192; multi_accept on; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp-body;
  proxy_temp_path ${dir}/tmp-proxy;
  fastcgi_temp_path ${dir}/tmp-fastcgi;
  uwsgi_temp_path ${dir}/tmp-uwsgi;
  scgi_temp_path ${dir}/tmp-scgi;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  server {
    listen ${PORT} reuseport;
    listen [::]:${PORT} reuseport ipv6only=on;
    location / { default_type text/plain; return 200 "${name}\\n"; }
  }
}
`;
}

function lodestoneConf(
  mode: "xdp" | "lodestone-l4",
  pinRoot: string,
  attach: string,
  workers: number,
): string {
  const backends = BACKEND_NAMES.map(
    (b, i) => `  ${b}: { address: ${LAB_V4.backends[i]}, port: ${PORT} }`,
  ).join("\n");
  const members = BACKEND_NAMES.map((b) => `${b}: {}`).join(", ");
  const fe =
    mode === "xdp"
      ? `  vip: { listen: ${VIP}:${PORT}, service: web, dataplane: xdp, xdp: { interface: eth0, mode: dsr } }`
      : `  vip: { listen: ${VIP}:${PORT}, service: web, protocol: tcp }`;
  return `backends:
${backends}
services:
  web:
    algorithm: ${mode === "xdp" ? "maglev" : "round-robin"}
    hash-on: client-address-port
    pools: [{ name: main, backends: { ${members} } }]
frontends:
${fe}
runtime:
  workers: ${workers}
  log-level: warn
  warmup: { max-wait: 1s }
  xdp: { pin-root: ${pinRoot}, attach-mode: ${attach} }
`;
}

function haproxyConf(threads: number): string {
  const servers = BACKEND_NAMES.map((b, i) => `  server ${b} ${LAB_V4.backends[i]}:${PORT}`).join("\n");
  return `global
  maxconn 4000
  nbthread ${threads}
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend vip
  bind ${VIP}:${PORT}
  default_backend web
backend web
  balance roundrobin
${servers}
`;
}

/**
 * nft's own source address towards the backends. Not the balancer's main address: the
 * proxies' connections from that one leave TIME_WAIT sockets on the backends whose TCP
 * timestamps come from another clock offset, and a SYN that reuses such a tuple with the
 * client's timestamps is dropped (PAWS) - an artifact of running the modes one after
 * another, which a dedicated SNAT address (as a real DNAT balancer has) avoids.
 */
const NFT_SNAT = "10.99.0.3";

function nftRules(): string {
  const map = LAB_V4.backends.map((a, i) => `${i} : ${a}`).join(", ");
  return `table ip lslab_bench {
  chain pre {
    type nat hook prerouting priority dstnat;
    ip daddr ${VIP} tcp dport ${PORT} dnat to numgen inc mod ${LAB_V4.backends.length} map { ${map} }
  }
  chain post {
    type nat hook postrouting priority srcnat;
    ip daddr 10.99.0.0/24 oifname "eth0" snat to ${NFT_SNAT}
  }
}
`;
}

async function waitUntil(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean> | boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const loadAtStart = os.loadavg()[0];
  const skip = labSkipReason();
  if (skip) {
    log(`bench:xdp: ${skip}`);
    process.exitCode = 2;
    return;
  }
  const wrk = findExecutable("wrk");
  const nginx = findExecutable("nginx");
  if (!wrk || !nginx) {
    log("bench:xdp: needs wrk and nginx (scripts/setup.sh installs them)");
    process.exitCode = 2;
    return;
  }
  const haproxy = findExecutable("haproxy");
  const nft = findExecutable("nft");
  const unavailable: Partial<Record<Mode, string>> = {};
  if (!haproxy) unavailable.haproxy = "haproxy is not installed";
  if (!nft) unavailable["nft-dnat"] = "nft is not installed (scripts/setup.sh installs nftables)";

  const topo = new LabTopology("bench");
  const stateDir = `/run/${topo.prefix}`;
  const pinRoot = `/sys/fs/bpf/${topo.prefix}`;
  const statsPath = "/proc/sys/kernel/bpf_stats_enabled";
  const statsBefore = opts.bpfStats ? readFileSync(statsPath, "utf8").trim() : null;
  const cleanup = async () => {
    if (statsBefore !== null) writeFileSync(statsPath, statsBefore);
    await stopAll();
    await destroyLabNamespaces(`${topo.prefix}-`);
    try {
      unpinMaps(pinRoot);
    } catch {
      // nothing pinned
    }
    rmSync(pinRoot, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  };
  // Any exit kills what we started; a signal also removes the namespaces first.
  process.on("exit", killAllNow);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(sig, () => {
      log(`bench:xdp: ${sig}, removing everything it made`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  try {
    ensureBpfObject();
    // Kernel-wide, but only counts time: restored at the end (cleanup).
    if (opts.bpfStats) writeFileSync(statsPath, "1");
    log(`bench:xdp: namespaces ${topo.prefix}-*`);
    await topo.create();
    mkdirSync(stateDir, { recursive: true });
    const luaPath = join(stateDir, "report.lua");
    writeFileSync(luaPath, WRK_REPORT_LUA);
    // The proxies own the VIP locally; XDP takes its packets before the stack, nft rewrites
    // them in prerouting. Wide port ranges: `Connection: close` runs open many connections.
    await topo.exec(topo.ns.lb, ["ip", "addr", "add", `${VIP}/32`, "dev", "lo"]);
    await topo.exec(topo.ns.lb, ["ip", "addr", "add", `${NFT_SNAT}/24`, "dev", "eth0"]);
    for (const ns of [topo.ns.lb, topo.ns.client]) {
      await topo.exec(ns, ["sysctl", "-qw", "net.ipv4.ip_local_port_range=1024 65000"]);
      await topo.exec(ns, ["sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1"]);
    }
    await topo.exec(topo.ns.lb, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    for (const k of ["all", "eth0"])
      await topo.exec(topo.ns.lb, ["sysctl", "-qw", `net.ipv4.conf.${k}.send_redirects=0`]);

    const backendPids: number[] = [];
    for (let i = 0; i < BACKEND_NAMES.length; i++) {
      const dir = join(stateDir, BACKEND_NAMES[i]);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "nginx.conf"), backendNginxConf(BACKEND_NAMES[i], dir, opts.backendWorkers));
      const b = await startProcess(
        `nginx-${BACKEND_NAMES[i]}`,
        "nsenter",
        inNs(topo.ns.backends[i], [nginx, "-c", join(dir, "nginx.conf")]),
      );
      backendPids.push(b.pid);
    }

    const probe = async (): Promise<boolean> => {
      try {
        const { stdout } = await run("ip", [
          "netns",
          "exec",
          topo.ns.client,
          "curl",
          "-s",
          "-m",
          "1",
          `http://${VIP}:${PORT}/`,
        ]);
        return /^b\d$/.test(stdout.trim());
      } catch {
        return false;
      }
    };

    let xdpAttachedAs = "n/a";
    const start = async (mode: Mode): Promise<Running> => {
      // Native XDP_TX on veth needs NAPI on the bridge's port (docs/xdp.md, "veth"), and the
      // XDP_PASS program that turns it on makes every packet the balancer sends to the
      // bridge take veth's XDP path (a copy of each cloned TCP skb): only the xdp mode
      // gets it, so the other modes do not pay for what XDP needs.
      // (Removed again after the mode's runs, in the round loop's `finally`.)
      if (mode === "xdp" && opts.xdpAttach === "native")
        await topo.passOnBalancerPeer(DEFAULT_PASS_OBJECT_PATH);
      if (mode === "direct") return { mode, proc: null, stop: async () => {} };
      if (mode === "xdp" || mode === "lodestone-l4") {
        const file = join(stateDir, `${mode}.yaml`);
        writeFileSync(file, lodestoneConf(mode, pinRoot, opts.xdpAttach, opts.balancerWorkers));
        const proc = await startProcess(
          mode,
          "nsenter",
          inNs(topo.ns.lb, [NODE, join(REPO, "src/cli/main.ts"), "run", "-c", file]),
          { cwd: REPO },
        );
        await waitUntil(`${mode} to serve`, 30000, async () => {
          if (!proc.alive()) throw new Error(`${mode} exited: ${proc.output().slice(-1500)}`);
          if (mode === "xdp") {
            try {
              const s = readStatus(pinRoot);
              if (!(s.vips.length === 1 && s.vips[0].backends.filter((b) => b.active).length === 3))
                return false;
            } catch {
              return false;
            }
          }
          return probe();
        });
        if (mode === "xdp") {
          // What `auto` chose (ip link: xdp.mode 1 = driver/native, 2 = skb/generic).
          const link = JSON.parse(await topo.exec(topo.ns.lb, ["ip", "-j", "link", "show", "dev", "eth0"]));
          const m = (link[0] as { xdp?: { mode?: number } }).xdp?.mode;
          xdpAttachedAs = m === 1 ? "native" : m === 2 ? "generic" : `mode ${m}`;
        }
        return { mode, proc, stop: () => stopProcess(proc, 5000) };
      }
      if (mode === "haproxy") {
        const file = join(stateDir, "haproxy.cfg");
        writeFileSync(file, haproxyConf(opts.balancerWorkers));
        const proc = await startProcess(
          "haproxy",
          "nsenter",
          inNs(topo.ns.lb, [haproxy!, "-db", "-f", file]),
        );
        await waitUntil("haproxy to serve", 15000, async () => {
          if (!proc.alive()) throw new Error(`haproxy exited: ${proc.output().slice(-1500)}`);
          return probe();
        });
        return { mode, proc, stop: () => stopProcess(proc, 3000) };
      }
      const file = join(stateDir, "nft.conf");
      writeFileSync(file, nftRules());
      await topo.exec(topo.ns.lb, [nft!, "-f", file]);
      // `Connection: close` at 10k+/s wraps the client's port range within seconds; an old
      // conntrack entry in TIME_WAIT (120 s by default) for a reused tuple would hold the
      // new SYN. A proxy has no such table, so give conntrack the same short memory.
      await topo.exec(topo.ns.lb, ["sysctl", "-qw", "net.netfilter.nf_conntrack_tcp_timeout_time_wait=1"]);
      await waitUntil("nft DNAT to serve", 10000, probe);
      return {
        mode,
        proc: null,
        stop: async () => {
          await topo.exec(topo.ns.lb, [nft!, "delete", "table", "ip", "lslab_bench"]);
        },
      };
    };

    /** One wrk run; `busy` covers its steady part (0.5 s in to 0.5 s before the end). */
    const wrkRun = async (
      url: string,
      connectionClose: boolean,
      balancerPid: number | undefined,
    ): Promise<{ w: WrkResult; busy: Busy | null }> => {
      const args = wrkArgs({
        url,
        threads: opts.threads,
        connections: opts.connections,
        durationSec: opts.durationSec,
        connectionClose,
        luaPath,
      });
      const m = await startProcess("wrk", "nsenter", inNs(topo.ns.client, [wrk, ...args]));
      const timer = setTimeout(() => void stopProcess(m, 1000), (opts.durationSec + 15) * 1000);
      let first: BusySnapshot | null = null;
      let busy: Busy | null = null;
      const windowMs = opts.durationSec * 1000 - 1000;
      const t0 = setTimeout(() => {
        first = busySnapshot(m.pid, backendPids, balancerPid);
      }, 500);
      const t1 = setTimeout(() => {
        if (first) busy = busyBetween(first, busySnapshot(m.pid, backendPids, balancerPid));
      }, 500 + windowMs);
      await m.exited;
      for (const t of [timer, t0, t1]) clearTimeout(t);
      return { w: parseWrkOutput(m.output()), busy: windowMs >= 500 ? busy : null };
    };

    interface Sample {
      rps: number;
      cps: number;
      errors: number;
      lbCpuKeepalive: number;
      lbCpuClose: number;
      machineCpuKeepalive: number;
      machineCpuClose: number;
      softirqKeepalive: number;
      softirqClose: number;
      requestsKeepalive: number;
      requestsClose: number;
      busyKeepalive: Busy | null;
      busyClose: Busy | null;
      /** --bpf-stats, xdp mode: the program's own time per packet and CPU seconds per run. */
      programKeepalive: { nsPerPacket: number; cpuSeconds: number } | null;
      programClose: { nsPerPacket: number; cpuSeconds: number } | null;
    }
    const samples: Record<string, Sample[]> = Object.fromEntries(opts.modes.map((m) => [m, []]));
    const failures: Partial<Record<Mode, string>> = { ...unavailable };
    const active = opts.modes.filter((m) => !unavailable[m]);

    // One discarded warm-up pass so the first measured mode does not pay for cold caches.
    for (let round = 0; round <= opts.rounds; round++) {
      const order = active.map((_, i) => active[(i + round) % active.length]);
      for (const mode of order) {
        if (failures[mode]) continue;
        log(`bench:xdp: ${round === 0 ? "warm-up" : `round ${round}/${opts.rounds}`}: ${mode}`);
        let r: Running | null = null;
        try {
          r = await start(mode);
          const measure = async (close: boolean) => {
            const pid = r?.proc?.pid;
            const lb0 = pid ? treeCpuSeconds(pid) : Number.NaN;
            const progStats = opts.bpfStats && mode === "xdp";
            const p0 = progStats ? await xdpProgramStats() : null;
            const m0 = machineCpu();
            const { w, busy: who } = await wrkRun(
              mode === "direct" ? `http://${LAB_V4.backends[0]}:${PORT}/` : `http://${VIP}:${PORT}/`,
              close,
              pid,
            );
            const m1 = machineCpu();
            const lb1 = pid ? treeCpuSeconds(pid) : Number.NaN;
            const p1 = p0 ? await xdpProgramStats() : null;
            const prog =
              p0 && p1 && p1.runs > p0.runs
                ? { nsPerPacket: (p1.ns - p0.ns) / (p1.runs - p0.runs), cpuSeconds: (p1.ns - p0.ns) / 1e9 }
                : null;
            if (who) log(`bench:xdp:   ${close ? "close" : "keep-alive"}: ${describeBusy(who)}`);
            if (prog)
              log(
                `bench:xdp:   lodestone_xdp: ${prog.nsPerPacket.toFixed(0)} ns per packet, ${prog.cpuSeconds.toFixed(3)} CPU s in the run`,
              );
            return {
              w,
              who,
              prog,
              lb: lb1 - lb0,
              busy: m1.busy - m0.busy,
              softirq: m1.softirq - m0.softirq,
            };
          };
          const ka = await measure(false);
          const cl = await measure(true);
          if (round > 0) {
            samples[mode].push({
              rps: ka.w.requests / ka.w.durationSec,
              cps: cl.w.requests / cl.w.durationSec,
              errors:
                socketErrors(ka.w.errors) +
                socketErrors(cl.w.errors) +
                ka.w.errors.status +
                cl.w.errors.status,
              lbCpuKeepalive: ka.lb,
              lbCpuClose: cl.lb,
              machineCpuKeepalive: ka.busy,
              machineCpuClose: cl.busy,
              softirqKeepalive: ka.softirq,
              softirqClose: cl.softirq,
              requestsKeepalive: ka.w.requests,
              requestsClose: cl.w.requests,
              busyKeepalive: ka.who,
              busyClose: cl.who,
              programKeepalive: ka.prog,
              programClose: cl.prog,
            });
          }
        } catch (err) {
          const lines = (err as Error).message.split("\n");
          failures[mode] = (lines.find((l) => l.includes("ALERT")) ?? lines[0]).trim();
          log(`bench:xdp: ${mode} failed: ${(err as Error).message}`);
        } finally {
          await r?.stop().catch(() => {});
          if (mode === "xdp") await topo.removePassFromBalancerPeer().catch(() => {});
        }
      }
    }

    // ------------------------------------------------------------ report
    const med = (mode: Mode, f: (s: Sample) => number) => median(samples[mode].map(f));
    const base = {
      rps: opts.modes.includes("xdp") ? med("xdp", (s) => s.rps) : Number.NaN,
      cps: opts.modes.includes("xdp") ? med("xdp", (s) => s.cps) : Number.NaN,
    };
    const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");
    const rows: string[] = [];
    rows.push(
      "| mode | requests/s (keep-alive) | vs xdp | connections/s (close) | vs xdp | balancer process CPU s (ka / close) | machine CPU s per 100k req (ka) | per 10k conn (close) | lab CPU s per 100k req (ka) | per 10k conn (close) | softirq share (ka / close) | errors |",
    );
    rows.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    const json: Record<string, unknown> = {};
    for (const mode of opts.modes) {
      if (failures[mode] && samples[mode].length === 0) {
        rows.push(`| ${mode} | n/a: ${failures[mode]} | | | | | | | | | | |`);
        json[mode] = { failed: failures[mode] };
        continue;
      }
      const rps = med(mode, (s) => s.rps);
      const cps = med(mode, (s) => s.cps);
      const lbKa = med(mode, (s) => s.lbCpuKeepalive);
      const lbCl = med(mode, (s) => s.lbCpuClose);
      const perReq = med(mode, (s) => (s.machineCpuKeepalive * 100_000) / s.requestsKeepalive);
      const perConn = med(mode, (s) => (s.machineCpuClose * 10_000) / s.requestsClose);
      const labKa = med(mode, (s) =>
        s.busyKeepalive ? (labCores(s.busyKeepalive) * 100_000) / s.rps : Number.NaN,
      );
      const labCl = med(mode, (s) => (s.busyClose ? (labCores(s.busyClose) * 10_000) / s.cps : Number.NaN));
      const sqKa = med(mode, (s) => s.softirqKeepalive / s.machineCpuKeepalive);
      const sqCl = med(mode, (s) => s.softirqClose / s.machineCpuClose);
      const errors = samples[mode].reduce((n, s) => n + s.errors, 0);
      rows.push(
        `| ${mode} | ${fmt(rps)} | ${formatRatio(ratio(rps, base.rps))} | ${fmt(cps)} | ${formatRatio(ratio(cps, base.cps))} | ` +
          `${fmt(lbKa, 2)} / ${fmt(lbCl, 2)} | ${fmt(perReq, 2)} | ${fmt(perConn, 2)} | ${fmt(labKa, 2)} | ${fmt(labCl, 2)} | ${fmt(sqKa * 100)}% / ${fmt(sqCl * 100)}% | ${errors} |`,
      );
      json[mode] = {
        rps,
        cps,
        lbCpuKeepalive: lbKa,
        lbCpuClose: lbCl,
        machineCpuPer100kReq: perReq,
        machineCpuPer10kConn: perConn,
        labCpuPer100kReq: labKa,
        labCpuPer10kConn: labCl,
        samples: samples[mode],
      };
    }
    // Who was busy (medians of the steady windows): the limit is wherever a core is full.
    const busyRows: string[] = [
      "| mode | run | wrk process | wrk busiest thread | backends (each) | balancer process | ksoftirqd | other work on the machine | CPU busy (each) | softirq (each CPU) |",
      "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ];
    for (const mode of opts.modes) {
      for (const [run, pick] of [
        ["keep-alive", (s: Sample) => s.busyKeepalive],
        ["close", (s: Sample) => s.busyClose],
      ] as const) {
        const list = samples[mode].map(pick).filter((b): b is Busy => b !== null);
        if (list.length === 0) continue;
        const m = (f: (b: Busy) => number) => median(list.map(f));
        const each = (f: (b: Busy) => number[]) =>
          list[0] ? f(list[0]).map((_, i) => pct(m((b) => f(b)[i]))) : [];
        busyRows.push(
          `| ${mode} | ${run} | ${pct(m((b) => b.wrk))} | ${pct(m((b) => b.wrkThreadMax))} | ${each((b) => b.backends).join(" / ")} | ` +
            `${pct(m((b) => b.balancer))} | ${pct(m((b) => b.ksoftirqd))} | ${pct(m((b) => b.others))} | ${each((b) => b.cpuBusy).join(" / ")} | ${each((b) => b.cpuSoftirq).join(" / ")} |`,
        );
      }
    }
    const header = [
      `XDP bench: ${opts.rounds} interleaved rounds (+1 warm-up) x ${opts.modes.length} modes, wrk -t${opts.threads} -c${opts.connections} -d${opts.durationSec}s per run, NGINX backends with ${opts.backendWorkers} worker(s), userspace balancers with ${opts.balancerWorkers} worker(s)/thread(s), xdp attach-mode ${opts.xdpAttach} (attached ${xdpAttachedAs}), medians.`,
      `Machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? "cpu"}, Linux ${os.release()}; load average at start ${loadAtStart.toFixed(1)}, at the end ${os.loadavg()[0].toFixed(1)}.`,
    ];
    const progLines: string[] = [];
    if (opts.bpfStats && samples.xdp?.length) {
      for (const [run, pick, perConn] of [
        ["keep-alive", (s: Sample) => s.programKeepalive, (s: Sample) => s.requestsKeepalive],
        ["close", (s: Sample) => s.programClose, (s: Sample) => s.requestsClose],
      ] as const) {
        const list = samples.xdp.filter((s) => pick(s) !== null);
        if (list.length === 0) continue;
        const ns = median(list.map((s) => pick(s)!.nsPerPacket));
        const perReq = median(list.map((s) => (pick(s)!.cpuSeconds * 1e6) / perConn(s)));
        progLines.push(
          `lodestone_xdp itself (${run}): ${ns.toFixed(0)} ns per packet, ${perReq.toFixed(2)} µs per ${run === "close" ? "connection" : "request"}.`,
        );
      }
    }
    process.stdout.write(
      `${header.join("\n")}\n\n${rows.join("\n")}\n\n${busyRows.join("\n")}\n${progLines.length ? `\n${progLines.join("\n")}\n` : ""}`,
    );
    const resultsDir = join(REPO, "bench/results");
    mkdirSync(resultsDir, { recursive: true });
    const file = join(resultsDir, `xdp-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
    writeFileSync(
      file,
      `${JSON.stringify({ options: opts, xdpAttachedAs, machine: { cpus: os.cpus().length, release: os.release(), loadAtStart }, results: json }, null, 2)}\n`,
    );
    log(`bench:xdp: results in ${file}`);
  } finally {
    await cleanup();
  }
}

await main().catch((err) => {
  log(`bench:xdp: ${(err as Error).message}`);
  process.exitCode = 1;
});
