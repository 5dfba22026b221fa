import assert from "node:assert/strict";
import { test } from "node:test";
import { formatConfigDiff } from "../../../src/cli/config-check.ts";
import type { ConfigDiff, SectionDiff } from "../../../src/config/index.ts";

const none = (): SectionDiff => ({ added: [], removed: [], changed: [] });

function diff(parts: Partial<ConfigDiff>): ConfigDiff {
  return {
    healthchecks: none(),
    backends: none(),
    services: none(),
    frontends: none(),
    admin: false,
    runtime: false,
    ...parts,
  };
}

test("formatConfigDiff: one line per section that changes, in frontends/services/backends/healthchecks order", () => {
  const cases: [string, ConfigDiff, string][] = [
    ["nothing", diff({}), "a reload would change nothing\n"],
    [
      "one backend added",
      diff({ backends: { added: ["web-3"], removed: [], changed: [] } }),
      "a reload would change:\n  backends:     added web-3\n",
    ],
    [
      "added, removed and changed in one section",
      diff({ backends: { added: ["x", "y"], removed: ["old"], changed: ["web-2"] } }),
      "a reload would change:\n  backends:     added x, y; removed old; changed web-2\n",
    ],
    [
      "sections in a fixed order whatever the object order",
      diff({
        healthchecks: { added: [], removed: [], changed: ["hc"] },
        frontends: { added: ["www2"], removed: [], changed: [] },
        services: { added: [], removed: ["api"], changed: [] },
      }),
      "a reload would change:\n  frontends:    added www2\n  services:     removed api\n  healthchecks: changed hc\n",
    ],
    [
      "admin and runtime",
      diff({ admin: true, runtime: true }),
      "a reload would change:\n  admin:        changed\n  runtime:      changed (runtime.workers only at restart)\n",
    ],
  ];
  for (const [name, d, want] of cases) assert.equal(formatConfigDiff(d), want, name);
});
