// L7 settings of an http/https frontend: ordered routes, HTTP limits and timeouts,
// and TLS. YAML uses kebab-case; the schemas here turn it into the camelCase
// shapes below, which the L7 dataplane (dataplane/proxy/http) consumes as is.
//
// Routes are evaluated in order, first match wins; a request no route matches goes
// to the frontend's own service. Regexes are checked here (they must compile) and
// compiled again by the dataplane's router: config stays plain, serializable data.
import { isIP } from "node:net";
import * as z from "zod";
import { parseDuration } from "./duration.ts";

// ---------------------------------------------------------------- types

/** A condition on a named header, query parameter or cookie. Exactly one of present/equals/regex. */
export interface FieldMatch {
  name: string;
  /** true: the field must be present; false: it must be absent. */
  present?: boolean;
  equals?: string;
  /** JavaScript regex source, unanchored (use ^...$ to anchor). */
  regex?: string;
}

/** Every condition given must hold (AND). An empty match matches every request. */
export interface RouteMatch {
  /** Any of these hosts: exact ("api.example.com") or wildcard ("*.example.com"); port ignored. */
  host?: string[];
  /** Exact path (query excluded). */
  path?: string;
  /** Path starts with this. */
  pathPrefix?: string;
  /** Path matches this regex. */
  pathRegex?: string;
  /** Any of these methods (uppercase). */
  method?: string[];
  header?: FieldMatch[];
  query?: FieldMatch[];
  cookie?: FieldMatch[];
  /** Client address within any of these CIDRs, e.g. 10.0.0.0/8 or ::1/128. */
  clientCidr?: string[];
  /** Must NOT match. */
  not?: RouteMatch;
}

export interface ForwardAction {
  type: "forward";
  service: string;
  /** Replace the matched path-prefix with this prefix before forwarding. */
  rewritePrefix?: string;
  /** Per-route backend connect timeout, ms; absent = the frontend's connect-timeout. */
  connectTimeout?: number;
  /** Per-route connect retries (other backends after a failed connect); absent = the frontend's. */
  connectRetries?: number;
  /** Per-route response head timeout, ms (504); absent = http.response-timeout. */
  responseTimeout?: number;
  /** Per-route whole-request timeout, ms, 0 = none; absent = http.request-timeout. */
  requestTimeout?: number;
  /** Per-route retries after a reset before any response byte; absent = http.retries. */
  retries?: number;
}

export interface RedirectAction {
  type: "redirect";
  status: 301 | 302 | 303 | 307 | 308;
  /**
   * Location template: {scheme}, {host} (as sent, port included), {hostname}, {path},
   * {query} (without "?"), {uri} (path plus "?query" when there is one), {suffix}
   * (the path after the matched path-prefix).
   */
  location: string;
}

