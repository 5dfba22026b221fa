// The zod schema of lodestone.yaml. Input: kebab-case keys, human durations,
// "host:port" strings, omitted defaults. Output: the normalized Config of types.ts.
//
// Every object is strict (unknown keys are errors that list the allowed keys). The
// checks here are the ones a single value can answer on its own; the ones that need
// the whole file (references, duplicates, listen conflicts) live in semantic.ts.
// The loader parses each named entry separately (see load.ts) so one bad entry does
// not hide the errors of the others; `configSchema` composes the same pieces for the
// JSON Schema export and for callers that already hold plain data.
import * as z from "zod";
import { ALGORITHMS } from "../balance/index.ts";
import { MAX_MAGLEV_TABLE_SIZE } from "../balance/maglev.ts";
import { isPrime, nextPrime, previousPrime } from "../balance/prime.ts";
import { isIpLiteral, parseListen } from "./address.ts";
import { DURATION_PATTERN, formatDuration, MAX_DURATION_MS, parseDuration } from "./duration.ts";
import { httpFrontendFields } from "./routes.ts";
import type {
  AdminConfig,
  BackendConfig,
  Config,
  FrontendConfig,
  HealthCheckConfig,
  RuntimeConfig,
  ServiceConfig,
  StatusRange,
  XdpFrontendConfig,
  XdpRuntimeConfig,
} from "./types.ts";

// ---------------------------------------------------------------- kebab -> camel

type KebabToCamel<S extends string> = S extends `${infer H}-${infer T}`
  ? `${H}${Capitalize<KebabToCamel<T>>}`
  : S;
export type CamelKeys<T> = { [K in keyof T as K extends string ? KebabToCamel<K> : K]: T[K] };

export function kebabToCamel(key: string): string {
  return key.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Shallow key rename; nested objects are renamed by their own schemas. Undefined values are dropped. */
export function camelKeys<T extends object>(o: T): CamelKeys<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[kebabToCamel(k)] = v;
  return out as CamelKeys<T>;
}

/** Marker the loader uses to split an unknown-keys message into one issue per key. */
export const ALLOWED_KEYS_MARKER = "allowed keys: ";

/** A strict object whose unknown keys are reported with the list of allowed keys. */
export function strictKebab<S extends z.ZodRawShape>(shape: S) {
  const allowed = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (iss) => {
      if (iss.code === "unrecognized_keys") {
        const keys = iss.keys.map((k) => `"${k}"`).join(", ");
        return `unknown key${iss.keys.length > 1 ? "s" : ""} ${keys}; ${ALLOWED_KEYS_MARKER}${allowed}`;
      }
      if (iss.code === "invalid_type") {
        return iss.input === undefined
          ? `required: a mapping with keys ${allowed}`
          : `expected a mapping with keys ${allowed}`;
      }
      return undefined;
    },
  });
}

/** strictKebab + rename to camelCase: the building block of every section. */
export function kebabObject<S extends z.ZodRawShape>(shape: S) {
  return strictKebab(shape).transform((o) => camelKeys(o));
}

// ---------------------------------------------------------------- scalar pieces

/** Names of healthchecks, backends, services, frontends and pools. No dots: they appear in key paths. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
export const NAME_RULE =
  "a name of letters, digits, '-' and '_' (at most 63, starting with a letter or digit)";

export const name = z.string().regex(NAME_PATTERN, { error: (iss) => `"${iss.input}" is not ${NAME_RULE}` });

/** A reference to another entry by name; whether it exists is checked in semantic.ts. */
const reference = z.string({
  error: (iss) => (iss.input === undefined ? "required: a name" : "expected a name"),
});

