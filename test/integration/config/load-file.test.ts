// loadConfigFile against the real filesystem: readable, unreadable, too large.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { loadConfigFile, MAX_CONFIG_BYTES } from "../../../src/config/load.ts";
import { LodestoneError } from "../../../src/errors.ts";

const tmp = mkdtempSync(join(tmpdir(), "lodestone-load-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function isUnreadable(path: string, reason: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof LodestoneError);
    assert.equal(err.code, "CONFIG_UNREADABLE");
    assert.ok(err.message.includes(path), err.message);
    assert.match(err.message, reason);
    return true;
  };
}

test("loadConfigFile reads and validates a file, labelling issues with its path", async () => {
  const good = join(tmp, "good.yaml");
  writeFileSync(good, "backends:\n  b1: { address: 127.0.0.1, port: 9001 }\n");
  const ok = await loadConfigFile(good);
  assert.ok(ok.ok);
  if (ok.ok) assert.deepEqual(ok.config.backends.b1, { name: "b1", address: "127.0.0.1", port: 9001 });

  const bad = join(tmp, "bad.yaml");
  writeFileSync(bad, "backends:\n  b1: { address: 127.0.0.1, port: 0 }\n");
  const r = await loadConfigFile(bad);
  assert.ok(!r.ok);
  if (!r.ok)
    assert.deepEqual(r.errors[0], {
      file: bad,
      line: 2,
      column: 35,
      path: "backends.b1.port",
      message: "expected a port number from 1 to 65535, got 0",
    });
});

test("loadConfigFile throws CONFIG_UNREADABLE for a missing file or a directory", async () => {
  const missing = join(tmp, "missing.yaml");
  await assert.rejects(loadConfigFile(missing), isUnreadable(missing, /no such file/));
  await assert.rejects(loadConfigFile(tmp), isUnreadable(tmp, /is a directory/));
});

test("loadConfigFile refuses a file larger than the limit instead of parsing it", async () => {
  const huge = join(tmp, "huge.yaml");
  writeFileSync(huge, Buffer.alloc(MAX_CONFIG_BYTES + 1, 0x20));
  await assert.rejects(loadConfigFile(huge), isUnreadable(huge, /too large/));
});
