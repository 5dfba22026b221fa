// Route matching: ordered rules, first match wins, the frontend's service as the
// default. Pure (no sockets): the connection code hands in the parsed request's
// facts and gets back the route, if any. Regexes and CIDRs are compiled once per
// desired state, never per request.
import { BlockList, isIP } from "node:net";
import type { FieldMatch, Route, RouteAction, RouteMatch } from "../../../config/routes.ts";

/** The facts of a request routes can look at. */
export interface RouteRequest {
  method: string;
  /** Lowercased, as sent (may carry a port). */
  host: string;
  /** Path and query as sent ("/a/b?x=1"). */
  target: string;
  /** Flat [name, value, ...] as received. */
  headers: string[];
  clientAddress: string;
}

type Test = (r: MatchContext) => boolean;

/** Per-request lazy views (path/query split, parsed query and cookies), built only if a route asks. */
export class MatchContext {
  readonly req: RouteRequest;
  private pathCache: string | null = null;
  private queryCache: string | null = null;
  private params: Map<string, string[]> | null = null;
  private cookies: Map<string, string[]> | null = null;
  private hostnameCache: string | null = null;

  constructor(req: RouteRequest) {
    this.req = req;
  }

  get path(): string {
    if (this.pathCache === null) {
      const q = this.req.target.indexOf("?");
      this.pathCache = q < 0 ? this.req.target : this.req.target.slice(0, q);
    }
    return this.pathCache;
  }

  get query(): string {
    if (this.queryCache === null) {
      const q = this.req.target.indexOf("?");
      this.queryCache = q < 0 ? "" : this.req.target.slice(q + 1);
    }
    return this.queryCache;
  }

  /** Host without port (IPv6 literals keep their brackets). */
  get hostname(): string {
    if (this.hostnameCache === null) {
      const h = this.req.host;
      const end = h.startsWith("[") ? h.indexOf("]") + 1 : h.indexOf(":");
      this.hostnameCache = end <= 0 ? h : h.slice(0, end);
    }
    return this.hostnameCache;
  }

  headerValues(lower: string): string[] {
    const out: string[] = [];
    const h = this.req.headers;
    for (let i = 0; i < h.length; i += 2) if (h[i].toLowerCase() === lower) out.push(h[i + 1]);
    return out;
  }

  queryValues(name: string): string[] | undefined {
    if (this.params === null) {
      this.params = new Map();
      for (const part of this.query.split("&")) {
        if (part === "") continue;
        const eq = part.indexOf("=");
        const k = safeDecode(eq < 0 ? part : part.slice(0, eq));
        const v = eq < 0 ? "" : safeDecode(part.slice(eq + 1));
        const list = this.params.get(k);
        if (list) list.push(v);
        else this.params.set(k, [v]);
      }
    }
    return this.params.get(name);
  }

  cookieValues(name: string): string[] | undefined {
    if (this.cookies === null) {
      this.cookies = new Map();
      for (const header of this.headerValues("cookie")) {
        for (const pair of header.split(";")) {
          const eq = pair.indexOf("=");
          if (eq < 0) continue;
          const k = pair.slice(0, eq).trim();
          let v = pair.slice(eq + 1).trim();
          if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
          const list = this.cookies.get(k);
          if (list) list.push(v);
          else this.cookies.set(k, [v]);
        }
      }
    }
    return this.cookies.get(name);
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replaceAll("+", " "));
  } catch {
    return s;
  }
}

function fieldTest(m: FieldMatch, values: (ctx: MatchContext) => string[] | undefined): Test {
  if (m.present !== undefined) {
    const want = m.present;
    return (ctx) => (values(ctx)?.length ?? 0) > 0 === want;
  }
  if (m.equals !== undefined) {
    const want = m.equals;
    return (ctx) => values(ctx)?.some((v) => v === want) ?? false;
  }
  const re = new RegExp(m.regex ?? "");
  return (ctx) => values(ctx)?.some((v) => re.test(v)) ?? false;
}

/** "::ffff:10.0.0.1" -> "10.0.0.1": dual-stack sockets report IPv4 clients that way. */
export function normalizeClientAddress(address: string): string {
  if (address.startsWith("::ffff:") && isIP(address.slice(7)) === 4) return address.slice(7);
  return address;
}

