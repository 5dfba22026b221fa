// The desired state: the one thing the reconciler hands to every dataplane.
// A pure function of (config, health, operator overrides) — see control/desired.ts.
// Dataplanes import this type, never the control plane.
import type { Algorithm, FrontendConfig, HostPort, Protocol } from "../config/types.ts";
import type { HealthState } from "./state.ts";

export interface DesiredBackend {
  name: string;
  address: string;
  port: number;
  /** Name of the pool this backend sits in for this frontend's service. */
  pool: string;
  /** Index of that pool in the service's priority order. */
  poolIndex: number;
  state: HealthState;
  /** From the config (or an operator override), 0..100. */
  configuredWeight: number;
  /** What balancers use: configuredWeight if up in the active pool, else 0. */
  weight: number;
  /** When weight is 0: end existing connections now (flush) instead of letting them finish (drain). */
  flush: boolean;
}

export interface DesiredFrontend {
  name: string;
  protocol: Protocol;
  listen: HostPort;
  service: string;
  algorithm: Algorithm;
  hashOn: "client-address" | "client-address-port";
  /** Index of the active pool, -1 when no pool has an up backend with weight > 0. */
  activePool: number;
  /** Every member of every pool of the service, sorted by name; indexes are stable within one desired state. */
  backends: DesiredBackend[];
  /** Maglev lookup table (slot -> index into backends, -1 = empty) when algorithm is maglev, else null. */
  maglev: Int32Array | null;
  maglevSeed: number;
  settings: FrontendConfig;
  /**
   * L7 only: the other services that routes of this frontend forward to, keyed by
   * service name, each computed exactly like the frontend's own service. Absent when
   * no route names another service.
   */
  routeServices?: Record<string, DesiredService>;
}

/** A service's balancing inputs, as a route target of an L7 frontend. */
export interface DesiredService {
  algorithm: Algorithm;
  hashOn: "client-address" | "client-address-port";
  activePool: number;
  backends: DesiredBackend[];
  maglev: Int32Array | null;
  maglevSeed: number;
}

export interface DesiredState {
  /** Increases by one on every reconcile that changed something. */
  version: number;
  frontends: Record<string, DesiredFrontend>;
}
