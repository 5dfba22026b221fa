import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { murmur3String } from "../../../src/balance/hash.ts";
import {
  buildMaglevTable,
  buildMaglevTableUsing,
  MAX_MAGLEV_TABLE_SIZE,
  maglevSlotCounts,
  SKIP_SEED_XOR,
} from "../../../src/balance/maglev.ts";
import { nextPrime } from "../../../src/balance/prime.ts";
import type { BalancerBackend } from "../../../src/balance/types.ts";
import { LodestoneError } from "../../../src/errors.ts";
import { mulberry32, shuffled } from "../../helpers/random.ts";

const M = 65537;

function equalBackends(n: number): BalancerBackend[] {
  return Array.from({ length: n }, (_, i) => ({ name: `backend-${i}`, weight: 100 }));
}

function backendsWithWeights(weights: number[]): BalancerBackend[] {
  return weights.map((weight, i) => ({ name: `w-${i}`, weight }));
}

/** The table as backend names, so tables built from differently ordered input compare. */
function namesOf(table: Int32Array, backends: readonly BalancerBackend[]): string[] {
  return Array.from(table, (i) => (i < 0 ? "" : backends[i].name));
}

/**
 * Listing 1 of the Maglev paper, written as plainly as possible (full permutation
 * arrays, no weights), over backends sorted by name: the reference the optimized
 * weighted builder must match when all weights are equal.
 */
function referenceMaglev(names: string[], size: number, seed: number): string[] {
  const sorted = names.slice().sort();
  const perm = sorted.map((name) => {
    const offset = murmur3String(name, seed) % size;
    const skip = (murmur3String(name, (seed ^ SKIP_SEED_XOR) >>> 0) % (size - 1)) + 1;
    return Array.from({ length: size }, (_, j) => (offset + j * skip) % size);
  });
  const next = sorted.map(() => 0);
  const entry: string[] = new Array(size).fill("");
  let n = 0;
  for (;;) {
    for (let i = 0; i < sorted.length; i++) {
      let c = perm[i][next[i]];
      while (entry[c] !== "") {
        next[i]++;
        c = perm[i][next[i]];
      }
      entry[c] = sorted[i];
      next[i]++;
      if (++n === size) return entry;
    }
  }
}

describe("buildMaglevTable: shares", () => {
  for (const n of [10, 100, 1000]) {
    test(`${n} equal backends each get 1/${n} of ${M} slots within 1% relative`, (t) => {
      const counts = maglevSlotCounts(buildMaglevTable(equalBackends(n), M), n);
      let worst = 0;
      for (const c of counts) worst = Math.max(worst, Math.abs((c * n) / M - 1));
      t.diagnostic(`worst relative deviation from 1/${n}: ${(worst * 100).toFixed(3)}%`);
      assert.ok(worst <= 0.01, `worst deviation ${worst}`);
    });
  }

  test("weights 1:2:3 give shares within 1% relative of 1/6, 2/6, 3/6", () => {
    const backends = [
      { name: "one", weight: 1 },
      { name: "two", weight: 2 },
      { name: "three", weight: 3 },
    ];
    const counts = maglevSlotCounts(buildMaglevTable(backends, M), 3);
    backends.forEach((b, i) => {
      const expected = (M * b.weight) / 6;
      assert.ok(Math.abs(counts[i] / expected - 1) <= 0.01, `${b.name}: ${counts[i]} vs ${expected}`);
    });
  });

  test("mixed weights 100:50:25:1:0.5 follow the weights within 1% relative, weight 0 gets nothing", () => {
    const backends = [
      { name: "a", weight: 100 },
      { name: "b", weight: 50 },
      { name: "c", weight: 25 },
      { name: "d", weight: 1 },
      { name: "e", weight: 0.5 },
      { name: "zero", weight: 0 },
    ];
    const total = 176.5;
    const counts = maglevSlotCounts(buildMaglevTable(backends, M), backends.length);
    backends.forEach((b, i) => {
      const expected = (M * b.weight) / total;
      if (b.weight === 0) assert.equal(counts[i], 0);
      else assert.ok(Math.abs(counts[i] / expected - 1) <= 0.01, `${b.name}: ${counts[i]} vs ${expected}`);
    });
  });

  test("a weight-0 backend gets no slots and every slot is filled", () => {
    const backends = [
      { name: "a", weight: 100 },
      { name: "drained", weight: 0 },
      { name: "c", weight: 100 },
    ];
    const table = buildMaglevTable(backends, 4099);
    assert.equal(maglevSlotCounts(table, 3)[1], 0);
    assert.ok(table.every((i) => i === 0 || i === 2));
  });

  test("all weights 0 (or no backends) give a table of -1", () => {
    assert.ok(buildMaglevTable([{ name: "a", weight: 0 }], 13).every((i) => i === -1));
    assert.ok(buildMaglevTable([], 13).every((i) => i === -1));
    assert.equal(buildMaglevTable([], 13).length, 13);
  });

  test("a single weighted backend owns every slot", () => {
    const table = buildMaglevTable(
      [
        { name: "z", weight: 0 },
        { name: "only", weight: 3 },
      ],
      101,
    );
    assert.ok(table.every((i) => i === 1));
  });
});

