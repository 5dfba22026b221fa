// `lodestone run`: start the daemon in the foreground.
//   -c FILE   configuration (default ./lodestone.yaml)
//   --demo    embedded config plus three demo HTTP backends on 127.0.0.1:9001-9003
// Signals: SIGHUP reloads (a bad file is logged and refused), SIGTERM/SIGINT stop
// gracefully (drain up to runtime.drain-timeout, exit 0); a second SIGINT/SIGTERM
// exits at once.
// Exit codes: 0 clean stop, 1 invalid config or failed start, 2 unreadable config file.
import type { Command } from "commander";
import { type AdminServer, startAdminServer } from "../../api/server.ts";
import { formatIssue } from "../../config/index.ts";
import { ConfigInvalidError, Daemon, type DaemonOptions } from "../../control/daemon.ts";
import { type DemoBackend, startDemoBackends } from "../../demo/backends.ts";
import { DEMO_CONFIG_FILE, demoConfig, demoHelp, demoPorts } from "../../demo/config.ts";
import { LodestoneError } from "../../errors.ts";

interface RunOptions {
  config: string;
  demo?: boolean;
}

export function register(program: Command): void {
  program
    .command("run")
    .description("run the load balancer in the foreground (SIGHUP reloads, SIGTERM drains and stops)")
    .option("-c, --config <file>", "configuration file", "./lodestone.yaml")
    .option("--demo", "run an embedded demo: three HTTP backends behind 127.0.0.1:8080")
    .action(async (opts: RunOptions) => {
      process.exitCode = await run(opts);
    });
}

async function run(opts: RunOptions): Promise<number> {
  // Signal handlers go in first, so no signal ever hits Node's default (kill) while the
  // daemon is starting: a stop during startup aborts the start cleanly, a SIGHUP during
  // startup is remembered and reloads once running.
  let daemon: Daemon | undefined;
  let admin: AdminServer | undefined;
  let demo: DemoBackend[] = [];
  let stopping = false;
  let hupPending = false;
  let finish: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => {
    finish = resolve;
  });
  const startAbort = new AbortController();
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      daemon?.log.warn({ signal }, "second stop signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    if (!daemon) {
      startAbort.abort();
      return;
    }
    const d = daemon;
    d.log.info({ signal }, "stop requested");
    (admin ? admin.close() : Promise.resolve())
      .then(() => d.stop())
      .then(() => Promise.all(demo.map((b) => b.close())))
      .then(
        () => finish(0),
        (err) => {
          d.log.error({ err }, "error while stopping");
          finish(1);
        },
      );
  };
  const reload = () => {
    if (!daemon || !admin) {
      hupPending = true;
      return;
    }
    const d = daemon;
    d.log.info("SIGHUP: reloading configuration");
    d.reload().catch((err) => d.log.error({ err }, "reload failed"));
  };
  // A bug that escapes every handler still ends the process (its state is unknown),
  // but through the structured log, so operators see it where they see the rest.
  const fatal = (err: unknown) => {
    if (daemon) daemon.log.fatal({ err }, "fatal: uncaught error, exiting");
    else process.stderr.write(`lodestone run: fatal: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  };
  process.on("uncaughtException", fatal);
  process.on("unhandledRejection", fatal);
  const onTerm = () => stop("SIGTERM");
  const onInt = () => stop("SIGINT");
  process.on("SIGTERM", onTerm);
  process.on("SIGINT", onInt);
  process.on("SIGHUP", reload);
  const code = await start(opts, startAbort.signal, {
    started: (d, a, b) => {
      daemon = d;
      admin = a;
      demo = b;
    },
  });
  if (code === null) {
    if (stopping) {
      // A stop arrived while the admin API was starting.
      stopping = false;
      stop("SIGTERM");
    } else if (hupPending) {
      reload();
    }
  }
  const exitCode = code ?? (await finished);
  process.off("SIGTERM", onTerm);
  process.off("SIGINT", onInt);
  process.off("SIGHUP", reload);
  // Whatever a dependency left scheduled must not keep a stopped daemon alive.
  setTimeout(() => process.exit(process.exitCode ?? exitCode), 200).unref();
  return exitCode;
}

/** Start everything; null when running (then `started` was called), else the exit code. */
async function start(
  opts: RunOptions,
  signal: AbortSignal,
  hooks: { started: (daemon: Daemon, admin: AdminServer, demo: DemoBackend[]) => void },
): Promise<number | null> {
  let demo: DemoBackend[] = [];
  let ports = demoPorts(undefined);
  if (opts.demo) {
    try {
      ports = demoPorts(process.env.LODESTONE_DEMO_PORTS);
      demo = await startDemoBackends(ports.backends);
    } catch (err) {
      process.stderr.write(
        `lodestone run --demo: cannot start the demo backends: ${(err as Error).message}\n`,
      );
      return 1;
    }
  }
  const options: DaemonOptions = {
    source: opts.demo ? { text: demoConfig(ports), file: DEMO_CONFIG_FILE } : { path: opts.config },
    signal,
    startChecks: true,
  };
  let daemon: Daemon;
  try {
    daemon = await Daemon.start(options);
  } catch (err) {
    await Promise.all(demo.map((b) => b.close()));
    if (err instanceof LodestoneError && err.code === "START_ABORTED") return 0;
    return startFailure(err, opts.demo ? DEMO_CONFIG_FILE : opts.config);
  }
  let admin: AdminServer;
  try {
    admin = await startAdminServer(daemon);
  } catch (err) {
    process.stderr.write(`lodestone run: ${(err as Error).message}\n`);
    await daemon.stop();
    await Promise.all(demo.map((b) => b.close()));
    return 1;
  }
  daemon.log.info({ admin: admin.url }, "admin API listening");
  if (opts.demo) for (const line of demoHelp(ports)) daemon.log.info(line);
  hooks.started(daemon, admin, demo);
  return null;
}

function startFailure(err: unknown, file: string): number {
  if (err instanceof ConfigInvalidError) {
    for (const issue of err.issues) process.stderr.write(`${formatIssue(issue)}\n`);
    process.stderr.write(`lodestone run: ${file}: ${err.issues.length} error(s), not started\n`);
    return 1;
  }
  if (err instanceof LodestoneError && err.code === "CONFIG_UNREADABLE") {
    process.stderr.write(`lodestone run: ${err.message}\n`);
    return 2;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`lodestone run: could not start: ${message}\n`);
  return 1;
}