export const duration = z
  .string({
    error: (iss) =>
      typeof iss.input === "number"
        ? `a bare number is not a duration: use a unit, e.g. ${iss.input}s or ${iss.input}ms`
        : "expected a duration such as 2s, 500ms or 1m30s",
  })
  .regex(new RegExp(DURATION_PATTERN), {
    error: (iss) => {
      const r = parseDuration(String(iss.input));
      return r.ok ? "expected a duration such as 2s, 500ms or 1m30s" : r.message;
    },
  })
  .transform((s, ctx) => {
    const r = parseDuration(s);
    if (r.ok) return r.ms;
    ctx.issues.push({ code: "custom", message: r.message, input: s });
    return z.NEVER;
  });

export const positiveDuration = duration.refine((ms) => ms > 0, { error: "must be longer than 0s" });

/**
 * What a number-valued key actually held, for "expected ..., got ..." messages: an
 * operator who wrote `weight: 150` or `port: "9001"` sees why it was refused (a quoted
 * number looks right on screen but is a YAML string).
 */
export function gotNumber(input: unknown): string {
  if (typeof input === "number") return `got ${input}`;
  if (typeof input === "string") {
    return /^\s*-?\d+(\.\d+)?\s*$/.test(input)
      ? `got the string "${input}": write the number without quotes`
      : `got "${input}"`;
  }
  if (input === null || input === undefined) return "got nothing";
  if (Array.isArray(input)) return "got a list";
  return `got ${typeof input === "object" ? "a mapping" : typeof input}`;
}

const portMessage = (iss: { input?: unknown }) =>
  iss.input === undefined
    ? "required: a port number from 1 to 65535"
    : `expected a port number from 1 to 65535, ${gotNumber(iss.input)}`;
export const port = z
  .int({ error: portMessage })
  .min(1, { error: portMessage })
  .max(65535, { error: portMessage });

export const ipAddress = z
  .string({
    error: (iss) =>
      iss.input === undefined
        ? "required: an IP address such as 127.0.0.1 or ::1"
        : "expected an IP address such as 127.0.0.1 or ::1",
  })
  .refine(isIpLiteral, {
    error: (iss) => `"${iss.input}" is not an IP address (v4 or v6; hostnames are not resolved)`,
  });

export const listen = z
  .string({ error: 'expected "address:port", e.g. 127.0.0.1:8080 or "[::1]:8080"' })
  .transform((s, ctx) => {
    const r = parseListen(s);
    if (r.ok) return r.value;
    ctx.issues.push({ code: "custom", message: r.message, input: s });
    return z.NEVER;
  });

function intIn(min: number, max: number, what = "an integer") {
  const message = (iss: { input?: unknown }) =>
    iss.input === undefined
      ? `required: ${what} from ${min} to ${max}`
      : `expected ${what} from ${min} to ${max}, ${gotNumber(iss.input)}`;
  return z.int({ error: message }).min(min, { error: message }).max(max, { error: message });
}

