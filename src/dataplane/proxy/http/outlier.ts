// Passive outlier detection (after Envoy's consecutive-5xx detector): a backend whose
// last N exchanges in a row failed (5xx answers, connect failures, resets, response
// timeouts) is ejected — left out of new picks — for base-ejection-time times the
// number of times it was ejected, capped at max-ejection-time. At most
// max-ejected-percent of the frontend's backends are out at once, so a shared
// failure (every backend 5xx) never empties the pool. Each quiet base-ejection-time
// after a return forgives one past ejection. Pure: time is passed in, and every
// ejection and return is reported to `onChange`.
import type { OutlierSettings } from "../../../config/routes.ts";

export type OutlierListener = (backend: string, ejected: boolean, reason: string) => void;

interface BackendOutlier {
  consecutive: number;
  ejections: number;
  /** Ejected until this time (ms); 0 when not ejected. */
  until: number;
  /** Last return, or last forgiveness (ms). */
  since: number;
}

export class OutlierDetector {
  private settings: OutlierSettings;
  private readonly onChange: OutlierListener;
  private readonly state = new Map<string, BackendOutlier>();
  private ejectedCount = 0;
  /** Backends the percentage is taken of (set by the listener from its desired state). */
  private total = 0;

  constructor(settings: OutlierSettings, onChange: OutlierListener = () => {}) {
    this.settings = settings;
    this.onChange = onChange;
  }

  configure(settings: OutlierSettings, backends: readonly string[]): void {
    this.settings = settings;
    this.total = backends.length;
    const keep = new Set(backends);
    for (const name of [...this.state.keys()]) {
      if (keep.has(name)) continue;
      if (this.state.get(name)!.until > 0) this.ejectedCount--;
      this.state.delete(name); // gone from the config: no return event for a backend that no longer exists
    }
    if (settings.consecutiveErrors === 0) {
      // Detection switched off: everyone comes back now.
      for (const [name, s] of this.state)
        if (s.until > 0) this.release(name, s, 0, "outlier detection disabled");
    }
  }

  get enabled(): boolean {
    return this.settings.consecutiveErrors > 0;
  }

  /**
   * Whether a result for `backend` could change anything: false for a success from a
   * backend with no failure on record (the common case), so the caller may skip it
   * and its clock read.
   */
  matters(backend: string, ok: boolean): boolean {
    return this.enabled && (!ok || this.state.has(backend));
  }

  /** True while `backend` is ejected (expiry happens in expire(), not here). */
  isEjected(backend: string): boolean {
    return (this.state.get(backend)?.until ?? 0) > 0;
  }

  ejected(): number {
    return this.ejectedCount;
  }

  /** One exchange with `backend` ended: ok, or failed for `reason` (e.g. "5xx", "connect"). */
  record(backend: string, ok: boolean, reason: string, now: number): void {
    if (!this.enabled) return;
    let s = this.state.get(backend);
    if (s === undefined) {
      if (ok) return; // nothing to remember about a healthy backend
      s = { consecutive: 0, ejections: 0, until: 0, since: now };
      this.state.set(backend, s);
    }
    if (ok) {
      s.consecutive = 0;
      this.forgive(s, now);
      return;
    }
    s.consecutive++;
    if (s.until > 0 || s.consecutive < this.settings.consecutiveErrors) return;
    // The cap: at most floor(total * percent) out at once.
    const max = Math.floor((this.total * this.settings.maxEjectedPercent) / 100);
    if (this.ejectedCount + 1 > max) return;
    s.ejections++;
    const time = Math.min(this.settings.baseEjectionTime * s.ejections, this.settings.maxEjectionTime);
    s.until = now + time;
    s.consecutive = 0;
    this.ejectedCount++;
    this.onChange(backend, true, `${this.settings.consecutiveErrors} consecutive errors (last: ${reason})`);
  }

  /** Return every backend whose ejection time is over; the earliest remaining expiry, or 0. */
  expire(now: number): number {
    let next = 0;
    for (const [name, s] of this.state) {
      if (s.until === 0) continue;
      if (s.until <= now) this.release(name, s, now, "ejection time over");
      else if (next === 0 || s.until < next) next = s.until;
    }
    return next;
  }

  private release(name: string, s: BackendOutlier, now: number, reason: string): void {
    s.until = 0;
    s.since = now;
    s.consecutive = 0;
    this.ejectedCount--;
    this.onChange(name, false, reason);
  }

  /** Each full base-ejection-time without an ejection forgives one past ejection. */
  private forgive(s: BackendOutlier, now: number): void {
    if (s.ejections === 0 || s.until > 0) return;
    const quiet = Math.floor((now - s.since) / this.settings.baseEjectionTime);
    if (quiet <= 0) return;
    s.ejections = Math.max(0, s.ejections - quiet);
    s.since = now;
  }
}
