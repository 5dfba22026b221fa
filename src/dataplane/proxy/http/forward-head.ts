// Rewrites message heads as they cross the proxy (RFC 9110 §7.6.1): hop-by-hop
// fields are dropped (Connection and every field it names, Keep-Alive, TE,
// Trailer, Upgrade unless upgrading, Proxy-Connection), X-Forwarded-* added, and
// the connection intent of each hop stated explicitly. Pure string building.
import type { HeaderRules } from "../../../config/routes.ts";
import type { RequestHead, ResponseHead } from "./message-head.ts";

const ALWAYS_HOP = new Set(["connection", "keep-alive", "te", "trailer", "proxy-connection", "upgrade"]);

// Fields that frame the message or name its target: a client listing them in
// Connection must not make the proxy drop them (that would change the framing the
// backend sees from the one the proxy validated).
const NEVER_DROP = new Set(["content-length", "transfer-encoding", "host"]);

const FORWARDED_REQUEST = new Set(["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"]);

// Lengths of the lowercase names the rewrites below compare against: a field name of
// any other length (not named in Connection either) matches none of them, so it is
// copied without lowercasing it (toLowerCase allocates a string per field).
const WATCHED_LENGTH = new Uint8Array(32);
for (const n of [...ALWAYS_HOP, ...NEVER_DROP, ...FORWARDED_REQUEST]) WATCHED_LENGTH[n.length] = 1;

/** Could a field name of this length be one a rewrite acts on? (false = copy it as is). */
function watched(len: number, connection: string[]): boolean {
  if (len < 32 && WATCHED_LENGTH[len] === 1) return true;
  for (let i = 0; i < connection.length; i++) if (connection[i].length === len) return true;
  return false;
}

function isHopByHop(lower: string, connection: string[]): boolean {
  if (ALWAYS_HOP.has(lower)) return true;
  return connection.length > 0 && connection.includes(lower) && !NEVER_DROP.has(lower);
}

/** Header rules compiled once per desired state: fields to drop, lines to append. */
export interface CompiledHeaderRules {
  /** Lowercased names removed from the message (remove + set). */
  drop: ReadonlySet<string>;
  /** "Name: value\r\n" lines of set then add. */
  lines: string;
}

/**
 * Compile set/add/remove rules; null when there is nothing to do (the fast path).
 * Several rule sets apply in order (frontend, then route): a later set's remove or
 * set also drops the fields an earlier set would have written.
 */
export function compileHeaderRules(...rules: (HeaderRules | undefined)[]): CompiledHeaderRules | null {
  const drop = new Set<string>();
  let lines: [string, string][] = [];
  for (const r of rules) {
    if (r === undefined) continue;
    const mine = new Set<string>();
    for (const name of r.remove) mine.add(name.toLowerCase());
    for (const name of Object.keys(r.set)) mine.add(name.toLowerCase());
    if (mine.size > 0) lines = lines.filter(([name]) => !mine.has(name.toLowerCase()));
    for (const n of mine) drop.add(n);
    for (const [name, value] of Object.entries(r.set)) lines.push([name, value]);
    for (const [name, value] of Object.entries(r.add)) lines.push([name, value]);
  }
  if (drop.size === 0 && lines.length === 0) return null;
  return { drop, lines: lines.map(([n, v]) => `${n}: ${v}\r\n`).join("") };
}

const NO_DROP: ReadonlySet<string> = new Set();

export const VIA = "1.1 lodestone";

export interface ForwardContext {
  /** The client's IP address (appended to X-Forwarded-For). */
  clientAddress: string;
  /** "http" or "https": what the client spoke to us. */
  proto: string;
  /** Path and query to send (after any route rewrite). */
  path: string;
  /** Host header to send when the client sent none (HTTP/1.0): the backend's address. */
  fallbackHost: string;
  /**
   * X-Forwarded-* from this client: "trust" keeps its Proto/Host and extends its For;
   * "append" (the default) extends its For and states Proto/Host; "replace" drops all of
   * the client's and states ours.
   */
  forwarded?: "trust" | "append" | "replace";
  rules?: CompiledHeaderRules | null;
  /** Add Via: 1.1 lodestone (after any Via the client sent). */
  via?: boolean;
}

/**
 * The request head sent to a backend. Always HTTP/1.1 except for HTTP/1.0 clients,
 * whose requests go out as HTTP/1.0 with Connection: keep-alive so the backend
 * answers in a framing an HTTP/1.0 client understands (never chunked) while the
 * upstream connection can still be reused.
 */
