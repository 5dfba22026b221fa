// `lodestone lab` / `lodestone lab down`: an XDP load balancer in network namespaces
// (src/lab/), with load and per-backend counters; `down` removes all of it. Root only.
import { type Command, InvalidArgumentError } from "commander";
import { LodestoneError } from "../../errors.ts";
import { formatLabReport, labDown, runLab } from "../../lab/lab.ts";

type Out = (s: string) => void;

function positive(what: string) {
  return (v: string): number => {
    const n = Number(v);
    // commander reports this as a usage error naming the option, without a stack trace.
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive number`);
    return n;
  };
}

function report(err: Out, e: unknown): number {
  err(`lodestone lab: ${e instanceof Error ? e.message : String(e)}\n`);
  return 1;
}

export function register(
  program: Command,
  out: Out = (s) => process.stdout.write(s),
  err: Out = (s) => process.stderr.write(s),
): void {
  const lab = program
    .command("lab")
    .description(
      "Build an XDP load balancer in network namespaces (client, balancer, 3 backends), drive load, print counters (root, Linux)",
    )
    .option("--tag <tag>", "names are lslab-<tag>-* (1 to 8 lowercase letters or digits)", "lab")
    .option("--requests <n>", "requests in total, half to each VIP", positive("--requests"), 300)
    .option("--seconds <s>", "longest the load may run", positive("--seconds"), 10)
    .option("--attach-mode <mode>", "auto, native or generic", "auto")
    .option("--down", "remove everything at the end instead of leaving it running")
    .option("--json", "print the report as JSON")
    .action(
      async (o: {
        tag: string;
        requests: number;
        seconds: number;
        attachMode: string;
        down?: boolean;
        json?: boolean;
      }) => {
        try {
          if (!["auto", "native", "generic"].includes(o.attachMode)) {
            throw new LodestoneError("BAD_ARGUMENT", "--attach-mode must be auto, native or generic");
          }
          const r = await runLab({
            tag: o.tag,
            requests: Math.floor(o.requests),
            seconds: o.seconds,
            attachMode: o.attachMode as "auto" | "native" | "generic",
            down: o.down,
            log: o.json ? undefined : (line) => err(`lab: ${line}\n`),
          });
          out(o.json ? `${JSON.stringify(r)}\n` : formatLabReport(r));
          process.exitCode = r.load.every((l) => l.errors === 0) ? 0 : 1;
        } catch (e) {
          process.exitCode = report(err, e);
        }
      },
    );
  lab
    .command("down")
    .description("Remove a lab (lslab-<tag>-*): its processes, namespaces, pinned maps, state")
    .option("--all", "remove every lslab-* lab, including a running bench:xdp")
    .action(async (o: { all?: boolean }) => {
      try {
        // --tag belongs to `lab` (commander gives it the parent even after "down").
        const tag = (lab.opts() as { tag: string }).tag;
        const removed = await labDown(o.all ? undefined : tag);
        out(removed.length ? `removed ${removed.join(", ")}\n` : "no lab to remove\n");
      } catch (e) {
        process.exitCode = report(err, e);
      }
    });
}
