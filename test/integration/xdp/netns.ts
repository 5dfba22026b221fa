// Test topology for the XDP dataplane: the lab network (src/lab/topology.ts) under a
// prefix of its own per test process, plus a private bpffs for the test's pinned maps,
// and the agents the tests drive inside the namespaces.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, rmdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { LAB_V4, LAB_V6, LabTopology, NODE, REPO } from "../../../src/lab/topology.ts";

export { LAB_V4 as V4, LAB_V6 as V6 } from "../../../src/lab/topology.ts";

const here = dirname(fileURLToPath(import.meta.url));

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

/** Mount a bpffs of the test's own at `path` (created if missing): its pins meet no one else's. */
export function mountBpffs(path: string): void {
  mkdirSync(path, { recursive: true });
  execFileSync("mount", ["-t", "bpf", "bpf", path], { stdio: "pipe" });
}

/** Undo mountBpffs as far as possible; never throws, so cleanup goes on. */
export function unmountBpffs(path: string): void {
  try {
    execFileSync("umount", [path], { stdio: "pipe" });
  } catch {
    // not mounted
  }
  try {
    rmdirSync(path);
  } catch {
    // gone already, or still mounted or not empty: leave it rather than fail the cleanup
  }
}

/**
 * The lab network named `ls-xdp-<pid>-<tag>-*` (not `lslab-`, which `lodestone lab down`
 * removes), with a bpffs of its own mounted while it exists.
 */
export class Topology extends LabTopology {
  readonly bpffs: string;

  constructor(tag: string) {
    super(tag, `ls-xdp-${process.pid}-`);
    this.bpffs = `/tmp/${this.prefix}-bpffs`;
  }

  override async create(): Promise<void> {
    await super.create();
    // Visible to every process we start (nsenter --net keeps our mount namespace).
    mountBpffs(this.bpffs);
  }

  override async destroy(): Promise<void> {
    await super.destroy();
    unmountBpffs(this.bpffs);
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

/** Polls `check` every 50 ms until it holds; fails after `timeoutMs` naming `what`. */
export async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The lb agent's init request for NAT frontends on eth0 (the balancer's own addresses as
 * NAT addresses): `v4` and `v6` name the frontends of each family.
 */
export function natInit(
  topo: Topology,
  attachMode: "auto" | "native" | "generic",
  v4: string[],
  v6: string[],
): Record<string, unknown> {
  const nat4 = { interface: "eth0", mode: "nat", natAddress: LAB_V4.lb };
  const nat6 = { interface: "eth0", mode: "nat", natAddress: LAB_V6.lb };
  const frontends = Object.fromEntries([...v4.map((n) => [n, nat4]), ...v6.map((n) => [n, nat6])]);
  return { op: "init", options: { pinRoot: `${topo.bpffs}/lodestone`, attachMode, frontends } };
}
