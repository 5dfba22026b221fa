// Maglev and balancer micro-benchmark (a script, not a test):
//   ./node_modules/.bin/node bench/maglev.ts [--json]
// Prints the median table build time for N = 10, 100, 1000 backends at
// M = 65537 and 655373, and pick() rates for every algorithm. Every loop is
// bounded in count; nothing here touches the network.
import { loadavg } from "node:os";
import { buildMaglevTable, createBalancer } from "../src/balance/index.ts";
import type { FlowKey } from "../src/balance/types.ts";
import type { Algorithm } from "../src/config/types.ts";

const RUNS = 15;
const WARMUP = 3;

function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

type Weights = "equal" | "mixed" | "skewed";

/** equal: all 100; mixed: 1..100 spread; skewed: one of 100, the rest 1 (the costliest shape). */
function backends(n: number, weights: Weights) {
  return Array.from({ length: n }, (_, i) => ({
    name: `backend-${i}`,
    weight: weights === "equal" ? 100 : weights === "mixed" ? 1 + ((i * 37) % 100) : i === 0 ? 100 : 1,
  }));
}

interface BuildRow {
  backends: number;
  size: number;
  weights: Weights;
  /** Wall-clock median. */
  medianMs: number;
  minMs: number;
  /** CPU-time median (user + system): steadier than wall time on a busy machine. */
  cpuMedianMs: number;
}

function benchBuild(n: number, size: number, weights: Weights): BuildRow {
  const list = backends(n, weights);
  const times: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < WARMUP + RUNS; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    buildMaglevTable(list, size, 0);
    const dt = performance.now() - t0;
    const dc = process.cpuUsage(c0);
    if (r >= WARMUP) {
      times.push(dt);
      cpu.push((dc.user + dc.system) / 1000);
    }
  }
  return {
    backends: n,
    size,
    weights,
    medianMs: median(times),
    minMs: Math.min(...times),
    cpuMedianMs: median(cpu),
  };
}

/** Flow keys from many clients: a mix of IPv4, IPv4-mapped IPv6 and IPv6, as sockets report them. */
function flows(count: number): FlowKey[] {
  return Array.from({ length: count }, (_, i) => {
    const v4 = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const address =
      i % 3 === 0 ? v4 : i % 3 === 1 ? `::ffff:${v4}` : `2001:db8::${(i & 0xffff).toString(16)}`;
    return { address, port: 1024 + (i % 60000) };
  });
}

interface PickRow {
  algorithm: Algorithm;
  hashOn: string;
  picksPerSecond: number;
}

function benchPicks(algorithm: Algorithm, hashOn: "client-address" | "client-address-port"): PickRow {
  const list = backends(100, "mixed");
  const inflight = new Int32Array(list.length);
  const balancer = createBalancer(list, { algorithm, hashOn, inflight: (i) => inflight[i] });
  const keys = flows(4096);
  const picks = 2_000_000;
  let sink = 0;
  for (let i = 0; i < 100_000; i++) sink += balancer.pick(keys[i & 4095]); // warm up the JIT
  const t0 = performance.now();
  for (let i = 0; i < picks; i++) sink += balancer.pick(keys[i & 4095]);
  const seconds = (performance.now() - t0) / 1000;
  if (sink === -1) console.log(""); // keep `sink` alive
  return { algorithm, hashOn, picksPerSecond: Math.round(picks / seconds) };
}

const build: BuildRow[] = [];
for (const size of [65537, 655373]) {
  for (const n of [10, 100, 1000]) build.push(benchBuild(n, size, "equal"));
  build.push(benchBuild(100, size, "mixed"));
  build.push(benchBuild(1000, size, "skewed"));
}
const picks: PickRow[] = [
  benchPicks("maglev", "client-address"),
  benchPicks("maglev", "client-address-port"),
  benchPicks("source-hash", "client-address"),
  benchPicks("round-robin", "client-address"),
  benchPicks("weighted-round-robin", "client-address"),
  benchPicks("least-connections", "client-address"),
  benchPicks("p2c", "client-address"),
  benchPicks("random", "client-address"),
];

if (process.argv.includes("--json")) {
  console.log(JSON.stringify({ node: process.version, loadavg: loadavg(), build, picks }, null, 2));
} else {
  const load = loadavg().map((l) => l.toFixed(2));
  console.log(
    `node ${process.version}, median of ${RUNS} runs after ${WARMUP} warm-up runs, load average ${load}`,
  );
  console.log("\nMaglev table build");
  console.log("backends       size  weights   median ms   min ms   cpu median ms");
  for (const r of build) {
    console.log(
      `${String(r.backends).padStart(8)} ${String(r.size).padStart(10)}  ${r.weights.padEnd(7)} ${r.medianMs.toFixed(2).padStart(10)} ${r.minMs.toFixed(2).padStart(8)} ${r.cpuMedianMs.toFixed(2).padStart(15)}`,
    );
  }
  console.log("\npick() over 100 weighted backends, 4096 distinct clients (IPv4, mapped, IPv6)");
  console.log("algorithm              hash on               picks/s");
  for (const r of picks) {
    const hashOn = r.algorithm === "maglev" || r.algorithm === "source-hash" ? r.hashOn : "-";
    console.log(
      `${r.algorithm.padEnd(22)} ${hashOn.padEnd(20)} ${r.picksPerSecond.toLocaleString("en-US").padStart(12)}`,
    );
  }
}
