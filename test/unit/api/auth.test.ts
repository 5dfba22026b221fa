import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  bearerToken,
  clientAddress,
  decideAccess,
  isLoopback,
  loadAdminToken,
  makeToken,
} from "../../../src/api/auth.ts";

const token = makeToken("s3cret");
const good = "Bearer s3cret";
const bad = "Bearer wrong";

// [remote, authorization, mutation, token configured, expected status (0 = allowed)]
const table: [string, string | undefined, boolean, boolean, number][] = [
  ["127.0.0.1", undefined, false, false, 0],
  ["127.0.0.1", undefined, true, false, 0],
  ["::1", undefined, true, false, 0],
  ["127.8.9.10", undefined, true, false, 0],
  ["10.0.0.1", undefined, false, false, 403],
  ["10.0.0.1", undefined, true, false, 403],
  ["10.0.0.1", good, true, false, 403],
  ["127.0.0.1", undefined, false, true, 0],
  ["127.0.0.1", undefined, true, true, 401],
  ["127.0.0.1", good, true, true, 0],
  ["127.0.0.1", bad, true, true, 401],
  ["127.0.0.1", bad, false, true, 401],
  ["127.0.0.1", "Basic czNjcmV0", true, true, 401],
  ["127.0.0.1", "Bearer", true, true, 401],
  ["10.0.0.1", undefined, false, true, 401],
  ["10.0.0.1", good, false, true, 0],
  ["10.0.0.1", good, true, true, 0],
  ["10.0.0.1", bad, true, true, 401],
  ["2001:db8::1", good, true, true, 0],
  ["2001:db8::1", undefined, false, true, 401],
];

for (const [remote, authorization, mutation, configured, status] of table) {
  test(`access: ${remote} ${authorization ?? "no auth"} ${mutation ? "mutation" : "read"} token=${configured} -> ${status || "allowed"}`, () => {
    const d = decideAccess({ remote, authorization, mutation, token: configured ? token : null });
    if (status === 0) {
      assert.equal(d.ok, true);
    } else {
      assert.equal(d.ok, false);
      if (!d.ok) {
        assert.equal(d.status, status);
        if (status === 401) assert.match(d.challenge ?? "", /^Bearer realm="lodestone"/);
      }
    }
  });
}

test("who names the token by a short id, never the token itself", () => {
  const d = decideAccess({ remote: "127.0.0.1", authorization: good, mutation: true, token });
  assert.ok(d.ok);
  if (d.ok) {
    assert.match(d.who, /^127\.0\.0\.1 token:[0-9a-f]{8}$/);
    assert.ok(!d.who.includes("s3cret"));
  }
  const anon = decideAccess({ remote: "127.0.0.1", authorization: undefined, mutation: true, token: null });
  assert.ok(anon.ok && anon.who === "127.0.0.1 anonymous");
});

test("bearerToken parses the header: absent, malformed, case-insensitive scheme", () => {
  assert.equal(bearerToken(undefined), null);
  assert.equal(bearerToken("Bearer abc"), "abc");
  assert.equal(bearerToken("bearer  abc "), "abc");
  assert.equal(bearerToken("Bearer a b"), "");
  assert.equal(bearerToken("Token abc"), "");
});

test("loopback: 127/8 and ::1 only; IPv4-mapped addresses are unwrapped first", () => {
  assert.equal(isLoopback("127.0.0.1"), true);
  assert.equal(isLoopback("127.255.0.1"), true);
  assert.equal(isLoopback("::1"), true);
  assert.equal(isLoopback("128.0.0.1"), false);
  assert.equal(isLoopback("::2"), false);
  assert.equal(isLoopback("localhost"), false);
  assert.equal(clientAddress("::ffff:127.0.0.1"), "127.0.0.1");
  assert.equal(isLoopback(clientAddress("::ffff:10.1.1.1")), false);
  assert.equal(clientAddress(undefined), "unknown");
});

test("loadAdminToken: env var, file, none, empty and unreadable are told apart", async () => {
  const dir = mkdtempSync(join(tmpdir(), "lodestone-token-"));
  try {
    const listen = { host: "127.0.0.1", port: 9700 };
    assert.equal(await loadAdminToken({ listen }, {}), null);
    const fromEnv = await loadAdminToken({ listen, tokenEnv: "TOK" }, { TOK: " abc \n" });
    assert.deepEqual(fromEnv?.digest, makeToken("abc").digest);
    await assert.rejects(loadAdminToken({ listen, tokenEnv: "TOK" }, {}), { code: "ADMIN_TOKEN_EMPTY" });
    const file = join(dir, "token");
    writeFileSync(file, "from-file\n");
    const fromFile = await loadAdminToken({ listen, tokenFile: file }, {});
    assert.deepEqual(fromFile?.digest, makeToken("from-file").digest);
    writeFileSync(file, "  \n");
    await assert.rejects(loadAdminToken({ listen, tokenFile: file }, {}), { code: "ADMIN_TOKEN_EMPTY" });
    await assert.rejects(loadAdminToken({ listen, tokenFile: join(dir, "missing") }, {}), {
      code: "ADMIN_TOKEN_UNREADABLE",
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
