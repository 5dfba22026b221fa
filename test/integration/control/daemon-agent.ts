// A Daemon inside the balancer's namespace, driven by a test over JSON lines
// (test/integration/xdp/netns.ts Agent):
//   {op: "start", file}   Daemon.start on that config file (default dataplanes)
//   {op: "reload"}        Daemon.reload() -> {ok, applyErrors}
//   {op: "events"}        every event on the bus
//   {op: "logs"}          the daemon's log lines (parsed JSON)
//   {op: "stop"}
import { Writable } from "node:stream";
import { pino } from "pino";
import { Daemon } from "../../../src/control/daemon.ts";
import { serveAgent } from "../xdp/netns.ts";

let daemon: Daemon | null = null;
const logs: unknown[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString().split("\n")) {
      if (line !== "") logs.push(JSON.parse(line));
    }
    done();
  },
});

serveAgent(
  async (req) => {
    switch (req.op) {
      case "start":
        daemon = await Daemon.start({
          source: { path: req.file as string },
          logger: pino({ level: "info" }, sink),
        });
        return true;
      case "reload": {
        const r = await daemon!.reload();
        return r.ok ? { ok: true, applyErrors: r.applyErrors } : { ok: false, errors: r.errors };
      }
      case "events":
        return daemon!.events.since(0);
      case "logs":
        return logs;
      case "stop":
        await daemon!.stop();
        daemon = null;
        return true;
      default:
        throw new Error(`unknown op ${String(req.op)}`);
    }
  },
  async () => {
    if (daemon) await daemon.stop().catch(() => {});
  },
);
