// GET /api/v1/openapi.json: an OpenAPI 3.1 document built from the router's routes and
// the zod schemas the handlers validate with (zod 4's z.toJSONSchema), so the
// published request shapes are exactly the enforced ones.
import { z } from "zod";
import type { Route } from "./router.ts";
import { BackendView, ErrorReply, EventView, FrontendView, ReloadReply, ServiceView } from "./schemas.ts";
import { VERSION } from "./version.ts";

interface Documented {
  mutation: boolean;
  schema?: z.ZodType;
}

const DOCS: Record<string, { summary: string; response?: z.ZodType }> = {
  "GET /api/v1/version": { summary: "Program version, uptime, desired-state version." },
  "GET /api/v1/frontends": {
    summary: "Every frontend with state and counters.",
    response: z.array(FrontendView),
  },
  "GET /api/v1/frontends/:name": { summary: "One frontend.", response: FrontendView },
  "GET /api/v1/services": {
    summary: "Every service: pools in order, active pool, weights.",
    response: z.array(ServiceView),
  },
  "GET /api/v1/services/:name": { summary: "One service.", response: ServiceView },
  "GET /api/v1/backends": {
    summary: "Every backend: state, last transition, last probe.",
    response: z.array(BackendView),
  },
  "GET /api/v1/backends/:name": {
    summary: "One backend with its transition history.",
    response: BackendView,
  },
  "GET /api/v1/healthchecks": { summary: "Health checks and the backends using each." },
  "GET /api/v1/config": { summary: "The running normalized configuration, its source and load time." },
  "GET /api/v1/openapi.json": { summary: "This document." },
  "GET /api/v1/events": {
    summary:
      "Server-Sent Events: replay after Last-Event-ID (header or ?last-event-id=), then live. Filters: ?type=a,b&backend=&frontend=&level=info|warn|error.",
    response: EventView,
  },
  "GET /metrics": { summary: "Prometheus text exposition." },
  "POST /api/v1/backends/:name/pause": { summary: "Stop probing; the backend keeps its current state." },
  "POST /api/v1/backends/:name/resume": { summary: "Probe again; unknown until the next probe." },
  "POST /api/v1/backends/:name/enable": { summary: "Back in service (unknown until probed)." },
  "POST /api/v1/backends/:name/disable": { summary: "Out of service; open flows drain unless flush." },
  "POST /api/v1/services/:service/pools/:pool/backends/:backend/weight": {
    summary: "Override a pool member's weight.",
  },
  "POST /api/v1/config/check": {
    summary:
      "Validate the config source as a reload would: 200 with what a reload would change (diff from the running config), 422 with the errors.",
    response: ReloadReply,
  },
  "POST /api/v1/config/reload": {
    summary: "Reload: 200 with the diff applied, 422 with the errors that refused it.",
    response: ReloadReply,
  },
};

const json = (schema: z.ZodType) => z.toJSONSchema(schema, { unrepresentable: "any" });

export function openApiDocument(routes: readonly Route<Documented>[]): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const r of routes) {
    const key = `${r.method} ${r.pattern}`;
    const doc = DOCS[key];
    const path = r.pattern.replace(/:(\w+)/g, "{$1}");
    const params = [...r.pattern.matchAll(/:(\w+)/g)].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      schema: { type: "string" },
    }));
    const op: Record<string, unknown> = {
      summary: doc?.summary ?? key,
      parameters: params,
      responses: {
        "200": {
          description: "OK",
          ...(doc?.response ? { content: { "application/json": { schema: json(doc.response) } } } : {}),
        },
        default: { description: "Error", content: { "application/json": { schema: json(ErrorReply) } } },
      },
    };
    if (r.handler.schema) {
      op.requestBody = {
        required: false,
        content: { "application/json": { schema: json(r.handler.schema) } },
      };
    }
    if (r.handler.mutation) op.security = [{ bearer: [] }];
    paths[path] ??= {};
    paths[path][r.method.toLowerCase()] = op;
  }
  return {
    openapi: "3.1.0",
    info: { title: "lodestone admin API", version: VERSION },
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    paths,
  };
}
