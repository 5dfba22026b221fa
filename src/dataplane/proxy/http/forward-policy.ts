// Timeouts and retry limits of one forwarded exchange: the frontend's, with a forward
// route's own values in their place where it sets them (Envoy's per-route timeout and
// retry_policy, HAProxy's `http-request set-timeout`). Computed once per config, not
// per request: the listener keeps one policy for the frontend and one per route that
// overrides something, and each exchange just picks one.
import type { ForwardAction, HttpSettings, Route } from "../../../config/routes.ts";

export interface ForwardPolicy {
  /** Per backend connect attempt, ms. */
  connectTimeout: number;
  /** Other backends tried after a failed connect. */
  connectRetries: number;
  /** Backend response head after the request was sent, ms (504). */
  responseTimeout: number;
  /** Whole exchange, ms; 0 = none. */
  requestTimeout: number;
  /** Retries after a reset before any response byte (idempotent, bodiless requests). */
  retries: number;
}

/** The frontend's own policy, from its settings. */
export function frontendPolicy(
  connectTimeout: number,
  connectRetries: number,
  http: HttpSettings,
): ForwardPolicy {
  return {
    connectTimeout,
    connectRetries,
    responseTimeout: http.responseTimeout,
    requestTimeout: http.requestTimeout,
    retries: http.retries,
  };
}

/** A forward action's policy: its overrides over `base`. */
export function routePolicy(base: ForwardPolicy, action: ForwardAction): ForwardPolicy {
  return {
    connectTimeout: action.connectTimeout ?? base.connectTimeout,
    connectRetries: action.connectRetries ?? base.connectRetries,
    responseTimeout: action.responseTimeout ?? base.responseTimeout,
    requestTimeout: action.requestTimeout ?? base.requestTimeout,
    retries: action.retries ?? base.retries,
  };
}

/** The routes that override anything, with their policies (routes that do not, use `base`). */
export function routePolicies(base: ForwardPolicy, routes: readonly Route[]): Map<Route, ForwardPolicy> {
  const out = new Map<Route, ForwardPolicy>();
  for (const r of routes) {
    const a = r.action;
    if (a.type !== "forward") continue;
    if (
      a.connectTimeout === undefined &&
      a.connectRetries === undefined &&
      a.responseTimeout === undefined &&
      a.requestTimeout === undefined &&
      a.retries === undefined
    ) {
      continue;
    }
    out.set(r, routePolicy(base, a));
  }
  return out;
}
