// `lodestone run` exit codes and the embedded demo.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { LodestoneCommand, runLodestone } from "../../helpers/lodestone-cli.ts";
import { freePort } from "../../helpers/ports.ts";
import { waitFor } from "../../helpers/wait.ts";

const dir = mkdtempSync(join(tmpdir(), "lodestone-cli-"));
const commands: LodestoneCommand[] = [];
after(() => {
  for (const c of commands) c.kill();
  rmSync(dir, { recursive: true, force: true });
});

test("an invalid config exits 1 with file:line:column errors and no stack trace", async () => {
  const file = join(dir, "bad.yaml");
  writeFileSync(
    file,
    "backends:\n  a: { address: 127.0.0.1, port: 1 }\nservices:\n  s: { pools: [ { name: p, backends: { a: { weight: 500 } } } ] }\nfrontends:\n  f: { listen: 127.0.0.1:1, protocol: tcp, service: missing }\n",
  );
  const r = await runLodestone(["run", "-c", file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+: `));
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test("an unreadable config file exits 2 with a one-line message", async () => {
  const r = await runLodestone(["run", "-c", join(dir, "does-not-exist.yaml")]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test("a frontend address already in use fails the start with exit 1", async () => {
  const { createServer } = await import("node:net");
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, "127.0.0.1", () => r()));
  const port = (busy.address() as { port: number }).port;
  const file = join(dir, "busy.yaml");
  writeFileSync(
    file,
    `backends:\n  a: { address: 127.0.0.1, port: 9 }\nservices:\n  s: { pools: [ { name: p, backends: { a: {} } } ] }\nfrontends:\n  f: { listen: 127.0.0.1:${port}, protocol: tcp, service: s }\n`,
  );
  const r = await runLodestone(["run", "-c", file]);
  busy.close();
  assert.equal(r.code, 1);
  assert.match(r.stderr, /could not start/);
});

test("a busy frontend address is logged once, with code and message and no stack", async () => {
  const { createServer } = await import("node:net");
  const busy = createServer();
  busy.on("error", () => {});
  await new Promise<void>((r) => busy.listen(0, "127.0.0.1", () => r()));
  const port = (busy.address() as { port: number }).port;
  const file = join(dir, "busy-once.yaml");
  writeFileSync(
    file,
    `backends:\n  a: { address: 127.0.0.1, port: 9 }\nservices:\n  s: { pools: [ { name: p, backends: { a: {} } } ] }\nfrontends:\n  f: { listen: 127.0.0.1:${port}, protocol: tcp, service: s }\n`,
  );
  const r = await runLodestone(["run", "-c", file]);
  busy.close();
  assert.equal(r.code, 1);
  const address = `127.0.0.1:${port}`;
  const logLines = r.stdout.split("\n").filter((l) => l.includes(address));
  assert.equal(logLines.length, 1, `log lines naming ${address}:\n${r.stdout}`);
  const entry = JSON.parse(logLines[0]) as { level: string; err?: { code?: string; message?: string } };
  assert.equal(entry.level, "error");
  assert.equal(entry.err?.code, "LISTEN_FAILED");
  assert.match(entry.err?.message ?? "", /EADDRINUSE/);
  assert.doesNotMatch(r.stdout + r.stderr, /"stack"|\n\s+at /);
  const stderrLines = r.stderr.trim().split("\n");
  assert.equal(stderrLines.length, 1);
  assert.match(stderrLines[0], new RegExp(`^lodestone run: could not start: .*${address}`));
});

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => {
        body += d;
      });
      res.on("end", () => resolve(body));
    });
    req.on("error", reject);
    req.end();
  });
}

test("--demo serves alternating demo backends, fails over when their checks fail, stops on SIGINT with 0", async () => {
  // Five ports found free can be taken before the demo binds them: then five new ones.
  let ports: number[] = [];
  let demo: LodestoneCommand | undefined;
  const out = () => (demo ? demo.stdout + demo.stderr : "");
  for (let attempt = 1; demo === undefined; attempt++) {
    ports = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    const run = new LodestoneCommand(["run", "--demo"], { LODESTONE_DEMO_PORTS: ports.join(",") });
    commands.push(run);
    const text = () => run.stdout + run.stderr;
    // The demo's instructions are its last startup lines (after "ready" and the admin API).
    await waitFor(
      () => text().includes("Ctrl-C stops everything") || !run.running,
      10_000,
      "the demo's instructions",
      50,
    );
    if (text().includes("Ctrl-C stops everything")) demo = run;
    else if (attempt >= 4 || !/EADDRINUSE|address already in use/i.test(text())) {
      assert.fail(`the demo did not start: ${text()}`);
    }
  }
  assert.match(out(), /curl http:\/\/127\.0\.0\.1:\d+\//);
  const [fe, p1, p2] = ports;
  const answers = [await get(fe, "/"), await get(fe, "/"), await get(fe, "/"), await get(fe, "/")];
  assert.deepEqual(answers.slice().sort(), [
    "hello from demo-1\n",
    "hello from demo-1\n",
    "hello from demo-2\n",
    "hello from demo-2\n",
  ]);
  assert.notEqual(answers[0], answers[1], "answers alternate");
  await get(p1, "/fail");
  await get(p2, "/fail");
  // interval 1s, fall 2: the fallback pool takes over within a few seconds.
  await waitFor(async () => (await get(fe, "/")) === "hello from demo-3\n", 8000, "demo-3 to answer", 200);
  demo.child.kill("SIGINT");
  assert.equal(await demo.exited, 0);
});
