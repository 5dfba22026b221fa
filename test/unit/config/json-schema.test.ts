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

/** Every property path of the schema with whether it has a description (or is a $ref). */
function propertyPaths(node: unknown, path: string, out: Map<string, boolean>): void {
  if (node === null || typeof node !== "object") return;
  const n = node as Record<string, unknown>;
  const props = n.properties as Record<string, Record<string, unknown>> | undefined;
  for (const [k, v] of Object.entries(props ?? {})) {
    const p = `${path}.${k}`;
    out.set(p, (out.get(p) ?? false) || typeof v.description === "string" || "$ref" in v);
    propertyPaths(v, p, out);
  }
  for (const key of ["additionalProperties", "items"])
    propertyPaths(n[key], `${path}${key === "items" ? "[]" : ".*"}`, out);
  for (const key of ["anyOf", "oneOf", "allOf"]) {
    for (const v of (n[key] as unknown[] | undefined) ?? []) propertyPaths(v, path, out);
  }
  // Shared definitions (the recursive route match) are reached once, under their own name.
  for (const [name, def] of Object.entries((n.$defs as Record<string, unknown> | undefined) ?? {})) {
    propertyPaths(def, `${path}.$defs.${name}`, out);
  }
}

test("an editor can show a description for every key an operator writes, L7 blocks included", () => {
  const paths = new Map<string, boolean>();
  propertyPaths(configJsonSchema(), "", paths);
  const undescribed = [...paths].filter(([, has]) => !has).map(([p]) => p);
  assert.deepEqual(undescribed, []);
  assert.ok(paths.has(".services.*.pools[].backends.*.weight"), "the walk reaches pool members");
  assert.ok(paths.has(".frontends.*.routes[].response-timeout"), "the walk reaches route keys");
  assert.ok(paths.has(".frontends.*.http.retry-budget.window"), "the walk reaches nested http blocks");
  assert.ok(paths.has(".frontends.*.http.sticky.cookie.key-file"), "the walk reaches sticky");
  assert.ok(paths.has(".frontends.*.tls.certificates[].cert"), "the walk reaches tls");
  assert.ok(paths.has(".$defs.route-match.header.regex"), "the walk reaches the route match definition");
  assert.ok(paths.size > 150, `every key is walked (${paths.size})`);
});

test("route match keys that take one item or a list say so (a scalar host is valid YAML)", () => {
  const root = configJsonSchema() as Schema & { $defs: Record<string, Schema> };
  const match = root.$defs["route-match"].properties ?? {};
  for (const key of ["host", "method", "header", "query", "cookie", "client-cidr"]) {
    const branches = (match[key].anyOf ?? []) as Schema[];
    assert.equal(branches.length, 2, `${key}: one item or a list`);
    assert.equal(branches[1].type, "array", key);
    assert.deepEqual(branches[0], branches[1].items, `${key}: the single item is a list item`);
  }
  assert.equal((match.not as { $ref?: string }).$ref, "#/$defs/route-match", "not is recursive");
});
