// The interface every balancing algorithm implements. Pure: no sockets, no timers.
import type { Algorithm } from "../config/types.ts";

export interface BalancerBackend {
  name: string;
  /** Effective weight; 0 means no new traffic. */
  weight: number;
}

/** What a flow is keyed on (the client side of a connection or datagram). */
export interface FlowKey {
  address: string;
  port: number;
}

export interface BalancerOptions {
  algorithm: Algorithm;
  /** Maglev: a prebuilt table (slot -> backend index), e.g. from the desired state. Built here when absent. */
  maglevTable?: Int32Array | null;
  maglevTableSize?: number;
  maglevSeed?: number;
  hashOn?: "client-address" | "client-address-port";
  /** least-connections / p2c: current in-flight count of backend i, kept by the dataplane. */
  inflight?: (index: number) => number;
  /** random / p2c: a source of [0, 1) numbers, injectable for deterministic tests. */
  random?: () => number;
}

export interface Balancer {
  /**
   * Choose a backend for a new flow: an index into the backends it was built with,
   * or -1 when none has weight > 0 (or all are excluded). `exclude` lists indexes
   * already tried (connect retries).
   */
  pick(flow: FlowKey, exclude?: ReadonlySet<number>): number;
}
