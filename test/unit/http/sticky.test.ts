import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { StickyCookie } from "../../../src/dataplane/proxy/http/sticky.ts";

const KEY = Buffer.alloc(32, 7);
const settings = { cookie: { name: "lb", ttl: 3_600_000 } };

describe("sticky cookie values", () => {
  const c = new StickyCookie(settings, "www", KEY);
  const good = c.value("web-1");
  // [case, value, backend or null]
  const table: [string, string, string | null][] = [
    ["an issued value names its backend", good, "web-1"],
    ["a bare backend name is refused", "web-1", null],
    ["another backend's name with this MAC is refused", good.replace("web-1", "web-2"), null],
    ["a flipped MAC character is refused", good.slice(0, -1) + (good.endsWith("A") ? "B" : "A"), null],
    ["a truncated MAC is refused", good.slice(0, -2), null],
    ["an empty value is refused", "", null],
    ["a dot alone is refused", ".", null],
    [
      "a value issued by another frontend is refused",
      new StickyCookie(settings, "other", KEY).value("web-1"),
      null,
    ],
    [
      "a value signed with another key is refused",
      new StickyCookie(settings, "www", Buffer.alloc(32, 8)).value("web-1"),
      null,
    ],
  ];
  for (const [name, value, want] of table) {
    test(name, () => assert.equal(c.verify(value), want));
  }

  test("Set-Cookie carries Path, HttpOnly and Max-Age from the ttl", () => {
    assert.equal(c.setCookie("web-1"), `lb=${good}; Path=/; HttpOnly; Max-Age=3600`);
  });

  test("ttl 0 makes a session cookie", () => {
    const s = new StickyCookie({ cookie: { name: "s", ttl: 0 } }, "www", KEY);
    assert.doesNotMatch(s.setCookie("b"), /Max-Age/);
  });
});

describe("sticky cookie keys", () => {
  const dir = mkdtempSync(join(tmpdir(), "lodestone-sticky-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("two processes sharing a key-file accept each other's cookies", () => {
    const file = join(dir, "key");
    writeFileSync(file, "0123456789abcdef0123456789abcdef");
    const a = new StickyCookie({ cookie: { name: "lb", ttl: 0, keyFile: file } }, "www");
    const b = new StickyCookie({ cookie: { name: "lb", ttl: 0, keyFile: file } }, "www");
    assert.equal(b.verify(a.value("web-2")), "web-2");
  });

  test("a missing key-file is a clear error", () => {
    assert.throws(
      () => new StickyCookie({ cookie: { name: "lb", ttl: 0, keyFile: join(dir, "none") } }, "www"),
      (e: Error & { code?: string }) => e.code === "STICKY_KEY_UNREADABLE" && e.message.includes("none"),
    );
  });

  test("a key shorter than 16 bytes is refused", () => {
    const file = join(dir, "short");
    writeFileSync(file, "abc");
    assert.throws(
      () => new StickyCookie({ cookie: { name: "lb", ttl: 0, keyFile: file } }, "www"),
      (e: Error & { code?: string }) => e.code === "STICKY_KEY_SHORT",
    );
  });
});
