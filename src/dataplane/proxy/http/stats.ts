// L7 statistics: the latency histogram's bounds and the sum of several frontends'
// HttpStats (worker processes, several dataplanes). Pure.
import type { HttpStats } from "../../types.ts";

/** Upper bounds (ms) of the request latency histogram; the last bucket is +Inf. */
export const LATENCY_BUCKETS_MS: readonly number[] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/** `into` + `from` (a new object when `into` is undefined); histograms must share bounds. */
export function sumHttpStats(into: HttpStats | undefined, from: HttpStats): HttpStats {
  if (into === undefined) {
    return {
      ...from,
      responses: { ...from.responses },
      latency: { ...from.latency, counts: [...from.latency.counts] },
    };
  }
  into.requests += from.requests;
  for (const k of ["1xx", "2xx", "3xx", "4xx", "5xx"] as const) into.responses[k] += from.responses[k];
  const n = Math.min(into.latency.counts.length, from.latency.counts.length);
  for (let i = 0; i < n; i++) into.latency.counts[i] += from.latency.counts[i];
  into.latency.sumMs += from.latency.sumMs;
  into.latency.count += from.latency.count;
  into.retries += from.retries;
  into.retriesRefused += from.retriesRefused;
  into.ejections += from.ejections;
  into.ejected += from.ejected;
  return into;
}
