// The admin HTTP API on node:http: JSON under /api/v1, Server-Sent Events at
// /api/v1/events, Prometheus text at /metrics. Every request is authorized (auth.ts),
// routed (router.ts), and answered with JSON; bad input is a 4xx with a stable code,
// never a crash. Mutations are logged with who asked and published on the event bus.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { z } from "zod";
import { diffConfig, formatIssue, isEmpty } from "../config/index.ts";
import type { HostPort } from "../config/types.ts";
import { summarizeDiff } from "../control/diff-summary.ts";
import { LodestoneError } from "../errors.ts";
import { createMetrics, type Metrics } from "../metrics/registry.ts";
import {
  type AdminToken,
  clientAddress,
  decideAccess,
  isLoopback,
  loadAdminToken,
  makeToken,
} from "./auth.ts";
import type { AdminDaemon } from "./daemon-view.ts";
import { parseEventFilter, parseLastEventId, streamEvents } from "./events.ts";
import { openApiDocument } from "./openapi.ts";
import { Router } from "./router.ts";
import { DisableBody, EmptyBody, WeightBody } from "./schemas.ts";
import { VERSION } from "./version.ts";
import {
  backendViews,
  frontendViews,
  healthcheckViews,
  mergeStats,
  type Snapshot,
  serviceViews,
} from "./views.ts";

export interface AdminServerOptions {
  /** Listen here instead of config.admin.listen (tests use port 0). */
  listen?: HostPort;
  /** Use this token instead of reading admin.tokenFile / tokenEnv (null = none). */
  token?: string | null;
  /** SSE heartbeat comment interval, ms (default 15000). */
  heartbeatMs?: number;
  /** Largest accepted request body, bytes (default 64 KiB). */
  maxBodyBytes?: number;
  /** Bytes an SSE client may fall behind before it is dropped (default 1 MiB). */
  sseMaxBuffer?: number;
  /** Include process metrics (collectDefaultMetrics); default true. */
  processMetrics?: boolean;
}

export interface AdminServer {
  readonly address: HostPort;
  /** e.g. http://127.0.0.1:9700 */
  readonly url: string;
  readonly tokenId: string | null;
  close(): Promise<void>;
}

export class HttpError extends LodestoneError {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(code, message);
    this.status = status;
    this.headers = headers;
  }
}

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  who: string;
  body: unknown;
}

interface Reply {
  status?: number;
  body: unknown;
}

type Handler = (ctx: Ctx) => Reply | "streamed" | Promise<Reply | "streamed">;

interface RouteDef {
  handler: Handler;
  mutation: boolean;
  /** Request body schema (mutations). */
  schema?: z.ZodType;
}

const API = "/api/v1";

/** Map the daemon's LodestoneError codes to HTTP statuses. */
function statusOf(code: string): number {
  if (code.startsWith("UNKNOWN_")) return 404;
  if (code === "INVALID_WEIGHT") return 400;
  return 500;
}

function notFound(kind: string, name: string): never {
  throw new HttpError(404, `UNKNOWN_${kind.toUpperCase()}`, `no ${kind} named "${name}"`);
}

