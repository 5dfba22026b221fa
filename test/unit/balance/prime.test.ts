import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isPrime, nextPrime, previousPrime } from "../../../src/balance/prime.ts";

test("isPrime agrees with a sieve for every number below 10000", () => {
  const n = 10_000;
  const composite = new Uint8Array(n);
  for (let i = 2; i * i < n; i++) if (!composite[i]) for (let j = i * i; j < n; j += i) composite[j] = 1;
  for (let i = 0; i < n; i++) assert.equal(isPrime(i), i >= 2 && !composite[i], String(i));
});

test("isPrime on Maglev-sized tables, negatives and non-integers", () => {
  const table: [number, boolean][] = [
    [65537, true],
    [65536, false],
    [65521, true],
    [16_777_213, true],
    [16_777_216, false],
    [2_147_483_647, true],
    [-7, false],
    [7.5, false],
    [Number.NaN, false],
  ];
  for (const [n, prime] of table) assert.equal(isPrime(n), prime, String(n));
});

test("nextPrime and previousPrime find the nearest primes around a number", () => {
  assert.equal(nextPrime(65536), 65537);
  assert.equal(nextPrime(65537), 65537);
  assert.equal(nextPrime(0), 2);
  assert.equal(previousPrime(65536), 65521);
  assert.equal(previousPrime(2), 2);
  assert.equal(previousPrime(1), null);
});

describe("isPrime / nextPrime", () => {
  test("isPrime truth table", () => {
    const cases: [number, boolean][] = [
      [-7, false],
      [0, false],
      [1, false],
      [2, true],
      [3, true],
      [4, false],
      [9, false],
      [25, false],
      [49, false],
      [65537, true],
      [65535, false],
      [655373, true],
      [655371, false],
      [2.5, false],
      [Number.NaN, false],
      [Number.POSITIVE_INFINITY, false],
    ];
    for (const [n, expected] of cases) assert.equal(isPrime(n), expected, `isPrime(${n})`);
  });

  test("nextPrime returns the smallest prime at or above n", () => {
    const cases: [number, number][] = [
      [-5, 2],
      [0, 2],
      [2, 2],
      [14, 17],
      [65536, 65537],
      [65537, 65537],
      [655360, 655373],
    ];
    for (const [n, expected] of cases) assert.equal(nextPrime(n), expected, `nextPrime(${n})`);
  });
});
