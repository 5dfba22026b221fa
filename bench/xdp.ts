// `npm run bench:xdp`: the XDP fast path against the other ways to put an L4 VIP in front
// of three backends, in the lab's network namespaces (src/lab/topology.ts):
//
//   xdp           lodestone's XDP program, DSR (backends answer the client directly)
//   lodestone-l4  lodestone's userspace TCP proxy (dataplane proxy, protocol tcp, 1 process)
//   haproxy       HAProxy `mode tcp`, 1 thread
//   nft-dnat      the kernel's own NAT: nftables DNAT (numgen round-robin) + masquerade
//
// Backends: NGINX (1 worker) in each backend namespace; load: wrk in the client namespace,
// once with keep-alive (requests/s) and once with `Connection: close` (connections/s: one
// request per connection). Interleaved rounds (every mode once per round, order rotated),
// medians, ratios against xdp. CPU: seconds of the balancer's own processes (lodestone,
// HAProxy; XDP and nft run in softirq context, which no process is charged for), and the
// whole machine's busy CPU seconds from /proc/stat over the run (all cores, including wrk
// and the backends: the only fair meter for the kernel paths). Bounded: rounds x modes x
// 2 runs of --duration seconds. Everything is torn down at the end, on error and on Ctrl-C.
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
import { formatRatio, median, ratio } from "./harness/stats.ts";
import { parseWrkOutput, socketErrors, WRK_REPORT_LUA, type WrkResult } from "./harness/wrk-output.ts";

const run = promisify(execFile);
const log = (line: string) => process.stderr.write(`${line}\n`);

const MODES = ["xdp", "lodestone-l4", "haproxy", "nft-dnat"] as const;
type Mode = (typeof MODES)[number];
const PORT = 80;
const VIP = LAB_V4.vip;

interface Options {
  rounds: number;
  durationSec: number;
  connections: number;
  modes: Mode[];
}

