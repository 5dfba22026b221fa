// `npm start` (the README's quick start: the demo) stops on a SIGTERM sent to the npm
// process, not only on a terminal's Ctrl-C (which signals the whole process group).
// npm forwards SIGTERM to the script's shell only; the start script execs node, so the
// signal reaches lodestone, which drains and stops its demo backends. Asserted the way
// a user sees it: every demo port closed and no process of the tree left.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { freePort } from "../../helpers/ports.ts";
import { waitFor } from "../../helpers/wait.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
let npm: ChildProcess | undefined;

after(() => {
  // Whatever the outcome, nothing of the tree may outlive the test: the group is ours.
  if (npm?.pid !== undefined && groupMembers(npm.pid).length > 0) {
    try {
      process.kill(-npm.pid, "SIGKILL");
    } catch {}
  }
});

/** Pids of the processes whose process group is `pgid` (from /proc). */
function groupMembers(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Fields after the command name (which may hold spaces): state ppid pgrp ...
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] !== "Z" && Number(fields[2]) === pgid) pids.push(Number(entry));
    } catch {}
  }
  return pids;
}

/** True when a TCP connect to 127.0.0.1:port is refused (nothing listens). */
function closed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ port, host: "127.0.0.1" });
    sock.setTimeout(1000, () => {
      sock.destroy();
      resolve(false);
    });
    sock.once("connect", () => {
      sock.destroy();
      resolve(false);
    });
    sock.once("error", () => resolve(true));
  });
}

test("kill -TERM <npm start pid> stops the demo and its backends: ports closed, no process left", async () => {
  const ports = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  // Its own process group, as from a terminal, so the test can see the whole tree.
  const child = spawn("npm", ["start"], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, LODESTONE_DEMO_PORTS: ports.join(","), NO_COLOR: "1" },
  });
  npm = child;
  let out = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  child.stderr?.resume();
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  child.once("error", () => {});
  const pid = child.pid!;

  await waitFor(() => out.includes('"admin API listening"'), 20000, "the demo ready with its admin API", 50);
  for (const port of ports) assert.equal(await closed(port), false, `port ${port} listens while running`);
  const tree = groupMembers(pid);
  assert.ok(tree.length >= 2, `npm and lodestone run (${tree.join(",")})`);

  process.kill(pid, "SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    exited,
    new Promise<"timeout">((r) => {
      timer = setTimeout(() => r("timeout"), 8000);
    }),
  ]);
  clearTimeout(timer);
  assert.notEqual(code, "timeout", "npm exits within a few seconds of SIGTERM");
  await waitFor(() => groupMembers(pid).length === 0, 3000, `no process left of ${tree.join(",")}`, 50);
  for (const port of ports) assert.equal(await closed(port), true, `port ${port} is closed`);
  assert.match(out, /"stopped"/, "lodestone stopped gracefully");
});
