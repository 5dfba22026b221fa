// struct sockaddr_in / sockaddr_in6 from and to "host", port. The text form of an
// address is libc's (inet_pton/inet_ntop), so it reads and prints exactly as the
// rest of the system does (and as Node's own sockets report).
import { LodestoneError } from "../../../errors.ts";
import { AF_INET, AF_INET6, inetNtop, inetPton } from "./libc.ts";

export interface SocketAddress {
  address: string;
  port: number;
  family: "IPv4" | "IPv6";
}

/** Room for either family (sizeof(struct sockaddr_in6) is 28). */
export const SOCKADDR_MAX = 28;

/** The sockaddr for a numeric IPv4 or IPv6 address (IPv6 when it has a colon). Throws on anything else. */
export function encodeSockaddr(host: string, port: number): Buffer {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new LodestoneError("SOCKADDR_INVALID", `port ${port} is not 0-65535`);
  }
  const v6 = host.includes(":");
  const out = Buffer.alloc(v6 ? 28 : 16);
  out.writeUInt16LE(v6 ? AF_INET6 : AF_INET, 0);
  out.writeUInt16BE(port, 2);
  // inet_pton writes the 4 or 16 address bytes where sin_addr / sin6_addr sit.
  if (inetPton(v6 ? AF_INET6 : AF_INET, host, out.subarray(v6 ? 8 : 4)) !== 1) {
    throw new LodestoneError("SOCKADDR_INVALID", `"${host}" is not a numeric IPv4 or IPv6 address`);
  }
  return out;
}

const textBuf = Buffer.alloc(46); // INET6_ADDRSTRLEN

/** The address in the first `len` bytes of a sockaddr; null for a family other than IPv4/IPv6. */
export function decodeSockaddr(buf: Buffer, len: number): SocketAddress | null {
  if (len < 2) return null;
  const family = buf.readUInt16LE(0);
  if (family === AF_INET && len >= 16) {
    return { address: `${buf[4]}.${buf[5]}.${buf[6]}.${buf[7]}`, port: buf.readUInt16BE(2), family: "IPv4" };
  }
  if (family === AF_INET6 && len >= 24) {
    const text = inetNtop(AF_INET6, buf.subarray(8, 24), textBuf, textBuf.length);
    if (text === null) return null;
    return { address: text, port: buf.readUInt16BE(2), family: "IPv6" };
  }
  return null;
}
