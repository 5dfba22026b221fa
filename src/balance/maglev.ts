// Weighted Maglev consistent hashing (Eisenbud et al., NSDI'16, pseudocode listing 1),
// with weights honoured in proportion by the credit scheme Katran's MaglevHashV2 and
// Envoy's MaglevTable both use: each round every backend earns its weight in credit
// and claims its next preferred free slot only when its credit reaches the largest
// weight (which it then pays back). A backend of the largest weight claims every
// round, one of a third of it every third round, so slot counts follow the weights
// to within one slot; a weight-0 backend never claims.
//
// Determinism is the point: two lodestone instances (or the XDP control plane) given
// the same names, weights, size and seed must build the same table whatever order
// the backends arrive in. So backends are processed in the byte order of their UTF-8
// names; the table holds indexes into the caller's array. The exact procedure is
// written down in docs/balancing.md.
import { LodestoneError } from "../errors.ts";
import { murmur3_32, utf8 } from "./hash.ts";
import { isPrime, nextPrime } from "./prime.ts";
import type { BalancerBackend } from "./types.ts";

export const DEFAULT_MAGLEV_TABLE_SIZE = 65537;
/** Upper bound on the table size: 2^24 slots (64 MiB of Int32) is already far beyond need. */
export const MAX_MAGLEV_TABLE_SIZE = 16777216;
/** Seed of the skip hash is the table seed XOR this (the 32-bit golden ratio). */
export const SKIP_SEED_XOR = 0x9e3779b9;
/** Weights are fixed-point with this many units per 1 (so 0.5 and 33.3 are exact enough). */
export const WEIGHT_UNITS = 1000;
/** Largest weight accepted (config weights are 0-100): keeps all weight arithmetic exact integers. */
export const MAX_WEIGHT = 10000;

/** Throws unless size is a prime usable as a Maglev table size. */
export function assertTableSize(size: number): void {
  if (!isPrime(size) || size > MAX_MAGLEV_TABLE_SIZE) {
    throw new LodestoneError(
      "BALANCE_INVALID_TABLE_SIZE",
      `maglev table size must be a prime between 2 and ${MAX_MAGLEV_TABLE_SIZE}, got ${size}` +
        (Number.isSafeInteger(size) && size >= 2 && size <= MAX_MAGLEV_TABLE_SIZE
          ? ` (next prime: ${nextPrime(size)})`
          : ""),
    );
  }
}

/** Throws unless seed is an unsigned 32-bit integer. */
export function assertSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new LodestoneError(
      "BALANCE_INVALID_SEED",
      `maglev seed must be an integer 0..4294967295, got ${seed}`,
    );
  }
}

