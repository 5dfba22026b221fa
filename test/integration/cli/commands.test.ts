// `lodestone show/set/config/watch` spawned as real processes against a running admin
// API (in-process Daemon, real TCP backends): output, effects, and exit codes
// 0 ok / 1 refused / 2 unreachable or usage / 3 server error, one line, no stack trace.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startAdminServer } from "../../../src/api/server.ts";
import { type Fixture, startFixture } from "../../helpers/admin-fixture.ts";
import { type CliResult, LodestoneCommand, runLodestone } from "../../helpers/lodestone-cli.ts";
import { freePort } from "../../helpers/ports.ts";
import { waitFor } from "../../helpers/wait.ts";

const TOKEN = "cli-test-token";
let f: Fixture;
let admin: string;

before(async () => {
  f = await startFixture({ token: TOKEN });
  admin = `127.0.0.1:${f.admin.address.port}`;
});
after(async () => {
  await f?.close();
});

const lodestone = (args: string[], env: Record<string, string> = {}) => runLodestone(args, { env });

const cli = (...args: string[]) => lodestone([...args, "--admin", admin]);

function oneLineError(r: CliResult): void {
  assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
}

describe("show", () => {
  test("show frontends prints a table with the frontend, its state and listen address", async () => {
    const r = await cli("show", "frontends");
    assert.equal(r.code, 0, r.stderr);
    const [header, row] = r.stdout.trim().split("\n");
    assert.match(header, /^FRONTEND\s+STATE\s+LISTEN/);
    assert.match(row, new RegExp(`^www\\s+up\\s+tcp://127\\.0\\.0\\.1:${f.frontendPort}`));
    assert.doesNotMatch(r.stdout, /\x1b\[/, "no colour when stdout is not a TTY");
  });

  test("unique prefixes: 'sh ba' inside show words, e.g. 'show ba' = show backends", async () => {
    const r = await cli("show", "ba");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      r.stdout
        .trim()
        .split("\n")
        .slice(1)
        .map((l) => l.split(/\s+/)[0]),
      ["a", "b", "c"],
    );
  });

  test("show service, backend, healthchecks and version", async () => {
    const svc = await cli("show", "service", "web");
    assert.equal(svc.code, 0);
    assert.match(svc.stdout, /active pool:\s+main/);
    assert.match(svc.stdout, /0\* main\s+a\s+up\s+100\s+100/);
    const b = await cli("show", "backend", "a");
    assert.match(b.stdout, /healthcheck:\s+tcp-fast/);
    assert.match(b.stdout, /unknown -> up/);
    const hc = await cli("show", "healthchecks");
    assert.match(hc.stdout, /tcp-fast\s+tcp\s+100ms/);
    const v = await cli("show", "version");
    assert.match(v.stdout, /^lodestone \d+\.\d+\.\d+/);
  });

  test("--json prints what the API answered", async () => {
    const r = await cli("show", "backends", "--json");
    assert.equal(r.code, 0);
    const list = JSON.parse(r.stdout) as { name: string; state: string }[];
    assert.deepEqual(
      list.map((b) => b.name),
      ["a", "b", "c"],
    );
  });

  test("an unknown name exits 1 with the API's message on one line", async () => {
    const r = await cli("show", "backend", "nope");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no backend named "nope"/);
    oneLineError(r);
  });

  test("usage errors exit 2: unknown word, ambiguous prefix, incomplete command", async () => {
    const unknown = await cli("show", "nothing");
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown word "nothing".*expected frontends/);
    const ambiguous = await cli("set", "b", "a", "d", "--fl");
    assert.equal(ambiguous.code, 2);
    oneLineError(ambiguous);
    const incomplete = await cli("set", "backend", "a");
    assert.equal(incomplete.code, 2);
    assert.match(incomplete.stderr, /expected pause, resume, enable, disable/);
    const missing = await lodestone(["show", "backends", "--admin"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--admin <address>' argument missing/);
  });

  test("an unreachable API exits 2 with one line naming the address", async () => {
    const port = await freePort();
    const r = await lodestone(["show", "frontends", "--admin", `127.0.0.1:${port}`]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      new RegExp(`cannot reach the admin API at http://127\\.0\\.0\\.1:${port}: ECONNREFUSED`),
    );
    oneLineError(r);
  });

  test("a server error exits 3", async () => {
    const server: Server = createServer((_req, res) => {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "INTERNAL", message: "broken on purpose" } }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    try {
      const port = (server.address() as { port: number }).port;
      const r = await lodestone(["show", "version", "--admin", `127.0.0.1:${port}`]);
      assert.equal(r.code, 3);
      assert.match(r.stderr, /broken on purpose/);
      oneLineError(r);
    } finally {
      server.close();
    }
  });
});

