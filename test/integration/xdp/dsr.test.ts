// DSR through the XDP dataplane, in network namespaces: a client, the balancer
// (native XDP on its veth) and three backends holding the VIPs on loopback, all
// on one bridge. Backends answer with their name, so the client sees who served it.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DEFAULT_PASS_OBJECT_PATH, ensureBpfObject } from "../../../src/dataplane/xdp/build.ts";
import type { XdpStats } from "../../../src/dataplane/xdp/dataplane.ts";
import { type BackendSpec, frontend, state, tally } from "./desired.ts";
import { Agent, skipReason, Topology, V4, V6, waitFor } from "./netns.ts";

const skip = skipReason();
const NAMES = ["b1", "b2", "b3"];
const PORT = 8080;
const FRAG_PORT = 8081;

describe("XDP dataplane, DSR mode", { skip: skip ?? false }, () => {
  const topo = new Topology("dsr");
  const agents: Agent[] = [];
  let lb: Agent;
  let client: Agent;
  const pinRoot = `${topo.bpffs}/lodestone`;
  const frontends = {
    web: { interface: "eth0", mode: "dsr" },
    dns: { interface: "eth0", mode: "dsr" },
    web6: { interface: "eth0", mode: "dsr" },
    dns6: { interface: "eth0", mode: "dsr" },
    big: { interface: "eth0", mode: "dsr", fragments: true },
    big6: { interface: "eth0", mode: "dsr", fragments: true },
  };

  function desired(change: (b: BackendSpec) => BackendSpec = (b) => b) {
    const v4 = NAMES.map((name, i) => change({ name, address: V4.backends[i], port: PORT }));
    const v6 = NAMES.map((name, i) => change({ name, address: V6.backends[i], port: PORT }));
    return state(
      frontend("web", "tcp", V4.vip, PORT, v4),
      frontend("dns", "udp", V4.vip, PORT, v4),
      frontend("web6", "tcp", V6.vip, PORT, v6),
      frontend("dns6", "udp", V6.vip, PORT, v6),
      frontend(
        "big",
        "udp",
        V4.vip,
        FRAG_PORT,
        v4.map((b) => ({ ...b, port: FRAG_PORT })),
      ),
      frontend(
        "big6",
        "udp",
        V6.vip,
        FRAG_PORT,
        v6.map((b) => ({ ...b, port: FRAG_PORT })),
      ),
    );
  }

  async function startBalancer(): Promise<Agent> {
    const a = new Agent(topo.ns.lb, "lb-agent.ts");
    agents.push(a);
    await a.ready();
    // detachOnStop false: when this agent goes away the fast path stays, as after a crash.
    // Native asked for: on a veth, auto would pick generic (nat.test.ts covers that path).
    await a.call({ op: "init", options: { pinRoot, frontends, detachOnStop: false, attachMode: "native" } });
    return a;
  }

  const stats = () => lb.call<XdpStats>({ op: "stats" });

  before(async () => {
    ensureBpfObject();
    await topo.create();
    await topo.passOnBalancerPeer(DEFAULT_PASS_OBJECT_PATH);
    for (let i = 0; i < 3; i++)
      agents.push(new Agent(topo.ns.backends[i], "backend-agent.ts", [NAMES[i], `${PORT},${FRAG_PORT}`]));
    client = new Agent(topo.ns.client, "client-agent.ts");
    agents.push(client);
    await Promise.all(agents.map((a) => a.ready()));
    lb = await startBalancer();
    const r = await lb.call<{ attachments: Array<{ mode: string }> }>({ op: "apply", desired: desired() });
    assert.equal(r.attachments[0].mode, "native");
  });

  after(async () => {
    for (const a of agents) await a.close().catch(() => {});
    await topo.destroy();
  });

  it("spreads TCP connections to an IPv4 VIP over every backend, and the counters match what the client saw", async () => {
    const answers = await client.call<string[]>({ op: "tcp", host: V4.vip, port: PORT, count: 60 });
    const seen = tally(answers);
    assert.deepEqual(
      Object.keys(seen).sort(),
      NAMES,
      `every connection answered by a backend: ${JSON.stringify(seen)}`,
    );
    const s = (await stats()).frontends.web;
    assert.equal(s.newFlows, 60);
    assert.equal(s.ctMisses, 0);
    for (const name of NAMES)
      assert.equal(s.backends[name].newFlows, seen[name], `new flows counted for ${name}`);
    assert.equal(
      NAMES.reduce((n, b) => n + s.backends[b].packets, 0),
      s.packets,
      "every VIP packet went to a backend",
    );
    assert.deepEqual(s.drops, { noBackend: 0, badReal: 0, natPorts: 0, redirect: 0 });
  });

  it("spreads UDP flows to an IPv4 VIP over every backend, one new flow per client socket", async () => {
    const seen = tally(await client.call<string[]>({ op: "udp", host: V4.vip, port: PORT, count: 60 }));
    assert.deepEqual(Object.keys(seen).sort(), NAMES, JSON.stringify(seen));
    const s = (await stats()).frontends.dns;
    assert.equal(s.newFlows, 60);
    assert.equal(s.packets, 60);
    for (const name of NAMES) assert.equal(s.backends[name].newFlows, seen[name]);
  });

  it("keeps every packet of a connection on one backend", async () => {
    await client.call({ op: "open", conn: "sticky", host: V4.vip, port: PORT });
    const answers: string[] = [];
    for (let i = 0; i < 20; i++) answers.push(await client.call<string>({ op: "ping", conn: "sticky" }));
    assert.equal(new Set(answers).size, 1, JSON.stringify(answers));
    assert.ok(NAMES.includes(answers[0]));
    await client.call({ op: "close", conn: "sticky" });
  });

  it("forgets a connection's conntrack entry when the client resets it", async () => {
    const total = async () =>
      Object.values(await lb.call<Record<string, number>>({ op: "flows", frontend: "web" })).reduce(
        (a, b) => a + b,
        0,
      );
    const before = await total();
    await client.call({ op: "open", conn: "doomed", host: V4.vip, port: PORT });
    assert.notEqual(await client.call<string>({ op: "ping", conn: "doomed" }), "");
    assert.equal(await total(), before + 1, "the open connection has an entry");
    await client.call({ op: "reset", conn: "doomed" });
    await waitFor(async () => (await total()) === before, "the entry to go after the RST");
  });

  it("sends no new flows to a backend at weight 0 while its established connection keeps working (drain), then flush ends it", async () => {
    // Start from an empty connection table: a flow of an earlier test whose source port
    // the kernel hands out again would still go to its old backend (as a drained flow should).
    await lb.call({ op: "apply", desired: desired((b) => ({ ...b, weight: 0, flush: true })) });
    await lb.call({ op: "apply", desired: desired() });
    // An established connection per backend.
    const on = new Map<string, string>();
    for (let i = 0; i < 30 && on.size < 3; i++) {
      const conn = `c${i}`;
      await client.call({ op: "open", conn, host: V4.vip, port: PORT });
      const who = await client.call<string>({ op: "ping", conn });
      if (!on.has(who)) on.set(who, conn);
      else await client.call({ op: "close", conn });
    }
    assert.ok(on.has("b2"), "a connection landed on b2");
    const drained = on.get("b2")!;

    await lb.call({ op: "apply", desired: desired((b) => (b.name === "b2" ? { ...b, weight: 0 } : b)) });
    const tcp = tally(await client.call<string[]>({ op: "tcp", host: V4.vip, port: PORT, count: 40 }));
    assert.deepEqual(Object.keys(tcp).sort(), ["b1", "b3"], JSON.stringify(tcp));
    const udp = tally(await client.call<string[]>({ op: "udp", host: V4.vip, port: PORT, count: 40 }));
    assert.deepEqual(Object.keys(udp).sort(), ["b1", "b3"], JSON.stringify(udp));
    for (let i = 0; i < 5; i++) assert.equal(await client.call({ op: "ping", conn: drained }), "b2");
    assert.equal(await client.call({ op: "ping", conn: on.get("b1") }), "b1");
    const flows = await lb.call<Record<string, number>>({ op: "flows", frontend: "web" });
    assert.ok(flows.b2 >= 1, `conntrack still holds b2's flow: ${JSON.stringify(flows)}`);

    await lb.call({
      op: "apply",
      desired: desired((b) => (b.name === "b2" ? { ...b, weight: 0, flush: true } : b)),
    });
    const after = await lb.call<Record<string, number>>({ op: "flows", frontend: "web" });
    assert.equal(after.b2, undefined, `b2's flows flushed: ${JSON.stringify(after)}`);
    assert.ok(after.b1 >= 1, "other backends' flows untouched");
    // The flushed connection's next packet goes to another backend, which knows nothing of it;
    // the balancer counts it as a conntrack miss (a TCP packet without SYN and without an entry).
    const missesBefore = (await stats()).frontends.web.ctMisses;
    assert.notEqual(await client.call({ op: "ping", conn: drained }), "b2");
    assert.ok((await stats()).frontends.web.ctMisses > missesBefore, "conntrack miss counted");
    assert.equal(await client.call({ op: "ping", conn: on.get("b1") }), "b1");
    for (const conn of on.values()) await client.call({ op: "close", conn });
  });

  it("balances TCP and UDP to an IPv6 VIP", async () => {
    await lb.call({ op: "apply", desired: desired() });
    const tcp = tally(await client.call<string[]>({ op: "tcp", host: V6.vip, port: PORT, count: 45 }));
    assert.deepEqual(Object.keys(tcp).sort(), NAMES, JSON.stringify(tcp));
    const udp = tally(await client.call<string[]>({ op: "udp", host: V6.vip, port: PORT, count: 45 }));
    assert.deepEqual(Object.keys(udp).sort(), NAMES, JSON.stringify(udp));
    const s = await stats();
    assert.equal(s.frontends.web6.newFlows, 45);
    assert.equal(s.frontends.dns6.newFlows, 45);
    for (const name of NAMES) assert.equal(s.frontends.web6.backends[name].newFlows, tcp[name]);
  });

  it("without a fragments frontend on the address, a datagram above the MTU does not get through: its later fragments match no VIP", async () => {
    const plain = desired();
    delete plain.frontends.big;
    delete plain.frontends.big6;
    await lb.call({ op: "apply", desired: plain });
    const answers = await client.call<string[]>({
      op: "udp",
      host: V4.vip,
      port: PORT,
      count: 3,
      size: 3000,
      timeoutMs: 1500,
    });
    assert.deepEqual(answers, ["timeout", "timeout", "timeout"]);
    await lb.call({ op: "apply", desired: desired() });
  });

  for (const [family, net, name] of [
    ["IPv4", V4, "big"],
    ["IPv6", V6, "big6"],
  ] as const) {
    it(`with fragments on, sends every fragment of ${family} datagrams above the MTU to one backend`, async () => {
      const answers = await client.call<string[]>({
        op: "udp",
        host: net.vip,
        port: FRAG_PORT,
        count: 20,
        size: 3000,
      });
      const seen = tally(answers);
      // Hashing on (source, destination, protocol): one client is one flow.
      assert.equal(Object.keys(seen).length, 1, JSON.stringify(seen));
      assert.ok(NAMES.includes(answers[0]), JSON.stringify(seen));
      const s = (await stats()).frontends[name];
      assert.equal(s.packets, 20 * 3, "three fragments per 3000-byte datagram");
      assert.equal(s.newFlows, 1);
      assert.equal(s.backends[answers[0]].packets, 60);
      // Small datagrams of the same client land on the same backend. (The port-0 entry that
      // catches fragments catches every fragment to this address and protocol, whatever the port.)
      const small = await client.call<string[]>({ op: "udp", host: net.vip, port: FRAG_PORT, count: 5 });
      assert.deepEqual(small, Array(5).fill(answers[0]));
    });
  }

  it("keeps forwarding while the daemon is gone, and a restarted one takes over the pinned maps without moving flows", async () => {
    await client.call({ op: "open", conn: "survivor", host: V4.vip, port: PORT });
    const owner = await client.call<string>({ op: "ping", conn: "survivor" });
    const before = (await stats()).frontends.web;

    await lb.close(); // the process exits; the program stays attached, maps stay pinned
    assert.equal(await client.call({ op: "ping", conn: "survivor" }), owner);
    const during = tally(await client.call<string[]>({ op: "tcp", host: V4.vip, port: PORT, count: 20 }));
    assert.equal(Object.keys(during).filter((k) => !NAMES.includes(k)).length, 0, JSON.stringify(during));

    lb = await startBalancer();
    const r = await lb.call<{ attachments: Array<{ mode: string }> }>({ op: "apply", desired: desired() });
    assert.equal(r.attachments.length, 1);
    assert.equal(await client.call({ op: "ping", conn: "survivor" }), owner);
    const s = (await stats()).frontends.web;
    assert.ok(
      s.newFlows >= before.newFlows + 20,
      `counters carried over the restart: ${before.newFlows} -> ${s.newFlows}`,
    );
    const flows = await lb.call<Record<string, number>>({ op: "flows", frontend: "web" });
    assert.ok(flows[owner] >= 1, `the survivor's flow is known by name again: ${JSON.stringify(flows)}`);
    await client.call({ op: "close", conn: "survivor" });
  });

  it("detaches from the interface on stop", async () => {
    await lb.call({ op: "init", options: { pinRoot, frontends } });
    await lb.call({ op: "apply", desired: desired() });
    assert.match(await topo.exec(topo.ns.lb, ["ip", "link", "show", "eth0"]), /prog\/xdp/);
    await lb.call({ op: "stop" });
    assert.doesNotMatch(await topo.exec(topo.ns.lb, ["ip", "link", "show", "eth0"]), /prog\/xdp/);
  });
});

if (skip) it(`XDP DSR tests skipped: ${skip}`, (t) => t.skip(skip));