export interface RespondAction {
  type: "respond";
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface RejectAction {
  type: "reject";
  /** An HTTP status (403 by default), or 0 to close the connection without a response. */
  status: number;
}

export type RouteAction = ForwardAction | RedirectAction | RespondAction | RejectAction;

export interface Route {
  /** "routes[i]" unless given a name; shows up in logs and metrics. */
  name: string;
  match: RouteMatch;
  action: RouteAction;
  /** Forward routes: header rules applied after the frontend's (http.request-headers). */
  requestHeaders?: HeaderRules;
  /** Forward routes: header rules applied after the frontend's (http.response-headers). */
  responseHeaders?: HeaderRules;
}

export interface HttpSettings {
  /** Whole request head must arrive within this, ms (slowloris guard; 408). */
  requestHeadTimeout: number;
  /** Idle client keep-alive connections are closed after this, ms. */
  keepAliveTimeout: number;
  /** Backend must start its response within this after the request was sent, ms (504). */
  responseTimeout: number;
  /**
   * Whole exchange, from the request head to the last response byte, ms; 0 = none
   * (default). 504 before the response starts, the client connection cut after.
   */
  requestTimeout: number;
  maxRequestLine: number;
  maxHeaderBytes: number;
  maxHeaders: number;
  /** Idle keep-alive connections kept per backend. 0 disables upstream reuse. */
  upstreamMaxIdle: number;
  /** Idle upstream connections are closed after this, ms (below the backends' own keep-alive timeout). */
  upstreamIdleTimeout: number;
  /** Largest request body in bytes (413 beyond it); 0 = unlimited. */
  maxBodySize: number;
  /** Accept cleartext HTTP/2 with prior knowledge (h2c, e.g. gRPC) on an http frontend. */
  h2c: boolean;
  /** Per request: other backends tried for an idempotent request whose backend failed before answering (default 2). */
  retries: number;
  /** Bound on retries across all requests of the frontend (Envoy-style retry budget). */
  retryBudget: RetryBudgetSettings;
  /** Passive outlier detection: backends failing in a row are ejected for a while. */
  outlier: OutlierSettings;
  /** Session persistence by a signed cookie naming the backend. */
  sticky?: StickySettings;
  /** Consistent hashing (Maglev) on a header, a cookie or the client address instead of the service's algorithm. */
  hashOn?: HashOnSetting;
  /** Header rules applied to requests before they go to a backend. */
  requestHeaders: HeaderRules;
  /** Header rules applied to responses before they go to the client. */
  responseHeaders: HeaderRules;
  /** Add `Via: 1.1 lodestone` to requests and responses. */
  via: boolean;
  /** X-Forwarded-For from untrusted clients: append to what they sent, or replace it. */
  xForwardedFor: "append" | "replace";
  /**
   * Clients (e.g. an outer proxy) whose X-Forwarded-* are kept: their X-Forwarded-For is
   * appended to and their X-Forwarded-Proto/Host pass. When this list is not empty, every
   * other client's X-Forwarded-* are replaced whatever x-forwarded-for says.
   */
  trustedProxies: string[];
  /** One structured log line per request (info level). */
  accessLog: boolean;
  /** Protocol spoken to backends: HTTP/1.1 (default) or HTTP/2 (e.g. gRPC), pooled per backend. */
  upstream: "http1" | "h2";
  /** TLS to backends; absent = cleartext. */
  upstreamTls?: UpstreamTlsSettings;
}

export interface UpstreamTlsSettings {
  /** Verify the backend's certificate against `ca` (or the system CAs) and the SNI name (default true). */
  verify: boolean;
  /** Server name sent (SNI) and verified; default none (the certificate is then checked against the backend's IP). */
  sni?: string;
  /** PEM file of CA certificates to trust instead of the system ones. */
  ca?: string;
}

export interface RetryBudgetSettings {
  /** Retries may be at most this percentage of the requests in the window (default 20). */
  percent: number;
  /** Retries always allowed per second whatever the percentage says (default 3). */
  minPerSecond: number;
  /** Sliding window, ms (default 10000). */
  window: number;
}

export interface OutlierSettings {
  /** Consecutive 5xx / connect failures that eject a backend (default 5; 0 disables). */
  consecutiveErrors: number;
  /** Ejection time = this x number of ejections so far, ms (default 30000)... */
  baseEjectionTime: number;
  /** ...capped here, ms (default 300000). */
  maxEjectionTime: number;
  /** At most this percentage of a service's backends ejected at once (default 50). */
  maxEjectedPercent: number;
}

export interface StickySettings {
  cookie: {
    name: string;
    /** Cookie Max-Age, ms; 0 = a session cookie (default). */
    ttl: number;
    /** File holding the HMAC key; absent = a random key per process (cookies do not survive a restart or cross workers). */
    keyFile?: string;
  };
}

export type HashOnSetting = { header: string } | { cookie: string } | "client-ip";

export interface HeaderRules {
  /** Replace (or add) these fields. */
  set: Record<string, string>;
  /** Add these fields (after any existing ones of the same name). */
  add: Record<string, string>;
  /** Remove these fields (case-insensitive names). */
  remove: string[];
}

export interface TlsCertificate {
  /** PEM certificate chain file. */
  cert: string;
  /** PEM private key file. */
  key: string;
}

export interface TlsSettings {
  /** First is the default; others are chosen by SNI against their certificate names. */
  certificates: TlsCertificate[];
  minVersion: "TLSv1.2" | "TLSv1.3";
  /** ALPN protocols offered, in preference order. */
  alpn: string[];
}

/** What an http/https frontend adds to FrontendConfig. */
export interface HttpFrontendSettings {
  routes: Route[];
  http: HttpSettings;
  tls?: TlsSettings;
}

export const HTTP_DEFAULTS: HttpSettings = {
  requestHeadTimeout: 10_000,
  keepAliveTimeout: 60_000,
  responseTimeout: 60_000,
  requestTimeout: 0,
  maxRequestLine: 8192,
  maxHeaderBytes: 65536,
  maxHeaders: 100,
  upstreamMaxIdle: 64,
  upstreamIdleTimeout: 4000,
  maxBodySize: 0,
  h2c: false,
  retries: 2,
  retryBudget: { percent: 20, minPerSecond: 3, window: 10_000 },
  outlier: {
    consecutiveErrors: 5,
    baseEjectionTime: 30_000,
    maxEjectionTime: 300_000,
    maxEjectedPercent: 50,
  },
  requestHeaders: { set: {}, add: {}, remove: [] },
  responseHeaders: { set: {}, add: {}, remove: [] },
  via: false,
  xForwardedFor: "append",
  trustedProxies: [],
  accessLog: false,
  upstream: "http1",
};

// ---------------------------------------------------------------- schema pieces

function kebabToCamel(key: string): string {
  return key.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function camel(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[kebabToCamel(k)] = v;
  return out;
}

function strict<S extends z.ZodRawShape>(shape: S) {
  const allowed = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (iss) => {
      if (iss.code === "unrecognized_keys") {
        return `unknown key${iss.keys.length > 1 ? "s" : ""} ${iss.keys.map((k) => `"${k}"`).join(", ")}; allowed keys: ${allowed}`;
      }
      if (iss.code === "invalid_type") return `expected a mapping with keys ${allowed}`;
      return undefined;
    },
  });
}

