import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";

const bin = new URL("../../bin/lodestone", import.meta.url).pathname;

test("lodestone --version prints the package version", () => {
  const out = execFileSync(bin, ["--version"], { encoding: "utf8" });
  assert.equal(out.trim(), "0.1.0");
});