const nonEmpty = (what: string) =>
  z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}, got an empty string` });

// ---------------------------------------------------------------- healthchecks

export const HEALTHCHECK_DEFAULTS = {
  interval: 2000,
  timeout: 1000,
  rise: 2,
  fall: 3,
  jitter: 0.1,
  method: "GET",
  path: "/",
  expectStatus: [{ min: 200, max: 399 }] as StatusRange[],
  verify: false,
} as const;

const timingShape = {
  type: z.string(), // replaced per check type below; listed first so it leads the allowed keys
  interval: positiveDuration.optional().describe("Probe interval while up (default 2s)."),
  "fast-interval": positiveDuration
    .optional()
    .describe("Interval while changing state (default interval/2, >= 100ms)."),
  "down-interval": positiveDuration.optional().describe("Interval while down (default interval*2)."),
  timeout: positiveDuration.optional().describe("Per-probe timeout, at most interval (default 1s)."),
  rise: intIn(1, 100).optional().describe("Consecutive passes to go up (default 2)."),
  fall: intIn(1, 100).optional().describe("Consecutive failures to go down (default 3)."),
  jitter: z
    .number({ error: "expected a fraction from 0 to 0.5, e.g. 0.1" })
    .min(0, { error: "expected a fraction from 0 to 0.5, e.g. 0.1" })
    .max(0.5, { error: "expected a fraction from 0 to 0.5, e.g. 0.1" })
    .optional()
    .describe("Random spread applied to every interval, a fraction from 0 to 0.5 (default 0.1)."),
  port: port.optional().describe("Probe this port instead of the backend's."),
};

/** 200, "200-399" or "2xx" -> a status range; null when it is not one (100..599, min <= max). */
export function parseStatusRange(v: number | string): StatusRange | null {
  let min: number;
  let max: number;
  if (typeof v === "number") {
    min = max = v;
  } else if (/^[1-5]xx$/i.test(v.trim())) {
    min = Number(v.trim()[0]) * 100;
    max = min + 99;
  } else {
    const m = /^(\d{3})(?:-(\d{3}))?$/.exec(v.trim());
    if (!m) return null;
    min = Number(m[1]);
    max = m[2] === undefined ? min : Number(m[2]);
  }
  return Number.isInteger(min) && min >= 100 && max <= 599 && min <= max ? { min, max } : null;
}

const statusItem = z.union([z.int(), z.string()], {
  error: 'expected a status such as 200, "200-399" or "2xx"',
});

const expectStatus = z
  .union([statusItem, z.array(statusItem).min(1, { error: "expected at least one status" })], {
    error: 'expected a status or a list of statuses, e.g. [200, "300-399"]',
  })
  .transform((v, ctx): StatusRange[] => {
    const items = Array.isArray(v) ? v : [v];
    const out: StatusRange[] = [];
    items.forEach((item, i) => {
      const range = parseStatusRange(item);
      if (range) out.push(range);
      else {
        ctx.issues.push({
          code: "custom",
          message: `${JSON.stringify(item)} is not a status: expected e.g. 200, "200-399" or "2xx" (100 to 599)`,
          input: item,
          path: Array.isArray(v) ? [i] : [],
        });
      }
    });
    return out.length === items.length ? out : z.NEVER;
  });

const httpShape = {
  ...timingShape,
  method: z
    .string()
    .regex(/^[A-Z]+$/, { error: "expected an HTTP method in capitals, e.g. GET or HEAD" })
    .optional()
    .describe("Request method (default GET)."),
  path: z
    .string()
    .regex(/^\/[^\s]*$/, { error: 'expected a request path starting with "/" and without spaces' })
    .optional()
    .describe("Request path, starting with / (default /)."),
  host: z
    .string()
    .regex(/^[^\s/]+$/, { error: "expected a Host header value without spaces" })
    .optional()
    .describe("Host header (default the backend address)."),
  "expect-status": expectStatus
    .optional()
    .describe('Accepted statuses: 200, "200-399", "2xx" or a list (default "200-399").'),
  "expect-body": nonEmpty("a substring of the body").optional().describe("Substring the body must contain."),
};

/** Fill the timing defaults; the derived intervals follow the (possibly configured) interval. */
function timing<
  T extends { interval?: number; timeout?: number; fastInterval?: number; downInterval?: number },
>(o: T & { rise?: number; fall?: number; jitter?: number }) {
  const interval = o.interval ?? HEALTHCHECK_DEFAULTS.interval;
  return {
    ...o,
    interval,
    // A default timeout never exceeds the interval (a 500ms interval gets a 500ms timeout).
    timeout: o.timeout ?? Math.min(HEALTHCHECK_DEFAULTS.timeout, interval),
    fastInterval: o.fastInterval ?? Math.max(100, Math.floor(interval / 2)),
    downInterval: o.downInterval ?? Math.min(interval * 2, MAX_DURATION_MS),
    rise: o.rise ?? HEALTHCHECK_DEFAULTS.rise,
    fall: o.fall ?? HEALTHCHECK_DEFAULTS.fall,
    jitter: o.jitter ?? HEALTHCHECK_DEFAULTS.jitter,
  };
}

function httpDefaults<T extends { method?: string; path?: string; expectStatus?: StatusRange[] }>(o: T) {
  return {
    ...o,
    method: o.method ?? HEALTHCHECK_DEFAULTS.method,
    path: o.path ?? HEALTHCHECK_DEFAULTS.path,
    expectStatus: o.expectStatus ?? HEALTHCHECK_DEFAULTS.expectStatus,
  };
}

export const tcpCheck = kebabObject({
  ...timingShape,
  type: z.literal("tcp").describe("tcp: a successful connect passes."),
}).transform((o) => timing(o));

export const httpCheck = kebabObject({
  ...httpShape,
  type: z.literal("http").describe("http: an HTTP request; the status (and body) decide."),
}).transform((o) => ({
  ...httpDefaults(timing(o)),
  verify: false,
}));

export const httpsCheck = kebabObject({
  ...httpShape,
  type: z.literal("https").describe("https: an HTTP request over TLS."),
  sni: z
    .string()
    .regex(/^[A-Za-z0-9.-]+$/, { error: "expected a DNS name to send as SNI" })
    .optional()
    .describe("SNI name to send (default none)."),
  verify: z
    .boolean({ error: "expected true or false" })
    .optional()
    .describe("Verify the backend certificate (default false)."),
}).transform((o) => ({ ...httpDefaults(timing(o)), verify: o.verify ?? HEALTHCHECK_DEFAULTS.verify }));

export const udpCheck = kebabObject({
  ...timingShape,
  type: z.literal("udp").describe("udp: send a payload; a reply (containing `expect`) passes."),
  send: z
    .string({
      error: (iss) =>
        iss.input === undefined
          ? "a udp check needs `send`: the payload to send (UDP has no connection to test)"
          : "expected the payload to send, as a string",
    })
    .describe("Payload to send (UTF-8); required: UDP has no handshake to test."),
  expect: nonEmpty("a substring the reply must contain")
    .optional()
    .describe("Substring the reply must contain; any reply passes when absent."),
}).transform((o) => timing(o));

export const agentCheck = kebabObject({
  ...timingShape,
  type: z
    .literal("agent")
    .describe("agent: HAProxy agent-check, read one line (up, down, drain, weight:50, 50%)."),
  port: z
    .int({
      error: (iss) =>
        iss.input === undefined
          ? "an agent check needs `port`: the port the agent listens on"
          : portMessage(iss),
    })
    .min(1, { error: portMessage })
    .max(65535, { error: portMessage }),
}).transform((o) => timing(o));

export const HEALTHCHECK_TYPES = ["tcp", "http", "https", "udp", "agent"] as const;

export const healthcheck = z.discriminatedUnion(
  "type",
  [tcpCheck, httpCheck, httpsCheck, udpCheck, agentCheck],
  {
    error: (iss) => {
      if (iss.code !== "invalid_union") return undefined;
      const input = (iss.input ?? {}) as Record<string, unknown>;
      const got = typeof input === "object" ? input.type : undefined;
      return got === undefined
        ? `required: type, one of ${HEALTHCHECK_TYPES.join(", ")}`
        : `unknown check type ${JSON.stringify(got)}: expected one of ${HEALTHCHECK_TYPES.join(", ")}`;
    },
  },
);

// ---------------------------------------------------------------- backends

export const backend = kebabObject({
  address: ipAddress.describe("IP address (no hostnames)."),
  port: port.describe("Port, 1 to 65535."),
  healthcheck: reference.optional().describe("Name of a health check; none = static, up at once."),
});

// ---------------------------------------------------------------- services

export const SERVICE_DEFAULTS = {
  algorithm: "round-robin",
  tableSize: 65537,
  seed: 0,
  hashOn: "client-address",
  weight: 100,
} as const;

const tableSize = z
  .int({ error: "expected a prime number of slots, e.g. 65537" })
  .min(2, { error: "expected a prime number of slots, e.g. 65537" })
  .max(MAX_MAGLEV_TABLE_SIZE, {
    error: `expected a prime of at most ${MAX_MAGLEV_TABLE_SIZE} slots, e.g. 65537`,
  })
  .refine(isPrime, {
    error: (iss) => {
      const n = Number(iss.input);
      const below = previousPrime(n);
      return `${n} is not prime (Maglev needs a prime table size): nearest primes are ${below ?? "-"} and ${nextPrime(n)}`;
    },
  });

const member = kebabObject({
  weight: intIn(0, 100, "an integer weight").optional().describe("Weight 0 to 100 (default 100); 0 drains."),
}).transform((o) => ({
  weight: o.weight ?? SERVICE_DEFAULTS.weight,
}));

export const pool = kebabObject({
  name: name.describe("Pool name, unique within the service."),
  backends: z
    .record(z.string(), member, {
      error: (iss) =>
        iss.input === undefined
          ? "required: a mapping of backend name -> { weight }, e.g. { web-1: {} }"
          : "expected a mapping of backend name -> { weight }, e.g. { web-1: {} }",
    })
    .refine((r) => Object.keys(r).length > 0, { error: "a pool needs at least one backend" })
    .describe("Backend name -> { weight }; write {} for the default weight."),
}).transform((o) => ({
  name: o.name,
  members: Object.entries(o.backends).map(([backend, m]) => ({ backend, weight: m.weight })),
}));

export const service = kebabObject({
  algorithm: z
    .enum(ALGORITHMS, { error: `expected one of ${ALGORITHMS.join(", ")}` })
    .default(SERVICE_DEFAULTS.algorithm)
    .describe("Balancing algorithm (default round-robin)."),
  maglev: kebabObject({
    "table-size": tableSize.optional().describe("Maglev table slots, a prime (default 65537)."),
    seed: intIn(0, 2 ** 32 - 1)
      .optional()
      .describe("Hash seed (default 0): same seed and backends = same table everywhere."),
  })
    .transform((o) => ({
      tableSize: o.tableSize ?? SERVICE_DEFAULTS.tableSize,
      seed: o.seed ?? SERVICE_DEFAULTS.seed,
    }))
    .prefault({})
    .describe("Maglev table settings (algorithm maglev)."),
  "hash-on": z
    .enum(["client-address", "client-address-port"], {
      error: "expected client-address or client-address-port",
    })
    .default(SERVICE_DEFAULTS.hashOn)
    .describe("What maglev and source-hash key on."),
  pools: z
    .array(pool, { error: "expected a list of pools, e.g. - { name: primary, backends: { web-1: {} } }" })
    .min(1, { error: "a service needs at least one pool" })
    .describe("Pools in priority order: the first with a backend up and weight > 0 takes traffic."),
});

// ---------------------------------------------------------------- frontends

export const PROTOCOLS = ["tcp", "udp", "http", "https"] as const;

export const FRONTEND_DEFAULTS = {
  protocol: "tcp",
  dataplane: "proxy",
  connectTimeout: 3000,
  idleTimeout: 300_000,
  maxConnections: 0,
  connectRetries: 2,
  proxyProtocol: "none",
  sessionTimeout: 30_000,
  maxSessions: 65536,
} as const;

export const DATAPLANES = ["proxy", "xdp"] as const;

export const XDP_FRONTEND_DEFAULTS = {
  mode: "dsr",
  natPorts: { min: 61000, max: 65535 },
  fragments: false,
} as const;

/**
 * A Linux interface name as the kernel accepts it (dev_valid_name): 1 to 15 bytes, no
 * "/", ":" or whitespace, not "." or "..".
 */
export const INTERFACE_NAME_PATTERN = /^(?!\.{1,2}$)[^\s/:]{1,15}$/;

const interfaceName = z
  .string({ error: "expected an interface name, e.g. eth0" })
  .regex(INTERFACE_NAME_PATTERN, {
    error: (iss) =>
      `"${iss.input}" is not a Linux interface name: 1 to 15 characters without "/", ":" or spaces, e.g. eth0`,
  });

const portRangeMessage = 'expected a port range "min-max" from 1 to 65535, e.g. "61000-65535"';

/** "61000-65535" -> {min, max}; a single port is a range of one. */
export const portRange = z.union([z.string(), z.int()], { error: portRangeMessage }).transform((v, ctx) => {
  const m = /^\s*(\d{1,5})(?:\s*-\s*(\d{1,5}))?\s*$/.exec(String(v));
  const min = m ? Number(m[1]) : Number.NaN;
  const max = m ? Number(m[2] ?? m[1]) : Number.NaN;
  if (!(min >= 1 && max <= 65535 && min <= max)) {
    ctx.issues.push({ code: "custom", message: portRangeMessage, input: v });
    return z.NEVER;
  }
  return { min, max };
});

export const xdpFrontend = strictKebab({
  interface: interfaceName.describe("Interface the VIP's traffic arrives on; the program is attached there."),
  mode: z
    .enum(["dsr", "nat"], { error: "expected dsr or nat" })
    .default(XDP_FRONTEND_DEFAULTS.mode)
    .describe("dsr (default): rewrite MACs, backends answer clients directly. nat: rewrite addresses."),
  "nat-address": ipAddress
    .optional()
    .describe("nat: our address on the backends' side, same family as the VIP."),
  "nat-ports": portRange.optional().describe('nat: source ports handed out (default "61000-65535").'),
  fragments: z
    .boolean({ error: "expected true or false" })
    .default(XDP_FRONTEND_DEFAULTS.fragments)
    .describe("dsr: hash on (source, destination, protocol) so IP fragments follow their flow."),
})
  // Checks between the keys of this block; those that need the VIP (address family) are in semantic.ts.
  .superRefine((o, ctx) => {
    const issue = (key: string, message: string) =>
      ctx.addIssue({ code: "custom", message, path: [key], input: o[key as keyof typeof o] });
    if (o.mode === "nat" && o["nat-address"] === undefined) {
      issue("mode", "mode nat needs nat-address: our address on the backends' side, which they reply to");
    }
    if (o.mode === "dsr" && o["nat-address"] !== undefined) {
      issue("nat-address", "nat-address is only used with mode nat (this block is mode dsr)");
    }
    if (o.mode === "dsr" && o["nat-ports"] !== undefined) {
      issue("nat-ports", "nat-ports is only used with mode nat (this block is mode dsr)");
    }
    if (o.mode === "nat" && o.fragments) {
      issue(
        "fragments",
        "fragments needs mode dsr: nat translates ports, which later fragments do not carry",
      );
    }
  })
  .transform(
    (o): XdpFrontendConfig => ({
      ...camelKeys(o),
      natPorts: o["nat-ports"] ?? { ...XDP_FRONTEND_DEFAULTS.natPorts },
    }),
  );

/**
 * The frontend's fields, exported so L7 settings (routes, TLS: config/routes.ts) can be
 * added here by replacing `routes` or spreading extra keys into a new kebabObject.
 */
export const frontendFields = {
  listen: listen.describe('Address to listen on: "127.0.0.1:8080" or "[::1]:8080".'),
  protocol: z
    .enum(PROTOCOLS, { error: `expected one of ${PROTOCOLS.join(", ")}` })
    .default(FRONTEND_DEFAULTS.protocol)
    .describe("tcp (default), udp, http or https (https needs tls)."),
  service: reference.describe("Name of the service that takes this traffic."),
  dataplane: z
    .enum(DATAPLANES, { error: `expected one of ${DATAPLANES.join(", ")}` })
    .default(FRONTEND_DEFAULTS.dataplane)
    .describe("proxy (userspace, default) or xdp (kernel fast path for tcp/udp; needs `xdp`)."),
  xdp: xdpFrontend.optional().describe("XDP settings; required when dataplane is xdp."),
  "connect-timeout": positiveDuration
    .prefault(formatDuration(FRONTEND_DEFAULTS.connectTimeout))
    .describe("Backend connect timeout."),
  "idle-timeout": positiveDuration
    .prefault(formatDuration(FRONTEND_DEFAULTS.idleTimeout))
    .describe("Close a connection after this long without bytes either way."),
  "max-connections": intIn(0, 10_000_000, "an integer (0 = unlimited)")
    .default(FRONTEND_DEFAULTS.maxConnections)
    .describe("Concurrent client connections per worker; 0 (default) = unlimited."),
  "connect-retries": intIn(0, 10)
    .default(FRONTEND_DEFAULTS.connectRetries)
    .describe("Other backends tried after a connect failure."),
  "proxy-protocol": z
    .enum(["none", "v1", "v2"], { error: "expected none, v1 or v2" })
    .default(FRONTEND_DEFAULTS.proxyProtocol)
    .describe("PROXY protocol header sent to backends."),
  udp: kebabObject({
    "session-timeout": positiveDuration
      .prefault(formatDuration(FRONTEND_DEFAULTS.sessionTimeout))
      .describe("Idle expiry of a UDP client session (default 30s)."),
    "max-sessions": intIn(1, 10_000_000)
      .default(FRONTEND_DEFAULTS.maxSessions)
      .describe("Bound on concurrent UDP sessions (default 65536)."),
  })
    .prefault({})
    .describe("UDP session settings (protocol udp)."),
  // L7: routes, http, tls (shapes owned by config/routes.ts).
  ...httpFrontendFields,
};

export const frontend = kebabObject(frontendFields);

// ---------------------------------------------------------------- admin, runtime

export const ADMIN_DEFAULT_LISTEN = "127.0.0.1:9700";

export const admin = kebabObject({
  listen: listen
    .prefault(ADMIN_DEFAULT_LISTEN)
    .describe("Admin API address: REST, SSE events, /metrics (default 127.0.0.1:9700)."),
  "token-file": nonEmpty("a file path").optional().describe("File holding the bearer token for mutations."),
  "token-env": z
    .string({ error: "expected an environment variable name" })
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
      error: "expected an environment variable name, e.g. LODESTONE_TOKEN",
    })
    .optional()
    .describe("Environment variable holding the bearer token for mutations."),
})
  .prefault({})
  .describe("Admin API: address and token (required off loopback).");

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"] as const;

export const RUNTIME_DEFAULTS = {
  workers: 1,
  minDelay: 0,
  maxWait: 5000,
  drainTimeout: 10_000,
  logLevel: "info",
} as const;

export const XDP_RUNTIME_DEFAULTS: XdpRuntimeConfig = {
  pinRoot: "/sys/fs/bpf/lodestone",
  attachMode: "auto",
  ringEntries: 1 << 20,
  detachOnStop: true,
};

/** Bounds of the shared ring array: one 65537-slot table at least, 64 MiB of slots at most. */
export const XDP_RING_ENTRIES_MIN = 1024;
export const XDP_RING_ENTRIES_MAX = 1 << 24;

export const xdpRuntime = kebabObject({
  "pin-root": z
    .string({ error: "expected an absolute directory path on a bpffs, e.g. /sys/fs/bpf/lodestone" })
    .regex(/^\/[^\0]*$/, {
      error: "expected an absolute directory path on a bpffs, e.g. /sys/fs/bpf/lodestone",
    })
    .optional()
    .describe("bpffs directory for pinned maps (default /sys/fs/bpf/lodestone)."),
  "attach-mode": z
    .enum(["auto", "native", "generic"], { error: "expected auto, native or generic" })
    .optional()
    .describe("auto (default) tries native (driver) XDP, then generic; generic on a veth."),
  "ring-entries": intIn(XDP_RING_ENTRIES_MIN, XDP_RING_ENTRIES_MAX)
    .optional()
    .describe("Slots of the shared Maglev ring array (default 1048576)."),
  "detach-on-stop": z
    .boolean({ error: "expected true or false" })
    .optional()
    .describe("Detach on stop (default true); false leaves the fast path forwarding."),
}).transform(
  (o): XdpRuntimeConfig => ({
    pinRoot: o.pinRoot ?? XDP_RUNTIME_DEFAULTS.pinRoot,
    attachMode: o.attachMode ?? XDP_RUNTIME_DEFAULTS.attachMode,
    ringEntries: o.ringEntries ?? XDP_RUNTIME_DEFAULTS.ringEntries,
    detachOnStop: o.detachOnStop ?? XDP_RUNTIME_DEFAULTS.detachOnStop,
  }),
);

export const runtime = kebabObject({
  workers: z
    .union([z.int().min(1).max(1024), z.literal("auto")], {
      error: 'expected a number of workers (1 to 1024) or "auto"',
    })
    .default(RUNTIME_DEFAULTS.workers)
    .describe('Proxy worker processes; "auto" = one per core.'),
  warmup: kebabObject({
    "min-delay": duration
      .prefault(formatDuration(RUNTIME_DEFAULTS.minDelay))
      .describe("Hands-off delay after start before anything is programmed (default 0s)."),
    "max-wait": duration
      .prefault(formatDuration(RUNTIME_DEFAULTS.maxWait))
      .describe("Longest wait for first probe results before programming anyway (default 5s)."),
  })
    .prefault({})
    .describe("Restart-neutral warmup: wait for first probe results before programming."),
  "drain-timeout": duration
    .prefault(formatDuration(RUNTIME_DEFAULTS.drainTimeout))
    .describe("On SIGTERM, how long open connections may finish."),
  "log-level": z
    .enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(", ")}` })
    .default(RUNTIME_DEFAULTS.logLevel)
    .describe("Log level (default info)."),
  xdp: xdpRuntime.optional().describe("How the XDP program is loaded and attached (XDP frontends only)."),
}).prefault({});

