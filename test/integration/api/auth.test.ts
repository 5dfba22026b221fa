// Bearer-token auth on the real admin server: missing, wrong and right tokens on reads
// and mutations, the WWW-Authenticate challenge, the token taken from the config's
// token-env, and the refusal to serve a non-loopback address without a token.
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startAdminServer } from "../../../src/api/server.ts";
import { type Fixture, startFixture } from "../../helpers/admin-fixture.ts";
import { freePort } from "../../helpers/ports.ts";
import { waitFor } from "../../helpers/wait.ts";

let f: Fixture;

before(async () => {
  f = await startFixture({ token: "t0ken-for-tests" });
});
after(async () => {
  await f?.close();
});

const call = (url: string, method: string, path: string, auth?: string) =>
  fetch(url + path, { method, headers: auth ? { authorization: auth } : {} });

test("reads from loopback need no token", async () => {
  const r = await call(f.url, "GET", "/api/v1/backends");
  assert.equal(r.status, 200);
  await r.body?.cancel();
});

test("a mutation without a token is 401 with a Bearer challenge, and changes nothing", async () => {
  const r = await call(f.url, "POST", "/api/v1/backends/a/disable");
  assert.equal(r.status, 401);
  assert.match(r.headers.get("www-authenticate") ?? "", /^Bearer realm="lodestone"/);
  assert.equal(((await r.json()) as { error: { code: string } }).error.code, "UNAUTHORIZED");
  assert.notEqual(f.daemon.status().backends.find((b) => b.name === "a")?.state, "disabled");
});

test("a wrong token is 401 invalid_token, on mutations and on reads", async () => {
  for (const [method, path] of [
    ["POST", "/api/v1/backends/a/disable"],
    ["GET", "/api/v1/backends"],
  ]) {
    const r = await call(f.url, method, path, "Bearer wrong");
    assert.equal(r.status, 401, `${method} ${path}`);
    assert.match(r.headers.get("www-authenticate") ?? "", /error="invalid_token"/);
    await r.body?.cancel();
  }
  const malformed = await call(f.url, "POST", "/api/v1/backends/a/pause", "Basic dDBrZW4=");
  assert.equal(malformed.status, 401);
  await malformed.body?.cancel();
});

test("the right token is accepted and the mutation is attributed to its id, not the secret", async () => {
  const from = f.daemon.events.lastId;
  const r = await call(f.url, "POST", "/api/v1/backends/c/pause", "Bearer t0ken-for-tests");
  assert.equal(r.status, 200);
  await r.body?.cancel();
  const log = f.daemon.events.since(from).find((e) => e.type === "log" && e.message.startsWith("admin "));
  assert.ok(log && log.type === "log");
  assert.match(log.message, /^admin 127\.0\.0\.1 token:[0-9a-f]{8}: pause backend c$/);
  assert.ok(!log.message.includes("t0ken-for-tests"));
  const back = await call(f.url, "POST", "/api/v1/backends/c/resume", "Bearer t0ken-for-tests");
  await back.body?.cancel();
});

test("the token named by admin.token-env in the config is the one enforced", async () => {
  process.env.LODESTONE_ADMIN_TEST_TOKEN = "from-env-123";
  const port = await freePort();
  writeFileSync(
    f.file,
    `${f.yaml}admin: { listen: "127.0.0.1:${port}", token-env: LODESTONE_ADMIN_TEST_TOKEN }\n`,
  );
  const reload = await f.daemon.reload();
  assert.ok(reload.ok);
  const admin = await startAdminServer(f.daemon, { processMetrics: false });
  try {
    assert.equal(admin.address.port, port);
    const no = await call(admin.url, "POST", "/api/v1/config/check", "Bearer t0ken-for-tests");
    assert.equal(no.status, 401);
    await no.body?.cancel();
    const yes = await call(admin.url, "POST", "/api/v1/config/check", "Bearer from-env-123");
    assert.equal(yes.status, 200);
    await yes.body?.cancel();
  } finally {
    await admin.close();
    delete process.env.LODESTONE_ADMIN_TEST_TOKEN;
    writeFileSync(f.file, f.yaml);
  }
});

test("refuses to serve a non-loopback address without a token (checked before binding)", async () => {
  await assert.rejects(
    startAdminServer(f.daemon, { listen: { host: "0.0.0.0", port: 0 }, token: null, processMetrics: false }),
    { code: "ADMIN_INSECURE" },
  );
});

test("an address already in use is a clear ADMIN_LISTEN_FAILED error", async () => {
  await assert.rejects(
    startAdminServer(f.daemon, { listen: f.admin.address, token: null, processMetrics: false }),
    (err: Error & { code?: string }) => err.code === "ADMIN_LISTEN_FAILED" && /EADDRINUSE/.test(err.message),
  );
});

test("a reload re-reads the token file: the new token works, the old one stops working", async () => {
  const tokenFile = join(f.dir, "rotating-token");
  writeFileSync(tokenFile, "first-token\n");
  writeFileSync(
    f.file,
    `${f.yaml}admin: { listen: "127.0.0.1:${await freePort()}", token-file: ${tokenFile} }\n`,
  );
  assert.ok((await f.daemon.reload()).ok);
  const admin = await startAdminServer(f.daemon, {
    listen: { host: "127.0.0.1", port: 0 },
    processMetrics: false,
  });
  const status = async (tok: string) => {
    const r = await call(admin.url, "POST", "/api/v1/config/check", `Bearer ${tok}`);
    await r.body?.cancel();
    return r.status;
  };
  try {
    assert.equal(await status("first-token"), 200);
    const firstId = admin.tokenId;
    writeFileSync(tokenFile, "second-token\n");
    assert.ok((await f.daemon.reload()).ok);
    await waitFor(
      async () => (await status("second-token")) === 200,
      3000,
      "the second token to be accepted",
      50,
    );
    assert.equal(await status("first-token"), 401);
    assert.notEqual(admin.tokenId, firstId);
    // An unreadable token file after a reload keeps the token in force.
    rmSync(tokenFile);
    assert.ok((await f.daemon.reload()).ok);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await status("second-token"), 200);
  } finally {
    await admin.close();
    writeFileSync(f.file, f.yaml);
    await f.daemon.reload();
  }
});
