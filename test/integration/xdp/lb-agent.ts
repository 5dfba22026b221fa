// The balancer inside its namespace: an XdpDataplane driven by the test.
//   {op: "init", options}         XdpDataplaneOptions (JSON-safe parts)
//   {op: "apply", desired}        a DesiredState whose maglev tables are plain arrays
//   {op: "stats"} / {op: "flows", frontend} / {op: "nat", frontend} / {op: "attachments"}
//   {op: "stop"}                  stop (detaches unless init said detachOnStop: false)

import { XdpDataplane, type XdpDataplaneOptions } from "../../../src/dataplane/xdp/dataplane.ts";
import type { DesiredState } from "../../../src/model/desired.ts";
import { serveAgent } from "./netns.ts";

let dp: XdpDataplane | null = null;
const logs: string[] = [];

function revive(desired: DesiredState): DesiredState {
  for (const f of Object.values(desired.frontends)) {
    if (f.maglev) f.maglev = Int32Array.from(f.maglev as unknown as number[]);
  }
  return desired;
}

serveAgent(
  async (req) => {
    switch (req.op) {
      case "init":
        dp = new XdpDataplane({
          ...(req.options as XdpDataplaneOptions),
          log: (level, message) => logs.push(`${level} ${message}`),
        });
        return true;
      case "apply": {
        const t0 = performance.now();
        await dp!.apply(revive(req.desired as DesiredState));
        return { ms: performance.now() - t0, attachments: dp!.attachments() };
      }
      case "stats":
        return dp!.xdpStats();
      case "flows":
        return dp!.flowsByBackend(req.frontend as string);
      case "nat":
        return dp!.natEntries(req.frontend as string);
      case "logs":
        return logs;
      case "stop":
        await dp!.stop(0);
        return true;
      default:
        throw new Error(`unknown op ${String(req.op)}`);
    }
  },
  async () => {
    // stop() detaches unless init said detachOnStop: false (a restart test leaves the fast path running).
    if (dp) await dp.stop(0).catch(() => {});
  },
);
