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

test("outlier events reach ProxyDataplane's onOutlier with the frontend's name; stats carry http", async () => {
  const failing = await startHttpBackend((_req, res) => {
    res.statusCode = 500;
    res.end("no");
  });
  const events: string[] = [];
  const dp = new ProxyDataplane({ onOutlier: (fe, b, ejected) => events.push(`${fe} ${b} ${ejected}`) });
  try {
    const fe = desiredFrontend(
      [
        { name: "bad", port: failing.port },
        { name: "good", port: backend.port },
      ],
      {
        http: {
          outlier: {
            consecutiveErrors: 1,
            baseEjectionTime: 60_000,
            maxEjectionTime: 60_000,
            maxEjectedPercent: 50,
          },
        },
      },
    );
    await dp.apply({ version: 1, frontends: { www: fe } });
    const port = dp.address("www")!.port;
    for (let i = 0; i < 3; i++) await curl([`http://127.0.0.1:${port}/`]);
    assert.deepEqual(events, ["www bad true"]);
    assert.equal(dp.stats().frontends.www.http?.ejections, 1);
  } finally {
    await dp.stop(100);
    await failing.close();
  }
});
