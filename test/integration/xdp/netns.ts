// Test topology for the XDP dataplane: network namespaces joined by veth pairs
// on a bridge, all created and removed by the test. Nothing is configured
// outside the namespaces: veths are created directly inside them.
//
//   <p>-cl (client)   eth0 10.77.0.10  fd00:77::10   routes the VIP ranges via lb
//   <p>-lb (balancer) eth0 10.77.0.2   fd00:77::2    XDP attached here
//   <p>-b1..b3        eth0 10.77.0.11+ fd00:77::11+  DSR VIPs on lo
//   <p>-sw            br0 joining every peer
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, rmdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, "../../..");
export const NODE = join(REPO, "node_modules/.bin/node");

/** Why the XDP namespace tests cannot run here, or null when they can. */
export function skipReason(): string | null {
  if (process.platform !== "linux") return "XDP needs Linux";
  if (process.getuid?.() !== 0) return "XDP tests need root (network namespaces, bpf())";
  for (const tool of ["clang", "bpftool", "ip", "nsenter"]) {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "pipe" });
    } catch {
      return `${tool} is not installed (scripts/setup.sh installs it)`;
    }
  }
  if (
    !existsSync("/usr/lib/x86_64-linux-gnu/libbpf.so.1") &&
    !existsSync("/usr/lib/aarch64-linux-gnu/libbpf.so.1")
  ) {
    return "libbpf.so.1 is not installed (Debian libbpf1)";
  }
  return null;
}

export async function sh(cmd: string, args: string[]): Promise<string> {
  try {
    return (await run(cmd, args)).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")}: ${e.stderr?.trim() || e.message}`);
  }
}

function nsExec(ns: string, args: string[]): Promise<string> {
  return sh("ip", ["netns", "exec", ns, ...args]);
}

export const V4 = {
  lb: "10.77.0.2",
  client: "10.77.0.10",
  backends: ["10.77.0.11", "10.77.0.12", "10.77.0.13"],
  vipNet: "10.77.1.0/24",
  dsrVip: "10.77.1.1",
  natVip: "10.77.1.2",
};
export const V6 = {
  lb: "fd00:77::2",
  client: "fd00:77::10",
  backends: ["fd00:77::11", "fd00:77::12", "fd00:77::13"],
  vipNet: "fd00:77:1::/64",
  dsrVip: "fd00:77:1::1",
  natVip: "fd00:77:1::2",
};

export class Topology {
  readonly prefix: string;
  readonly ns: { sw: string; client: string; lb: string; backends: string[] };
  readonly bpffs: string;
  #created: string[] = [];
  #mounted = false;

  constructor(tag: string) {
    this.prefix = `ls-xdp-${process.pid}-${tag}`;
    this.ns = {
      sw: `${this.prefix}-sw`,
      client: `${this.prefix}-cl`,
      lb: `${this.prefix}-lb`,
      backends: [1, 2, 3].map((i) => `${this.prefix}-b${i}`),
    };
    this.bpffs = `/tmp/${this.prefix}-bpffs`;
  }

