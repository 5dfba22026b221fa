// ICMP errors about NATed flows, translated back to the client so that path MTU
// discovery and "unreachable" work through the balancer. Attach mode auto, which is
// generic on a veth (checked here).
//
// The backend sits one hop behind b1 on a link with a lowered MTU:
//
//   client -> lb (XDP NAT) -> b1 (router, proxy ARP/ND for the backend) -> dp (the backend)
//                                        d0 mtu 1280 ====== eth0 mtu 1500
//
// The backend advertises an MSS for 1500 bytes, so the client sends full-sized segments;
// b1 cannot forward them and sends "fragmentation needed" / "packet too big" to the
// balancer's NAT address. Unless the balancer hands that to the client (inner header
// back to client -> VIP), the connection stalls on a black hole. A UDP port with no
// listener makes the backend itself answer "port unreachable".
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ensureBpfObject } from "../../../src/dataplane/xdp/build.ts";
import type { XdpStats } from "../../../src/dataplane/xdp/dataplane.ts";
import { NODE, REPO, sh } from "../../../src/lab/topology.ts";
import { frontend, state } from "./desired.ts";
import { Agent, natInit, skipReason, Topology, V4, V6 } from "./netns.ts";

const skip = skipReason();
const BACKEND = { v4: "10.99.0.21", v6: "fd00:99::21" };
const LINK = { b1v4: "10.98.0.1", dpv4: "10.98.0.2", b1v6: "fd00:98::1", dpv6: "fd00:98::2" };
const PORT = 8080;
const CLOSED_PORT = 9;
const LOW_MTU = 1280;

