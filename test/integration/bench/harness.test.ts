// The harness against the real programs: generated configs accepted by NGINX and HAProxy
// themselves, a real contender started, probed, loaded by wrk and stopped, and the
// whole `bench/run.ts` run end to end on one short scenario. Loopback only, seconds long.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import {
  haproxyConf,
  lodestoneYaml,
  nginxProxyConf,
  type ProxySetup,
} from "../../../bench/harness/configs.ts";
import {
  type Backends,
  findExecutable,
  HOST,
  nginxStreamModule,
  REPO_ROOT,
  startBackends,
  startContender,
} from "../../../bench/harness/contenders.ts";
import { probe, runWrk } from "../../../bench/harness/load.ts";
import {
  freePorts,
  startProcess,
  stopAll,
  stopProcess,
  treeCpuSeconds,
  waitForPort,
} from "../../../bench/harness/processes.ts";
import { expectedBodyBytes } from "../../../bench/harness/scenarios.ts";
import { WRK_REPORT_LUA } from "../../../bench/harness/wrk-output.ts";
import { LodestoneError } from "../../../src/errors.ts";

const node = process.execPath;
let work: string;
let backends: Backends;
let luaPath: string;

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "lodestone-bench-test-"));
  spawnSync("chmod", ["755", work]);
  backends = await startBackends(work, 1);
  luaPath = path.join(work, "report.lua");
  writeFileSync(luaPath, WRK_REPORT_LUA);
});

after(async () => {
  await stopAll();
  rmSync(work, { recursive: true, force: true });
});

function groupGone(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return false;
  } catch {
    return true;
  }
}

test("the backends serve the 64-byte body and the 1 MiB file on both ports", async () => {
  for (const port of backends.ports) {
    assert.equal(await probe(`http://${HOST}:${port}/`, expectedBodyBytes("/")), null);
    assert.equal(await probe(`http://${HOST}:${port}/1m`, expectedBodyBytes("/1m")), null);
  }
  const wrong = await probe(`http://${HOST}:${backends.ports[0]}/`, 65);
  assert.match(wrong ?? "", /sent 64 body bytes, expected 65/);
});

test("NGINX and HAProxy accept every generated proxy config (nginx -t, haproxy -c)", async () => {
  const nginx = findExecutable("nginx")!;
  const haproxy = findExecutable("haproxy")!;
  const [listenPort] = await freePorts(1);
  for (const mode of ["http", "tcp"] as const) {
    const s: ProxySetup = { mode, host: HOST, listenPort, backendPorts: backends.ports, workers: 2 };
    const dir = mkdtempSync(path.join(work, `check-${mode}-`));
    const module = mode === "tcp" ? nginxStreamModule(nginx) : null;
    assert.ok(!(module instanceof Error), `NGINX stream module: ${module}`);
    writeFileSync(path.join(dir, "nginx.conf"), nginxProxyConf(s, dir, module ?? undefined));
    const n = spawnSync(
      nginx,
      ["-t", "-p", dir, "-c", path.join(dir, "nginx.conf"), "-e", path.join(dir, "e.log")],
      {
        encoding: "utf8",
      },
    );
    assert.equal(n.status, 0, `nginx -t (${mode}): ${n.stderr}`);
    writeFileSync(path.join(dir, "haproxy.cfg"), haproxyConf(s));
    const h = spawnSync(haproxy, ["-c", "-f", path.join(dir, "haproxy.cfg")], { encoding: "utf8" });
    assert.equal(h.status, 0, `haproxy -c (${mode}): ${h.stdout}${h.stderr}`);
  }
});