const durationMs = z.string({ error: "expected a duration such as 2s or 500ms" }).transform((s, ctx) => {
  const r = parseDuration(s);
  if (r.ok && r.ms > 0) return r.ms;
  ctx.issues.push({ code: "custom", message: r.ok ? "must be longer than 0s" : r.message, input: s });
  return z.NEVER;
});

/** A duration where 0s means "none" (a session cookie, no timeout). */
const durationOrZeroMs = (what: string) =>
  z.string({ error: `expected a duration such as ${what}` }).transform((s, ctx) => {
    const r = parseDuration(s);
    if (r.ok) return r.ms;
    ctx.issues.push({ code: "custom", message: r.message, input: s });
    return z.NEVER;
  });

const requestTimeoutMs = durationOrZeroMs("30s (or 0s for none)");

const sizeInt = (min: number, max: number) =>
  z
    .int({ error: `expected an integer from ${min} to ${max}` })
    .min(min, { error: `expected an integer from ${min} to ${max}` })
    .max(max, { error: `expected an integer from ${min} to ${max}` });

const regexSource = z.string({ error: "expected a regular expression" }).refine(
  (s) => {
    try {
      new RegExp(s);
      return true;
    } catch {
      return false;
    }
  },
  { error: (iss) => `${JSON.stringify(iss.input)} is not a valid regular expression` },
);

/** Schemas that take one item or a list: config/json-schema.ts writes them as such. */
export const ONE_OR_MANY = new WeakSet<object>();

// A scalar or a non-empty list; wrapping first keeps the item's own error messages
// (a union would report only "Invalid input").
const oneOrMany = <T extends z.ZodType>(item: T) => {
  const s = z.preprocess(
    (v) => (Array.isArray(v) ? v : [v]),
    z.array(item).min(1, { error: "expected at least one item" }),
  );
  ONE_OR_MANY.add(s);
  return s;
};

const HOST_PATTERN =
  /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$|^\[[0-9a-fA-F:.]+\]$|^[0-9.]+$/;
const hostPattern = z
  .string({ error: 'expected a host name such as "api.example.com" or "*.example.com"' })
  .regex(HOST_PATTERN, { error: (iss) => `"${iss.input}" is not a host name or "*.domain" wildcard` })
  .transform((s) => s.toLowerCase().replace(/\.$/, ""));

const pathString = z.string({ error: 'expected a path starting with "/"' }).regex(/^\/[\x21-\x7e]*$/, {
  error: (iss) => `"${iss.input}" is not a path: it must start with "/" and hold no spaces`,
});

const methodName = z
  .string({ error: "expected an HTTP method such as GET" })
  .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, { error: (iss) => `"${iss.input}" is not an HTTP method` })
  .transform((s) => s.toUpperCase());

const cidr = z.string({ error: "expected a CIDR such as 10.0.0.0/8" }).refine((s) => parseCidrOk(s), {
  error: (iss) => `"${iss.input}" is not a CIDR (e.g. 10.0.0.0/8, 192.0.2.1, ::1/128)`,
});

