// Rewrites message heads as they cross the proxy (RFC 9110 §7.6.1): hop-by-hop
// fields are dropped (Connection and every field it names, Keep-Alive, TE,
// Trailer, Upgrade unless upgrading, Proxy-Connection), X-Forwarded-* added, and
// the connection intent of each hop stated explicitly. Pure string building.
import type { HeaderRules } from "../../../config/routes.ts";
import type { RequestHead, ResponseHead } from "./message-head.ts";
import { FAST_PATHS, sameLower, sameName } from "./syntax.ts";

// What the rewrites below do with a field, decided from its name without
// lowercasing it (a string per field, hashed again for a Set lookup).
const KEEP = 0; // an end-to-end field: copied
const HOP = 1; // hop-by-hop (RFC 9110 §7.6.1): Connection, Keep-Alive, TE, Trailer, Proxy-Connection, or named in Connection
const UPGRADE = 2; // hop-by-hop, but a 101 response keeps it
const HOST = 3;
const TRANSFER_ENCODING = 4;
const X_FORWARDED_FOR = 5;
const X_FORWARDED_PROTO = 6;
const X_FORWARDED_HOST = 7;

/**
 * The role of a field named `name` in a message whose Connection header lists
 * `connection` (lowercased). Content-Length, Transfer-Encoding and Host frame the
 * message or name its target: a client listing them in Connection must not make
 * the proxy drop them (the backend would see another framing than the one the
 * proxy validated).
 */
export function fieldRole(name: string, connection: string[]): number {
  switch (name.length) {
    case 2:
      if (sameName(name, "TE", "te")) return HOP;
      break;
    case 4:
      if (sameName(name, "Host", "host")) return HOST;
      break;
    case 7:
      if (sameName(name, "Upgrade", "upgrade")) return UPGRADE;
      if (sameName(name, "Trailer", "trailer")) return HOP;
      break;
    case 10:
      if (sameName(name, "Connection", "connection") || sameName(name, "Keep-Alive", "keep-alive"))
        return HOP;
      break;
    case 14:
      if (sameName(name, "Content-Length", "content-length")) return KEEP;
      break;
    case 16:
      if (sameName(name, "Proxy-Connection", "proxy-connection")) return HOP;
      break;
    case 17:
      if (sameName(name, "Transfer-Encoding", "transfer-encoding")) return TRANSFER_ENCODING;
      break;
  }
  for (let i = 0; i < connection.length; i++) if (sameLower(name, connection[i])) return HOP;
  switch (name.length) {
    case 15:
      if (sameName(name, "X-Forwarded-For", "x-forwarded-for")) return X_FORWARDED_FOR;
      break;
    case 16:
      if (sameName(name, "X-Forwarded-Host", "x-forwarded-host")) return X_FORWARDED_HOST;
      break;
    case 17:
      if (sameName(name, "X-Forwarded-Proto", "x-forwarded-proto")) return X_FORWARDED_PROTO;
      break;
  }
  return KEEP;
}

/** Names of fieldRole's results, for tests. */
export const FIELD_ROLES = [
  "keep",
  "hop",
  "upgrade",
  "host",
  "transfer-encoding",
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
] as const;

/**
 * Where a head's field lines can be copied from as they arrived: the offset of its
 * first field line in `text` when every line is canonical (the parser says so), else
 * -1 and every kept line is rebuilt from `headers`.
 */
function canonicalFrom(head: RequestHead | ResponseHead): number {
  if (!FAST_PATHS.enabled || head.text === undefined || head.canonicalFields === undefined) return -1;
  return head.canonicalFields;
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
  const h = req.headers;
  const mode = ctx.forwarded ?? "append";
  const drop = ctx.rules?.drop ?? NO_DROP;
  const lowerAll = drop.size > 0;
  // Kept lines are copied from the received text in runs (one slice per run instead
  // of a string per field) when every line there is canonical; `pos` walks the lines
  // of `text`, `run` is where the run not yet copied starts.
  const text = req.text ?? "";
  const raw = canonicalFrom(req);
  let out: string;
  let run = raw;
  if (raw >= 0 && ctx.path === req.target) {
    out = ""; // the start line is the one received: the run starts with it
    run = 0;
  } else {
    out = `${req.method} ${ctx.path} HTTP/1.${req.minor}\r\n`;
  }
  let pos = raw;
  let xff = "";
  let xfProto = "";
  let xfHost = "";
  let hasHost = false;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i];
    const value = h[i + 1];
    const role = fieldRole(name, req.connection);
    let keep = true;
    let replacement = "";
    if (role === HOP || role === UPGRADE) {
      keep = false;
    } else if (role >= X_FORWARDED_FOR) {
      // A client-supplied X-Forwarded-For is extended (unless replaced); Proto and Host
      // are ours to state unless the client is a trusted proxy.
      keep = false;
      if (mode === "replace") {
        // dropped
      } else if (role === X_FORWARDED_FOR) xff = xff === "" ? value : `${xff}, ${value}`;
      else if (mode === "trust" && role === X_FORWARDED_PROTO && xfProto === "") xfProto = value;
      else if (mode === "trust" && role === X_FORWARDED_HOST && xfHost === "") xfHost = value;
    } else if (lowerAll && role !== HOST && drop.has(name.toLowerCase())) {
      keep = false;
    } else if (role === HOST) {
      hasHost = true;
      // absolute-form: the URI's authority is the Host (RFC 9112 §3.2.2).
      if (req.target !== req.path) {
        keep = false;
        replacement = `Host: ${req.host}\r\n`;
      }
    }
    if (raw < 0) {
      out += keep ? `${name}: ${value}\r\n` : replacement;
      continue;
    }
    const lineStart = pos;
    pos += name.length + value.length + 4; // "name: value\r\n"
    if (!keep) {
      out += text.slice(run, lineStart) + replacement;
      run = pos;
    }
  }
  if (raw >= 0 && run < pos) out += text.slice(run, pos);
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
  const h = res.headers;
  const upgrading = res.status === 101;
  const drop = extras?.rules?.drop ?? NO_DROP;
  const lowerAll = drop.size > 0;
  // Copied in runs from the received text when it is canonical, as in forwardRequestHead.
  const text = res.text ?? "";
  const raw = canonicalFrom(res);
  let out: string;
  let run = raw;
  if (raw >= 0 && res.minor === 1 && raw === 15 + res.reason.length) {
    out = ""; // "HTTP/1.1 SSS reason\r\n" as received
    run = 0;
  } else {
    out = `HTTP/1.1 ${res.status} ${res.reason}\r\n`;
  }
  let pos = raw;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i];
    const value = h[i + 1];
    const role = fieldRole(name, res.connection);
    const keep = !(
      role === HOP ||
      (role === UPGRADE && !upgrading) ||
      (dechunk && role === TRANSFER_ENCODING) ||
      (lowerAll && drop.has(name.toLowerCase()))
    );
    if (raw < 0) {
      if (keep) out += `${name}: ${value}\r\n`;
      continue;
    }
    const lineStart = pos;
    pos += name.length + value.length + 4; // "name: value\r\n"
    if (!keep) {
      out += text.slice(run, lineStart);
      run = pos;
    }
  }
  if (raw >= 0 && run < pos) out += text.slice(run, pos);
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
  for (let i = 0; i < headers.length; i += 2) if (sameLower(headers[i], lower)) return headers[i + 1];
  return "";
}
