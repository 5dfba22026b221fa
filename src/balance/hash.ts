// MurmurHash3 x86_32 (Austin Appleby, public domain), the one hash lodestone's
// balancing uses: backend names -> Maglev permutations, flow keys -> table slots.
// It is specified byte for byte in docs/balancing.md because the XDP program (C)
// and other lodestone instances must reproduce the same tables and lookups.
// Math.imul keeps every multiplication in 32-bit integer arithmetic, as in C.

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** MurmurHash3_x86_32 of data[0..length) with a 32-bit seed; returns an unsigned 32-bit integer. */
export function murmur3_32(data: Uint8Array, length: number, seed: number): number {
  let h = seed | 0;
  const blocks = length & ~3;
  let i = 0;
  for (; i < blocks; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail !== 0) {
    let k = 0;
    if (tail === 3) k ^= data[i + 2] << 16;
    if (tail >= 2) k ^= data[i + 1] << 8;
    k ^= data[i];
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const encoder = new TextEncoder();

/** UTF-8 bytes of a string (names are hashed as UTF-8, never as UTF-16). */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** murmur3_32 of a string's UTF-8 bytes. Allocates; for build-time hashing, not hot paths. */
export function murmur3String(text: string, seed: number): number {
  const bytes = utf8(text);
  return murmur3_32(bytes, bytes.length, seed);
}