function parseCidrOk(s: string): boolean {
  const [addr, bits, ...rest] = s.split("/");
  if (rest.length > 0) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

const fieldMatch = strict({
  name: z
    .string({ error: "expected a field name" })
    .min(1)
    .describe("Field name (case-insensitive for headers)."),
  present: z
    .boolean({ error: "expected true or false" })
    .optional()
    .describe("true: the field must be present; false: absent. One of present, equals, regex."),
  equals: z
    .string({ error: "expected a string" })
    .optional()
    .describe("Exact value (query values percent-decoded). One of present, equals, regex."),
  regex: regexSource
    .optional()
    .describe("JavaScript regex on the value, unanchored (write ^...$). One of present, equals, regex."),
}).check((ctx) => {
  const n =
    Number(ctx.value.present !== undefined) +
    Number(ctx.value.equals !== undefined) +
    Number(ctx.value.regex !== undefined);
  if (n !== 1) {
    ctx.issues.push({
      code: "custom",
      message: "give exactly one of present, equals, regex",
      input: ctx.value,
    });
  }
});

const matchShape = {
  host: oneOrMany(hostPattern)
    .optional()
    .describe(
      'Host or list: exact ("api.example.com") or wildcard ("*.example.com", subdomains only); port ignored.',
    ),
  path: pathString.optional().describe("Exact path (the query is not part of it)."),
  "path-prefix": pathString.optional().describe("Path starts with this (rewrite-prefix replaces it)."),
  "path-regex": regexSource
    .optional()
    .describe("Path matches this JavaScript regex, unanchored (write ^...$)."),
  method: oneOrMany(methodName).optional().describe("HTTP method or list (case-insensitive)."),
  header: oneOrMany(fieldMatch)
    .optional()
    .describe("Header condition or list (all must hold): { name, present | equals | regex }."),
  query: oneOrMany(fieldMatch)
    .optional()
    .describe("Query parameter condition or list (all must hold): { name, present | equals | regex }."),
  cookie: oneOrMany(fieldMatch)
    .optional()
    .describe("Cookie condition or list (all must hold): { name, present | equals | regex }."),
  "client-cidr": oneOrMany(cidr)
    .optional()
    .describe("Client address within a CIDR or list (10.0.0.0/8, ::1/128, or a bare address)."),
};

type MatchInput = { [K in keyof typeof matchShape]?: z.output<(typeof matchShape)[K]> } & {
  not?: MatchInput;
};

// Named in the JSON Schema's $defs ("route-match"): `not` refers to it recursively.
export const routeMatchSchema: z.ZodType<RouteMatch, unknown> = z
  .lazy(() =>
    strict({
      ...matchShape,
      not: routeMatchSchema.optional().describe("A nested match that must NOT hold."),
    }).transform((o) => camel(o as MatchInput) as RouteMatch),
  )
  .meta({ id: "route-match" });

const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const fieldName = z
  .string({ error: "expected a header name" })
  .regex(FIELD_NAME, { error: (iss) => `${JSON.stringify(iss.input)} is not a header name` });
const fieldValue = z
  .string({ error: "expected a header value (a string)" })
  .regex(/^[\t\x20-\x7e\x80-\xff]*$/, { error: "header values hold no control characters" });

// Framing and connection fields belong to the proxy: rules may not touch them.
const PROTECTED_FIELDS = new Set([
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "upgrade",
  "te",
  "trailer",
  "host",
]);

const headerRules = strict({
  set: z
    .record(fieldName, fieldValue)
    .optional()
    .describe("Header name -> value: replaces the field (or adds it)."),
  add: z
    .record(fieldName, fieldValue)
    .optional()
    .describe("Header name -> value: added after any existing field of that name."),
  remove: z
    .array(fieldName, { error: "expected a list of header names" })
    .optional()
    .describe("Header names to remove (case-insensitive)."),
})
  .check((ctx) => {
    const names = [
      ...Object.keys(ctx.value.set ?? {}),
      ...Object.keys(ctx.value.add ?? {}),
      ...(ctx.value.remove ?? []),
    ];
    for (const n of names) {
      if (PROTECTED_FIELDS.has(n.toLowerCase())) {
        ctx.issues.push({
          code: "custom",
          message: `${n} is managed by the proxy (framing/connection) and cannot be set, added or removed`,
          input: n,
        });
      }
    }
  })
  .transform((o): HeaderRules => ({ set: o.set ?? {}, add: o.add ?? {}, remove: o.remove ?? [] }));

const REDIRECT_STATUSES = [301, 302, 303, 307, 308] as const;

const redirectSchema = strict({
  location: z
    .string({ error: "expected a location such as https://{host}{uri}" })
    .min(1)
    .describe(
      "Location template: {scheme}, {host}, {hostname}, {path}, {query}, {uri}, {suffix} (path after path-prefix).",
    ),
  status: z
    .union(
      REDIRECT_STATUSES.map((s) => z.literal(s)),
      { error: "expected 301, 302, 303, 307 or 308" },
    )
    .default(302)
    .describe("301, 302 (default), 303, 307 or 308."),
});

const respondSchema = strict({
  status: z
    .int({ error: "expected a status from 200 to 599" })
    .min(200)
    .max(599)
    .default(200)
    .describe("Status, 200 to 599 (default 200)."),
  headers: z
    .record(
      z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, { error: "not a header name" }),
      z.string().regex(/^[\t\x20-\x7e\x80-\xff]*$/, { error: "header values hold no control characters" }),
    )
    .default({})
    .describe("Response header name -> value (default none)."),
  body: z.string({ error: "expected a string" }).default("").describe('Response body (default "").'),
});

