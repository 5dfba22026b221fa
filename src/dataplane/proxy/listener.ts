import type { HostPort } from "../../config/types.ts";
import type { DesiredFrontend } from "../../model/desired.ts";
import type { TrafficCounters } from "../types.ts";

/**
 * One frontend inside the userspace proxy dataplane: a bound socket plus the
 * balancer built from the frontend's desired backends. The proxy dataplane
 * (dataplane/proxy/dataplane.ts) creates one per frontend by protocol — tcp.ts,
 * udp.ts, http/ — and feeds each its slice of every new desired state.
 */
export interface FrontendListener {
  /** Bind the listen address. Rejects with a clear error (EADDRINUSE, EACCES...). */
  start(): Promise<void>;
  /**
   * Take a new desired state for this frontend: rebuild the balancer, keep
   * established flows whose backend is still present, end the flows of backends
   * with weight 0 and flush set, let the rest drain.
   */
  update(frontend: DesiredFrontend): void;
  /** Stop accepting; give open flows up to drainTimeout ms; then close everything. */
  stop(drainTimeout: number): Promise<void>;
  stats(): TrafficCounters & { backends: Record<string, TrafficCounters> };
  /** The bound address once started (tells tests which port "port 0" became). */
  address?(): HostPort | null;
}

/** The subset of pino's Logger the proxy dataplane uses (a pino logger fits). */
export interface ProxyLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** What the proxy dataplane passes to every listener it builds. */
export interface ListenerOptions {
  /** Bind with SO_REUSEPORT so several worker processes share one address. */
  reusePort?: boolean;
  log?: ProxyLogger;
  /** L7 passive outlier detection ejected (true) or returned (false) a backend of this frontend. */
  onOutlier?: (backend: string, ejected: boolean, reason: string) => void;
}

/** Builds the listener of one protocol (registered in dataplane.ts). */
export type ListenerFactory = (frontend: DesiredFrontend, options: ListenerOptions) => FrontendListener;

const noop = (): void => {};
export const silentLogger: ProxyLogger = { debug: noop, info: noop, warn: noop, error: noop };
