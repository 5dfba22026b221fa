// A frontend-wide bound on retries (after Envoy's retry budget): a struggling backend
// set must not receive extra load multiplied by every client's retries. A retry is
// allowed while retries in the sliding window stay within `percent` of the requests
// in that window, or, whatever the percentage says, while fewer than `minPerSecond`
// retries were made in the current second (so a quiet frontend can still retry).
// Pure: time is passed in; the window is a ring of one-second buckets.
import type { RetryBudgetSettings } from "../../../config/routes.ts";

export class RetryBudget {
  private settings: RetryBudgetSettings;
  private seconds: Float64Array; // which second each bucket holds
  private requests: Float64Array;
  private retries: Float64Array;

  constructor(settings: RetryBudgetSettings) {
    this.settings = settings;
    const n = bucketCount(settings.window);
    this.seconds = new Float64Array(n).fill(-1);
    this.requests = new Float64Array(n);
    this.retries = new Float64Array(n);
  }

  /** New settings; counts are kept when the window length is unchanged. */
  configure(settings: RetryBudgetSettings): void {
    const n = bucketCount(settings.window);
    if (n !== this.seconds.length) {
      this.seconds = new Float64Array(n).fill(-1);
      this.requests = new Float64Array(n);
      this.retries = new Float64Array(n);
    }
    this.settings = settings;
  }

  /** Count one request (not a retry) at `now` ms. */
  recordRequest(now: number): void {
    this.requests[this.bucket(now)]++;
  }

  /** May a retry be made at `now`? When it may, it is counted. */
  tryRetry(now: number): boolean {
    const b = this.bucket(now);
    let requests = 0;
    let retries = 0;
    const oldest = Math.floor(now / 1000) - this.seconds.length + 1;
    for (let i = 0; i < this.seconds.length; i++) {
      if (this.seconds[i] >= oldest) {
        requests += this.requests[i];
        retries += this.retries[i];
      }
    }
    const allowed =
      this.retries[b] < this.settings.minPerSecond || retries + 1 <= (requests * this.settings.percent) / 100;
    if (allowed) this.retries[b]++;
    return allowed;
  }

  /** The bucket for `now`, emptied when it last held an older second. */
  private bucket(now: number): number {
    const second = Math.floor(now / 1000);
    const i = second % this.seconds.length;
    if (this.seconds[i] !== second) {
      this.seconds[i] = second;
      this.requests[i] = 0;
      this.retries[i] = 0;
    }
    return i;
  }
}

function bucketCount(windowMs: number): number {
  return Math.max(1, Math.ceil(windowMs / 1000));
}
