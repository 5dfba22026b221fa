import assert from "node:assert/strict";
import { test } from "node:test";
import { configJsonSchema } from "../../../src/config/index.ts";

type Schema = Record<string, unknown> & { properties?: Record<string, Schema> };

/** The object schema of one entry of a named section (the record's value, not its null branch). */
function entrySchema(root: Schema, section: string): Schema {
  const s = root.properties?.[section] as { anyOf: Schema[] };
  const record = s.anyOf.find((b) => b.type === "object");
  assert.ok(record, `${section} is a mapping`);
  return record.additionalProperties as Schema;
}

test("the JSON Schema describes the file as written: kebab-case keys, strict objects, duration strings", () => {
  const root = configJsonSchema() as Schema;
  assert.equal(root.$schema, "https://json-schema.org/draft/2020-12/schema");
  assert.deepEqual(Object.keys(root.properties ?? {}), [
    "healthchecks",
    "backends",
    "services",
    "frontends",
    "admin",
    "runtime",
  ]);
  assert.equal(root.additionalProperties, false);

  const fe = entrySchema(root, "frontends");
  assert.equal(fe.additionalProperties, false);
  assert.deepEqual(fe.required, ["listen", "service"]);
  const props = fe.properties ?? {};
  assert.ok("connect-timeout" in props && "proxy-protocol" in props && !("connectTimeout" in props));
  assert.equal(props["connect-timeout"].type, "string");
  assert.equal(props["connect-timeout"].default, "3s");

  const be = entrySchema(root, "backends");
  assert.deepEqual(Object.keys(be.properties ?? {}), ["address", "port", "healthcheck"]);

  const hc = entrySchema(root, "healthchecks") as { oneOf?: Schema[]; anyOf?: Schema[] };
  const variants = hc.oneOf ?? hc.anyOf ?? [];
  const types = variants.map((v) => (v.properties?.type as { const?: string } | undefined)?.const);
  assert.deepEqual(types, ["tcp", "http", "https", "udp", "agent"]);
});

test("the JSON Schema is plain JSON (survives a round trip)", () => {
  const s = configJsonSchema();
  assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
});