describe("buildMaglevTable: consistency and determinism", () => {
  for (const n of [10, 100, 1000]) {
    test(`removing one of ${n} backends moves at most 1/${n} + 1% of the slots`, (t) => {
      const before = equalBackends(n);
      const after = before.filter((_, i) => i !== Math.floor(n / 2));
      const a = namesOf(buildMaglevTable(before, M), before);
      const b = namesOf(buildMaglevTable(after, M), after);
      let changed = 0;
      for (let s = 0; s < M; s++) if (a[s] !== b[s]) changed++;
      const fraction = changed / M;
      t.diagnostic(
        `N=${n}: ${changed} slots changed = ${(fraction * 100).toFixed(3)}% (ideal ${(100 / n).toFixed(3)}%)`,
      );
      assert.ok(fraction >= 1 / n - 0.01, "the removed backend's slots must move");
      assert.ok(fraction <= 1 / n + 0.01, `changed ${fraction}`);
    });
  }

  test("equal weights reproduce the paper's listing 1 exactly (reference implementation)", () => {
    const backends = equalBackends(7);
    for (const [size, seed] of [
      [13, 0],
      [251, 0],
      [4099, 12345],
    ]) {
      assert.deepEqual(
        namesOf(buildMaglevTable(backends, size, seed), backends),
        referenceMaglev(
          backends.map((b) => b.name),
          size,
          seed,
        ),
        `size ${size} seed ${seed}`,
      );
    }
  });

  test("the round-by-round and the scheduled claim loops build identical tables", () => {
    const random = mulberry32(77);
    const sets: [string, BalancerBackend[]][] = [
      ["equal", equalBackends(50)],
      ["1:2:3", backendsWithWeights([1, 2, 3])],
      ["one heavy, many light", backendsWithWeights([100, ...new Array(99).fill(1)])],
      ["fractions", backendsWithWeights([0.001, 0.5, 33.3, 100, 0, 7])],
      ["random", backendsWithWeights(Array.from({ length: 200 }, () => Math.floor(random() * 101)))],
    ];
    for (const [what, backends] of sets) {
      for (const [size, seed] of [
        [13, 0],
        [4099, 5],
        [M, 0],
      ]) {
        const rounds = buildMaglevTableUsing("rounds", backends, size, seed);
        const scheduled = buildMaglevTableUsing("schedule", backends, size, seed);
        assert.deepEqual(scheduled, rounds, `${what}, size ${size}`);
        assert.deepEqual(buildMaglevTable(backends, size, seed), rounds, `${what}, size ${size} (auto)`);
      }
    }
  });

  test("identical input always gives the identical table", () => {
    const backends = equalBackends(50).map((b, i) => ({ ...b, weight: (i % 7) * 10 + 5 }));
    const first = buildMaglevTable(backends, M, 42);
    for (let r = 0; r < 5; r++) assert.deepEqual(buildMaglevTable(backends, M, 42), first);
  });

  test("shuffling the input 1000 times gives the same name -> slots mapping", () => {
    const backends = Array.from({ length: 20 }, (_, i) => ({
      name: `srv-${i}`,
      weight: 10 + ((i * 37) % 91),
    }));
    backends.push({ name: "drained", weight: 0 });
    const expected = buildMaglevTable(backends, M, 9);
    const original = new Map(backends.map((b, i) => [b.name, i]));
    const random = mulberry32(1);
    for (let r = 0; r < 1000; r++) {
      const input = shuffled(backends, random);
      const toOriginal = input.map((b) => original.get(b.name)!);
      const got = buildMaglevTable(input, M, 9);
      // Translate each slot back to the original array's index; stop at the first mismatch.
      let mismatch = -1;
      for (let s = 0; s < M && mismatch < 0; s++) if (toOriginal[got[s]] !== expected[s]) mismatch = s;
      assert.equal(mismatch, -1, `shuffle ${r}: slot ${mismatch} differs`);
    }
  });

  test("slots are indexes into the caller's array, whatever its order", () => {
    const backends = [
      { name: "c", weight: 1 },
      { name: "a", weight: 1 },
      { name: "b", weight: 1 },
    ];
    const reversed = backends.slice().reverse();
    const t1 = buildMaglevTable(backends, 101);
    const t2 = buildMaglevTable(reversed, 101);
    for (let s = 0; s < 101; s++) assert.equal(t2[s], 2 - t1[s]);
  });

  test("a different seed gives a different table", () => {
    const backends = equalBackends(5);
    const a = buildMaglevTable(backends, 4099, 0);
    const b = buildMaglevTable(backends, 4099, 1);
    assert.notDeepEqual(a, b);
  });

  test("known answer: fixed input pins the table (catches any change of hash or procedure)", () => {
    const backends = [
      { name: "web-1", weight: 100 },
      { name: "web-2", weight: 100 },
      { name: "web-3", weight: 50 },
    ];
    assert.deepEqual(Array.from(buildMaglevTable(backends, 13, 0)), [0, 0, 0, 0, 2, 1, 2, 1, 0, 1, 1, 1, 0]);
    assert.deepEqual(Array.from(buildMaglevTable(backends, 13, 7)), [0, 0, 0, 1, 0, 1, 0, 0, 1, 1, 2, 1, 2]);
    const big = buildMaglevTable(backends);
    assert.deepEqual(
      [0, 1, 2, 1000, 65536].map((s) => big[s]),
      [0, 0, 0, 0, 2],
    );
  });
});

