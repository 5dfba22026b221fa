import assert from "node:assert/strict";
import { test } from "node:test";
import { usageError } from "../../../src/cli/shell/execute.ts";

test("usage errors name what was expected, or say the command takes nothing more", () => {
  const cases: [string[], string | null][] = [
    [["show", "backends"], null],
    [["show", "backends", "extra"], 'unexpected word "extra": "show backends" takes nothing more'],
    [["show", "version", "x"], 'unexpected word "x": "show version" takes nothing more'],
    [["frob"], 'unknown word "frob": expected show, set, config, watch'],
    [["set", "frob"], 'unknown word "frob" after "set": expected backend, service'],
  ];
  for (const [tokens, want] of cases) assert.equal(usageError(tokens), want, tokens.join(" "));
});
