// PROXY protocol headers (HAProxy's proxy-protocol.txt, versions 1 and 2), written
// to a backend before any client byte so it learns the real client address.
// Pure encoders: no sockets, byte-exact against the spec's layouts.
import { isIPv4, isIPv6 } from "node:net";
import { LodestoneError } from "../../errors.ts";

export interface ProxyEndpoint {
  address: string;
  port: number;
}

/** The proxied connection as the client saw it: who connected, and to which address. */
export interface ProxyAddresses {
  source: ProxyEndpoint;
  destination: ProxyEndpoint;
}

export type ProxyProtocolVersion = "v1" | "v2";

/** The 12-byte signature that opens every v2 header. */
export const PROXY_V2_SIGNATURE: Buffer = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);

const V2_CMD_LOCAL = 0x20;
const V2_CMD_PROXY = 0x21;
const V2_FAMILY_UNSPEC = 0x00;
const V2_AF_INET = 0x10;
const V2_AF_INET6 = 0x20;
const V2_STREAM = 0x01;
const V2_DGRAM = 0x02;

interface Normalized {
  family: 4 | 6;
  source: ProxyEndpoint;
  destination: ProxyEndpoint;
}

/** "::ffff:1.2.3.4" -> "1.2.3.4" (what a dual-stack socket reports for IPv4 peers). */
function unmapV4(address: string): string {
  const lower = address.toLowerCase();
  if (lower.startsWith("::ffff:") && isIPv4(lower.slice(7))) return lower.slice(7);
  return address;
}

function stripZone(address: string): string {
  const zone = address.indexOf("%");
  return zone === -1 ? address : address.slice(0, zone);
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new LodestoneError("PROXY_PROTOCOL_ADDRESS", `invalid port ${port} for a PROXY protocol header`);
  }
}

/**
 * Both ends must share one family: v4 when both are (possibly mapped) IPv4,
 * otherwise v6 with any IPv4 end written as an IPv4-mapped IPv6 address.
 */
function normalize(a: ProxyAddresses): Normalized {
  checkPort(a.source.port);
  checkPort(a.destination.port);
  const src = unmapV4(stripZone(a.source.address));
  const dst = unmapV4(stripZone(a.destination.address));
  for (const address of [src, dst]) {
    if (!isIPv4(address) && !isIPv6(address)) {
      throw new LodestoneError("PROXY_PROTOCOL_ADDRESS", `"${address}" is not an IP address`);
    }
  }
  if (isIPv4(src) && isIPv4(dst)) {
    return {
      family: 4,
      source: { address: src, port: a.source.port },
      destination: { address: dst, port: a.destination.port },
    };
  }
  const six = (address: string) => (isIPv4(address) ? `::ffff:${address}` : address);
  return {
    family: 6,
    source: { address: six(src), port: a.source.port },
    destination: { address: six(dst), port: a.destination.port },
  };
}

/** Dotted quad -> 4 bytes. */
export function ipv4Bytes(address: string): Buffer {
  if (!isIPv4(address)) throw new LodestoneError("PROXY_PROTOCOL_ADDRESS", `"${address}" is not IPv4`);
  return Buffer.from(address.split(".").map((part) => Number(part)));
}

/** Any textual IPv6 form (compressed, embedded IPv4, zone id) -> 16 bytes. */
export function ipv6Bytes(address: string): Buffer {
  const text = stripZone(address);
  if (!isIPv6(text)) throw new LodestoneError("PROXY_PROTOCOL_ADDRESS", `"${address}" is not IPv6`);
  const out = Buffer.alloc(16);
  const groups = (part: string): number[] => {
    if (part === "") return [];
    const words: number[] = [];
    for (const piece of part.split(":")) {
      if (isIPv4(piece)) {
        const v4 = ipv4Bytes(piece);
        words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        words.push(Number.parseInt(piece, 16));
      }
    }
    return words;
  };
  const gap = text.indexOf("::");
  const head = groups(gap === -1 ? text : text.slice(0, gap));
  const tail = gap === -1 ? [] : groups(text.slice(gap + 2));
  const words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  for (let i = 0; i < 8; i++) out.writeUInt16BE(words[i], i * 2);
  return out;
}

/**
 * Version 1 (text): "PROXY TCP4 <src> <dst> <sport> <dport>\r\n".
 * `null` (addresses unknown, e.g. the client already left) gives "PROXY UNKNOWN\r\n".
 */
export function encodeProxyV1(addresses: ProxyAddresses | null): Buffer {
  if (addresses === null) return Buffer.from("PROXY UNKNOWN\r\n", "latin1");
  const n = normalize(addresses);
  const line = `PROXY TCP${n.family} ${n.source.address} ${n.destination.address} ${n.source.port} ${n.destination.port}\r\n`;
  return Buffer.from(line, "latin1");
}

/**
 * Version 2 (binary): signature, version/command, family/transport, length, then
 * source address, destination address, source port, destination port (network order).
 * `null` gives a LOCAL header with no addresses (the backend uses the real connection's).
 */
export function encodeProxyV2(
  addresses: ProxyAddresses | null,
  transport: "stream" | "dgram" = "stream",
): Buffer {
  if (addresses === null) {
    const local = Buffer.alloc(16);
    PROXY_V2_SIGNATURE.copy(local, 0);
    local[12] = V2_CMD_LOCAL;
    local[13] = V2_FAMILY_UNSPEC;
    local.writeUInt16BE(0, 14);
    return local;
  }
  const n = normalize(addresses);
  const addressLength = n.family === 4 ? 4 : 16;
  const bodyLength = addressLength * 2 + 4;
  const out = Buffer.alloc(16 + bodyLength);
  PROXY_V2_SIGNATURE.copy(out, 0);
  out[12] = V2_CMD_PROXY;
  out[13] = (n.family === 4 ? V2_AF_INET : V2_AF_INET6) | (transport === "stream" ? V2_STREAM : V2_DGRAM);
  out.writeUInt16BE(bodyLength, 14);
  const bytes = n.family === 4 ? ipv4Bytes : ipv6Bytes;
  bytes(n.source.address).copy(out, 16);
  bytes(n.destination.address).copy(out, 16 + addressLength);
  out.writeUInt16BE(n.source.port, 16 + addressLength * 2);
  out.writeUInt16BE(n.destination.port, 18 + addressLength * 2);
  return out;
}

/** The header for a frontend's `proxyProtocol` setting (empty for "none"). */
export function encodeProxyHeader(
  version: "none" | ProxyProtocolVersion,
  addresses: ProxyAddresses | null,
): Buffer {
  if (version === "v1") return encodeProxyV1(addresses);
  if (version === "v2") return encodeProxyV2(addresses);
  return Buffer.alloc(0);
}