// ---------------------------------------------------------------- the whole file

/** The four named sections: each maps a name to an entry. */
export const entrySchemas = {
  healthchecks: healthcheck,
  backends: backend,
  services: service,
  frontends: frontend,
} as const;

export type SectionName = keyof typeof entrySchemas;
export const SECTION_NAMES = Object.keys(entrySchemas) as SectionName[];
export const TOP_LEVEL_KEYS = [...SECTION_NAMES, "admin", "runtime"] as const;

function withNames<T extends object>(r: Record<string, T>): Record<string, { name: string } & T> {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, { name: k, ...v }]));
}

function section<T extends z.ZodType<object>>(entry: T) {
  // An empty section (`backends:` with nothing under it) is YAML null: treat it as empty.
  return z
    .record(name, entry, { error: "expected a mapping of name -> settings" })
    .nullish()
    .transform((r) => withNames((r ?? {}) as Record<string, z.output<T>>));
}

export const configSchema = strictKebab({
  healthchecks: section(healthcheck).describe("Health checks by name, referenced by backends."),
  backends: section(backend).describe("Backends by name: address, port, optional health check."),
  services: section(service).describe("Services by name: an algorithm over prioritized pools of backends."),
  frontends: section(frontend).describe("Frontends by name: a listen address feeding one service."),
  admin,
  runtime: runtime.describe("Workers, warmup, drain timeout, log level, XDP loading."),
});

// Compile-time contract: what the schema produces is exactly what everyone else consumes.
type Assert<T extends true> = T;
type Extends<A, B> = [A] extends [B] ? true : false;
export type _OutputIsConfig = Assert<Extends<z.output<typeof configSchema>, Config>>;
export type _EntryShapes = Assert<
  Extends<
    [
      z.output<typeof healthcheck> & { name: string },
      z.output<typeof backend> & { name: string },
      z.output<typeof service> & { name: string },
      z.output<typeof frontend> & { name: string },
      z.output<typeof admin>,
      z.output<typeof runtime>,
    ],
    [HealthCheckConfig, BackendConfig, ServiceConfig, FrontendConfig, AdminConfig, RuntimeConfig]
  >
>;