/** A weight in fixed-point units; any weight > 0 is worth at least one unit. */
export function weightUnits(weight: number): number {
  if (!(weight >= 0 && weight <= MAX_WEIGHT)) {
    throw new LodestoneError(
      "BALANCE_INVALID_WEIGHT",
      `weight must be a number from 0 to ${MAX_WEIGHT}, got ${weight}`,
    );
  }
  if (weight === 0) return 0;
  return Math.max(1, Math.round(weight * WEIGHT_UNITS));
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/**
 * Indexes of `backends` in the byte order of their UTF-8 names, with the encoded
 * names. Throws on duplicate names: a table could not be reproduced from them.
 */
export function orderByName(backends: readonly BalancerBackend[]): { order: number[]; names: Uint8Array[] } {
  const names = backends.map((b) => utf8(b.name));
  const order = backends.map((_, i) => i);
  order.sort((a, b) => compareBytes(names[a], names[b]));
  for (let i = 1; i < order.length; i++) {
    if (compareBytes(names[order[i - 1]], names[order[i]]) === 0) {
      throw new LodestoneError(
        "BALANCE_DUPLICATE_BACKEND",
        `duplicate backend name "${backends[order[i]].name}"`,
      );
    }
  }
  return { order, names };
}

/**
 * Build a weighted Maglev lookup table: slot -> index into `backends`.
 * Every slot is filled when at least one weight is > 0; all slots are -1 otherwise.
 * Same names, weights, size and seed give the same table in any input order.
 */
export function buildMaglevTable(
  backends: readonly BalancerBackend[],
  size = DEFAULT_MAGLEV_TABLE_SIZE,
  seed = 0,
): Int32Array {
  return buildMaglevTableUsing("auto", backends, size, seed);
}

/**
 * buildMaglevTable with the claim loop chosen explicitly; both give identical
 * tables (tested), "auto" picks the faster for the weights at hand.
 */
export function buildMaglevTableUsing(
  strategy: "auto" | "rounds" | "schedule",
  backends: readonly BalancerBackend[],
  size = DEFAULT_MAGLEV_TABLE_SIZE,
  seed = 0,
): Int32Array {
  assertTableSize(size);
  assertSeed(seed);
  const units = backends.map((b) => weightUnits(b.weight));
  const { order, names } = orderByName(backends);
  const table = new Int32Array(size).fill(-1);

  const eligible = order.filter((i) => units[i] > 0);
  const k = eligible.length;
  if (k === 0) return table;
  if (k === 1) return table.fill(eligible[0]);

  // Per eligible backend (in name order): where its permutation stands now, its
  // skip and its weight. pos = (offset + next * skip) mod size.
  const pos = new Int32Array(k);
  const skip = new Int32Array(k);
  const weight = new Float64Array(k);
  const index = new Int32Array(k);
  let maxWeight = 0;
  let totalWeight = 0;
  const skipSeed = (seed ^ SKIP_SEED_XOR) >>> 0;
  for (let e = 0; e < k; e++) {
    const i = eligible[e];
    const name = names[i];
    pos[e] = murmur3_32(name, name.length, seed) % size;
    skip[e] = (murmur3_32(name, name.length, skipSeed) % (size - 1)) + 1;
    weight[e] = units[i];
    index[e] = i;
    if (units[i] > maxWeight) maxWeight = units[i];
    totalWeight += units[i];
  }

  // Plain rounds cost ~rounds x k visits; the heap ~2-3x a plain round per claim.
  // Measured crossover: the heap wins once rounds x k exceeds ~16 x size.
  const rounds = Math.ceil((size * maxWeight) / totalWeight) + 1;
  const useRounds = strategy === "rounds" || (strategy === "auto" && rounds * k <= 16 * size);
  const claim = useRounds ? claimByRounds : claimBySchedule;
  claim(table, pos, skip, weight, index, maxWeight);
  return table;
}

/**
 * Take the next free slot along backend e's permutation. Walks pos incrementally
 * (no multiplication, no big modulo).
 */
function take(table: Int32Array, pos: Int32Array, skip: Int32Array, index: Int32Array, e: number): void {
  const size = table.length;
  const step = skip[e];
  let slot = pos[e];
  while (table[slot] >= 0) {
    slot += step;
    if (slot >= size) slot -= size;
  }
  table[slot] = index[e];
  slot += step;
  if (slot >= size) slot -= size;
  pos[e] = slot;
}

/** The procedure as specified: round after round, every backend in name order. */
function claimByRounds(
  table: Int32Array,
  pos: Int32Array,
  skip: Int32Array,
  weight: Float64Array,
  index: Int32Array,
  maxWeight: number,
): void {
  const k = pos.length;
  const credit = new Float64Array(k);
  let filled = 0;
  for (;;) {
    for (let e = 0; e < k; e++) {
      const c = credit[e] + weight[e];
      if (c < maxWeight) {
        credit[e] = c;
        continue;
      }
      credit[e] = c - maxWeight;
      take(table, pos, skip, index, e);
      if (++filled === table.length) return;
    }
  }
}

/**
 * The same claims in the same order, without visiting rounds in which a backend
 * does not claim: each backend's next claiming round is computed from its credit
 * (ceil((max - credit) / weight) rounds ahead) and a binary heap ordered by
 * (round, name order) yields the claims. O(M log N) however skewed the weights,
 * where the plain rounds cost O(rounds x N): 1 heavy backend among 999 of 1/100
 * its weight would otherwise take ~100 rounds per light claim.
 */
function claimBySchedule(
  table: Int32Array,
  pos: Int32Array,
  skip: Int32Array,
  weight: Float64Array,
  index: Int32Array,
  maxWeight: number,
): void {
  const k = pos.length;
  const credit = new Float64Array(k);
  const round = new Float64Array(k); // the round of each backend's next claim
  const heap = new Int32Array(k);
  for (let e = 0; e < k; e++) {
    // From credit 0 at round 0: the first claim comes when credit reaches max.
    const ahead = Math.floor((maxWeight + weight[e] - 1) / weight[e]);
    round[e] = ahead;
    credit[e] = ahead * weight[e] - maxWeight;
    heap[e] = e;
  }
  for (let at = (k >> 1) - 1; at >= 0; at--) siftDown(heap, round, at);
  for (let filled = 0; filled < table.length; filled++) {
    const e = heap[0];
    take(table, pos, skip, index, e);
    // credit < max after paying; rounds until it reaches max again (all integers < 2^27).
    const ahead = Math.floor((maxWeight - credit[e] + weight[e] - 1) / weight[e]);
    round[e] += ahead;
    credit[e] += ahead * weight[e] - maxWeight;
    siftDown(heap, round, 0);
  }
}

/** Restore the min-heap order on (round, backend order) below position `at`. */
function siftDown(heap: Int32Array, round: Float64Array, at: number): void {
  const k = heap.length;
  const e = heap[at];
  const r = round[e];
  for (;;) {
    let child = 2 * at + 1;
    if (child >= k) break;
    let c = heap[child];
    if (child + 1 < k) {
      const d = heap[child + 1];
      if (round[d] < round[c] || (round[d] === round[c] && d < c)) {
        child++;
        c = d;
      }
    }
    if (round[c] > r || (round[c] === r && c > e)) break;
    heap[at] = c;
    at = child;
  }
  heap[at] = e;
}

/** How many slots each backend holds: counts[i] for backends[i]. */
export function maglevSlotCounts(table: Int32Array, backendCount: number): Int32Array {
  const counts = new Int32Array(backendCount);
  for (let s = 0; s < table.length; s++) {
    const i = table[s];
    if (i >= 0 && i < backendCount) counts[i]++;
  }
  return counts;
}
