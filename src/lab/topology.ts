// The lab network: network namespaces joined by veth pairs on a bridge, built and torn
// down by `lodestone lab` and bench/xdp.ts. Every name starts with LAB_PREFIX and every
// address lives inside these namespaces: nothing is configured in the caller's own
// network namespace, so the lab never touches the machine's real traffic.
//
//   <p>-cl (client)   eth0 10.99.0.10  fd00:99::10   routes the VIP ranges via lb
//   <p>-lb (balancer) eth0 10.99.0.2   fd00:99::2    XDP attached here
//   <p>-b1..b3        eth0 10.99.0.11+ fd00:99::11+  the DSR VIP on lo
//   <p>-sw            br0 joining every peer
//
// The XDP integration tests build the same network under their own prefix
// (test/integration/xdp/netns.ts), so `lodestone lab down --all` never removes theirs.
import { execFile } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { LodestoneError } from "../errors.ts";

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, "../..");
/** Node 24 from node_modules (the system node may be too old to run .ts). */
export const NODE = process.execPath;

/** Every namespace, bpffs pin and state directory of the lab starts with this. */
export const LAB_PREFIX = "lslab-";

export const LAB_V4 = {
  lb: "10.99.0.2",
  client: "10.99.0.10",
  backends: ["10.99.0.11", "10.99.0.12", "10.99.0.13"],
  vipNet: "10.99.1.0/24",
  /** DSR: the backends hold it on lo. */
  vip: "10.99.1.1",
  /** NAT: routed to the balancer like `vip`, but no backend holds it. */
  natVip: "10.99.1.2",
};
export const LAB_V6 = {
  lb: "fd00:99::2",
  client: "fd00:99::10",
  backends: ["fd00:99::11", "fd00:99::12", "fd00:99::13"],
  vipNet: "fd00:99:1::/64",
  vip: "fd00:99:1::1",
  natVip: "fd00:99:1::2",
};
export const BACKEND_NAMES = ["b1", "b2", "b3"];

export async function sh(cmd: string, args: string[]): Promise<string> {
  try {
    return (await run(cmd, args, { maxBuffer: 16 * 1024 * 1024 })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new LodestoneError(
      "LAB_COMMAND_FAILED",
      `${cmd} ${args.join(" ")}: ${e.stderr?.trim() || e.message}`,
    );
  }
}

/** Names of the existing network namespaces that start with `prefix`. */
export async function namespacesWithPrefix(prefix = LAB_PREFIX): Promise<string[]> {
  const out = await sh("ip", ["-j", "netns", "list"]).catch(() => "");
  if (out.trim() === "") return [];
  const list = JSON.parse(out) as { name: string }[];
  return list.map((n) => n.name).filter((n) => n.startsWith(prefix));
}

/** Process ids running inside a namespace (`ip netns pids`). */
export async function namespacePids(ns: string): Promise<number[]> {
  const out = await sh("ip", ["netns", "pids", ns]).catch(() => "");
  return out
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number);
}

export class LabTopology {
  readonly prefix: string;
  readonly ns: { sw: string; client: string; lb: string; backends: string[] };
  #created: string[] = [];

  /**
   * `tag` makes the names unique: namespaces are `<namePrefix><tag>-cl` and so on
   * (`lslab-<tag>-cl` by default).
   */
  constructor(tag: string, namePrefix = LAB_PREFIX) {
    if (!/^[a-z0-9]{1,8}$/.test(tag)) {
      throw new LodestoneError("LAB_BAD_TAG", `lab tag "${tag}": 1 to 8 lowercase letters or digits`);
    }
    this.prefix = `${namePrefix}${tag}`;
    this.ns = {
      sw: `${this.prefix}-sw`,
      client: `${this.prefix}-cl`,
      lb: `${this.prefix}-lb`,
      backends: BACKEND_NAMES.map((_, i) => `${this.prefix}-b${i + 1}`),
    };
  }

  get all(): string[] {
    return [this.ns.sw, this.ns.client, this.ns.lb, ...this.ns.backends];
  }

  exec(ns: string, args: string[]): Promise<string> {
    return sh("ip", ["netns", "exec", ns, ...args]);
  }