const rejectSchema = z.union(
  [
    z.literal("close"),
    strict({
      status: z
        .int({ error: "expected a status from 400 to 599" })
        .min(400)
        .max(599)
        .default(403)
        .describe("Error status, 400 to 599 (default 403)."),
    }),
  ],
  { error: 'expected "close" or { status: 403 }' },
);

const routeInput = strict({
  name: z
    .string({ error: "expected a route name" })
    .min(1)
    .optional()
    .describe('Name in logs and metrics (default "routes[i]").'),
  match: routeMatchSchema
    .optional()
    .describe("Conditions that must all hold (AND); absent or {} matches every request."),
  service: z
    .string({ error: "expected a service name" })
    .min(1)
    .optional()
    .describe("Action: forward to this service. Exactly one of service, redirect, respond, reject."),
  "rewrite-prefix": pathString
    .optional()
    .describe("Forward routes with a path-prefix match: replace that prefix with this one."),
  redirect: redirectSchema.optional().describe("Action: redirect to a location template with a 3xx status."),
  respond: respondSchema.optional().describe("Action: a fixed response (status, headers, body)."),
  reject: rejectSchema
    .optional()
    .describe('Action: an error response ({ status }, default 403) or "close" (no response).'),
  "request-headers": headerRules
    .optional()
    .describe("Forward routes: header rules on requests, applied after the frontend's."),
  "response-headers": headerRules
    .optional()
    .describe("Forward routes: header rules on responses, applied after the frontend's."),
  "connect-timeout": durationMs
    .optional()
    .describe("Forward routes: backend connect timeout (default the frontend's connect-timeout)."),
  "connect-retries": sizeInt(0, 10)
    .optional()
    .describe("Forward routes: other backends tried after a failed connect, 0-10 (default the frontend's)."),
  "response-timeout": durationMs
    .optional()
    .describe(
      "Forward routes: backend must start answering within this, else 504 (default http.response-timeout).",
    ),
  "request-timeout": requestTimeoutMs
    .optional()
    .describe("Forward routes: whole exchange limit, 0s = none (default http.request-timeout)."),
  retries: sizeInt(0, 10)
    .optional()
    .describe("Forward routes: retries after a reset before any response byte, 0-10 (default http.retries)."),
});

/** Forward-only route keys that override the frontend's timeouts and retries (YAML -> ForwardAction). */
const FORWARD_OVERRIDES = [
  ["connect-timeout", "connectTimeout"],
  ["connect-retries", "connectRetries"],
  ["response-timeout", "responseTimeout"],
  ["request-timeout", "requestTimeout"],
  ["retries", "retries"],
] as const;

