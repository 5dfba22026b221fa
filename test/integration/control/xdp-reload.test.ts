// A reload that adds the first XDP frontend to a daemon started without one brings
// the XDP dataplane up: the daemon runs in the balancer's namespace of the XDP test
// topology (test/integration/xdp), and the client reaches the backends through the VIP.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DEFAULT_PASS_OBJECT_PATH, ensureBpfObject } from "../../../src/dataplane/xdp/build.ts";
import { tally } from "../xdp/desired.ts";
import { Agent, skipReason, Topology, V4 } from "../xdp/netns.ts";

const skip = skipReason();
const NAMES = ["b1", "b2", "b3"];
const PORT = 8080;

describe("reload adding the first XDP frontend", { skip: skip ?? false }, () => {
  const topo = new Topology("ctlrel");
  const agents: Agent[] = [];
  const dir = mkdtempSync(join(tmpdir(), "lodestone-xdp-reload-"));
  const file = join(dir, "lodestone.yaml");
  let lb: Agent;
  let client: Agent;

  const config = (withXdp: boolean) => `backends:
${NAMES.map((n, i) => `  ${n}: { address: ${V4.backends[i]}, port: ${PORT} }`).join("\n")}
  local: { address: 127.0.0.1, port: 9 }
services:
  web: { algorithm: maglev, hash-on: client-address-port, pools: [ { name: main, backends: { b1: {}, b2: {}, b3: {} } } ] }
  loc: { pools: [ { name: p, backends: { local: {} } } ] }
frontends:
  plain: { listen: 127.0.0.1:18080, protocol: tcp, service: loc }
${withXdp ? `  web: { listen: ${V4.vip}:${PORT}, protocol: tcp, service: web, dataplane: xdp, xdp: { interface: eth0, mode: dsr } }\n` : ""}runtime: { drain-timeout: 0s, xdp: { pin-root: ${topo.bpffs}/lodestone, detach-on-stop: true } }
`;

  before(async () => {
    ensureBpfObject();
    await topo.create();
    await topo.passOnBalancerPeer(DEFAULT_PASS_OBJECT_PATH);
    for (let i = 0; i < 3; i++)
      agents.push(new Agent(topo.ns.backends[i], "backend-agent.ts", [NAMES[i], String(PORT)]));
    client = new Agent(topo.ns.client, "client-agent.ts");
    lb = new Agent(topo.ns.lb, "../control/daemon-agent.ts");
    agents.push(client, lb);
    await Promise.all(agents.map((a) => a.ready()));
  });

  after(async () => {
    for (const a of agents) await a.close().catch(() => {});
    await topo.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates the XDP dataplane on that reload and the VIP serves through it", async () => {
    writeFileSync(file, config(false));
    await lb.call({ op: "start", file });
    writeFileSync(file, config(true));
    const r = await lb.call<{ ok: boolean; applyErrors: string[] }>({ op: "reload" });
    assert.deepEqual(r, { ok: true, applyErrors: [] });
    const logs = await lb.call<{ msg: string }[]>({ op: "logs" });
    assert.ok(
      logs.some((l) => /XDP dataplane created/.test(l.msg)),
      "the daemon says it created the XDP dataplane",
    );
    const seen = tally(await client.call<string[]>({ op: "tcp", host: V4.vip, port: PORT, count: 30 }));
    assert.deepEqual(Object.keys(seen).sort(), NAMES, JSON.stringify(seen));
    // A second reload finds the XDP dataplane there and creates none.
    const again = await lb.call<{ ok: boolean; applyErrors: string[] }>({ op: "reload" });
    assert.deepEqual(again, { ok: true, applyErrors: [] });
    const created = (await lb.call<{ msg: string }[]>({ op: "logs" })).filter((l) =>
      /XDP dataplane created/.test(l.msg),
    );
    assert.equal(created.length, 1);
    await lb.call({ op: "stop" });
  });
});
