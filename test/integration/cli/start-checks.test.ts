// What only a start can check (the admin token is readable) is refused alike by
// `lodestone validate` and `lodestone run`, with the key's file:line:column.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { runLodestone } from "../../helpers/lodestone-cli.ts";
import { freePort } from "../../helpers/ports.ts";

const dir = mkdtempSync(join(tmpdir(), "lodestone-start-checks-"));
after(() => rmSync(dir, { recursive: true, force: true }));

// Frontend port 1 is never bound: every run here must stop before the dataplane.
const REST =
  "backends:\n  a: { address: 127.0.0.1, port: 9 }\nservices:\n  s: { pools: [ { name: p, backends: { a: {} } } ] }\nfrontends:\n  f: { listen: 127.0.0.1:1, protocol: tcp, service: s }\n";

// A free admin port, in case a run got as far as the admin API despite the check.
const adminPort = await freePort();

function config(name: string, adminLines: string): string {
  const file = join(dir, name);
  writeFileSync(file, `admin:\n  listen: 127.0.0.1:${adminPort}\n${adminLines}${REST}`);
  return file;
}

const quoteRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

test("validate exits 1 with file:line:column when admin.token-file does not exist", async () => {
  const missing = join(dir, "no-such-token");
  const file = config("missing-token.yaml", `  token-file: ${missing}\n`);
  const r = await runLodestone(["validate", file]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    new RegExp(`^${quoteRe(file)}:3:3: admin\\.token-file: .*${quoteRe(missing)}.*ENOENT`, "m"),
  );
  assert.match(r.stderr, /: 1 error\n$/);
  assert.equal(r.stdout, "");
});

test("validate exits 1 at admin.token-env when the variable is unset and there is no file", async () => {
  const file = config("unset-env.yaml", "  token-env: LODESTONE_TEST_UNSET_TOKEN\n");
  const r = await runLodestone(["validate", file], { env: { LODESTONE_TEST_UNSET_TOKEN: "" } });
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    new RegExp(`^${quoteRe(file)}:3:3: admin\\.token-env: .*LODESTONE_TEST_UNSET_TOKEN`, "m"),
  );
});

test("validate accepts a readable token file and a set token variable", async () => {
  const token = join(dir, "token");
  writeFileSync(token, "s3cret\n");
  const withFile = config("good-file.yaml", `  token-file: ${token}\n`);
  const r1 = await runLodestone(["validate", withFile]);
  assert.equal(r1.code, 0, r1.stderr);
  assert.match(r1.stdout, /: ok \(/);
  const withEnv = config("good-env.yaml", "  token-env: LODESTONE_TEST_SET_TOKEN\n");
  const r2 = await runLodestone(["validate", withEnv], { env: { LODESTONE_TEST_SET_TOKEN: "s3cret" } });
  assert.equal(r2.code, 0, r2.stderr);
});

test("run refuses the missing token file the same way: file:line:column, exit 1, not started", async () => {
  const file = config("run-missing-token.yaml", `  token-file: ${join(dir, "absent")}\n`);
  const r = await runLodestone(["run", "-c", file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`^${quoteRe(file)}:3:3: admin\\.token-file: `, "m"));
  assert.match(r.stderr, /not started/);
  assert.doesNotMatch(r.stdout, /"msg":"starting"/);
});