function toRoute(o: z.output<typeof routeInput>, index: number, ctx: z.RefinementCtx): Route {
  const actions = ["service", "redirect", "respond", "reject"].filter(
    (k) => o[k as keyof typeof o] !== undefined,
  );
  if (actions.length !== 1) {
    ctx.issues.push({
      code: "custom",
      message: `a route needs exactly one action: service, redirect, respond or reject (got ${actions.length === 0 ? "none" : actions.join(", ")})`,
      input: o,
      path: [index],
    });
    return z.NEVER;
  }
  const match = o.match ?? {};
  if (o["rewrite-prefix"] !== undefined && (o.service === undefined || match.pathPrefix === undefined)) {
    ctx.issues.push({
      code: "custom",
      message: "rewrite-prefix needs a service action and a path-prefix match (it replaces that prefix)",
      input: o,
      path: [index],
    });
    return z.NEVER;
  }
  if (
    (o["request-headers"] !== undefined || o["response-headers"] !== undefined) &&
    o.service === undefined
  ) {
    ctx.issues.push({
      code: "custom",
      message:
        "request-headers / response-headers on a route need a service action (they shape forwarded messages)",
      input: o,
      path: [index],
    });
    return z.NEVER;
  }
  const overrides = FORWARD_OVERRIDES.filter(([k]) => o[k] !== undefined);
  if (overrides.length > 0 && o.service === undefined) {
    ctx.issues.push({
      code: "custom",
      message: `${overrides.map(([k]) => k).join(", ")} on a route need${overrides.length > 1 ? "" : "s"} a service action (they shape how the request is forwarded)`,
      input: o,
      path: [index],
    });
    return z.NEVER;
  }
  let action: RouteAction;
  if (o.service !== undefined) {
    const forward: ForwardAction = { type: "forward", service: o.service };
    if (o["rewrite-prefix"] !== undefined) forward.rewritePrefix = o["rewrite-prefix"];
    for (const [k, field] of overrides) forward[field] = o[k];
    action = forward;
  } else if (o.redirect !== undefined) {
    action = { type: "redirect", status: o.redirect.status, location: o.redirect.location };
  } else if (o.respond !== undefined) {
    action = { type: "respond", status: o.respond.status, headers: o.respond.headers, body: o.respond.body };
  } else {
    const r = o.reject!;
    action = { type: "reject", status: r === "close" ? 0 : r.status };
  }
  const route: Route = { name: o.name ?? `routes[${index}]`, match, action };
  if (o["request-headers"] !== undefined) route.requestHeaders = o["request-headers"];
  if (o["response-headers"] !== undefined) route.responseHeaders = o["response-headers"];
  return route;
}

/** `routes:` of a frontend: a list of routes, normalized to Route[]. */
export const routesSchema = z
  .array(routeInput, { error: "expected a list of routes" })
  .transform((list, ctx) => list.map((o, i) => toRoute(o, i, ctx)));

const percent = z
  .number({ error: "expected a percentage from 0 to 100" })
  .min(0, { error: "expected a percentage from 0 to 100" })
  .max(100, { error: "expected a percentage from 0 to 100" });

const retryBudgetSchema = strict({
  percent: percent
    .optional()
    .describe("Retries may be at most this percentage of the requests in the window (default 20)."),
  "min-per-second": z
    .number({ error: "expected a number of retries per second (0 or more)" })
    .min(0, { error: "expected a number of retries per second (0 or more)" })
    .optional()
    .describe("Retries per second always allowed whatever the percentage (default 3)."),
  window: durationMs.optional().describe("Sliding window the percentage is taken over (default 10s)."),
}).transform(
  (o): RetryBudgetSettings => ({
    ...HTTP_DEFAULTS.retryBudget,
    ...(camel(o) as Partial<RetryBudgetSettings>),
  }),
);

const outlierSchema = strict({
  "consecutive-errors": z
    .int({ error: "expected an integer from 0 (off) to 1000" })
    .min(0, { error: "expected an integer from 0 (off) to 1000" })
    .max(1000, { error: "expected an integer from 0 (off) to 1000" })
    .optional()
    .describe(
      "Failures in a row (5xx, connect errors, resets, timeouts) that eject a backend (default 5; 0 = off).",
    ),
  "base-ejection-time": durationMs
    .optional()
    .describe("Ejection time = this x the backend's ejections so far (default 30s)."),
  "max-ejection-time": durationMs.optional().describe("Cap on one ejection (default 5m)."),
  "max-ejected-percent": percent
    .optional()
    .describe("At most this percentage of the frontend's backends ejected at once (default 50)."),
}).transform(
  (o): OutlierSettings => ({ ...HTTP_DEFAULTS.outlier, ...(camel(o) as Partial<OutlierSettings>) }),
);

const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const ttlMs = durationOrZeroMs("1h (or 0s for a session cookie)");

const cookieName = z
  .string({ error: "expected a cookie name" })
  .regex(COOKIE_NAME, { error: (iss) => `${JSON.stringify(iss.input)} is not a cookie name` });