function cidrList(cidrs: string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const [addr, bits] = c.split("/");
    const family = isIP(addr) === 6 ? "ipv6" : "ipv4";
    const prefix = bits === undefined ? (family === "ipv6" ? 128 : 32) : Number(bits);
    list.addSubnet(addr, prefix, family);
  }
  return list;
}

export function hostMatches(pattern: string, hostname: string): boolean {
  if (pattern.startsWith("*.")) {
    // "*.example.com" matches "a.example.com" and "a.b.example.com", not "example.com".
    const suffix = pattern.slice(1);
    return hostname.length > suffix.length && hostname.endsWith(suffix);
  }
  return hostname === pattern;
}

/** Build one predicate for a match block: every condition given must hold. */
export function compileMatch(m: RouteMatch): Test {
  const tests: Test[] = [];
  if (m.host) {
    const hosts = m.host;
    tests.push((ctx) => {
      const h = ctx.hostname;
      for (const p of hosts) if (hostMatches(p, h)) return true;
      return false;
    });
  }
  if (m.path !== undefined) {
    const p = m.path;
    tests.push((ctx) => ctx.path === p);
  }
  if (m.pathPrefix !== undefined) {
    const p = m.pathPrefix;
    tests.push((ctx) => ctx.path.startsWith(p));
  }
  if (m.pathRegex !== undefined) {
    const re = new RegExp(m.pathRegex);
    tests.push((ctx) => re.test(ctx.path));
  }
  if (m.method) {
    const methods = new Set(m.method);
    tests.push((ctx) => methods.has(ctx.req.method));
  }
  for (const f of m.header ?? []) {
    const lower = f.name.toLowerCase();
    tests.push(fieldTest(f, (ctx) => ctx.headerValues(lower)));
  }
  for (const f of m.query ?? []) tests.push(fieldTest(f, (ctx) => ctx.queryValues(f.name)));
  for (const f of m.cookie ?? []) tests.push(fieldTest(f, (ctx) => ctx.cookieValues(f.name)));
  if (m.clientCidr) {
    const list = cidrList(m.clientCidr);
    tests.push((ctx) => {
      const a = normalizeClientAddress(ctx.req.clientAddress);
      const fam = isIP(a);
      return fam !== 0 && list.check(a, fam === 6 ? "ipv6" : "ipv4");
    });
  }
  if (m.not) {
    const inner = compileMatch(m.not);
    tests.push((ctx) => !inner(ctx));
  }
  if (tests.length === 0) return () => true;
  if (tests.length === 1) return tests[0];
  return (ctx) => {
    for (const t of tests) if (!t(ctx)) return false;
    return true;
  };
}

export interface CompiledRoute {
  route: Route;
  test: Test;
}

export class Router {
  private readonly routes: CompiledRoute[];

  constructor(routes: readonly Route[]) {
    this.routes = routes.map((route) => ({ route, test: compileMatch(route.match) }));
  }

  get size(): number {
    return this.routes.length;
  }

  /** The first route whose match holds, or null (use the frontend's service). */
  match(req: RouteRequest): { route: Route; ctx: MatchContext } | null {
    if (this.routes.length === 0) return null;
    const ctx = new MatchContext(req);
    for (const r of this.routes) if (r.test(ctx)) return { route: r.route, ctx };
    return null;
  }
}

/** Path to forward after a route's rewrite-prefix (query preserved). */
export function rewritePath(action: RouteAction, route: Route, target: string): string {
  if (
    action.type !== "forward" ||
    action.rewritePrefix === undefined ||
    route.match.pathPrefix === undefined
  ) {
    return target;
  }
  const prefix = route.match.pathPrefix;
  if (!target.startsWith(prefix)) return target;
  return action.rewritePrefix + target.slice(prefix.length);
}

/** Expand a redirect location template (see RedirectAction). */
export function expandLocation(template: string, ctx: MatchContext, scheme: string, route: Route): string {
  const prefix = route.match.pathPrefix;
  return template.replace(/\{(scheme|host|hostname|path|query|uri|suffix)\}/g, (_, key: string) => {
    switch (key) {
      case "scheme":
        return scheme;
      case "host":
        return ctx.req.host;
      case "hostname":
        return ctx.hostname;
      case "path":
        return ctx.path;
      case "query":
        return ctx.query;
      case "uri":
        return ctx.query === "" ? ctx.path : `${ctx.path}?${ctx.query}`;
      default: {
        const p = ctx.path;
        return prefix !== undefined && p.startsWith(prefix) ? p.slice(prefix.length) : "";
      }
    }
  });
}
