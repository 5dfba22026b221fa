// IP literals and "host:port" listen strings. Pure: node:net's isIP is a parser,
// not I/O. Hostnames are refused on purpose: a load balancer that resolves names at
// config time silently pins whatever DNS said at that moment.
import { isIP } from "node:net";
import type { HostPort } from "./types.ts";

/** 4 or 6 for a literal IPv4/IPv6 address (an IPv6 zone such as %eth0 is allowed), else 0. */
export function ipFamily(address: string): 0 | 4 | 6 {
  return isIP(address) as 0 | 4 | 6;
}

export function isIpLiteral(address: string): boolean {
  return isIP(address) !== 0;
}

/**
 * A canonical spelling for comparing addresses: IPv4 unchanged, IPv6 expanded to eight
 * lowercase 4-digit groups (an embedded IPv4 tail converted), zone kept. Non-IPs unchanged.
 */
export function canonicalIp(address: string): string {
  if (isIP(address) !== 6) return address;
  const zoneAt = address.indexOf("%");
  const zone = zoneAt >= 0 ? address.slice(zoneAt) : "";
  let body = (zoneAt >= 0 ? address.slice(0, zoneAt) : address).toLowerCase();
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(body);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    body = `${body.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = body.includes("::") ? body.split("::") : [body, undefined];
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === undefined || tail === "" ? [] : tail.split(":");
  const fill = tail === undefined ? [] : new Array(8 - headGroups.length - tailGroups.length).fill("0");
  return [...headGroups, ...fill, ...tailGroups].map((g) => g.padStart(4, "0")).join(":") + zone;
}

const V6_ANY = "0000:0000:0000:0000:0000:0000:0000:0000";
const V6_LOOPBACK = "0000:0000:0000:0000:0000:0000:0000:0001";

/** 0.0.0.0 or :: (any spelling): binds every address of its family (:: also IPv4, dual-stack). */
export function isWildcard(address: string): boolean {
  return address === "0.0.0.0" || canonicalIp(address) === V6_ANY;
}

/** 127.0.0.0/8, ::1 and IPv4-mapped ::ffff:127.x.y.z. */
export function isLoopback(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return address.startsWith("127.");
  if (family !== 6) return false;
  const c = canonicalIp(address);
  if (c === V6_LOOPBACK) return true;
  return c.startsWith("0000:0000:0000:0000:0000:ffff:7f");
}

export type ListenResult = { ok: true; value: HostPort } | { ok: false; message: string };

/** Parse "127.0.0.1:8080" or "[::1]:8080" into a HostPort; IPv6 must be bracketed. */
export function parseListen(text: string): ListenResult {
  const example = 'e.g. 127.0.0.1:8080 or "[::1]:8080"';
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0 || text[close + 1] !== ":") {
      return { ok: false, message: `"${text}" is not host:port: expected ${example}` };
    }
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (ipFamily(host) !== 6) {
      return { ok: false, message: `"${host}" inside brackets is not an IPv6 address: expected ${example}` };
    }
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0) return { ok: false, message: `"${text}" has no port: expected ${example}` };
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (ipFamily(text) === 6 || host.includes(":")) {
      return { ok: false, message: `"${text}": put an IPv6 address in brackets, e.g. "[::1]:8080"` };
    }
    if (host === "") return { ok: false, message: `"${text}" has no address: expected ${example}` };
    if (ipFamily(host) !== 4) {
      return {
        ok: false,
        message: `"${host}" is not an IP address (hostnames are not resolved): expected ${example}`,
      };
    }
  }
  if (!/^\d{1,5}$/.test(portText)) {
    return { ok: false, message: `"${text}" has no valid port: expected ${example}` };
  }
  const port = Number(portText);
  if (port < 1 || port > 65535) {
    return { ok: false, message: `port ${port} is out of range: expected 1 to 65535` };
  }
  return { ok: true, value: { host, port } };
}

/** The inverse of parseListen: "127.0.0.1:8080", "[::1]:8080". */
export function formatHostPort(hp: HostPort): string {
  return ipFamily(hp.host) === 6 ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

/**
 * Whether two listeners in the same port space (TCP or UDP) would collide: same port
 * and either the same address or a wildcard covering the other. 0.0.0.0 covers every
 * IPv4 address; :: covers everything (Node listens dual-stack by default).
 */
export function listenConflicts(a: HostPort, b: HostPort): boolean {
  if (a.port !== b.port) return false;
  const ca = canonicalIp(a.host);
  const cb = canonicalIp(b.host);
  if (ca === cb) return true;
  const covers = (wild: string, other: string): boolean => {
    if (canonicalIp(wild) === V6_ANY) return true;
    return wild === "0.0.0.0" && (ipFamily(other) === 4 || isV4Mapped(other));
  };
  return (isWildcard(a.host) && covers(a.host, b.host)) || (isWildcard(b.host) && covers(b.host, a.host));
}

function isV4Mapped(address: string): boolean {
  return ipFamily(address) === 6 && canonicalIp(address).startsWith("0000:0000:0000:0000:0000:ffff:");
}
