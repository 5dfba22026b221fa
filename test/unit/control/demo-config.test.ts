import assert from "node:assert/strict";
import { test } from "node:test";
import { formatIssue, parseConfig } from "../../../src/config/index.ts";
import { DEFAULT_DEMO_PORTS, demoConfig, demoHelp, demoPorts } from "../../../src/demo/config.ts";
import { LodestoneError } from "../../../src/errors.ts";

test("the embedded demo config is valid and has the documented shape", () => {
  const r = parseConfig(demoConfig(), "<demo>");
  assert.ok(r.ok, r.ok ? "" : r.errors.map(formatIssue).join("\n"));
  if (!r.ok) return;
  assert.deepEqual(r.config.frontends.demo.listen, { host: "127.0.0.1", port: 8080 });
  assert.equal(r.config.frontends.demo.protocol, "tcp");
  assert.deepEqual(
    r.config.services.demo.pools.map((p) => [p.name, p.members.map((m) => m.backend)]),
    [
      ["primary", ["demo-1", "demo-2"]],
      ["fallback", ["demo-3"]],
    ],
  );
  assert.deepEqual(
    Object.values(r.config.backends).map((b) => [b.port, b.healthcheck]),
    [
      [9001, "demo-http"],
      [9002, "demo-http"],
      [9003, "demo-http"],
    ],
  );
});

test("LODESTONE_DEMO_PORTS moves every port", () => {
  const ports = demoPorts("18080, 19001,19002,19003");
  assert.deepEqual(ports, { frontend: 18080, backends: [19001, 19002, 19003] });
  const r = parseConfig(demoConfig(ports), "<demo>");
  assert.ok(r.ok);
  assert.match(demoHelp(ports).join("\n"), /127\.0\.0\.1:18080/);
});

test("unset or empty LODESTONE_DEMO_PORTS means the defaults", () => {
  assert.deepEqual(demoPorts(undefined), DEFAULT_DEMO_PORTS);
  assert.deepEqual(demoPorts(" "), DEFAULT_DEMO_PORTS);
});

test("a fifth port moves the admin API", () => {
  const ports = demoPorts("18080,19001,19002,19003,19700");
  assert.equal(ports.admin, 19700);
  const r = parseConfig(demoConfig(ports), "<demo>");
  assert.ok(r.ok);
  if (r.ok) assert.deepEqual(r.config.admin.listen, { host: "127.0.0.1", port: 19700 });
});

for (const bad of ["8080", "1,2,3", "1,2,3,x", "0,1,2,3", "1,2,3,70000", "1,2,3,4,5,6"]) {
  test(`LODESTONE_DEMO_PORTS=${JSON.stringify(bad)} is refused with DEMO_PORTS_INVALID`, () => {
    assert.throws(
      () => demoPorts(bad),
      (e: unknown) => e instanceof LodestoneError && e.code === "DEMO_PORTS_INVALID",
    );
  });
}