describe("XDP dataplane, NAT mode: ICMP errors reach the client", { skip: skip ?? false }, () => {
  const topo = new Topology("icmp");
  const deep = `${topo.prefix}-dp`;
  let deepCreated = false;
  const agents: Agent[] = [];
  let lb: Agent;
  let client: Agent;
  const inNs = (ns: string, args: string[]) => sh("ip", ["netns", "exec", ns, ...args]);

  before(async () => {
    ensureBpfObject();
    await topo.create();
    const b1 = topo.ns.backends[0];
    await sh("ip", ["netns", "add", deep]);
    deepCreated = true;
    await inNs(deep, ["ip", "link", "set", "lo", "up"]);
    // No duplicate address detection (link-local included), as in the lab's namespaces.
    for (const k of ["all", "default"])
      await inNs(deep, ["sysctl", "-qw", `net.ipv6.conf.${k}.accept_dad=0`]);
    await sh("ip", ["link", "add", "d0", "netns", b1, "type", "veth", "peer", "name", "eth0", "netns", deep]);
    // b1: a router towards the backend, answering ARP/ND for it on the balancer's link.
    await inNs(b1, ["ip", "addr", "add", `${LINK.b1v4}/30`, "dev", "d0"]);
    await inNs(b1, ["ip", "-6", "addr", "add", `${LINK.b1v6}/64`, "dev", "d0", "nodad"]);
    await inNs(b1, ["ip", "link", "set", "d0", "mtu", String(LOW_MTU), "up"]);
    await inNs(b1, ["ip", "route", "add", `${BACKEND.v4}/32`, "via", LINK.dpv4]);
    await inNs(b1, ["ip", "-6", "route", "add", `${BACKEND.v6}/128`, "via", LINK.dpv6]);
    for (const k of [
      "net.ipv4.ip_forward=1",
      "net.ipv6.conf.all.forwarding=1",
      "net.ipv4.conf.eth0.proxy_arp=1",
      "net.ipv4.neigh.eth0.proxy_delay=0",
      "net.ipv6.conf.eth0.proxy_ndp=1",
      "net.ipv6.neigh.eth0.proxy_delay=0",
    ]) {
      await inNs(b1, ["sysctl", "-qw", k]);
    }
    await inNs(b1, ["ip", "-6", "neigh", "add", "proxy", BACKEND.v6, "dev", "eth0"]);
    // dp: the backend, its addresses on lo, the whole way back through b1.
    await inNs(deep, ["ip", "addr", "add", `${LINK.dpv4}/30`, "dev", "eth0"]);
    await inNs(deep, ["ip", "-6", "addr", "add", `${LINK.dpv6}/64`, "dev", "eth0", "nodad"]);
    await inNs(deep, ["ip", "addr", "add", `${BACKEND.v4}/32`, "dev", "lo"]);
    await inNs(deep, ["ip", "-6", "addr", "add", `${BACKEND.v6}/128`, "dev", "lo"]);
    await inNs(deep, ["ip", "link", "set", "eth0", "up"]);
    await inNs(deep, ["ip", "route", "add", "default", "via", LINK.b1v4]);
    await inNs(deep, ["ip", "-6", "route", "add", "default", "via", LINK.b1v6]);
    // Complete checksums, as everywhere in the lab (docs/xdp.md, "veth").
    await sh("nsenter", [`--net=/run/netns/${b1}`, NODE, `${REPO}/src/lab/txcsum-off.ts`, "d0"]);
    await sh("nsenter", [`--net=/run/netns/${deep}`, NODE, `${REPO}/src/lab/txcsum-off.ts`, "eth0"]);

    const backend = new Agent(deep, "backend-agent.ts", ["dp", String(PORT)]);
    client = new Agent(topo.ns.client, "client-agent.ts");
    lb = new Agent(topo.ns.lb, "lb-agent.ts");
    agents.push(backend, client, lb);
    await Promise.all(agents.map((a) => a.ready()));
    await lb.call(natInit(topo, "auto", ["web", "closed"], ["web6", "closed6"]));
    const one = (address: string, port: number) => [{ name: "dp", address, port }];
    const r = await lb.call<{ attachments: Array<{ mode: string }> }>({
      op: "apply",
      desired: state(
        frontend("web", "tcp", V4.natVip, 80, one(BACKEND.v4, PORT)),
        frontend("closed", "udp", V4.natVip, 54, one(BACKEND.v4, CLOSED_PORT)),
        frontend("web6", "tcp", V6.natVip, 80, one(BACKEND.v6, PORT)),
        frontend("closed6", "udp", V6.natVip, 54, one(BACKEND.v6, CLOSED_PORT)),
      ),
    });
    assert.equal(r.attachments[0].mode, "generic", "auto attaches generic XDP to a veth");
  });

  after(async () => {
    for (const a of agents) await a.close().catch(() => {});
    if (deepCreated) await sh("ip", ["netns", "del", deep]).catch(() => {});
    await topo.destroy();
  });

  const stats = () => lb.call<XdpStats>({ op: "stats" });

  for (const [family, net, web, closed] of [
    ["IPv4", V4, "web", "closed"],
    ["IPv6", V6, "web6", "closed6"],
  ] as const) {
    it(`${family}: a "too big" from a router behind the balancer reaches the client, whose connection then gets through`, async () => {
      const before = (await stats()).frontends[web].replyPackets;
      // 20 kB in one line: full-sized segments, far above the 1280-byte hop.
      const answer = await client.call<string>({ op: "bigline", host: net.natVip, port: 80, size: 20000 });
      assert.equal(answer, "dp");
      const s = (await stats()).frontends[web];
      assert.ok(
        s.replyPackets > before,
        "replies, the ICMP error among them, came back through the balancer",
      );
    });

    it(`${family}: a backend's "port unreachable" reaches the client's socket as connection refused`, async () => {
      const before = (await stats()).frontends[closed].replyPackets;
      assert.equal(await client.call<string>({ op: "udp-refused", host: net.natVip, port: 54 }), "refused");
      assert.equal((await stats()).frontends[closed].replyPackets, before + 1);
    });
  }
});

if (skip) it(`XDP NAT ICMP tests skipped: ${skip}`, (t) => t.skip(skip));