test("lodestone accepts the generated config for both modes (lodestone validate)", async () => {
  const [listenPort, adminPort] = await freePorts(2);
  for (const mode of ["http", "tcp"] as const) {
    const file = path.join(work, `lodestone-${mode}.yaml`);
    writeFileSync(
      file,
      lodestoneYaml({ mode, host: HOST, listenPort, backendPorts: backends.ports, workers: 2 }, adminPort),
    );
    const r = spawnSync(path.join(REPO_ROOT, "bin/lodestone"), ["validate", file], {
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(r.status, 0, `lodestone validate (${mode}): ${r.stdout}${r.stderr}`);
  }
});

test("a started contender proxies, is measured by wrk with its CPU time, and is gone after stop", async () => {
  const st = await startContender(
    "haproxy",
    { mode: "http", host: HOST, backendPorts: backends.ports, workers: 1 },
    work,
  );
  const url = `http://${HOST}:${st.port}/`;
  assert.equal(await probe(url, expectedBodyBytes("/")), null);
  const cpuBefore = treeCpuSeconds(st.process.pid);
  const w = await runWrk({
    wrk: findExecutable("wrk")!,
    url,
    threads: 1,
    connections: 4,
    durationSec: 1,
    connectionClose: false,
    luaPath,
  });
  const cpuAfter = treeCpuSeconds(st.process.pid);
  assert.ok(w.requests > 100, `requests: ${w.requests}`);
  assert.equal(w.errors.status, 0);
  assert.ok(w.latencyUs.p99 >= w.latencyUs.p50 && w.latencyUs.p50 > 0);
  // Some CPU, possibly under one clock tick on a fast machine; exactness is tested below.
  assert.ok(Number.isFinite(cpuBefore) && cpuAfter >= cpuBefore, `HAProxy CPU: ${cpuBefore} -> ${cpuAfter}`);
  await stopProcess(st.process);
  assert.equal(st.process.alive(), false);
  assert.ok(groupGone(st.process.pid));
});

test("treeCpuSeconds counts the CPU time of a process's children", async () => {
  // The parent idles; its child burns 300 ms of its own CPU time, then idles too.
  const burn =
    "const t=()=>process.cpuUsage().user+process.cpuUsage().system;while(t()<300000){}setTimeout(()=>{},60000)";
  const parent = `require('child_process').spawn(process.execPath,['-e',${JSON.stringify(burn)}],{stdio:'inherit'});setTimeout(()=>{},60000)`;
  const m = await startProcess("cpu-burner", node, ["-e", parent]);
  const deadline = Date.now() + 20_000;
  let cpu = 0;
  while (Date.now() < deadline) {
    cpu = treeCpuSeconds(m.pid);
    if (cpu >= 0.3) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await stopProcess(m, 500);
  assert.ok(cpu >= 0.3 && cpu < 5, `tree CPU seconds: ${cpu}`);
  assert.ok(Number.isNaN(treeCpuSeconds(m.pid)), "a gone process has no CPU figure");
});

test("a process that exits before listening gives BENCH_NOT_READY with its error line", async () => {
  const [port] = await freePorts(1);
  const m = await startProcess("doomed", node, [
    "-e",
    "console.error('Error: cannot bind, sorry'); process.exit(3)",
  ]);
  await assert.rejects(waitForPort(HOST, port, 5000, m), (err: unknown) => {
    assert.ok(err instanceof LodestoneError);
    assert.equal(err.code, "BENCH_NOT_READY");
    assert.match(err.message, /doomed exited \(code 3\).*cannot bind, sorry/);
    return true;
  });
});

test("a process that never listens gives BENCH_NOT_READY after the timeout, and is stopped", async () => {
  const [port] = await freePorts(1);
  const m = await startProcess("sleeper", node, ["-e", "setTimeout(() => {}, 60000)"]);
  const t0 = Date.now();
  await assert.rejects(waitForPort(HOST, port, 400, m), /did not accept .* within 400 ms/);
  assert.ok(Date.now() - t0 < 3000);
  await stopProcess(m, 500);
  assert.ok(groupGone(m.pid));
});

test("wrk against a closed port is a BENCH_WRK error, not a crash", async () => {
  const [port] = await freePorts(1);
  await assert.rejects(
    runWrk({
      wrk: findExecutable("wrk")!,
      url: `http://${HOST}:${port}/`,
      threads: 1,
      connections: 1,
      durationSec: 1,
      connectionClose: false,
      luaPath,
    }),
    (err: unknown) => err instanceof LodestoneError && err.code === "BENCH_WRK",
  );
});

test("bench/run.ts end to end: one scenario, a table on stdout, JSON on disk, lodestone ok or n/a with a reason", () => {
  const json = path.join(work, "result.json");
  const r = spawnSync(
    node,
    [
      path.join(REPO_ROOT, "bench/run.ts"),
      "--scenario",
      "l4-keepalive",
      "--contender",
      "haproxy,lodestone",
      "--rounds",
      "1",
      "--duration",
      "1",
      "--warmup",
      "1",
      "--json",
      json,
    ],
    { encoding: "utf8", timeout: 90_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^\| l4-keepalive \| haproxy \| [\d,]+ \|/m);
  assert.match(r.stdout, /^\| l4-keepalive \| lodestone \| /m);
  const doc = JSON.parse(readFileSync(json, "utf8"));
  const [res] = doc.results;
  assert.equal(res.scenario.name, "l4-keepalive");
  const byName = Object.fromEntries(res.contenders.map((c: { name: string }) => [c.name, c]));
  assert.equal(byName.haproxy.outcome.status, "ok");
  assert.ok(byName.haproxy.outcome.summary.rps > 0);
  const lo = byName.lodestone.outcome;
  assert.ok(lo.status === "ok" || (lo.status === "n/a" && lo.reason.length > 0), JSON.stringify(lo));
  assert.equal(doc.machine.cpus, os.availableParallelism());
});

test("bench/run.ts rejects a bad flag with exit code 2 and the usage", () => {
  const r = spawnSync(node, [path.join(REPO_ROOT, "bench/run.ts"), "--scenario", "warp-drive"], {
    encoding: "utf8",
    timeout: 30_000,
  });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown scenario "warp-drive"/);
  assert.match(r.stderr, /Usage: npm run bench/);
});
