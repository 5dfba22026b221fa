// The userspace proxy and the XDP dataplane receive the same desired state: the proxy
// must leave `dataplane: xdp` frontends alone (no listener, no bind), or it would fight
// the kernel path for the VIP. Needs no root: only the proxy side is exercised.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { after, test } from "node:test";
import { ProxyDataplane } from "../../../src/dataplane/proxy/dataplane.ts";
import { desiredFrontend, desiredState } from "../../helpers/desired.ts";

const servers: Server[] = [];
const dp = new ProxyDataplane({ drainTimeout: 0 });
after(async () => {
  await dp.stop(0);
  for (const s of servers) s.close();
});

test("the proxy dataplane starts proxy frontends and skips xdp ones, even on a taken port", async () => {
  // Hold a port: a proxy listener there would fail with EADDRINUSE.
  const held = createServer();
  servers.push(held);
  await new Promise<void>((res) => held.listen(0, "127.0.0.1", res));
  const heldPort = (held.address() as { port: number }).port;

  const proxied = desiredFrontend({ name: "proxied", backends: [{ name: "b1", port: 9 }] });
  const kernel = desiredFrontend({
    name: "kernel",
    listen: { host: "127.0.0.1", port: heldPort },
    algorithm: "maglev",
    backends: [{ name: "b1", port: heldPort }],
    settings: {
      dataplane: "xdp",
      xdp: { interface: "lo", mode: "dsr", natPorts: { min: 61000, max: 65535 }, fragments: false },
    },
  });
  await dp.apply(desiredState([proxied, kernel]));
  assert.deepEqual(dp.frontends(), ["proxied"]);
  assert.equal(dp.address("kernel"), null);

  // Switching the proxied frontend to xdp retires its listener.
  const moved = desiredFrontend({
    name: "proxied",
    algorithm: "maglev",
    backends: [{ name: "b1", port: 9 }],
    settings: {
      dataplane: "xdp",
      xdp: { interface: "lo", mode: "dsr", natPorts: { min: 61000, max: 65535 }, fragments: false },
    },
  });
  await dp.apply(desiredState([moved, kernel], 2));
  assert.deepEqual(dp.frontends(), []);
});
