// Starting the backends and each contender for a scenario. Everything runs from a
// private temp directory with its own config, pid and log files; nothing touches the
// system's NGINX or HAProxy configuration.
import { spawnSync } from "node:child_process";
import { accessSync, constants, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { LodestoneError } from "../../src/errors.ts";
import { backendNginxConf, haproxyConf, lodestoneYaml, nginxProxyConf, type ProxySetup } from "./configs.ts";
import type { ContenderName } from "./options.ts";
import { freePorts, type Managed, startProcess, stopProcess, waitForPort } from "./processes.ts";
import { LARGE_BODY_BYTES } from "./scenarios.ts";

export const REPO_ROOT = path.resolve(import.meta.dirname, "../..");
export const HOST = "127.0.0.1";

/** Absolute path of an executable on PATH or in the sbin directories Debian puts daemons in. */
export function findExecutable(name: string): string | null {
  const dirs = [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/sbin", "/usr/local/sbin"];
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * What the load-balancer-side of NGINX needs for L4: null when stream{} is compiled in,
 * the module path when it is dynamic and installed, or an Error saying what is missing.
 */
export function nginxStreamModule(nginx: string): string | null | Error {
  // nginx -V prints its build options on stderr.
  const r = spawnSync(nginx, ["-V"], { encoding: "utf8", timeout: 5000 });
  const v = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  if (r.error || v === "") return new Error(`cannot run ${nginx} -V`);
  if (/--with-stream(\s|$)/.test(v)) return null;
  if (!/--with-stream=dynamic/.test(v)) return new Error("this nginx has no stream module");
  for (const p of [
    "/usr/lib/nginx/modules/ngx_stream_module.so",
    "/usr/share/nginx/modules/ngx_stream_module.so",
  ]) {
    try {
      accessSync(p, constants.R_OK);
      return p;
    } catch {
      // not here
    }
  }
  return new Error("nginx stream module not installed (Debian: apt-get install libnginx-mod-stream)");
}

export interface Backends {
  ports: number[];
  process: Managed;
}

/** One NGINX with two server blocks on two free loopback ports; writes the 1 MiB file. */
export async function startBackends(workDir: string, workers: number): Promise<Backends> {
  const nginx = findExecutable("nginx");
  if (!nginx) throw new LodestoneError("BENCH_MISSING", "nginx not found (run scripts/setup.sh)");
  const prefix = path.join(workDir, "backends");
  const docRoot = path.join(prefix, "www");
  mkdirSync(docRoot, { recursive: true, mode: 0o755 });
  writeFileSync(path.join(docRoot, "1m"), Buffer.alloc(LARGE_BODY_BYTES, "x"), { mode: 0o644 });
  const ports = await freePorts(2, HOST);
  const conf = path.join(prefix, "nginx.conf");
  writeFileSync(conf, backendNginxConf({ host: HOST, ports, docRoot, prefix, workers }));
  const proc = await startProcess("backend nginx", nginx, nginxArgs(prefix, conf));
  try {
    for (const p of ports) await waitForPort(HOST, p, 10_000, proc);
  } catch (err) {
    await stopProcess(proc);
    throw err;
  }
  return { ports, process: proc };
}

function nginxArgs(prefix: string, conf: string): string[] {
  // -e: the error log before the config is read (else Debian's /var/log/nginx/error.log).
  return ["-p", prefix, "-c", conf, "-e", path.join(prefix, "error.log")];
}

export interface Started {
  process: Managed;
  port: number;
}

/**
 * Starts one contender in front of the backends and waits until its port accepts.
 * Throws LodestoneError (BENCH_MISSING, BENCH_SPAWN, BENCH_NOT_READY) with a reason
 * the report can print as n/a.
 */
export async function startContender(
  name: ContenderName,
  setupBase: Omit<ProxySetup, "listenPort">,
  workDir: string,
  readyTimeoutMs = 15_000,
): Promise<Started> {
  const [listenPort, adminPort] = await freePorts(2, HOST);
  const setup: ProxySetup = { ...setupBase, listenPort };
  const dir = path.join(workDir, `${name}-${setup.mode}-${listenPort}`);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  let proc: Managed;
  if (name === "haproxy") {
    const haproxy = findExecutable("haproxy");
    if (!haproxy) throw new LodestoneError("BENCH_MISSING", "haproxy not found (run scripts/setup.sh)");
    const conf = path.join(dir, "haproxy.cfg");
    writeFileSync(conf, haproxyConf(setup));
    proc = await startProcess("haproxy", haproxy, ["-f", conf, "-db"], { cwd: dir });
  } else if (name === "nginx") {
    const nginx = findExecutable("nginx");
    if (!nginx) throw new LodestoneError("BENCH_MISSING", "nginx not found (run scripts/setup.sh)");
    let module: string | undefined;
    if (setup.mode === "tcp") {
      const m = nginxStreamModule(nginx);
      if (m instanceof Error) throw new LodestoneError("BENCH_MISSING", m.message);
      module = m ?? undefined;
    }
    const conf = path.join(dir, "nginx.conf");
    writeFileSync(conf, nginxProxyConf(setup, dir, module));
    proc = await startProcess("nginx", nginx, nginxArgs(dir, conf));
  } else {
    const conf = path.join(dir, "lodestone.yaml");
    writeFileSync(conf, lodestoneYaml(setup, adminPort));
    proc = await startProcess("lodestone", path.join(REPO_ROOT, "bin/lodestone"), ["run", "-c", conf], {
      cwd: dir,
    });
  }
  try {
    await waitForPort(HOST, listenPort, readyTimeoutMs, proc);
  } catch (err) {
    await stopProcess(proc);
    throw err;
  }
  return { process: proc, port: listenPort };
}
