// Layer-2 facts the XDP program needs and the kernel already knows: an
// interface's MAC and a backend's MAC (the neighbour table, ARP / NDP). Asked of
// iproute2 in this process's network namespace.
import { execFile } from "node:child_process";
import { createSocket } from "node:dgram";
import { isIPv6 } from "node:net";
import { promisify } from "node:util";
import { LodestoneError } from "../../errors.ts";

const run = promisify(execFile);

export async function interfaceMac(ifname: string): Promise<string> {
  let out: string;
  try {
    out = (await run("ip", ["-j", "link", "show", "dev", ifname])).stdout;
  } catch (err) {
    throw new LodestoneError("XDP_NO_INTERFACE", `no network interface named ${ifname}`, { cause: err });
  }
  const links = JSON.parse(out) as Array<{ address?: string }>;
  const mac = links[0]?.address;
  if (!mac) throw new LodestoneError("XDP_NO_INTERFACE", `interface ${ifname} has no MAC address`);
  return mac;
}

/** The link's kind ("veth", "bridge", ...), or null for a plain device. */
export async function interfaceKind(ifname: string): Promise<string | null> {
  try {
    const { stdout } = await run("ip", ["-d", "-j", "link", "show", "dev", ifname]);
    const links = JSON.parse(stdout) as Array<{ linkinfo?: { info_kind?: string } }>;
    return links[0]?.linkinfo?.info_kind ?? null;
  } catch {
    return null;
  }
}

async function neighborEntry(address: string, ifname: string): Promise<string | null> {
  const fam = isIPv6(address) ? "-6" : "-4";
  const { stdout } = await run("ip", [fam, "-j", "neigh", "show", "to", address, "dev", ifname]);
  const entries = JSON.parse(stdout || "[]") as Array<{ lladdr?: string; state?: string[] }>;
  for (const e of entries) {
    if (e.lladdr && !e.state?.includes("FAILED") && !e.state?.includes("INCOMPLETE")) return e.lladdr;
  }
  return null;
}

/** Make the kernel resolve `address`: one datagram to the discard port (nothing listens; ARP/NDP is the point). */
function poke(address: string): Promise<void> {
  return new Promise((resolve) => {
    const sock = createSocket(isIPv6(address) ? "udp6" : "udp4");
    sock.on("error", () => {
      sock.close();
      resolve();
    });
    sock.send(Buffer.alloc(0), 9, address, () => {
      sock.close();
      resolve();
    });
  });
}

/**
 * The MAC of `address` on `ifname`, resolving it through the kernel if the
 * neighbour table has no entry yet. Rejects XDP_NEIGHBOR_UNRESOLVED after timeoutMs.
 */
export async function resolveNeighbor(address: string, ifname: string, timeoutMs = 3000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    const mac = await neighborEntry(address, ifname);
    if (mac) return mac;
    if (Date.now() > deadline) {
      throw new LodestoneError(
        "XDP_NEIGHBOR_UNRESOLVED",
        `no MAC address for ${address} on ${ifname} after ${timeoutMs}ms (is the backend on that link?)`,
      );
    }
    // Ask again every half second: a first ARP request can be lost while links come up.
    if (attempt % 10 === 0) await poke(address);
    await new Promise((r) => setTimeout(r, 50));
  }
}