const stickySchema = strict({
  cookie: strict({
    name: cookieName.describe("Cookie name."),
    ttl: ttlMs.optional().describe("Cookie Max-Age (default 0s: a session cookie)."),
    "key-file": z
      .string({ error: "expected a file path" })
      .min(1)
      .optional()
      .describe("File holding the HMAC key (16+ bytes); default a random key per process."),
  }).describe("A signed cookie naming the backend."),
}).transform((o): StickySettings => {
  const cookie: StickySettings["cookie"] = { name: o.cookie.name, ttl: o.cookie.ttl ?? 0 };
  if (o.cookie["key-file"] !== undefined) cookie.keyFile = o.cookie["key-file"];
  return { cookie };
});

const hashOnSchema = z.union(
  [
    z.literal("client-ip"),
    strict({ header: fieldName.describe("Hash on this request header's value.") }).transform((o) => ({
      header: o.header.toLowerCase(),
    })),
    strict({ cookie: cookieName.describe("Hash on this cookie's value.") }),
  ],
  { error: "expected client-ip, { header: X-Name } or { cookie: name }" },
);

const upstreamTlsSchema = strict({
  verify: z
    .boolean({ error: "expected true or false" })
    .optional()
    .describe(
      "Verify the backend certificate against ca (or the system CAs) and the SNI name (default true).",
    ),
  sni: z
    .string({ error: "expected a DNS name" })
    .regex(/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/, {
      error: (iss) => `${JSON.stringify(iss.input)} is not a DNS name to send as SNI`,
    })
    .optional()
    .describe("Server name sent (SNI) and verified (default none: the backend's IP is checked)."),
  ca: z
    .string({ error: "expected a PEM file path" })
    .min(1)
    .optional()
    .describe("PEM file of CA certificates to trust instead of the system ones."),
}).transform((o): UpstreamTlsSettings => {
  const out: UpstreamTlsSettings = { verify: o.verify ?? true };
  if (o.sni !== undefined) out.sni = o.sni;
  if (o.ca !== undefined) out.ca = o.ca;
  return out;
});

const httpSettingsObject = strict({
  "request-head-timeout": durationMs
    .optional()
    .describe(
      "Whole request head must arrive within this, else 408 (slowloris guard; default 10s). On https frontends the TLS handshake must also finish within it.",
    ),
  "keep-alive-timeout": durationMs
    .optional()
    .describe(
      "Idle client keep-alive connection between requests is closed after this (default 1m); an HTTP/2 session without frames for this long gets a GOAWAY.",
    ),
  "response-timeout": durationMs
    .optional()
    .describe(
      "Backend must start its response within this after the request was sent, else 504 (default 1m).",
    ),
  "request-timeout": requestTimeoutMs
    .optional()
    .describe(
      "Whole exchange, request head to last response byte: 504, or the connection cut (default 0s = none).",
    ),
  "max-request-line": sizeInt(256, 1 << 20)
    .optional()
    .describe("Longest request line in bytes, else 414 (default 8192)."),
  "max-header-bytes": sizeInt(1024, 1 << 24)
    .optional()
    .describe("Largest request header section in bytes, else 431 (default 65536)."),
  "max-headers": sizeInt(1, 10_000)
    .optional()
    .describe("Most request header fields, else 431 (default 100)."),
  "upstream-max-idle": sizeInt(0, 100_000)
    .optional()
    .describe("Idle keep-alive connections kept per backend (default 64; 0 = no reuse)."),
  "upstream-idle-timeout": durationMs
    .optional()
    .describe("Idle backend connections closed after this; keep below the backends' own (default 4s)."),
  h2c: z
    .boolean({ error: "expected true or false" })
    .optional()
    .describe("http frontends: accept cleartext HTTP/2 with prior knowledge, e.g. gRPC (default false)."),
  "max-body-size": z
    .int({ error: "expected a size in bytes (0 = unlimited)" })
    .min(0, { error: "expected a size in bytes (0 = unlimited)" })
    .optional()
    .describe("Largest request body in bytes, else 413 (default 0 = unlimited)."),
  retries: sizeInt(0, 10)
    .optional()
    .describe(
      "Per request: other backends after a reset before any response byte, bodiless requests only (default 2).",
    ),
  "retry-budget": retryBudgetSchema
    .optional()
    .describe("Bound on retries across the frontend's requests (Envoy-style retry budget)."),
  "outlier-detection": outlierSchema
    .optional()
    .describe("Passive outlier detection: backends failing in a row are ejected for a growing time."),
  sticky: stickySchema
    .optional()
    .describe("Session persistence by a signed cookie naming the backend (not with hash-on)."),
  "hash-on": hashOnSchema
    .optional()
    .describe(
      "Maglev on client-ip, { header: X } or { cookie: Y } instead of the service's algorithm (not with sticky).",
    ),
  "request-headers": headerRules
    .optional()
    .describe("Header rules applied to requests before they go to a backend."),
  "response-headers": headerRules
    .optional()
    .describe("Header rules applied to responses before they go to the client."),
  via: z
    .boolean({ error: "expected true or false" })
    .optional()
    .describe("Add Via: 1.1 lodestone to requests and responses (default false)."),
  "x-forwarded-for": z
    .enum(["append", "replace"], { error: "expected append or replace" })
    .optional()
    .describe("Untrusted clients' X-Forwarded-For: append to it (default) or replace it."),
  "trusted-proxies": z
    .array(cidr, { error: "expected a list of CIDRs" })
    .optional()
    .describe("CIDRs whose X-Forwarded-* are kept; everyone else's are replaced when set (default none)."),
  "access-log": z
    .boolean({ error: "expected true or false" })
    .optional()
    .describe("One structured log line per request at info level (default false)."),
  upstream: z
    .enum(["http1", "h2"], { error: "expected http1 or h2" })
    .optional()
    .describe("Protocol to backends: http1 (default) or h2 (HTTP/2, e.g. gRPC)."),
  "upstream-tls": upstreamTlsSchema
    .optional()
    .describe("TLS to backends (absent: cleartext): verify, sni, ca."),
}).check((ctx) => {
  if (ctx.value.sticky !== undefined && ctx.value["hash-on"] !== undefined) {
    ctx.issues.push({
      code: "custom",
      message: "sticky and hash-on both choose the backend: use one of them",
      input: ctx.value,
    });
  }
});

