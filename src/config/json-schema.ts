// JSON Schema of lodestone.yaml as written (kebab-case keys, duration strings), for
// editors: `lodestone schema > lodestone.schema.json` and point the YAML language
// server at it. Checks zod cannot express (references, primes, conflicts) stay in
// the loader.
import * as z from "zod";
import { ONE_OR_MANY } from "./routes.ts";
import { configSchema } from "./schema.ts";

export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, {
    io: "input",
    unrepresentable: "any",
    // zod sees only the list a scalar is wrapped into; the file may hold either.
    override: ({ zodSchema, jsonSchema }) => {
      if (!ONE_OR_MANY.has(zodSchema)) return;
      const list = { ...jsonSchema };
      for (const k of Object.keys(jsonSchema)) delete (jsonSchema as Record<string, unknown>)[k];
      jsonSchema.anyOf = [list.items as z.core.JSONSchema.JSONSchema, list];
    },
  }) as Record<string, unknown>;
  return {
    ...schema,
    title: "lodestone.yaml",
    description: "Configuration of the lodestone load balancer (see docs/configuration.md).",
  };
}