  async #addNs(name: string): Promise<void> {
    await sh("ip", ["netns", "add", name]);
    this.#created.push(name);
    await this.exec(name, ["ip", "link", "set", "lo", "up"]);
    // No duplicate address detection: addresses are usable at once.
    for (const k of ["all", "default"])
      await this.exec(name, ["sysctl", "-qw", `net.ipv6.conf.${k}.accept_dad=0`]);
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
    await this.exec(this.ns.sw, ["ip", "link", "set", peer, "master", "br0", "up"]);
    await this.exec(ns, ["ip", "addr", "add", `${v4}/24`, "dev", "eth0"]);
    await this.exec(ns, ["ip", "-6", "addr", "add", `${v6}/64`, "dev", "eth0", "nodad"]);
    await this.exec(ns, ["ip", "link", "set", "eth0", "up"]);
  }

  /** Build everything; on failure, remove what was made and rethrow. */
  async create(): Promise<void> {
    const existing = await namespacesWithPrefix(`${this.prefix}-`);
    if (existing.length > 0) {
      throw new LodestoneError(
        "LAB_EXISTS",
        `lab namespaces already exist (${existing.join(", ")}): run \`lodestone lab down\` first`,
      );
    }
    try {
      for (const n of this.all) await this.#addNs(n);
      await this.exec(this.ns.sw, ["ip", "link", "add", "br0", "type", "bridge"]);
      await this.exec(this.ns.sw, ["ip", "link", "set", "br0", "up"]);
      await this.#link(this.ns.client, "pcl", LAB_V4.client, LAB_V6.client);
      await this.#link(this.ns.lb, "plb", LAB_V4.lb, LAB_V6.lb);
      for (let i = 0; i < this.ns.backends.length; i++) {
        const b = this.ns.backends[i];
        await this.#link(b, `pb${i + 1}`, LAB_V4.backends[i], LAB_V6.backends[i]);
        // DSR: backends answer for the VIP, which sits on their loopback.
        await this.exec(b, ["ip", "addr", "add", `${LAB_V4.vip}/32`, "dev", "lo"]);
        await this.exec(b, ["ip", "-6", "addr", "add", `${LAB_V6.vip}/128`, "dev", "lo"]);
      }
      // Complete checksums on what local sockets send through veth (docs/xdp.md, "veth").
      for (const n of [this.ns.client, this.ns.lb, ...this.ns.backends]) {
        await sh("nsenter", [`--net=/run/netns/${n}`, NODE, join(here, "txcsum-off.ts"), "eth0"]);
      }
      // The client reaches the VIPs through the balancer, as behind a router.
      await this.exec(this.ns.client, ["ip", "route", "add", LAB_V4.vipNet, "via", LAB_V4.lb]);
      await this.exec(this.ns.client, ["ip", "-6", "route", "add", LAB_V6.vipNet, "via", LAB_V6.lb]);
    } catch (err) {
      await this.destroy();
      throw err;
    }
  }

  /**
   * Native XDP on the balancer's veth sends XDP_TX frames into its peer, which veth
   * accepts only with NAPI enabled there: an XDP_PASS program on the peer turns it on.
   */
  async passOnBalancerPeer(passObject: string): Promise<void> {
    await this.exec(this.ns.sw, [
      "ip",
      "link",
      "set",
      "dev",
      "plb",
      "xdpdrv",
      "obj",
      passObject,
      "sec",
      "xdp",
    ]);
  }

  /** Undo passOnBalancerPeer: the peer takes packets without veth's XDP/NAPI path again. */
  async removePassFromBalancerPeer(): Promise<void> {
    await this.exec(this.ns.sw, ["ip", "link", "set", "dev", "plb", "xdpdrv", "off"]);
  }

  /** Remove the namespaces this object created (processes inside must be gone first). */
  async destroy(): Promise<void> {
    for (const n of this.#created.reverse()) await sh("ip", ["netns", "del", n]).catch(() => {});
    this.#created = [];
  }
}

/**
 * Remove every lab namespace (any tag): stop the processes inside them (SIGTERM, then
 * SIGKILL after `graceMs`), then delete the namespaces. Returns the namespaces removed.
 */
export async function destroyLabNamespaces(prefix = LAB_PREFIX, graceMs = 3000): Promise<string[]> {
  const names = await namespacesWithPrefix(prefix);
  const pids = new Set<number>();
  for (const n of names) for (const pid of await namespacePids(n)) pids.add(pid);
  pids.delete(process.pid);
  const signal = (sig: NodeJS.Signals | 0) => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        pids.delete(pid); // already gone
      }
    }
  };
  signal("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (pids.size > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    signal(0); // drops the pids that exited
  }
  if (pids.size > 0) signal("SIGKILL");
  // Switch last: deleting it drops the bridge after every veth has gone with its namespace.
  const order = [...names].sort((a, b) => Number(a.endsWith("-sw")) - Number(b.endsWith("-sw")));
  for (const n of order) await sh("ip", ["netns", "del", n]).catch(() => {});
  return names;
}
