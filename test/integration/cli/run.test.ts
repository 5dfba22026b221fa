// End to end: `bin/lodestone run` spawned with the real proxy dataplane and its admin
// API (token from token-file), driven by spawned `lodestone show/set/watch/config`
// reading the address and token from the same config file, and /metrics counting the
// traffic that went through the TCP frontend.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fixtureYaml } from "../../helpers/admin-fixture.ts";
import { LodestoneCommand, LodestoneProcess, runLodestone } from "../../helpers/lodestone-cli.ts";
import { freePort } from "../../helpers/ports.ts";
import { parsePrometheus, sampleValue } from "../../helpers/prom-parse.ts";
import { waitFor } from "../../helpers/wait.ts";
import { NamedBackend, tally } from "../run/helpers.ts";

const TOKEN = "run-test-token";
let lb: LodestoneProcess;
let backends: NamedBackend[];
let frontendPort: number;
let adminPort: number;
let tokenDir: string;

before(async () => {
  backends = await Promise.all(["a", "b", "c"].map((n) => new NamedBackend(n).start()));
  frontendPort = await freePort();
  adminPort = await freePort();
  tokenDir = mkdtempSync(join(tmpdir(), "lodestone-token-"));
  const tokenFile = join(tokenDir, "token");
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const [a, b, c] = backends.map((x) => x.port);
  lb = await LodestoneProcess.spawn(
    `${fixtureYaml(frontendPort, { a, b, c })}admin: { listen: "127.0.0.1:${adminPort}", token-file: ${tokenFile} }\n`,
  );
  await lb.ready();
  await lb.waitForMsg("admin API listening");
});

after(async () => {
  lb?.signal("SIGTERM");
  if (lb) {
    const timer = setTimeout(() => lb.signal("SIGKILL"), 5000);
    await lb.exited;
    clearTimeout(timer);
    await lb.close();
  }
  for (const b of backends ?? []) await b.kill();
  rmSync(tokenDir, { recursive: true, force: true });
});

const cli = (args: string[]) => runLodestone([...args, "--config", lb.file]);

test("show frontends reaches the running daemon through the address in its config", async () => {
  const r = await cli(["show", "frontends"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`www\\s+up\\s+tcp://127\\.0\\.0\\.1:${frontendPort}\\s+web\\s+main`));
});

test("traffic through the TCP frontend shows in /metrics and in show frontend", async () => {
  const counts = await tally(frontendPort, 6);
  assert.equal((counts.a ?? 0) + (counts.b ?? 0), 6, JSON.stringify(counts));
  const text = await waitFor(
    async () => {
      const t = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
      const m = parsePrometheus(t);
      return (sampleValue(m, "lodestone_frontend_connections_total", { frontend: "www" }) ?? 0) >= 6
        ? t
        : null;
    },
    5000,
    "six connections in /metrics",
    50,
  );
  const m = parsePrometheus(text!);
  assert.ok((sampleValue(m, "lodestone_frontend_bytes_out_total", { frontend: "www" }) ?? 0) >= 12);
  assert.equal(sampleValue(m, "lodestone_backend_up", { backend: "a" }), 1);
  assert.equal(sampleValue(m, "lodestone_frontend_rejected_total", { frontend: "www" }), 0);
  assert.ok((sampleValue(m, "lodestone_healthcheck_results_total", { backend: "a", result: "ok" }) ?? 0) > 0);
  const r = await cli(["show", "frontend", "www", "--json"]);
  assert.ok(JSON.parse(r.stdout).counters.connectionsTotal >= 6);
});

test("set backend disable is seen by watch events, in status, and in where traffic goes", async () => {
  const watch = new LodestoneCommand([
    "watch",
    "events",
    "--json",
    "--type",
    "backend-transition",
    "--backend",
    "b",
    "--config",
    lb.file,
  ]);
  const lines = () =>
    watch.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; backend: string; from: string; to: string });
  try {
    // The replay holds b's transitions so far; the last one left it up.
    await waitFor(() => lines().at(-1)?.to === "up", 10_000, "a transition to up", 50);
    const before = lines().length;
    const set = await cli(["set", "backend", "b", "disable"]);
    assert.equal(set.code, 0, set.stderr);
    await waitFor(() => lines().length > before, 10_000, "a new event line", 50);
    const fresh = lines().slice(before);
    assert.deepEqual(
      fresh.map((e) => [e.backend, e.from, e.to]),
      [["b", "up", "disabled"]],
    );
  } finally {
    watch.kill();
  }
  const show = await cli(["show", "backend", "b"]);
  assert.match(show.stdout, /state:\s+disabled/);
  const counts = await tally(frontendPort, 6);
  assert.deepEqual(counts, { a: 6 });
  const enable = await cli(["set", "backend", "b", "enable"]);
  assert.equal(enable.code, 0, enable.stderr);
});

test("config check and reload through the running daemon", async () => {
  const check = await cli(["config", "check"]);
  assert.equal(check.code, 0, check.stderr);
  const reload = await cli(["config", "reload"]);
  assert.equal(reload.code, 0, reload.stderr);
  assert.match(reload.stdout, /^reloaded: no changes/);
});
