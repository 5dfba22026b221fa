// The http/https listener as the proxy dataplane builds it from a desired state.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { ProxyDataplane } from "../../../src/dataplane/proxy/dataplane.ts";
import { curl, desiredFrontend, startHttpBackend } from "./harness.ts";

const backend = await startHttpBackend((req, res) => res.end(`served ${req.url}`));
const dataplane = new ProxyDataplane();
after(async () => {
  await dataplane.stop(100);
  await backend.close();
});

test("ProxyDataplane.apply() runs an http frontend with its routes", async () => {
  const fe = desiredFrontend([{ name: "b", port: backend.port }], {
    routes: [{ match: { path: "/gone" }, respond: { status: 410, body: "gone\n" } }],
  });
  await dataplane.apply({ version: 1, frontends: { www: fe } });
  const addr = dataplane.address("www");
  assert.ok(addr !== null);
  const ok = await curl([`http://127.0.0.1:${addr.port}/x`]);
  assert.equal(ok.stdout, "served /x");
  const gone = await curl(["-w", "%{http_code}", "-o", "/dev/null", `http://127.0.0.1:${addr.port}/gone`]);
  assert.equal(gone.stdout, "410");
  assert.equal(dataplane.stats().frontends.www.backends.b.connectionsTotal, 1);
});
