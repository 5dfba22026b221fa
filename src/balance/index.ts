// The balancing entry point: createBalancer() builds the algorithm a frontend asks
// for over its backends' effective weights. Pure: no sockets, no timers, no clocks.
import type { Algorithm } from "../config/types.ts";
import { LodestoneError } from "../errors.ts";
import { MaglevBalancer } from "./consistent-hash.ts";
import { LeastConnectionsBalancer } from "./least-connections.ts";
import { buildMaglevTable, DEFAULT_MAGLEV_TABLE_SIZE } from "./maglev.ts";
import { PowerOfTwoBalancer, RandomBalancer } from "./random.ts";
import { RoundRobinBalancer, SmoothWeightedBalancer } from "./round-robin.ts";
import type { Balancer, BalancerBackend, BalancerOptions } from "./types.ts";

export { flowHash, flowKeyBytes } from "./flow.ts";
export { murmur3_32 } from "./hash.ts";
export {
  buildMaglevTable,
  DEFAULT_MAGLEV_TABLE_SIZE,
  MAX_MAGLEV_TABLE_SIZE,
  maglevSlotCounts,
} from "./maglev.ts";
export { isPrime, nextPrime } from "./prime.ts";
export type { Balancer, BalancerBackend, BalancerOptions, FlowKey } from "./types.ts";

/** Every algorithm createBalancer() builds, in the order config errors and the JSON Schema list them. */
export const ALGORITHMS = [
  "round-robin",
  "weighted-round-robin",
  "least-connections",
  "p2c",
  "random",
  "source-hash",
  "maglev",
] as const satisfies readonly Algorithm[];

const noInflight = (_index: number): number => 0;

/**
 * Build a balancer over `backends` (their order defines the indexes pick() returns).
 * Throws LodestoneError (BALANCE_*) on an unknown algorithm, a bad weight, a bad
 * table size or seed, a prebuilt table pointing outside `backends`, or (hashing
 * algorithms) duplicate backend names.
 */
export function createBalancer(backends: readonly BalancerBackend[], options: BalancerOptions): Balancer {
  const random = options.random ?? Math.random;
  const inflight = options.inflight ?? noInflight;
  switch (options.algorithm) {
    case "round-robin":
      return new RoundRobinBalancer(backends);
    case "weighted-round-robin":
      return new SmoothWeightedBalancer(backends);
    case "least-connections":
      return new LeastConnectionsBalancer(backends, inflight);
    case "p2c":
      return new PowerOfTwoBalancer(backends, random, inflight);
    case "random":
      return new RandomBalancer(backends, random);
    case "maglev":
    case "source-hash": {
      const seed = options.maglevSeed ?? 0;
      const table =
        options.maglevTable ??
        buildMaglevTable(backends, options.maglevTableSize ?? DEFAULT_MAGLEV_TABLE_SIZE, seed);
      return new MaglevBalancer(backends, table, seed, options.hashOn ?? "client-address");
    }
    default:
      throw new LodestoneError(
        "BALANCE_UNKNOWN_ALGORITHM",
        `unknown balancing algorithm "${String(options.algorithm)}" (expected one of: ${ALGORITHMS.join(", ")})`,
      );
  }
}