  async #addNs(name: string): Promise<void> {
    await sh("ip", ["netns", "add", name]);
    this.#created.push(name);
    await nsExec(name, ["ip", "link", "set", "lo", "up"]);
    // No duplicate address detection: addresses are usable at once.
    for (const k of ["all", "default"]) {
      await nsExec(name, ["sysctl", "-qw", `net.ipv6.conf.${k}.accept_dad=0`]);
    }
  }

  /** A veth pair: eth0 inside `ns`, `peer` on the bridge in the switch namespace. */
  async #link(ns: string, peer: string, v4: string, v6: string): Promise<void> {
    await sh("ip", [
      "link",
      "add",
      "eth0",
      "netns",
      ns,
      "type",
      "veth",
      "peer",
      "name",
      peer,
      "netns",
      this.ns.sw,
    ]);
    await nsExec(this.ns.sw, ["ip", "link", "set", peer, "master", "br0", "up"]);
    await nsExec(ns, ["ip", "addr", "add", `${v4}/24`, "dev", "eth0"]);
    await nsExec(ns, ["ip", "-6", "addr", "add", `${v6}/64`, "dev", "eth0", "nodad"]);
    await nsExec(ns, ["ip", "link", "set", "eth0", "up"]);
  }

  async create(): Promise<void> {
    const all = [this.ns.sw, this.ns.client, this.ns.lb, ...this.ns.backends];
    for (const n of all) await this.#addNs(n);
    await nsExec(this.ns.sw, ["ip", "link", "add", "br0", "type", "bridge"]);
    await nsExec(this.ns.sw, ["ip", "link", "set", "br0", "up"]);
    await this.#link(this.ns.client, "pcl", V4.client, V6.client);
    await this.#link(this.ns.lb, "plb", V4.lb, V6.lb);
    for (let i = 0; i < 3; i++) {
      const b = this.ns.backends[i];
      await this.#link(b, `pb${i + 1}`, V4.backends[i], V6.backends[i]);
      // DSR: backends answer for the VIP, which sits on their loopback.
      await nsExec(b, ["ip", "addr", "add", `${V4.dsrVip}/32`, "dev", "lo"]);
      await nsExec(b, ["ip", "-6", "addr", "add", `${V6.dsrVip}/128`, "dev", "lo"]);
    }
    // Complete checksums on every packet our processes send (see txcsum-off.ts).
    for (const n of [this.ns.client, this.ns.lb, ...this.ns.backends]) {
      await sh("nsenter", [`--net=/run/netns/${n}`, NODE, join(here, "txcsum-off.ts"), "eth0"]);
    }
    // The client reaches the VIPs through the balancer, as behind a router.
    await nsExec(this.ns.client, ["ip", "route", "add", V4.vipNet, "via", V4.lb]);
    await nsExec(this.ns.client, ["ip", "-6", "route", "add", V6.vipNet, "via", V6.lb]);
    // A private bpffs for this test's pinned maps, visible to every process we start.
    mkdirSync(this.bpffs, { recursive: true });
    await sh("mount", ["-t", "bpf", "bpf", this.bpffs]);
    this.#mounted = true;
  }

  /**
   * Native XDP on the balancer's veth sends XDP_TX frames into its peer, which veth
   * accepts only with NAPI enabled there: an XDP program on the peer turns it on.
   */
  async passOnBalancerPeer(passObject: string): Promise<void> {
    await nsExec(this.ns.sw, ["ip", "link", "set", "dev", "plb", "xdpdrv", "obj", passObject, "sec", "xdp"]);
  }

  async destroy(): Promise<void> {
    for (const n of this.#created.reverse()) {
      await sh("ip", ["netns", "del", n]).catch(() => {});
    }
    this.#created = [];
    if (this.#mounted) {
      await sh("umount", [this.bpffs]).catch(() => {});
      this.#mounted = false;
    }
    if (existsSync(this.bpffs)) {
      try {
        rmdirSync(this.bpffs);
      } catch {
        // still mounted or not empty: leave it rather than fail the cleanup
      }
    }
  }

  exec(ns: string, args: string[]): Promise<string> {
    return nsExec(ns, args);
  }
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/**
 * A helper process inside a namespace (nsenter --net keeps our mount namespace,
 * so the test's bpffs is visible), spoken to in JSON lines: {id, ...request} in,
 * {id, ok, result | error} out.
 */
export class Agent {
  readonly child: ChildProcess;
  readonly stderr: string[] = [];
  #next = 1;
  #pending = new Map<number, Pending>();
  #ready: Promise<void>;

  constructor(ns: string, script: string, args: string[] = []) {
    this.child = spawn("nsenter", [`--net=/run/netns/${ns}`, NODE, join(here, script), ...args], {
      stdio: ["pipe", "pipe", "pipe"],
      cwd: REPO,
    });
    this.child.on("error", () => {});
    this.child.stdin!.on("error", () => {});
    this.child.stderr!.on("data", (d: Buffer) => this.stderr.push(d.toString()));
    let markReady: () => void;
    let failReady: (e: Error) => void;
    this.#ready = new Promise((res, rej) => {
      markReady = res;
      failReady = rej;
    });
    const rl = createInterface({ input: this.child.stdout! });
    rl.on("line", (line) => {
      let msg: { id?: number; ready?: boolean; ok?: boolean; result?: unknown; error?: string };
      try {
        msg = JSON.parse(line);
      } catch {
        return;
      }
      if (msg.ready) return markReady();
      const p = msg.id !== undefined ? this.#pending.get(msg.id) : undefined;
      if (!p) return;
      this.#pending.delete(msg.id!);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(msg.error));
    });
    this.child.on("exit", (code) => {
      const err = new Error(`${script} exited (${code}): ${this.stderr.join("").slice(-2000)}`);
      failReady(err);
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
    });
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  call<T = unknown>(request: Record<string, unknown>, timeoutMs = 60000): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((res, rej) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        rej(new Error(`agent request ${JSON.stringify(request).slice(0, 200)} timed out`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          res(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          rej(e);
        },
      });
      this.child.stdin!.write(`${JSON.stringify({ id, ...request })}\n`);
    });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((res) => this.child.once("exit", () => res()));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(timer);
  }
}

/** Serve JSON-lines requests on stdin/stdout (the agent side of Agent). */
export function serveAgent(
  handler: (req: Record<string, unknown>) => Promise<unknown> | unknown,
  onClose: () => Promise<void> | void = () => {},
): void {
  const rl = createInterface({ input: process.stdin });
  rl.on("line", async (line) => {
    let req: Record<string, unknown>;
    try {
      req = JSON.parse(line);
    } catch {
      return;
    }
    try {
      const result = await handler(req);
      process.stdout.write(`${JSON.stringify({ id: req.id, ok: true, result })}\n`);
    } catch (err) {
      process.stdout.write(
        `${JSON.stringify({ id: req.id, ok: false, error: (err as Error).stack ?? String(err) })}\n`,
      );
    }
  });
  // stdin closed: the test is done with us (or died). Clean up and go.
  rl.on("close", async () => {
    try {
      await onClose();
    } finally {
      process.exit(0);
    }
  });
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
}
