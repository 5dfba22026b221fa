// /metrics scraped from a real admin server and parsed as Prometheus text: the
// expected series are present, and counters move after real traffic through a TCP
// frontend, probes, transitions and reloads.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { type Fixture, startFixture } from "../../helpers/admin-fixture.ts";
import { type MetricFamily, parsePrometheus, sampleValue } from "../../helpers/prom-parse.ts";
import { waitFor } from "../../helpers/wait.ts";
import { whoAnswers } from "../run/helpers.ts";

let f: Fixture;

before(async () => {
  f = await startFixture({ processMetrics: true });
});
after(async () => {
  await f?.close();
});

async function scrape(): Promise<Map<string, MetricFamily>> {
  const res = await fetch(`${f.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await res.text());
}

test("every expected family is exposed with its type", async () => {
  const m = await scrape();
  const expected: [string, MetricFamily["type"]][] = [
    ["lodestone_frontend_connections_total", "counter"],
    ["lodestone_frontend_connections_active", "gauge"],
    ["lodestone_frontend_bytes_in_total", "counter"],
    ["lodestone_frontend_bytes_out_total", "counter"],
    ["lodestone_frontend_connect_errors_total", "counter"],
    ["lodestone_frontend_up", "gauge"],
    ["lodestone_frontend_active_pool", "gauge"],
    ["lodestone_service_active_pool", "gauge"],
    ["lodestone_backend_state", "gauge"],
    ["lodestone_backend_up", "gauge"],
    ["lodestone_backend_weight_configured", "gauge"],
    ["lodestone_backend_weight_effective", "gauge"],
    ["lodestone_healthcheck_results_total", "counter"],
    ["lodestone_healthcheck_duration_seconds", "histogram"],
    ["lodestone_backend_transitions_total", "counter"],
    ["lodestone_reloads_total", "counter"],
    ["lodestone_desired_state_version", "gauge"],
    ["lodestone_process_cpu_seconds_total", "counter"],
    ["lodestone_process_resident_memory_bytes", "gauge"],
  ];
  for (const [name, type] of expected) {
    assert.equal(m.get(name)?.type, type, name);
  }
});

test("state gauges: one 0/1 series per state, exactly one set; weights and active pool", async () => {
  const m = await scrape();
  const states = m.get("lodestone_backend_state")!.samples.filter((s) => s.labels.backend === "a");
  assert.equal(states.length, 6);
  assert.deepEqual(
    states.filter((s) => s.value === 1).map((s) => s.labels.state),
    ["up"],
  );
  assert.equal(sampleValue(m, "lodestone_backend_up", { backend: "a" }), 1);
  assert.equal(
    sampleValue(m, "lodestone_backend_weight_configured", { service: "web", pool: "main", backend: "b" }),
    50,
  );
  assert.equal(sampleValue(m, "lodestone_backend_weight_effective", { pool: "spare", backend: "c" }), 0);
  assert.equal(sampleValue(m, "lodestone_frontend_active_pool", { frontend: "www" }), 0);
  assert.equal(sampleValue(m, "lodestone_frontend_up", { frontend: "www" }), 1);
});

test("traffic through the TCP frontend moves connection and byte counters", async () => {
  const before = await scrape();
  const total0 = sampleValue(before, "lodestone_frontend_connections_total", { frontend: "www" }) ?? 0;
  const out0 = sampleValue(before, "lodestone_frontend_bytes_out_total", { frontend: "www" }) ?? 0;
  const who: string[] = [];
  for (let i = 0; i < 6; i++) who.push((await whoAnswers(f.frontendPort)) ?? "none");
  assert.ok(
    who.every((w) => w === "a" || w === "b"),
    who.join(","),
  );
  const m = await waitFor(
    async () => {
      const s = await scrape();
      return (sampleValue(s, "lodestone_frontend_connections_total", { frontend: "www" }) ?? 0) >= total0 + 6
        ? s
        : null;
    },
    3000,
    "six more connections in /metrics",
    50,
  );
  assert.equal(sampleValue(m!, "lodestone_frontend_connections_total", { frontend: "www" }), total0 + 6);
  // Each backend greets with "<name>\n": 2 bytes per connection to the client.
  assert.equal(sampleValue(m!, "lodestone_frontend_bytes_out_total", { frontend: "www" }), out0 + 12);
  const perBackend =
    (sampleValue(m!, "lodestone_backend_connections_total", { frontend: "www", backend: "a" }) ?? 0) +
    (sampleValue(m!, "lodestone_backend_connections_total", { frontend: "www", backend: "b" }) ?? 0);
  assert.equal(perBackend, total0 + 6);
});

test("probe results and durations are counted per backend", async () => {
  const m1 = await scrape();
  const ok1 = sampleValue(m1, "lodestone_healthcheck_results_total", { backend: "a", result: "ok" }) ?? 0;
  await new Promise((r) => setTimeout(r, 350));
  const m2 = await scrape();
  const ok2 = sampleValue(m2, "lodestone_healthcheck_results_total", { backend: "a", result: "ok" }) ?? 0;
  assert.ok(ok2 > ok1, `probe counter moved (${ok1} -> ${ok2})`);
  const family = "lodestone_healthcheck_duration_seconds";
  const count = sampleValue(m2, family, { backend: "a" }, `${family}_count`) ?? 0;
  const inf = sampleValue(m2, family, { backend: "a", le: "+Inf" }, `${family}_bucket`);
  assert.ok(count >= ok2, `histogram count ${count} covers the ${ok2} ok probes`);
  assert.equal(inf, count);
  assert.ok((sampleValue(m2, family, { backend: "a" }, `${family}_sum`) ?? -1) >= 0);
  assert.equal(
    m2.get("lodestone_healthcheck_results_total")!.samples.some((s) => s.labels.backend === "c"),
    false,
    "static backends are never probed",
  );
});

test("a backend going down counts a transition, a failed probe and flips the state gauges", async () => {
  const before = await scrape();
  const down0 = sampleValue(before, "lodestone_backend_transitions_total", { backend: "b", to: "down" }) ?? 0;
  await f.backends.b.kill();
  try {
    const m = await waitFor(
      async () => {
        const s = await scrape();
        return sampleValue(s, "lodestone_backend_up", { backend: "b" }) === 0 ? s : null;
      },
      5000,
      "backend b down in /metrics",
      50,
    );
    assert.equal(
      sampleValue(m!, "lodestone_backend_transitions_total", { backend: "b", to: "down" }),
      down0 + 1,
    );
    assert.ok(
      (sampleValue(m!, "lodestone_healthcheck_results_total", { backend: "b", result: "fail" }) ?? 0) >= 1,
    );
    assert.equal(sampleValue(m!, "lodestone_backend_state", { backend: "b", state: "down" }), 1);
    assert.equal(sampleValue(m!, "lodestone_backend_weight_effective", { pool: "main", backend: "b" }), 0);
  } finally {
    await f.backends.b.start();
  }
});

test("reloads are counted by outcome", async () => {
  const before = await scrape();
  const ok0 = sampleValue(before, "lodestone_reloads_total", { outcome: "ok" }) ?? 0;
  const refused0 = sampleValue(before, "lodestone_reloads_total", { outcome: "refused" }) ?? 0;
  assert.ok((await f.daemon.reload()).ok);
  writeFileSync(f.file, "frontends: [broken");
  assert.equal((await f.daemon.reload()).ok, false);
  writeFileSync(f.file, f.yaml);
  const m = await scrape();
  assert.equal(sampleValue(m, "lodestone_reloads_total", { outcome: "ok" }), ok0 + 1);
  assert.equal(sampleValue(m, "lodestone_reloads_total", { outcome: "refused" }), refused0 + 1);
});