function parseArgs(argv: string[]): Options {
  const o: Options = { rounds: 3, durationSec: 5, connections: 50, modes: [...MODES] };
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
    else if (a === "--modes") {
      const list = next().split(",");
      for (const m of list)
        if (!MODES.includes(m as Mode)) throw new Error(`unknown mode ${m}: ${MODES.join(", ")}`);
      o.modes = list as Mode[];
    } else if (a === "--quick") {
      o.rounds = 1;
      o.durationSec = 2;
    } else if (a === "--help" || a === "-h") {
      process.stdout.write(
        "usage: npm run bench:xdp -- [--rounds N (3)] [--duration S (5)] [--connections C (50)] [--modes xdp,lodestone-l4,haproxy,nft-dnat] [--quick]\n",
      );
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  if (![o.rounds, o.durationSec, o.connections].every(Number.isFinite))
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

function backendNginxConf(name: string, dir: string): string {
  return `worker_processes 1;
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

function lodestoneConf(mode: "xdp" | "lodestone-l4", pinRoot: string): string {
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
  workers: 1
  log-level: warn
  warmup: { max-wait: 1s }
  xdp: { pin-root: ${pinRoot} }
`;
}

function haproxyConf(): string {
  const servers = BACKEND_NAMES.map((b, i) => `  server ${b} ${LAB_V4.backends[i]}:${PORT}`).join("\n");
  return `global
  maxconn 4000
  nbthread 1
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
  const cleanup = async () => {
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
    log(`bench:xdp: namespaces ${topo.prefix}-*`);
    await topo.create();
    mkdirSync(stateDir, { recursive: true });
    const luaPath = join(stateDir, "report.lua");
    writeFileSync(luaPath, WRK_REPORT_LUA);
    await topo.passOnBalancerPeer(DEFAULT_PASS_OBJECT_PATH);
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

    for (let i = 0; i < BACKEND_NAMES.length; i++) {
      const dir = join(stateDir, BACKEND_NAMES[i]);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "nginx.conf"), backendNginxConf(BACKEND_NAMES[i], dir));
      await startProcess(
        `nginx-${BACKEND_NAMES[i]}`,
        "nsenter",
        inNs(topo.ns.backends[i], [nginx, "-c", join(dir, "nginx.conf")]),
      );
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

    const start = async (mode: Mode): Promise<Running> => {
      if (mode === "xdp" || mode === "lodestone-l4") {
        const file = join(stateDir, `${mode}.yaml`);
        writeFileSync(file, lodestoneConf(mode, pinRoot));
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
        return { mode, proc, stop: () => stopProcess(proc, 5000) };
      }
      if (mode === "haproxy") {
        const file = join(stateDir, "haproxy.cfg");
        writeFileSync(file, haproxyConf());
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

    const wrkRun = async (connectionClose: boolean): Promise<WrkResult> => {
      const args = wrkArgs({
        url: `http://${VIP}:${PORT}/`,
        threads: 1,
        connections: opts.connections,
        durationSec: opts.durationSec,
        connectionClose,
        luaPath,
      });
      const m = await startProcess("wrk", "nsenter", inNs(topo.ns.client, [wrk, ...args]));
      const timer = setTimeout(() => void stopProcess(m, 1000), (opts.durationSec + 15) * 1000);
      await m.exited;
      clearTimeout(timer);
      return parseWrkOutput(m.output());
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
            const m0 = machineCpu();
            const w = await wrkRun(close);
            const m1 = machineCpu();
            const lb1 = pid ? treeCpuSeconds(pid) : Number.NaN;
            return { w, lb: lb1 - lb0, busy: m1.busy - m0.busy, softirq: m1.softirq - m0.softirq };
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
            });
          }
        } catch (err) {
          const lines = (err as Error).message.split("\n");
          failures[mode] = (lines.find((l) => l.includes("ALERT")) ?? lines[0]).trim();
          log(`bench:xdp: ${mode} failed: ${(err as Error).message}`);
        } finally {
          await r?.stop().catch(() => {});
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
      "| mode | requests/s (keep-alive) | vs xdp | connections/s (close) | vs xdp | balancer process CPU s (ka / close) | machine CPU s per 100k req (ka) | per 10k conn (close) | softirq share (ka / close) | errors |",
    );
    rows.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    const json: Record<string, unknown> = {};
    for (const mode of opts.modes) {
      if (failures[mode] && samples[mode].length === 0) {
        rows.push(`| ${mode} | n/a: ${failures[mode]} | | | | | | | | |`);
        json[mode] = { failed: failures[mode] };
        continue;
      }
      const rps = med(mode, (s) => s.rps);
      const cps = med(mode, (s) => s.cps);
      const lbKa = med(mode, (s) => s.lbCpuKeepalive);
      const lbCl = med(mode, (s) => s.lbCpuClose);
      const perReq = med(mode, (s) => (s.machineCpuKeepalive * 100_000) / s.requestsKeepalive);
      const perConn = med(mode, (s) => (s.machineCpuClose * 10_000) / s.requestsClose);
      const sqKa = med(mode, (s) => s.softirqKeepalive / s.machineCpuKeepalive);
      const sqCl = med(mode, (s) => s.softirqClose / s.machineCpuClose);
      const errors = samples[mode].reduce((n, s) => n + s.errors, 0);
      rows.push(
        `| ${mode} | ${fmt(rps)} | ${formatRatio(ratio(rps, base.rps))} | ${fmt(cps)} | ${formatRatio(ratio(cps, base.cps))} | ` +
          `${fmt(lbKa, 2)} / ${fmt(lbCl, 2)} | ${fmt(perReq, 2)} | ${fmt(perConn, 2)} | ${fmt(sqKa * 100)}% / ${fmt(sqCl * 100)}% | ${errors} |`,
      );
      json[mode] = {
        rps,
        cps,
        lbCpuKeepalive: lbKa,
        lbCpuClose: lbCl,
        machineCpuPer100kReq: perReq,
        machineCpuPer10kConn: perConn,
        samples: samples[mode],
      };
    }
    const header = [
      `XDP bench: ${opts.rounds} interleaved rounds (+1 warm-up) x ${opts.modes.length} modes, wrk -t1 -c${opts.connections} -d${opts.durationSec}s per run, medians.`,
      `Machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? "cpu"}, Linux ${os.release()}; load average at start ${os.loadavg()[0].toFixed(1)}.`,
    ];
    process.stdout.write(`${header.join("\n")}\n\n${rows.join("\n")}\n`);
    const resultsDir = join(REPO, "bench/results");
    mkdirSync(resultsDir, { recursive: true });
    const file = join(resultsDir, `xdp-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
    writeFileSync(
      file,
      `${JSON.stringify({ options: opts, machine: { cpus: os.cpus().length, release: os.release() }, results: json }, null, 2)}\n`,
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