function toHttpSettings(o: z.output<typeof httpSettingsObject>): HttpSettings {
  const { "outlier-detection": outlier, ...rest } = o;
  const out = { ...HTTP_DEFAULTS, ...(camel(rest) as Partial<HttpSettings>) };
  if (outlier !== undefined) out.outlier = outlier;
  return out;
}

/** `http:` of a frontend: limits and timeouts, defaults filled in. */
export const httpSettingsSchema = httpSettingsObject.prefault({}).transform(toHttpSettings);

/** `tls:` of an https frontend. Files are read when the listener starts. */
export const tlsSettingsSchema = strict({
  certificates: z
    .array(
      strict({
        cert: z.string().min(1).describe("PEM certificate chain file."),
        key: z.string().min(1).describe("PEM private key file."),
      }),
      { error: "expected a list of { cert: file.pem, key: key.pem }" },
    )
    .min(1, { error: "an https frontend needs at least one certificate" })
    .describe("Certificates chosen by SNI (exact, then wildcard); the first is the default."),
  "min-version": z
    .enum(["TLSv1.2", "TLSv1.3"], { error: "expected TLSv1.2 or TLSv1.3" })
    .default("TLSv1.2")
    .describe("Oldest TLS version accepted (default TLSv1.2)."),
  alpn: z
    .array(z.enum(["h2", "http/1.1"], { error: "expected h2 or http/1.1" }))
    .min(1, { error: "expected at least one of h2, http/1.1" })
    .default(["http/1.1"])
    .describe("ALPN protocols offered, in preference order; add h2 for HTTP/2 clients (default [http/1.1])."),
}).transform((o): TlsSettings => camel(o) as unknown as TlsSettings);

/**
 * The L7 keys of a frontend (spread into the frontend's own strict object by the
 * config schema): `routes`, `http`, `tls`.
 */
export const httpFrontendFields = {
  routes: routesSchema
    .default([])
    .describe(
      "L7 routes (http/https only), first match wins: match + one action (service, redirect, respond, reject).",
    ),
  // Absent stays absent (tcp/udp frontends carry no http block); consumers fill HTTP_DEFAULTS.
  http: httpSettingsObject
    .transform(toHttpSettings)
    .optional()
    .describe(
      "HTTP settings (http/https only): limits, timeouts, retries, outlier detection, sticky, headers.",
    ),
  tls: tlsSettingsSchema
    .optional()
    .describe("TLS settings (https only, required there): certificates, min-version, alpn."),
};

/** The L7 keys on their own, as one object (for tests and tools). */
export const httpFrontendSchema = strict({ ...httpFrontendFields, http: httpSettingsSchema }).transform(
  (o): HttpFrontendSettings =>
    (o.tls === undefined ? { routes: o.routes, http: o.http } : o) as HttpFrontendSettings,
);