describe("buildMaglevTable: bad input", () => {
  const ok = [{ name: "a", weight: 1 }];
  const cases: [string, () => unknown, string][] = [
    ["non-prime size", () => buildMaglevTable(ok, 65536), "BALANCE_INVALID_TABLE_SIZE"],
    ["size 1", () => buildMaglevTable(ok, 1), "BALANCE_INVALID_TABLE_SIZE"],
    ["fractional size", () => buildMaglevTable(ok, 13.5), "BALANCE_INVALID_TABLE_SIZE"],
    [
      "size too big",
      () => buildMaglevTable(ok, nextPrime(MAX_MAGLEV_TABLE_SIZE)),
      "BALANCE_INVALID_TABLE_SIZE",
    ],
    ["negative seed", () => buildMaglevTable(ok, 13, -1), "BALANCE_INVALID_SEED"],
    ["seed above 32 bits", () => buildMaglevTable(ok, 13, 2 ** 32), "BALANCE_INVALID_SEED"],
    ["negative weight", () => buildMaglevTable([{ name: "a", weight: -1 }], 13), "BALANCE_INVALID_WEIGHT"],
    ["NaN weight", () => buildMaglevTable([{ name: "a", weight: Number.NaN }], 13), "BALANCE_INVALID_WEIGHT"],
    [
      "weight above 10000",
      () => buildMaglevTable([{ name: "a", weight: 10001 }], 13),
      "BALANCE_INVALID_WEIGHT",
    ],
    [
      "duplicate names",
      () =>
        buildMaglevTable(
          [
            { name: "a", weight: 1 },
            { name: "a", weight: 2 },
          ],
          13,
        ),
      "BALANCE_DUPLICATE_BACKEND",
    ],
  ];
  for (const [what, run, code] of cases) {
    test(`${what} throws ${code}`, () => {
      assert.throws(run, (err: unknown) => err instanceof LodestoneError && err.code === code);
    });
  }

  test("the largest seed (2^32 - 1) is accepted", () => {
    assert.equal(buildMaglevTable(ok, 13, 0xffffffff).length, 13);
  });
});
