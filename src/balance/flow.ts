// Flow key -> 32-bit hash, the input of a Maglev / source-hash lookup.
//
// The key is the client address in binary (4 bytes for IPv4, 16 for IPv6, network
// order), followed by the client port as 2 big-endian bytes when hashing on
// address+port. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, what a dual-stack
// socket reports) hash as the plain IPv4 address, and an IPv6 zone (%eth0) is
// ignored, so one client hashes the same whichever socket saw it and whatever
// dataplane (userspace or XDP, which only sees packet bytes) does the lookup.
// A string that is no IP address at all hashes as its UTF-8 bytes (+ port).
//
// Parsing writes into module-level scratch buffers: no allocation per lookup.

import { murmur3_32 } from "./hash.ts";
import type { FlowKey } from "./types.ts";

export type HashOn = "client-address" | "client-address-port";

const key = new Uint8Array(18);
const groups = new Uint16Array(8);
const fallback = new Uint8Array(512);
const encoder = new TextEncoder();

const COLON = 58;
const DOT = 46;

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Parse dotted-quad s[start..end) into out[at..at+4); false when it is not one. */
function parseIPv4(s: string, start: number, end: number, out: Uint8Array, at: number): boolean {
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = start; i <= end; i++) {
    const c = i === end ? DOT : s.charCodeAt(i);
    if (c === DOT) {
      if (digits === 0 || part > 3) return false;
      out[at + part] = value;
      part++;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
      digits++;
      if (digits > 3 || value > 255) return false;
    } else {
      return false;
    }
  }
  return part === 4;
}

/** Parse an IPv6 address s[0..end) into out[0..16); false when it is not one. */
function parseIPv6(s: string, end: number, out: Uint8Array): boolean {
  let count = 0;
  let gap = -1; // group index where "::" stands
  let i = 0;
  if (end >= 2 && s.charCodeAt(0) === COLON && s.charCodeAt(1) === COLON) {
    gap = 0;
    i = 2;
  }
  while (i < end) {
    if (count === 8) return false;
    const start = i;
    let value = 0;
    while (i < end) {
      const h = hexValue(s.charCodeAt(i));
      if (h < 0) break;
      value = (value << 4) | h;
      i++;
      if (i - start > 4) return false;
    }
    if (i < end && s.charCodeAt(i) === DOT) {
      // Embedded IPv4 in the last 32 bits (e.g. ::ffff:10.0.0.1).
      if (count > 6) return false;
      if (!parseIPv4(s, start, end, out, 0)) return false;
      groups[count++] = (out[0] << 8) | out[1];
      groups[count++] = (out[2] << 8) | out[3];
      i = end;
      break;
    }
    if (i === start) return false;
    groups[count++] = value;
    if (i === end) break;
    if (s.charCodeAt(i) !== COLON) return false;
    i++;
    if (i < end && s.charCodeAt(i) === COLON) {
      if (gap >= 0) return false;
      gap = count;
      i++;
    } else if (i === end) {
      return false; // trailing single colon
    }
  }
  if (gap < 0 ? count !== 8 : count > 7) return false;
  const missing = 8 - count;
  for (let g = 0, src = 0; g < 8; g++) {
    let v = 0;
    if (gap >= 0 && g >= gap && g < gap + missing) v = 0;
    else v = groups[src++];
    out[g * 2] = v >>> 8;
    out[g * 2 + 1] = v & 0xff;
  }
  return true;
}

/**
 * Write the binary form of an IP address into key[0..) and return its length
 * (4 or 16), or 0 when the string is not an IP address.
 */
function addressBytes(address: string): number {
  let end = address.indexOf("%");
  if (end < 0) end = address.length;
  if (address.indexOf(":") < 0) return parseIPv4(address, 0, end, key, 0) ? 4 : 0;
  if (!parseIPv6(address, end, key)) return 0;
  // IPv4-mapped: 80 zero bits, 16 one bits, then the IPv4 address.
  for (let b = 0; b < 10; b++) if (key[b] !== 0) return 16;
  if (key[10] !== 0xff || key[11] !== 0xff) return 16;
  key[0] = key[12];
  key[1] = key[13];
  key[2] = key[14];
  key[3] = key[15];
  return 4;
}

/** The 32-bit hash of a flow key (see the file comment for the exact bytes). */
export function flowHash(flow: FlowKey, hashOn: HashOn, seed: number): number {
  let buf = key;
  let length = addressBytes(flow.address);
  if (length === 0) {
    const result = encoder.encodeInto(flow.address, fallback);
    if (result.read === flow.address.length && result.written + 2 <= fallback.length) {
      buf = fallback;
      length = result.written;
    } else {
      buf = encoder.encode(`${flow.address}\0\0`); // longer than the scratch buffer: rare, allocate
      length = buf.length - 2;
    }
  }
  if (hashOn === "client-address-port") {
    const port = flow.port & 0xffff;
    buf[length] = port >>> 8;
    buf[length + 1] = port & 0xff;
    length += 2;
  }
  return murmur3_32(buf, length, seed);
}

/**
 * The canonical key bytes of a flow, as a fresh array: for tests and docs, so the
 * exact input of the hash can be shown and reproduced elsewhere.
 */
export function flowKeyBytes(flow: FlowKey, hashOn: HashOn): Uint8Array {
  let length = addressBytes(flow.address);
  let bytes: Uint8Array;
  if (length === 0) {
    const text = encoder.encode(flow.address);
    length = text.length;
    bytes = new Uint8Array(length + 2);
    bytes.set(text);
  } else {
    bytes = new Uint8Array(18);
    bytes.set(key.subarray(0, length));
  }
  if (hashOn === "client-address-port") {
    bytes[length] = (flow.port & 0xffff) >>> 8;
    bytes[length + 1] = flow.port & 0xff;
    length += 2;
  }
  return bytes.slice(0, length);
}
