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
}
