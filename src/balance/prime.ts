// Primality for Maglev table sizes. Maglev's permutation (offset + j * skip) mod M
// visits every slot only when M is prime, so a non-prime size leaves slots unfilled.
// Config validation, the maglev CLI and the table builder all ask here.
import { LodestoneError } from "../errors.ts";

/** True when n is a prime integer (trial division by 6k +/- 1; table sizes are small). */
export function isPrime(n: number): boolean {
  if (!Number.isSafeInteger(n) || n < 2) return false;
  if (n < 4) return true;
  if (n % 2 === 0 || n % 3 === 0) return false;
  for (let d = 5; d * d <= n; d += 6) {
    if (n % d === 0 || n % (d + 2) === 0) return false;
  }
  return true;
}

/** The smallest prime >= n (2 for anything below 2). */
export function nextPrime(n: number): number {
  if (!Number.isFinite(n))
    throw new LodestoneError("BALANCE_INVALID_NUMBER", `nextPrime: ${n} is not finite`);
  let candidate = Math.max(2, Math.ceil(n));
  while (!isPrime(candidate)) candidate++;
  return candidate;
}

/** The largest prime <= n, or null below 2. */
export function previousPrime(n: number): number | null {
  let p = Math.floor(n);
  while (p >= 2 && !isPrime(p)) p--;
  return p >= 2 ? p : null;
}
