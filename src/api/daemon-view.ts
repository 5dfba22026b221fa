// The part of the Daemon the admin API and the metrics read and drive. A structural
// type so the API states exactly what it depends on; the real Daemon satisfies it.

import type { ConfigResult } from "../config/index.ts";
import type { Config } from "../config/types.ts";
import type { DaemonStatus, ReloadResult } from "../control/daemon.ts";
import type { EventBus } from "../control/events.ts";
import type { Logger } from "../control/log.ts";
import type { DataplaneStats } from "../dataplane/types.ts";
import type { ProbeResult } from "../health/types.ts";

export interface AdminDaemon {
  readonly events: EventBus;
  readonly log: Logger;
  readonly startedAt: number;
  readonly config: Config;
  configLoadedAt?: number;
  status(): DaemonStatus;
  stats?(): DataplaneStats[];
  onProbe?(listener: (backend: string, result: ProbeResult) => void): () => void;
  pause(name: string): void;
  resume(name: string): void;
  enable(name: string): void;
  disable(name: string, options?: { flush?: boolean }): void;
  setWeight(service: string, pool: string, backend: string, weight: number, flush?: boolean): void;
  checkConfig(): Promise<ConfigResult>;
  reload(): Promise<ReloadResult>;
  settled(): Promise<void>;
}