describe("set", () => {
  test("a change without a token is refused: exit 1, nothing changes", async () => {
    const r = await cli("set", "backend", "a", "disable");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Bearer/);
    assert.equal(f.daemon.status().backends.find((b) => b.name === "a")?.state, "up");
  });

  test("set backend disable --flush / enable with --token, visible in status", async () => {
    const r = await cli("set", "backend", "a", "disable", "--flush", "--token", TOKEN);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /backend a: disable \(flush\) -> disabled/);
    const a = f.daemon.status().backends.find((b) => b.name === "a");
    assert.deepEqual(a?.override, { kind: "disabled", flush: true });
    const e = await lodestone(["set", "backend", "a", "enable", "--admin", admin], {
      LODESTONE_TOKEN: TOKEN,
    });
    assert.equal(e.code, 0, e.stderr);
    await waitFor(
      () => f.daemon.status().backends.find((b) => b.name === "a")?.state === "up",
      5000,
      "a up",
      50,
    );
  });

  test("set service ... weight N changes the member's weight; a bad weight is a usage error", async () => {
    const r = await cli(
      "set",
      "service",
      "web",
      "pool",
      "main",
      "backend",
      "b",
      "weight",
      "20",
      "--token",
      TOKEN,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /web\/main\/b: weight 20 \(effective 20, up\)/);
    const member = f.daemon.status().services[0].pools[0].members.find((m) => m.backend === "b");
    assert.equal(member?.configuredWeight, 20);
    const bad = await cli(
      "set",
      "service",
      "web",
      "pool",
      "main",
      "backend",
      "b",
      "weight",
      "200",
      "--token",
      TOKEN,
    );
    assert.equal(bad.code, 2);
    oneLineError(bad);
    const missing = await cli(
      "set",
      "service",
      "web",
      "pool",
      "nope",
      "backend",
      "b",
      "weight",
      "5",
      "--token",
      TOKEN,
    );
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no pool named "nope"/);
  });

  test("the address and token can come from --config FILE's admin section", async () => {
    const tokenFile = join(f.dir, "token");
    writeFileSync(tokenFile, `${TOKEN}\n`);
    const cfg = join(f.dir, "client.yaml");
    writeFileSync(cfg, `${f.yaml}admin: { listen: "${admin}", token-file: ${tokenFile} }\n`);
    const r = await lodestone(["set", "backend", "c", "pause", "--config", cfg]);
    assert.equal(r.code, 0, r.stderr);
    const back = await lodestone(["set", "backend", "c", "resume", "-c", cfg]);
    assert.equal(back.code, 0, back.stderr);
  });
});

describe("config", () => {
  test("config check and reload exit 0 on a good file, 1 with file:line:column on a bad one", async () => {
    const ok = await cli("config", "check", "--token", TOKEN);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /: ok$/m);
    const reload = await cli("config", "reload", "--token", TOKEN);
    assert.equal(reload.code, 0, reload.stderr);
    assert.match(reload.stdout, /^reloaded: /);
    writeFileSync(f.file, f.yaml.replace("protocol: tcp", "protocol: carrier-pigeon"));
    try {
      const bad = await cli("config", "reload", "--token", TOKEN);
      assert.equal(bad.code, 1);
      assert.match(bad.stdout, /reload refused:\n\s+.*lodestone\.yaml:\d+:\d+/);
      const check = await cli("config", "check", "--token", TOKEN);
      assert.equal(check.code, 1);
      assert.match(check.stdout, /^config invalid:\n\s+.*lodestone\.yaml:\d+:\d+: .*protocol/);
    } finally {
      writeFileSync(f.file, f.yaml);
    }
  });
});

