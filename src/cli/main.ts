// The `lodestone` command tree. Each subcommand lives in cli/commands/<name>.ts and
// exports `register(program)`; this file only wires them together.
import { Command } from "commander";
import { register as registerConfig } from "./commands/config.ts";
import { register as registerLab } from "./commands/lab.ts";
import { register as registerMaglev } from "./commands/maglev.ts";
import { register as registerRun } from "./commands/run.ts";
import { register as registerSchema } from "./commands/schema.ts";
import { register as registerSet } from "./commands/set.ts";
import { register as registerShell } from "./commands/shell.ts";
import { register as registerShow } from "./commands/show.ts";
import { register as registerValidate } from "./commands/validate.ts";
import { register as registerWatch } from "./commands/watch.ts";
import { register as registerXdp } from "./commands/xdp.ts";

const program = new Command()
  .name("lodestone")
  .description("A software load balancer: L4/L7 proxy, Maglev hashing, health checks.")
  .version("0.1.0")
  .showHelpAfterError();

for (const register of [
  registerRun,
  registerValidate,
  registerSchema,
  registerMaglev,
  registerShow,
  registerSet,
  registerConfig,
  registerWatch,
  registerShell,
  registerXdp,
  registerLab,
])
  register(program);

await program.parseAsync(process.argv);
