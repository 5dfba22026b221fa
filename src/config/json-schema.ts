// JSON Schema of lodestone.yaml as written (kebab-case keys, duration strings), for
// editors: `lodestone schema > lodestone.schema.json` and point the YAML language
// server at it. Checks zod cannot express (references, primes, conflicts) stay in
// the loader.
import * as z from "zod";
import { configSchema } from "./schema.ts";

export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return {
    ...schema,
    title: "lodestone.yaml",
    description: "Configuration of the lodestone load balancer (see docs/configuration.md).",
  };
}
