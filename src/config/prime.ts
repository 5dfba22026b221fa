// Primality for Maglev table sizes. Maglev's permutation (offset + j * skip) mod M
// visits every slot only when M is prime, so a non-prime size leaves slots unfilled.

/** Largest Maglev table accepted: 2^24 slots (64 MiB of Int32 per frontend is already generous). */
export const MAX_MAGLEV_TABLE_SIZE = 16_777_216;

/** Deterministic trial division; fast enough for n up to 2^32 (at most ~32k divisions). */
export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n < 4) return true;
  if (n % 2 === 0 || n % 3 === 0) return false;
  for (let d = 5; d * d <= n; d += 6) {
    if (n % d === 0 || n % (d + 2) === 0) return false;
  }
  return true;
}

/** Smallest prime >= n (n >= 0). */
export function nextPrime(n: number): number {
  let p = Math.max(2, Math.ceil(n));
  while (!isPrime(p)) p++;
  return p;
}

/** Largest prime <= n, or null below 2. */
export function previousPrime(n: number): number | null {
  let p = Math.floor(n);
  while (p >= 2 && !isPrime(p)) p--;
  return p >= 2 ? p : null;
}
