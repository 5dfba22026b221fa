// Health checking at scale: N backends (default 2,000) probed every second for
// ~20 s; reports the checker process's CPU time as a percentage of one core.
//
//   ./node_modules/.bin/node bench/health-scale.ts [--backends 2000] [--seconds 20]
//       [--type http|tcp] [--timers heap|timeouts] [--batch-ms 10] [--servers 8]
//
// The backends are a handful of tiny node:http servers in a CHILD process (so
// their CPU is not counted), each listed under many backend names: every
// backend is its own target with its own connection per probe, exactly as
// 2,000 real servers would be probed. Loopback only. Goal: < 20% of one core.
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import type { BackendConfig, HealthCheckConfig } from "../src/config/types.ts";
import { HealthChecker } from "../src/health/checker.ts";
import { HeapTimerQueue, TimeoutTimerQueue } from "../src/health/timer-queue.ts";

const { values: opts } = parseArgs({
  options: {
    backends: { type: "string", default: "2000" },
    seconds: { type: "string", default: "20" },
    warmup: { type: "string", default: "3" },
    type: { type: "string", default: "http" },
    timers: { type: "string", default: "heap" },
    "batch-ms": { type: "string", default: "10" },
    servers: { type: "string", default: "8" },
    "serve-only": { type: "boolean", default: false },
  },
});

if (opts["serve-only"]) {
  // Child: start the servers and print their ports; exit when the parent closes stdin.
  const ports: number[] = [];
  for (let i = 0; i < Number(opts.servers); i++) {
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ok");
    });
    server.on("clientError", (_e, s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const a = server.address();
    ports.push(typeof a === "object" && a ? a.port : 0);
  }
  process.stdout.write(`${JSON.stringify(ports)}\n`);
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
} else {
  await main();
}

async function main(): Promise<void> {
  const n = Number(opts.backends);
  const seconds = Number(opts.seconds);
  const warmup = Number(opts.warmup);
  const type = opts.type === "tcp" ? "tcp" : "http";

  const child = spawn(
    process.execPath,
    [new URL(import.meta.url).pathname, "--serve-only", "--servers", opts.servers],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  const ports: number[] = await new Promise((resolve, reject) => {
    let buf = "";
    child.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      if (buf.includes("\n")) resolve(JSON.parse(buf));
    });
    child.once("exit", (code) => reject(new Error(`server process exited (${code})`)));
  });

  const timing = {
    interval: 1000,
    fastInterval: 1000,
    downInterval: 1000,
    timeout: 1000,
    rise: 2,
    fall: 3,
    jitter: 0.1,
  };
  const check: HealthCheckConfig =
    type === "http"
      ? {
          name: "hc",
          type: "http",
          ...timing,
          method: "GET",
          path: "/healthz",
          expectStatus: [{ min: 200, max: 399 }],
          verify: false,
        }
      : { name: "hc", type: "tcp", ...timing };
  const backends: BackendConfig[] = Array.from({ length: n }, (_, i) => ({
    name: `b${String(i).padStart(5, "0")}`,
    address: "127.0.0.1",
    port: ports[i % ports.length]!,
    healthcheck: "hc",
  }));

  const checker = new HealthChecker({
    timers:
      opts.timers === "timeouts"
        ? new TimeoutTimerQueue()
        : new HeapTimerQueue(undefined, Number(opts["batch-ms"])),
  });
  let probes = 0;
  let failures = 0;
  const failReasons = new Map<string, number>();
  let latencies: number[] = [];
  checker.on("probe", (_name, r) => {
    probes++;
    latencies.push(r.latencyMs);
    if (!r.ok) {
      failures++;
      failReasons.set(r.reason, (failReasons.get(r.reason) ?? 0) + 1);
    }
  });
  let downs = 0;
  checker.on("transition", (_name, t) => {
    if (t.to === "down") downs++;
  });

  checker.sync(backends, { hc: check });
  await sleep(warmup * 1000);
  const upAfterWarmup = checker.all().filter((v) => v.state === "up").length;

  probes = 0;
  failures = 0;
  latencies = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  const measuredProbes = probes;
  checker.stop();
  child.stdin.end();

  const cpuMs = (cpu.user + cpu.system) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  const result = {
    backends: n,
    type,
    timers: opts.timers === "timeouts" ? "timeouts" : `heap (batch ${opts["batch-ms"]}ms)`,
    servers: ports.length,
    seconds: Math.round(wallMs / 100) / 10,
    probesPerSecond: Math.round((measuredProbes / wallMs) * 1000),
    failures,
    failReasons: Object.fromEntries(failReasons),
    downTransitions: downs,
    upAfterWarmup,
    latencyMs: { p50: pct(0.5), p99: pct(0.99) },
    cpuPercentOfOneCore: Math.round((cpuMs / wallMs) * 1000) / 10,
    cpuUserMs: Math.round(cpu.user / 1000),
    cpuSystemMs: Math.round(cpu.system / 1000),
    cpuMicrosecondsPerProbe: Math.round(((cpu.user + cpu.system) / Math.max(1, measuredProbes)) * 10) / 10,
    rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
  };
  console.log(JSON.stringify(result, null, 2));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