function formatHost(l: HostPort): string {
  return l.host.includes(":") ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`;
}

export async function startAdminServer(
  daemon: AdminDaemon,
  options: AdminServerOptions = {},
): Promise<AdminServer> {
  const admin = daemon.config.admin;
  const listen = options.listen ?? admin.listen;
  let token: AdminToken | null =
    options.token !== undefined
      ? options.token === null
        ? null
        : makeToken(options.token)
      : await loadAdminToken(admin);
  // The config layer refuses this too; checked again here because this is the code that
  // would actually open the socket.
  if (token === null && !isLoopback(listen.host)) {
    throw new LodestoneError(
      "ADMIN_INSECURE",
      `refusing to serve the admin API on non-loopback ${formatHost(listen)} without a token`,
    );
  }
  const maxBody = options.maxBodyBytes ?? 64 * 1024;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const sseMaxBuffer = options.sseMaxBuffer ?? 1024 * 1024;
  const log = daemon.log.child({ component: "api" });
  const metrics: Metrics = createMetrics(daemon, { processMetrics: options.processMetrics });
  const streams = new Set<() => void>();

  // A reload re-reads the token (rotation: write the new one to token-file, reload).
  // The listen address only changes at restart. A reload can never leave a
  // non-loopback API without a token: that keeps the old one.
  const offReload = daemon.events.subscribe((e) => {
    if (e.type !== "reload" || e.summary.startsWith("refused")) return;
    const next = daemon.config.admin;
    if (next.listen.host !== admin.listen.host || next.listen.port !== admin.listen.port) {
      log.warn({ running: formatHost(listen) }, "admin.listen changes at restart");
    }
    if (options.token !== undefined) return;
    loadAdminToken(next).then(
      (t) => {
        if (t === null && !isLoopback(listen.host)) {
          log.error("reload removed the admin token but the API is not on loopback: keeping the old token");
          return;
        }
        if ((t?.id ?? null) !== (token?.id ?? null))
          log.info({ token: t ? t.id : "none" }, "admin token changed");
        token = t;
      },
      (err: Error) =>
        log.error({ err: err.message }, "admin token unreadable after reload: keeping the old one"),
    );
  });

  const snapshot = (): Snapshot => ({
    status: daemon.status(),
    config: daemon.config,
    stats: mergeStats(daemon.stats?.() ?? []),
  });

  // Apply, then record who did what: a refused change (unknown name) is logged as
  // refused and never published as if it had happened.
  const mutate = async (ctx: Ctx, what: string, detail: object, act: () => void): Promise<void> => {
    try {
      act();
    } catch (err) {
      if (err instanceof LodestoneError) {
        log.info({ who: ctx.who, action: what, ...detail, refused: err.code }, "admin mutation refused");
        throw new HttpError(statusOf(err.code), err.code, err.message);
      }
      throw err;
    }
    log.info({ who: ctx.who, action: what, ...detail }, "admin mutation");
    daemon.events.publish({ type: "log", level: "info", message: `admin ${ctx.who}: ${what}` });
    await daemon.settled();
  };

  const backendAction = (action: "pause" | "resume" | "enable" | "disable"): Handler => {
    return async (ctx) => {
      const name = ctx.params.name;
      if (!daemon.config.backends[name]) notFound("backend", name);
      const flush = action === "disable" && (ctx.body as { flush?: boolean }).flush === true;
      await mutate(ctx, `${action} backend ${name}${flush ? " (flush)" : ""}`, { backend: name }, () => {
        if (action === "disable") daemon.disable(name, { flush });
        else daemon[action](name);
      });
      const b = backendViews(snapshot(), false).find((x) => x.name === name);
      return { body: b ?? { name } };
    };
  };

  const routes = new Router<RouteDef>();
  const get = (path: string, handler: Handler) => routes.add("GET", path, { handler, mutation: false });
  const post = (path: string, schema: z.ZodType, handler: Handler) =>
    routes.add("POST", path, { handler, mutation: true, schema });

  get(`${API}/version`, () => ({
    body: {
      name: "lodestone",
      version: VERSION,
      node: process.version,
      pid: process.pid,
      startedAt: daemon.startedAt,
      uptimeSeconds: Math.round((Date.now() - daemon.startedAt) / 1000),
      desiredVersion: daemon.status().version,
    },
  }));
  get(`${API}/frontends`, () => ({ body: frontendViews(snapshot()) }));
  get(`${API}/frontends/:name`, (ctx) => {
    const f = frontendViews(snapshot()).find((x) => x.name === ctx.params.name);
    return { body: f ?? notFound("frontend", ctx.params.name) };
  });
  get(`${API}/services`, () => ({ body: serviceViews(snapshot()) }));
  get(`${API}/services/:name`, (ctx) => {
    const s = serviceViews(snapshot()).find((x) => x.name === ctx.params.name);
    return { body: s ?? notFound("service", ctx.params.name) };
  });
  get(`${API}/backends`, () => ({ body: backendViews(snapshot(), false) }));
  get(`${API}/backends/:name`, (ctx) => {
    const b = backendViews(snapshot(), true).find((x) => x.name === ctx.params.name);
    return { body: b ?? notFound("backend", ctx.params.name) };
  });
  get(`${API}/healthchecks`, () => ({ body: healthcheckViews(snapshot()) }));
  get(`${API}/config`, () => ({
    body: {
      source: daemon.status().configSource,
      loadedAt: daemon.configLoadedAt ?? daemon.startedAt,
      config: daemon.config,
    },
  }));
  get(`${API}/openapi.json`, () => ({ body: openApiDocument(routes.routes) }));
  get(`${API}/events`, (ctx) => {
    const lastId = parseLastEventId(
      ctx.req.headers["last-event-id"] as string | undefined,
      ctx.query.get("last-event-id"),
    );
    if (lastId === null)
      throw new HttpError(400, "BAD_REQUEST", "Last-Event-ID must be a non-negative integer");
    const filter = parseEventFilter(ctx.query);
    if (!filter.ok) throw new HttpError(400, "BAD_REQUEST", filter.message);
    const close = streamEvents(
      daemon.events,
      ctx.res,
      lastId,
      filter.filter,
      { heartbeatMs, maxBuffer: sseMaxBuffer },
      (reason) => log.warn({ who: ctx.who, reason }, "event stream client dropped"),
    );
    streams.add(close);
    ctx.res.on("close", () => streams.delete(close));
    return "streamed";
  });
  get("/metrics", async (ctx) => {
    const text = await metrics.render();
    ctx.res.writeHead(200, {
      "content-type": metrics.contentType,
      "content-length": Buffer.byteLength(text),
    });
    ctx.res.end(text);
    return "streamed" as const;
  });

  for (const action of ["pause", "resume", "enable"] as const) {
    post(`${API}/backends/:name/${action}`, EmptyBody, backendAction(action));
  }
  post(`${API}/backends/:name/disable`, DisableBody, backendAction("disable"));
  post(`${API}/services/:service/pools/:pool/backends/:backend/weight`, WeightBody, async (ctx) => {
    const { service, pool, backend } = ctx.params;
    const { weight, flush } = ctx.body as z.infer<typeof WeightBody>;
    await mutate(
      ctx,
      `weight ${service}/${pool}/${backend} = ${weight}${flush ? " (flush)" : ""}`,
      { service, pool, backend, weight, flush: flush === true },
      () => daemon.setWeight(service, pool, backend, weight, flush === true),
    );
    const svc = serviceViews(snapshot()).find((s) => s.name === service);
    const member = svc?.pools.find((p) => p.name === pool)?.members.find((m) => m.backend === backend);
    return { body: { service, pool, ...member } };
  });
  post(`${API}/config/check`, EmptyBody, async (ctx) => {
    log.info({ who: ctx.who, action: "config check" }, "admin request");
    const result = await daemon.checkConfig();
    if (result.ok) {
      // What a reload would change, from the running config (the same pure diff reload uses).
      const diff = diffConfig(daemon.config, result.config);
      return {
        body: {
          ok: true,
          source: daemon.status().configSource,
          changed: !isEmpty(diff),
          summary: summarizeDiff(diff),
          diff,
        },
      };
    }
    return { status: 422, body: { ok: false, errors: issues(result.errors) } };
  });
  post(`${API}/config/reload`, EmptyBody, async (ctx) => {
    log.info({ who: ctx.who, action: "config reload" }, "admin mutation");
    daemon.events.publish({ type: "log", level: "info", message: `admin ${ctx.who}: config reload` });
    const r = await daemon.reload();
    if (!r.ok) return { status: 422, body: { ok: false, errors: issues(r.errors) } };
    return {
      status: r.applyErrors.length > 0 ? 500 : 200,
      body: {
        ok: r.applyErrors.length === 0,
        changed: r.changed,
        summary: summarizeDiff(r.diff),
        diff: r.diff,
        droppedOverrides: r.droppedOverrides,
        applyErrors: r.applyErrors,
      },
    };
  });

  const server = createServer((req, res) => {
    res.on("error", () => {});
    handle(req, res).catch((err) => {
      log.error({ err }, "admin API handler failed");
      if (!res.headersSent) sendJson(res, 500, errorBody("INTERNAL", "internal error (see the daemon log)"));
      else res.destroy();
    });
  });
  server.on("clientError", (_err, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
    else socket.destroy();
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 0; // SSE streams stay open; bodies are bounded by size instead.

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.on("error", () => {});
    const url = new URL(req.url ?? "/", "http://admin.invalid");
    const m = routes.match(req.method ?? "GET", url.pathname);
    if (m.kind === "bad-path") return sendJson(res, 400, errorBody("BAD_REQUEST", m.message));
    if (m.kind === "not-found")
      return sendJson(res, 404, errorBody("NOT_FOUND", `no such path: ${url.pathname}`));
    if (m.kind === "method-not-allowed") {
      return sendJson(
        res,
        405,
        errorBody("METHOD_NOT_ALLOWED", `${req.method} not allowed here (allowed: ${m.allow.join(", ")})`),
        { allow: m.allow.join(", ") },
      );
    }
    const def = m.route.handler;
    const remote = clientAddress(req.socket.remoteAddress);
    const access = decideAccess({
      remote,
      authorization: req.headers.authorization,
      mutation: def.mutation,
      token,
    });
    if (!access.ok) {
      const headers: Record<string, string> = access.challenge
        ? { "www-authenticate": access.challenge }
        : {};
      const code = access.status === 401 ? "UNAUTHORIZED" : "FORBIDDEN";
      log.warn({ remote, path: url.pathname, status: access.status }, "admin request refused");
      req.resume();
      return sendJson(res, access.status, errorBody(code, access.message), headers);
    }
    let body: unknown;
    try {
      body = def.schema ? parseBody(def.schema, await readBody(req, maxBody)) : undefined;
    } catch (err) {
      if (err instanceof HttpError) {
        if (err.status === 413) res.setHeader("connection", "close");
        return sendJson(res, err.status, errorBody(err.code, err.message));
      }
      throw err;
    }
    const ctx: Ctx = { req, res, params: m.params, query: url.searchParams, who: access.who, body };
    try {
      const reply = await def.handler(ctx);
      if (reply === "streamed") return;
      sendJson(res, reply.status ?? 200, reply.body);
    } catch (err) {
      if (err instanceof HttpError)
        return sendJson(res, err.status, errorBody(err.code, err.message), err.headers);
      throw err;
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => {
      server.off("error", reject);
      resolve();
    });
  }).catch((err: NodeJS.ErrnoException) => {
    metrics.close();
    offReload();
    throw new LodestoneError(
      "ADMIN_LISTEN_FAILED",
      `admin API cannot listen on ${formatHost(listen)}: ${err.code ?? err.message}`,
      { cause: err },
    );
  });
  server.on("error", (err) => log.error({ err }, "admin API server error"));
  const addr = server.address() as AddressInfo;
  const address = { host: addr.address, port: addr.port };
  // (run.ts logs "admin API listening" with the URL; this line says who may use it.)
  log.info(
    {
      listen: formatHost(address),
      auth: token ? `bearer ${token.id} (reads from loopback without)` : "none: loopback clients only",
    },
    "admin API access",
  );

  return {
    address,
    url: `http://${formatHost(address)}`,
    get tokenId() {
      return token?.id ?? null;
    },
    close() {
      metrics.close();
      offReload();
      for (const close of [...streams]) close();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function issues(list: Parameters<typeof formatIssue>[0][]) {
  return list.map((i) => ({ ...i, text: formatIssue(i) }));
}

function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    ...headers,
  });
  res.end(text);
}

/** Read a request body up to `max` bytes: 413 beyond that, without buffering the rest. */
function readBody(req: IncomingMessage, max: number): Promise<string> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > max) {
    req.resume();
    return Promise.reject(new HttpError(413, "BODY_TOO_LARGE", `request body over ${max} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.removeAllListeners("data");
        req.resume();
        reject(new HttpError(413, "BODY_TOO_LARGE", `request body over ${max} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** Empty body = {}; otherwise JSON checked against the schema (400 with the first problem named). */
function parseBody(schema: z.ZodType, text: string): unknown {
  let value: unknown = {};
  if (text.trim() !== "") {
    try {
      value = JSON.parse(text);
    } catch {
      throw new HttpError(400, "BAD_REQUEST", "request body is not valid JSON");
    }
  }
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const first = r.error.issues[0];
  const where = first.path.length > 0 ? `${first.path.join(".")}: ` : "";
  throw new HttpError(400, "BAD_REQUEST", `invalid request body: ${where}${first.message}`);
}
