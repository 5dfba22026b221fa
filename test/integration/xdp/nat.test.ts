// NAT through the XDP dataplane (generic/SKB-mode attach, so both attach modes
// are exercised): the balancer rewrites client -> VIP into balancer -> backend
// and translates the replies back. Backends never see the client's address.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ensureBpfObject } from "../../../src/dataplane/xdp/build.ts";
import type { XdpStats } from "../../../src/dataplane/xdp/dataplane.ts";
import { frontend, state, tally } from "./desired.ts";
import { Agent, natInit, skipReason, Topology, V4, V6, waitFor } from "./netns.ts";

const skip = skipReason();
const NAMES = ["b1", "b2", "b3"];
const BACKEND_PORT = 8080;

describe("XDP dataplane, NAT mode", { skip: skip ?? false }, () => {
  const topo = new Topology("nat");
  const agents: Agent[] = [];
  const backends: Agent[] = [];
  let lb: Agent;
  let client: Agent;

  const desired = () => {
    const v4 = NAMES.map((name, i) => ({ name, address: V4.backends[i], port: BACKEND_PORT }));
    const v6 = NAMES.map((name, i) => ({ name, address: V6.backends[i], port: BACKEND_PORT }));
    return state(
      frontend("web", "tcp", V4.natVip, 80, v4),
      frontend("dns", "udp", V4.natVip, 53, v4),
      frontend("web6", "tcp", V6.natVip, 80, v6),
      frontend("dns6", "udp", V6.natVip, 53, v6),
    );
  };
  const stats = () => lb.call<XdpStats>({ op: "stats" });

  before(async () => {
    ensureBpfObject();
    await topo.create();
    for (let i = 0; i < 3; i++) {
      backends.push(new Agent(topo.ns.backends[i], "backend-agent.ts", [NAMES[i], String(BACKEND_PORT)]));
    }
    client = new Agent(topo.ns.client, "client-agent.ts");
    lb = new Agent(topo.ns.lb, "lb-agent.ts");
    agents.push(...backends, client, lb);
    await Promise.all(agents.map((a) => a.ready()));
    await lb.call(natInit(topo, "generic", ["web", "dns"], ["web6", "dns6"]));
    const r = await lb.call<{ attachments: Array<{ mode: string }> }>({ op: "apply", desired: desired() });
    assert.equal(r.attachments[0].mode, "generic");
  });

  after(async () => {
    for (const a of agents) await a.close().catch(() => {});
    await topo.destroy();
  });

  for (const [family, net, web, dns] of [
    ["IPv4", V4, "web", "dns"],
    ["IPv6", V6, "web6", "dns6"],
  ] as const) {
    it(`carries ${family} TCP connections to every backend on another port and translates the replies back`, async () => {
      const seen = tally(await client.call<string[]>({ op: "tcp", host: net.natVip, port: 80, count: 45 }));
      assert.deepEqual(Object.keys(seen).sort(), NAMES, JSON.stringify(seen));
      const s = (await stats()).frontends[web];
      assert.equal(s.newFlows, 45);
      for (const name of NAMES) assert.equal(s.backends[name].newFlows, seen[name]);
      assert.ok(s.replyPackets >= 45 * 2, `SYN-ACK and answer per connection came back: ${s.replyPackets}`);
      assert.deepEqual(s.drops, { noBackend: 0, badReal: 0, natPorts: 0, redirect: 0 });
    });

    it(`carries ${family} UDP flows and counts one reply per answered datagram`, async () => {
      const answers = await client.call<string[]>({ op: "udp", host: net.natVip, port: 53, count: 45 });
      const seen = tally(answers);
      assert.deepEqual(Object.keys(seen).sort(), NAMES, JSON.stringify(seen));
      const s = (await stats()).frontends[dns];
      assert.equal(s.newFlows, 45);
      assert.equal(s.replyPackets, 45);
    });
  }

  it("shows backends the balancer's address, never the client's", async () => {
    for (const b of backends) {
      const { peers } = await b.call<{ peers: string[] }>({ op: "counts" });
      assert.deepEqual(peers, [V6.lb, V4.lb].sort());
    }
  });

  it("keeps a NATed connection on one backend for its whole life", async () => {
    await client.call({ op: "open", conn: "long", host: V4.natVip, port: 80 });
    const answers: string[] = [];
    for (let i = 0; i < 15; i++) answers.push(await client.call<string>({ op: "ping", conn: "long" }));
    assert.equal(new Set(answers).size, 1, JSON.stringify(answers));
    await client.call({ op: "close", conn: "long" });
  });

  const entries = async () => {
    const flows = await lb.call<Record<string, number>>({ op: "flows", frontend: "web" });
    return {
      conntrack: Object.values(flows).reduce((a, b) => a + b, 0),
      nat: await lb.call<number>({ op: "nat", frontend: "web" }),
    };
  };

  for (const [how, op] of [
    ["once both sides have closed it (a FIN each way, then the last ACK)", "close"],
    ["when the client resets it", "reset"],
  ] as const) {
    it(`forgets a NATed connection's conntrack and NAT entries ${how}`, async () => {
      const before = await entries();
      await client.call({ op: "open", conn: op, host: V4.natVip, port: 80 });
      assert.ok(NAMES.includes(await client.call<string>({ op: "ping", conn: op })));
      assert.deepEqual(await entries(), { conntrack: before.conntrack + 1, nat: before.nat + 1 });
      await client.call({ op, conn: op });
      await waitFor(
        async () => JSON.stringify(await entries()) === JSON.stringify(before),
        `the entries to go: ${JSON.stringify(before)}`,
      );
    });
  }

  it("drops and counts packets for a VIP whose backends all have weight 0", async () => {
    const none = desired();
    for (const f of Object.values(none.frontends)) {
      // Flushed, not drained: a UDP flow of an earlier test whose source port the kernel
      // hands out again would otherwise still reach its backend, as a drained flow should.
      for (const b of f.backends) {
        b.weight = 0;
        b.flush = true;
      }
      (f.maglev as unknown as number[]).fill(-1);
    }
    await lb.call({ op: "apply", desired: none });
    const answers = await client.call<string[]>({
      op: "udp",
      host: V4.natVip,
      port: 53,
      count: 5,
      timeoutMs: 1500,
    });
    assert.deepEqual(answers, ["timeout", "timeout", "timeout", "timeout", "timeout"]);
    assert.equal((await stats()).frontends.dns.drops.noBackend, 5);
  });
});

if (skip) it(`XDP NAT tests skipped: ${skip}`, (t) => t.skip(skip));
