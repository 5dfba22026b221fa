import assert from "node:assert/strict";
import { test } from "node:test";
import type { ConfigDiff } from "../../../src/config/index.ts";
import { summarizeDiff } from "../../../src/control/diff-summary.ts";

const none = { added: [], removed: [], changed: [] };
const empty: ConfigDiff = {
  healthchecks: none,
  backends: none,
  services: none,
  frontends: none,
  admin: false,
  runtime: false,
};

test("an empty diff reads 'no changes'", () => {
  assert.equal(summarizeDiff(empty), "no changes");
});

test("sections list added (+), removed (-) and changed (~) names, then flags", () => {
  const d: ConfigDiff = {
    ...empty,
    backends: { added: ["web-3"], removed: ["web-1"], changed: ["web-2"] },
    frontends: { added: [], removed: [], changed: ["www"] },
    runtime: true,
  };
  assert.equal(summarizeDiff(d), "backends +web-3 -web-1 ~web-2; frontends ~www; runtime changed");
});