export function forwardRequestHead(req: RequestHead, ctx: ForwardContext): string {
  let out = `${req.method} ${ctx.path} HTTP/1.${req.minor}\r\n`;
  const h = req.headers;
  const mode = ctx.forwarded ?? "append";
  const drop = ctx.rules?.drop ?? NO_DROP;
  let xff = "";
  let xfProto = "";
  let xfHost = "";
  let hasHost = false;
  const lowerAll = drop.size > 0;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i];
    if (!lowerAll && !watched(name.length, req.connection)) {
      out += `${name}: ${h[i + 1]}\r\n`;
      continue;
    }
    const lower = name.toLowerCase();
    if (isHopByHop(lower, req.connection)) continue;
    if (FORWARDED_REQUEST.has(lower)) {
      // A client-supplied X-Forwarded-For is extended (unless replaced); Proto and Host
      // are ours to state unless the client is a trusted proxy.
      if (mode === "replace") continue;
      if (lower === "x-forwarded-for") xff = xff === "" ? h[i + 1] : `${xff}, ${h[i + 1]}`;
      else if (mode === "trust" && lower === "x-forwarded-proto" && xfProto === "") xfProto = h[i + 1];
      else if (mode === "trust" && lower === "x-forwarded-host" && xfHost === "") xfHost = h[i + 1];
      continue;
    }
    if (drop.size > 0 && drop.has(lower) && lower !== "host") continue;
    if (lower === "host") {
      hasHost = true;
      // absolute-form: the URI's authority is the Host (RFC 9112 §3.2.2).
      if (req.target !== req.path) {
        out += `Host: ${req.host}\r\n`;
        continue;
      }
    }
    out += `${name}: ${h[i + 1]}\r\n`;
  }
  if (!hasHost) out += `Host: ${req.host !== "" ? req.host : ctx.fallbackHost}\r\n`;
  if (!drop.has("x-forwarded-for")) {
    out += `X-Forwarded-For: ${xff === "" ? ctx.clientAddress : `${xff}, ${ctx.clientAddress}`}\r\n`;
  }
  if (!drop.has("x-forwarded-proto")) out += `X-Forwarded-Proto: ${xfProto !== "" ? xfProto : ctx.proto}\r\n`;
  if (!drop.has("x-forwarded-host")) {
    if (xfHost !== "") out += `X-Forwarded-Host: ${xfHost}\r\n`;
    else if (req.host !== "") out += `X-Forwarded-Host: ${req.host}\r\n`;
  }
  if (ctx.via === true) out += `Via: ${req.minor === 0 ? "1.0" : "1.1"} lodestone\r\n`;
  if (ctx.rules) out += ctx.rules.lines;
  if (req.upgrade !== "") {
    out += `Connection: Upgrade\r\nUpgrade: ${headerValue(req.headers, "upgrade")}\r\n`;
  } else if (req.minor === 0) {
    out += "Connection: keep-alive\r\n";
  }
  return `${out}\r\n`;
}

/** What the proxy adds to a response head beyond the hop-by-hop rewrite. */
export interface ResponseExtras {
  rules?: CompiledHeaderRules | null;
  via?: boolean;
  /** A Set-Cookie field value (sticky sessions). */
  setCookie?: string;
}

/**
 * The response head sent to the client. `keepAlive` is what the proxy decided for
 * the client connection; it is stated explicitly for HTTP/1.0 clients and when closing.
 * `dechunk`: the proxy removes the chunked coding (HTTP/1.0 client), so
 * Transfer-Encoding goes too and the body is delimited by the close.
 */
export function forwardResponseHead(
  res: ResponseHead,
  clientMinor: number,
  keepAlive: boolean,
  dechunk = false,
  extras?: ResponseExtras,
): string {
  let out = `HTTP/1.1 ${res.status} ${res.reason}\r\n`;
  const h = res.headers;
  const upgrading = res.status === 101;
  const drop = extras?.rules?.drop ?? NO_DROP;
  const lowerAll = drop.size > 0;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i];
    // Transfer-Encoding is a watched length (NEVER_DROP), so dechunk still sees it.
    if (!lowerAll && !watched(name.length, res.connection)) {
      out += `${name}: ${h[i + 1]}\r\n`;
      continue;
    }
    const lower = name.toLowerCase();
    if (isHopByHop(lower, res.connection)) {
      if (!(upgrading && lower === "upgrade")) continue;
    }
    if (dechunk && lower === "transfer-encoding") continue;
    if (drop.size > 0 && drop.has(lower)) continue;
    out += `${h[i]}: ${h[i + 1]}\r\n`;
  }
  if (extras !== undefined) {
    if (extras.via) out += `Via: 1.${res.minor} lodestone\r\n`;
    if (extras.setCookie !== undefined) out += `Set-Cookie: ${extras.setCookie}\r\n`;
    if (extras.rules) out += extras.rules.lines;
  }
  if (upgrading) out += "Connection: Upgrade\r\n";
  else if (!keepAlive) out += "Connection: close\r\n";
  else if (clientMinor === 0) out += "Connection: keep-alive\r\n";
  return `${out}\r\n`;
}

function headerValue(headers: string[], lower: string): string {
  for (let i = 0; i < headers.length; i += 2) if (headers[i].toLowerCase() === lower) return headers[i + 1];
  return "";
}
