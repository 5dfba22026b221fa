// The L7 statistics of a real listener, summed like worker processes' stats, and
// rendered by the metrics registry as Prometheus series (parsed back strictly).
import assert from "node:assert/strict";
import { after, test } from "node:test";
import type { AdminDaemon } from "../../../src/api/daemon-view.ts";
import { EventBus } from "../../../src/control/events.ts";
import { createHttpListener } from "../../../src/dataplane/proxy/http/index.ts";
import { sumHttpStats } from "../../../src/dataplane/proxy/http/stats.ts";
import type { DataplaneStats } from "../../../src/dataplane/types.ts";
import { createMetrics } from "../../../src/metrics/registry.ts";
import { parsePrometheus, sampleValue } from "../../helpers/prom-parse.ts";
import { desiredFrontend, rawRequest, startHttpBackend } from "./harness.ts";

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

test("http series: responses by class, requests, retries, ejections and a latency histogram", async () => {
  const b = await startHttpBackend((req, res) => {
    res.statusCode = req.url === "/missing" ? 404 : 200;
    res.end("x");
  });
  cleanups.push(() => b.close());
  const l = createHttpListener(desiredFrontend([{ name: "a", port: b.port }]));
  await l.start();
  cleanups.push(() => l.stop(50));
  const port = l.address()!.port;
  for (const path of ["/", "/", "/missing"]) {
    await rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`);
  }
  // Two "workers" reporting the same frontend: the registry sees the sum.
  const one: DataplaneStats = { frontends: { www: l.stats() } };
  const stats = (): DataplaneStats[] => [one, { frontends: { www: l.stats() } }];
  const daemon = {
    events: new EventBus(),
    startedAt: Date.now(),
    config: { backends: {} },
    status: () => ({ version: 1, frontends: [], services: [], backends: [] }),
    stats,
  } as unknown as AdminDaemon;
  const metrics = createMetrics(daemon, { processMetrics: false });
  cleanups.push(async () => metrics.close());
  const m = parsePrometheus(await metrics.render());

  assert.equal(m.get("lodestone_http_responses_total")?.type, "counter");
  assert.equal(sampleValue(m, "lodestone_http_responses_total", { frontend: "www", class: "2xx" }), 4);
  assert.equal(sampleValue(m, "lodestone_http_responses_total", { frontend: "www", class: "4xx" }), 2);
  assert.equal(sampleValue(m, "lodestone_http_requests_total", { frontend: "www" }), 6);
  assert.equal(sampleValue(m, "lodestone_http_retries_total", { frontend: "www" }), 0);
  assert.equal(sampleValue(m, "lodestone_http_outlier_ejections_total", { frontend: "www" }), 0);
  assert.equal(sampleValue(m, "lodestone_http_outlier_ejected", { frontend: "www" }), 0);
  const h = m.get("lodestone_http_request_duration_seconds");
  assert.equal(h?.type, "histogram");
  assert.equal(
    sampleValue(
      m,
      "lodestone_http_request_duration_seconds",
      { frontend: "www", le: "+Inf" },
      "lodestone_http_request_duration_seconds_bucket",
    ),
    6,
  );
  assert.equal(
    sampleValue(
      m,
      "lodestone_http_request_duration_seconds",
      { frontend: "www" },
      "lodestone_http_request_duration_seconds_count",
    ),
    6,
  );
  // Buckets are cumulative: never decreasing with le.
  const buckets = h!.samples.filter((s) => s.name.endsWith("_bucket")).map((s) => s.value);
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i] >= buckets[i - 1]);
});

test("summing L7 stats adds every field and leaves the inputs alone", () => {
  const a = {
    requests: 1,
    responses: { "1xx": 0, "2xx": 1, "3xx": 0, "4xx": 0, "5xx": 0 },
    latency: { bounds: [5, 10], counts: [1, 1, 1], sumMs: 3, count: 1 },
    retries: 1,
    retriesRefused: 0,
    ejections: 2,
    ejected: 1,
  };
  const sum = sumHttpStats(undefined, a);
  sumHttpStats(sum, a);
  assert.deepEqual(sum, {
    requests: 2,
    responses: { "1xx": 0, "2xx": 2, "3xx": 0, "4xx": 0, "5xx": 0 },
    latency: { bounds: [5, 10], counts: [2, 2, 2], sumMs: 6, count: 2 },
    retries: 2,
    retriesRefused: 0,
    ejections: 4,
    ejected: 2,
  });
  assert.equal(a.requests, 1);
  assert.deepEqual(a.latency.counts, [1, 1, 1]);
});
