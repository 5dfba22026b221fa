// `lodestone shell` in a real pseudo-terminal (util-linux `script`), against a running
// admin API: unique prefixes, Tab completion of keywords and live names, "?" help,
// ambiguity named, history written to ~/.lodestone_history.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type Fixture, startFixture } from "../../helpers/admin-fixture.ts";
import { BIN } from "../../helpers/lodestone-cli.ts";
import { waitFor } from "../../helpers/wait.ts";

let f: Fixture;
let home: string;

before(async () => {
  f = await startFixture();
  home = mkdtempSync(join(tmpdir(), "lodestone-shell-home-"));
});
after(async () => {
  await f?.close();
  rmSync(home, { recursive: true, force: true });
});

// Cursor movement and colour codes readline writes to a terminal.
const clean = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/\r/g, "");

class Pty {
  readonly child: ChildProcess;
  raw = "";
  readonly exited: Promise<number | null>;

  constructor(args: string) {
    this.child = spawn("script", ["-qfec", `${BIN} shell ${args}`, "/dev/null"], {
      env: { ...process.env, HOME: home, NO_COLOR: "1", TERM: "xterm" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      this.raw += d;
    });
    this.child.stdin!.on("error", () => {});
    this.exited = new Promise((r) => this.child.on("exit", (code) => r(code)));
  }

  get text(): string {
    return clean(this.raw);
  }

  mark(): number {
    return this.text.length;
  }

  since(mark: number): string {
    return this.text.slice(mark);
  }

  type(s: string): void {
    this.child.stdin!.write(s);
  }

  /** Wait until the output after `mark` matches. */
  async expect(re: RegExp, mark = 0, timeoutMs = 10_000): Promise<string> {
    await waitFor(() => re.test(this.since(mark)), timeoutMs, `${re}`, 30).catch(() => {
      throw new Error(`no ${re} in shell output:\n${this.since(mark)}`);
    });
    return this.since(mark);
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
  }
}

const admin = () => `--admin 127.0.0.1:${f.admin.address.port}`;

test("unique prefixes, Tab completion of words and names, ? help, ambiguity, exit", async () => {
  const sh = new Pty(admin());
  try {
    await sh.expect(/lodestone> $/);

    let m = sh.mark();
    sh.type("sh ba\r");
    let out = await sh.expect(/BACKEND\s+STATE[\s\S]*\nc\s+up[\s\S]*lodestone> $/, m);
    assert.match(out, /\na\s+up\s+127\.0\.0\.1:\d+\s+tcp-fast/);

    // Tab on a unique prefix completes the word.
    m = sh.mark();
    sh.type("sho\t");
    await sh.expect(/show $/, m);
    // Two Tabs where a name goes list the live backend names.
    m = sh.mark();
    sh.type("backend \t\t");
    out = await sh.expect(/\na\s+b\s+c\s*\n|\na\n+b\n+c\n/, m);
    // Complete a name and run it.
    sh.type("b\r");
    m = sh.mark();
    out = await sh.expect(/lodestone> $/, m);
    assert.match(sh.text, /backend:\s+b\n/);

    // "?" answers at once (no Enter) with what a partial word can become, and keeps the line.
    m = sh.mark();
    sh.type("show f?");
    await sh.expect(/frontends\s+every frontend[\s\S]*frontend\s+one frontend[\s\S]*lodestone> show f$/, m);
    m = sh.mark();
    sh.type("rontends\r");
    await sh.expect(/FRONTEND\s+STATE[\s\S]*\nwww\s+up/, m);

    // "?" where a name goes lists the live names.
    m = sh.mark();
    sh.type("set backend ?");
    await sh.expect(/<backend>\s+a backend name: a, b, c/, m);
    sh.type("\x15"); // Ctrl-U clears the line the shell kept.

    // An ambiguous prefix names the candidates.
    m = sh.mark();
    sh.type("s ba\r");
    await sh.expect(/"s" is ambiguous: could be show, set/, m);

    // A mutation works from the shell (no token configured: loopback may change).
    m = sh.mark();
    sh.type("se ba c pa\r");
    await sh.expect(/backend c: pause -> paused/, m);
    m = sh.mark();
    sh.type("set backend c resume\r");
    await sh.expect(/backend c: resume -> /, m);

    sh.type("exit\r");
    assert.equal(await sh.exited, 0);
  } finally {
    sh.kill();
  }
});

test("history is written to ~/.lodestone_history", async () => {
  const sh = new Pty(admin());
  try {
    await sh.expect(/lodestone> $/);
    const m = sh.mark();
    sh.type("show version\r");
    await sh.expect(/lodestone \d+\.\d+\.\d+[\s\S]*lodestone> $/, m);
    sh.type("exit\r");
    assert.equal(await sh.exited, 0);
    const history = readFileSync(join(home, ".lodestone_history"), "utf8").trim().split("\n");
    assert.deepEqual(history.slice(-2), ["show version", "exit"]);
  } finally {
    sh.kill();
  }
});

test('with piped input (no terminal) commands run line by line and "?" + Enter gives help', async () => {
  const child = spawn(BIN, ["shell", "--no-history", ...admin().split(" ")], {
    env: { ...process.env, HOME: home, NO_COLOR: "1" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  child.stdin!.end("show b?\nsh ver\nexit\n");
  const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
  assert.equal(code, 0);
  assert.match(out, /backends\s+every backend/);
  assert.match(out, /lodestone \d+\.\d+\.\d+ \(node/);
});

test("on a terminal states are coloured, unless NO_COLOR is set", async () => {
  const run = (env: Record<string, string | undefined>) =>
    new Promise<string>((resolve) => {
      const child = spawn("script", ["-qfec", `${BIN} show backends ${admin()}`, "/dev/null"], {
        env: { ...process.env, NO_COLOR: undefined, TERM: "xterm", ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stdout!.setEncoding("utf8").on("data", (d: string) => {
        out += d;
      });
      child.on("exit", () => resolve(out));
    });
  const colored = await run({});
  assert.match(colored, /\x1b\[32mup\x1b\[0m/);
  const plain = await run({ NO_COLOR: "1" });
  assert.match(plain, /\ba\s+up\s/);
  assert.doesNotMatch(plain, /\x1b\[/);
});