describe("config check shows what a reload would change", () => {
  test("against the running daemon: the edited file's changes, without applying them", async () => {
    const weights = async () => {
      const svc = JSON.parse((await cli("show", "service", "web", "--json")).stdout);
      return svc.pools.map((p: { members: { configuredWeight: number }[] }) =>
        p.members.map((m) => m.configuredWeight),
      );
    };
    const before = await weights();
    writeFileSync(f.file, f.yaml.replace("b: { weight: 50 }", "b: { weight: 60 }"));
    try {
      const r = await cli("config", "check", "--token", TOKEN);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /: ok\na reload would change:\n\s+services:\s+changed web\n$/);
      const json = await cli("config", "check", "--token", TOKEN, "--json");
      const body = JSON.parse(json.stdout);
      assert.equal(body.changed, true);
      assert.deepEqual(body.diff.services, { added: [], removed: [], changed: ["web"] });
      // Checking applies nothing: the service looks as before.
      assert.deepEqual(await weights(), before);
    } finally {
      writeFileSync(f.file, f.yaml);
    }
    const same = await cli("config", "check", "--token", TOKEN);
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stdout, /a reload would change nothing/);
  });

  test("config check FILE compares a file here with the config the daemon runs", async () => {
    const other = join(f.dir, "candidate.yaml");
    writeFileSync(
      other,
      f.yaml.replace("  a: { address", "  a2: { address").replace("a: { weight", "a2: { weight"),
    );
    const r = await cli("config", "check", other);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^${other}: ok \\(`));
    assert.match(r.stdout, /compared with the running config .*: a reload would change:/);
    assert.match(r.stdout, /backends:\s+added a2; removed a\n/);
    const unreachable = await lodestone([
      "config",
      "check",
      other,
      "--admin",
      `127.0.0.1:${await freePort()}`,
    ]);
    assert.equal(unreachable.code, 2);
    assert.match(unreachable.stderr, /is valid, but there is nothing to compare it with: .*--against FILE/);
    oneLineError(unreachable);
  });

  test("config check FILE --against OTHER works offline; exit 1 invalid, 2 unreadable or usage", async () => {
    const dead = `127.0.0.1:${await freePort()}`; // no daemon is asked
    const base = join(f.dir, "base.yaml");
    const next = join(f.dir, "next.yaml");
    writeFileSync(base, f.yaml);
    writeFileSync(
      next,
      f.yaml
        .replace("interval: 100ms", "interval: 200ms")
        .replace(
          /\nfrontends:\n/,
          "\nfrontends:\n  www2: { listen: 127.0.0.1:1, protocol: tcp, service: web }\n",
        ),
    );
    const r = await lodestone(["config", "check", next, "--against", base, "--admin", dead]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /frontends:\s+added www2\n/);
    assert.match(r.stdout, /healthchecks:\s+changed tcp-fast\n/);
    const same = await lodestone(["config", "ch", base, "--against", base, "--admin", dead]);
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stdout, /a reload would change nothing/);
    writeFileSync(next, f.yaml.replace("protocol: tcp", "protocol: carrier-pigeon"));
    const bad = await lodestone(["config", "check", next, "--against", base]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /next\.yaml:\d+:\d+: .*protocol/);
    const missing = await lodestone(["config", "check", join(f.dir, "nope.yaml"), "--against", base]);
    assert.equal(missing.code, 2);
    oneLineError(missing);
    const usage = await lodestone(["config", "check", "--against", base]);
    assert.equal(usage.code, 2);
    oneLineError(usage);
  });
});

describe("watch", () => {
  test("watch events prints live events that pass its filters and stops after --count", async () => {
    const watch = new LodestoneCommand([
      "watch",
      "events",
      "--type",
      "log",
      "--level",
      "warn",
      "--count",
      "2",
      "--admin",
      admin,
    ]);
    const timer = setTimeout(() => watch.kill(), 15_000);
    try {
      // Published until the watcher has seen two (it may connect after the first ones).
      for (let i = 0; i < 100 && watch.running; i++) {
        f.daemon.events.publish({ type: "log", level: "info", message: `quiet ${i}` });
        f.daemon.events.publish({ type: "log", level: "warn", message: `loud ${i}` });
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(await watch.exited, 0, watch.stderr);
    } finally {
      clearTimeout(timer);
    }
    const lines = watch.stdout.trim().split("\n");
    assert.equal(lines.length, 2, watch.stdout);
    for (const l of lines) assert.match(l, /^\d\d:\d\d:\d\d\.\d{3}\s+#\d+\s+\[warn\] loud \d+$/);
  });

  test("watch events reconnects with Last-Event-ID after the API goes away and misses nothing", async () => {
    const port = await freePort();
    let second = await startAdminServer(f.daemon, {
      listen: { host: "127.0.0.1", port },
      token: null,
      processMetrics: false,
    });
    const watch = new LodestoneCommand([
      "watch",
      "events",
      "--type",
      "log",
      "--json",
      "--admin",
      `127.0.0.1:${port}`,
    ]);
    try {
      const mark = f.daemon.events.publish({ type: "log", level: "info", message: "before the outage" });
      await waitFor(
        () => watch.stdout.includes("before the outage"),
        10_000,
        "the event before the outage",
        50,
      );
      await second.close();
      const missed = [1, 2, 3].map((i) =>
        f.daemon.events.publish({ type: "log", level: "warn", message: `missed ${i}` }),
      );
      second = await startAdminServer(f.daemon, {
        listen: { host: "127.0.0.1", port },
        token: null,
        processMetrics: false,
      });
      await waitFor(() => watch.stdout.includes("missed 3"), 10_000, "the missed events", 50);
      const events = watch.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { id: number; message: string });
      const after = events.filter((e) => e.id >= mark.id).map((e) => e.id);
      assert.deepEqual(after, [mark.id, ...missed.map((e) => e.id)], "each event exactly once, in order");
      assert.match(watch.stderr, /reconnected/);
    } finally {
      watch.kill();
      await second.close();
    }
  });
});
