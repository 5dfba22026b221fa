// Maglev and balancer micro-benchmark (a script, not a test):
//   ./node_modules/.bin/node bench/maglev.ts [--json]
// Prints the median table build time for N = 10, 100, 1000 backends at
// M = 65537 and 655373, and pick() rates for every algorithm. Every loop is
// bounded in count; nothing here touches the network.
import { buildMaglevTable, createBalancer } from "../src/balance/index.ts";
import type { FlowKey } from "../src/balance/types.ts";
import type { Algorithm } from "../src/config/types.ts";

const RUNS = 15;
const WARMUP = 3;

function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

function backends(n: number, weighted: boolean) {
  return Array.from({ length: n }, (_, i) => ({
    name: `backend-${i}`,
    weight: weighted ? 1 + ((i * 37) % 100) : 100,
  }));
}

interface BuildRow {
  backends: number;
  size: number;
  weights: "equal" | "mixed";
  medianMs: number;
  minMs: number;
}

function benchBuild(n: number, size: number, weighted: boolean): BuildRow {
  const list = backends(n, weighted);
  const times: number[] = [];
  for (let r = 0; r < WARMUP + RUNS; r++) {
    const t0 = performance.now();
    buildMaglevTable(list, size, 0);
    const dt = performance.now() - t0;
    if (r >= WARMUP) times.push(dt);
  }
  return {
    backends: n,
    size,
    weights: weighted ? "mixed" : "equal",
    medianMs: median(times),
    minMs: Math.min(...times),
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
  const list = backends(100, true);
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
  for (const n of [10, 100, 1000]) build.push(benchBuild(n, size, false));
  build.push(benchBuild(100, size, true));
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
  console.log(JSON.stringify({ node: process.version, build, picks }, null, 2));
} else {
  console.log(`node ${process.version}, median of ${RUNS} runs after ${WARMUP} warm-up runs`);
  console.log("\nMaglev table build");
  console.log("backends       size  weights   median ms   min ms");
  for (const r of build) {
    console.log(
      `${String(r.backends).padStart(8)} ${String(r.size).padStart(10)}  ${r.weights.padEnd(7)} ${r.medianMs.toFixed(2).padStart(10)} ${r.minMs.toFixed(2).padStart(8)}`,
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
