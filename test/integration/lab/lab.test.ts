// `lodestone lab` end to end, through the CLI as a user runs it: namespaces, backends,
// lodestone with two XDP VIPs, bounded load from the client namespace; then
// `lodestone lab down` must leave no lslab- namespace, pinned map or state behind.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";
import { type LabReport, labDown, labSkipReason } from "../../../src/lab/lab.ts";
import { namespacesWithPrefix, REPO } from "../../../src/lab/topology.ts";

const run = promisify(execFile);
const NODE = join(REPO, "node_modules/.bin/node");
const MAIN = join(REPO, "src/cli/main.ts");
const skip = labSkipReason();

after(async () => {
  if (!skip) await labDown("test"); // whatever happened above
});

test("lab balances HTTP over three backends through XDP and lab down removes everything", {
  skip: skip ?? false,
  timeout: 120_000,
}, async () => {
  const { stdout } = await run(
    NODE,
    [MAIN, "lab", "--tag", "test", "--requests", "120", "--seconds", "10", "--json"],
    {
      cwd: REPO,
      timeout: 100_000,
    },
  );
  const r = JSON.parse(stdout) as LabReport;
  assert.equal(r.prefix, "lslab-test");
  const requested = r.load.reduce((n, l) => n + l.requested, 0);
  const ok = r.load.reduce((n, l) => n + l.ok, 0);
  assert.equal(requested, 120);
  assert.equal(ok, 120, `errors: ${r.load.flatMap((l) => l.errorSamples).join("; ")}`);
  assert.deepEqual(
    r.backends.map((b) => b.name),
    ["b1", "b2", "b3"],
  );
  for (const b of r.backends) {
    // Maglev on the client's address and port spreads 120 connections over all three.
    assert.ok(b.client > 0, `${b.name} got no answers`);
    // Every request is a new TCP connection: one new flow in the XDP counters, per backend.
    assert.equal(b.xdp.newFlows, b.client, `${b.name}: xdp new flows vs client answers`);
    assert.ok(b.xdp.packets >= 3 * b.client, `${b.name}: at least SYN, request, ACK/FIN per connection`);
  }
  assert.ok((await namespacesWithPrefix("lslab-test-")).length === 6, "the lab is left running");

  // The same XDP counters reach lodestone's /metrics (admin API on the balancer's loopback).
  const metrics = await run("ip", [
    "netns",
    "exec",
    "lslab-test-lb",
    "curl",
    "-sf",
    "http://127.0.0.1:9700/metrics",
  ]);
  const connections = [
    ...metrics.stdout.matchAll(/^lodestone_frontend_connections_total\{frontend="vip[46]"\} (\d+)$/gm),
  ];
  assert.equal(connections.length, 2, "a connections counter per VIP");
  assert.equal(
    connections.reduce((n, m) => n + Number(m[1]), 0),
    r.backends.reduce((n, b) => n + b.xdp.newFlows, 0),
  );
  const packets = [...metrics.stdout.matchAll(/^lodestone_xdp_packets_total\{frontend="vip[46]"\} (\d+)$/gm)];
  assert.equal(packets.length, 2, "an XDP packets counter per VIP");
  // Read after the lab's own snapshot: a late ACK may add a packet, never remove one.
  assert.ok(
    packets.reduce((n, m) => n + Number(m[1]), 0) >= r.backends.reduce((n, b) => n + b.xdp.packets, 0),
  );
  assert.match(metrics.stdout, /^lodestone_xdp_drops_total\{frontend="vip4",reason="no_backend"\} 0$/m);

  const down = await run(NODE, [MAIN, "lab", "down", "--tag", "test"], { cwd: REPO, timeout: 60_000 });
  assert.match(down.stdout, /removed .*lslab-test-lb/);
  // Only this lab's names: a bench:xdp (lslab-bench-*) may be running beside the suite.
  assert.deepEqual(await namespacesWithPrefix("lslab-test"), []);
  assert.equal(existsSync(r.pinRoot), false, "pinned maps removed");
  assert.equal(existsSync(r.stateDir), false, "state directory removed");
});
