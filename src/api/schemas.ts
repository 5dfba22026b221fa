// The admin API's request and response shapes as zod schemas: the handlers validate
// request bodies with them and /api/v1/openapi.json is generated from the same objects,
// so the published contract cannot drift from what is enforced.
import { z } from "zod";

const HEALTH_STATES = ["unknown", "up", "down", "paused", "disabled", "removed"] as const;

/** pause, resume, enable: no parameters (an empty body, or {}). */
export const EmptyBody = z.strictObject({}).describe("No parameters.");

export const DisableBody = z
  .strictObject({
    flush: z.boolean().optional().describe("End open connections now instead of letting them drain."),
  })
  .describe("Disable a backend: weight 0 everywhere.");

export const WeightBody = z
  .strictObject({
    weight: z.int().min(0).max(100).describe("New weight of this pool member, 0..100."),
    flush: z.boolean().optional().describe("With weight 0: end open connections now (default: drain)."),
  })
  .describe("Override one pool member's weight until the next reload that drops it.");

export const ErrorReply = z.object({
  error: z.object({
    code: z.string().describe("Stable code to branch on, e.g. UNKNOWN_BACKEND, BAD_REQUEST."),
    message: z.string(),
  }),
});

const Counters = z.object({
  connectionsTotal: z.number(),
  connectionsActive: z.number(),
  bytesIn: z.number(),
  bytesOut: z.number(),
  connectErrors: z.number(),
});

export const FrontendView = z.object({
  name: z.string(),
  listen: z.string(),
  protocol: z.enum(["tcp", "udp", "http", "https"]),
  service: z.string(),
  state: z
    .enum(["up", "down", "unknown"])
    .describe("up when its service has an active pool; unknown in warmup."),
  activePool: z.int().describe("Index of the active pool, -1 when none serves."),
  activePoolName: z.string().nullable(),
  counters: Counters,
});

const Member = z.object({
  backend: z.string(),
  state: z.enum(HEALTH_STATES),
  configuredWeight: z.int(),
  effectiveWeight: z.int(),
  flush: z.boolean(),
  override: z.object({ weight: z.int(), flush: z.boolean() }).nullable(),
});

export const ServiceView = z.object({
  name: z.string(),
  algorithm: z.string(),
  activePool: z.int(),
  activePoolName: z.string().nullable(),
  frontends: z.array(z.string()),
  pools: z.array(
    z.object({ name: z.string(), index: z.int(), active: z.boolean(), members: z.array(Member) }),
  ),
});

const TransitionView = z.object({
  at: z.number(),
  from: z.enum(HEALTH_STATES),
  to: z.enum(HEALTH_STATES),
  reason: z.string(),
});

export const BackendView = z.object({
  name: z.string(),
  address: z.string(),
  port: z.int(),
  healthcheck: z.string().nullable(),
  state: z.enum(HEALTH_STATES),
  since: z.number().describe("Epoch ms of the last transition."),
  lastTransition: TransitionView.nullable(),
  counter: z.int(),
  rise: z.int(),
  fall: z.int(),
  lastProbe: z
    .object({ ok: z.boolean(), reason: z.string(), latencyMs: z.number(), at: z.number() })
    .nullable(),
  override: z.unknown().nullable(),
  counters: Counters,
  history: z.array(TransitionView).optional().describe("Only on /backends/{name}: the last transitions."),
});

export const EventView = z
  .object({ id: z.int(), at: z.number(), type: z.string() })
  .catchall(z.unknown())
  .describe("One control-plane event; the SSE `id:` is this id.");

export const ReloadReply = z.object({
  ok: z.boolean(),
  source: z.string().optional(),
  changed: z.boolean().optional(),
  summary: z.string().optional(),
  diff: z.unknown().optional(),
  droppedOverrides: z.array(z.string()).optional(),
  applyErrors: z.array(z.string()).optional(),
  errors: z.array(z.object({ message: z.string(), text: z.string() }).catchall(z.unknown())).optional(),
});
