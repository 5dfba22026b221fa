// `lodestone validate` and `lodestone schema` as a user runs them: the real bin script,
// a child process per case, exit codes and output checked.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { runLodestone } from "../../helpers/lodestone-cli.ts";

const root = new URL("../../../", import.meta.url).pathname;
const fixture = (name: string) => join(root, "test/fixtures/config", name);

/** Run the CLI to completion (killed after 30s so a hang fails the test instead of the runner). */
const run = (...args: string[]) => runLodestone(args, { timeoutMs: 30_000 });

/** A stack trace line ("    at foo (file:1:2)") must never reach the user. */
function assertNoStackTrace(text: string) {
  assert.doesNotMatch(text, /^\s+at .+[:(]/m);
  assert.doesNotMatch(text, /Error:.*\n\s+at /);
}

const tmp = mkdtempSync(join(tmpdir(), "lodestone-validate-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

test("validate exits 0 and prints FILE: ok with a summary for a valid config", async () => {
  const file = fixture("valid.yaml");
  const r = await run("validate", file);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${file}: ok (1 frontend, 1 service, 3 backends, 1 healthcheck)\n`);
  assert.equal(r.stderr, "");
});

test("the example config in examples/ validates", async () => {
  const r = await run("validate", join(root, "examples/lodestone.yaml"));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /lodestone\.yaml: ok \(/);
});

test("validate exits 1 and prints every error with file:line:column on stderr", async () => {
  const file = fixture("invalid.yaml");
  const r = await run("validate", file);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.deepEqual(r.stderr.trimEnd().split("\n"), [
    `${file}:3:36: healthchecks.http-ok.interval: a bare number is not a duration: use a unit, e.g. 2s or 2ms`,
    `${file}:6:57: backends.web-2.healthcheck: unknown healthcheck "http-okay" (healthchecks: http-ok)`,
    `${file}:10:55: services.web.pools[0].backends.web-1.weight: expected an integer weight from 0 to 100, got 150`,
    `${file}:12:48: frontends.www.protocoll: unknown key "protocoll" (did you mean "protocol"?); allowed keys: listen, protocol, service, dataplane, xdp, connect-timeout, idle-timeout, max-connections, connect-retries, proxy-protocol, udp, routes, http, tls`,
    `${file}: 4 errors`,
  ]);
  assertNoStackTrace(r.stderr);
});

test("validate reports YAML syntax errors with line:column and exit 1", async () => {
  // Written here rather than kept as a fixture: the repository's formatter would refuse a broken YAML file.
  const file = join(tmp, "syntax-error.yaml");
  writeFileSync(file, "backends:\n  web-1: { address: 127.0.0.1, port: 9001\nservices:\n  web: {}\n");
  const r = await run("validate", file);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+: YAML syntax: `),
  );
  assertNoStackTrace(r.stderr);
});

test("validate exits 2 with one line when the file cannot be read", async () => {
  const missing = join(tmp, "missing.yaml");
  for (const [path, reason] of [
    [missing, "no such file"],
    [tmp, "is a directory"],
  ]) {
    const r = await run("validate", path);
    assert.equal(r.code, 2, path);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, `lodestone validate: cannot read ${path}: ${reason}\n`);
  }
});

test("validate never prints a stack trace, whatever the file holds", async () => {
  const inputs = ["\u0000\u0001binary", "- [", "{}", "backends: 5", "a: &a [*a]", "\t\t", "x".repeat(10_000)];
  const files = inputs.map((text, i) => {
    const file = join(tmp, `odd-${i}.yaml`);
    writeFileSync(file, text);
    return file;
  });
  const results = await Promise.all(files.map((file) => run("validate", file)));
  results.forEach((r, i) => {
    const text = inputs[i];
    assert.ok(
      r.code === 0 || r.code === 1,
      `${JSON.stringify(text.slice(0, 20))}: exit ${r.code}\n${r.stderr}`,
    );
    assertNoStackTrace(r.stderr);
    if (r.code === 1)
      for (const line of r.stderr.trimEnd().split("\n").slice(0, -1)) assert.match(line, /:\d+:\d+: /);
  });
});

test("schema prints a JSON Schema with the top-level sections", async () => {
  const r = await run("schema");
  assert.equal(r.code, 0, r.stderr);
  const schema = JSON.parse(r.stdout) as { type: string; properties: Record<string, unknown> };
  assert.equal(schema.type, "object");
  assert.deepEqual(Object.keys(schema.properties), [
    "healthchecks",
    "backends",
    "services",
    "frontends",
    "admin",
    "runtime",
  ]);
});
