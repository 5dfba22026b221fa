import assert from "node:assert/strict";
import { test } from "node:test";
import { appliedPart, Reconciler } from "../../../src/control/reconciler.ts";
import type { Dataplane, DataplaneStats } from "../../../src/dataplane/types.ts";
import type { DesiredState } from "../../../src/model/desired.ts";

// A dataplane that records what it is given: the reconciler's only contract with
// dataplanes is apply(), so recording it is the whole observable behaviour.
class RecordingDataplane implements Dataplane {
  readonly name: string;
  readonly applied: number[] = [];
  inFlight = 0;
  maxInFlight = 0;
  delayMs: number;
  fail = false;
  /** What a failed apply says (dataplanes name the frontend that failed). */
  failMessage = 'frontend "f": port in use';
  constructor(name: string, delayMs = 0) {
    this.name = name;
    this.delayMs = delayMs;
  }
  async apply(desired: DesiredState): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((r) => setTimeout(r, this.delayMs));
    this.inFlight--;
    if (this.fail) throw new Error(this.failMessage);
    this.applied.push(desired.version);
  }
  async stop(): Promise<void> {}
  stats(): DataplaneStats {
    return { frontends: {} };
  }
}

/** A desired state whose only content is a number the test controls. */
function stateOf(value: { n: number }) {
  return (version: number): DesiredState => ({
    version,
    frontends: { f: { n: value.n } as unknown as DesiredState["frontends"][string] },
  });
}

test("nothing is applied before open(); open applies once with version 1 to every dataplane", async () => {
  const a = new RecordingDataplane("a");
  const b = new RecordingDataplane("b");
  const input = { n: 1 };
  const r = new Reconciler({ compute: stateOf(input), dataplanes: [a, b] });
  r.trigger("probe");
  r.trigger("probe");
  await new Promise((res) => setTimeout(res, 20));
  assert.deepEqual(a.applied, []);
  const errors = await r.open();
  assert.deepEqual(errors, []);
  assert.deepEqual(a.applied, [1]);
  assert.deepEqual(b.applied, [1]);
  assert.equal(r.current?.version, 1);
});

test("an unchanged desired state is not applied again; a change bumps the version", async () => {
  const dp = new RecordingDataplane("a");
  const input = { n: 1 };
  const r = new Reconciler({ compute: stateOf(input), dataplanes: [dp] });
  await r.open();
  r.trigger("nothing really");
  await r.settled();
  assert.deepEqual(dp.applied, [1]);
  input.n = 2;
  r.trigger("transition");
  await r.settled();
  assert.deepEqual(dp.applied, [1, 2]);
});

test("a burst of triggers coalesces and applies never overlap", async () => {
  const dp = new RecordingDataplane("slow", 15);
  const input = { n: 0 };
  const r = new Reconciler({ compute: stateOf(input), dataplanes: [dp] });
  await r.open();
  for (let i = 1; i <= 50; i++) {
    input.n = i;
    r.trigger(`event ${i}`);
    if (i % 10 === 0) await new Promise((res) => setTimeout(res, 5));
  }
  await r.settled();
  assert.equal(dp.maxInFlight, 1);
  assert.ok(dp.applied.length <= 7, `applied ${dp.applied.length} times for 50 triggers`);
  // Versions are consecutive and the last state applied is the final input.
  assert.deepEqual(
    dp.applied,
    dp.applied.map((_, i) => i + 1),
  );
  assert.equal((r.current!.frontends.f as unknown as { n: number }).n, 50);
});

test("a failing dataplane is reported and does not stop the others or later applies", async () => {
  const good = new RecordingDataplane("good");
  const bad = new RecordingDataplane("bad");
  bad.fail = true;
  const seen: Error[][] = [];
  const input = { n: 1 };
  const r = new Reconciler({
    compute: stateOf(input),
    dataplanes: [good, bad],
    onApplied: (_n, _p, errors) => seen.push(errors),
  });
  const errors = await r.open();
  assert.equal(errors.length, 1);
  assert.match(errors[0].message, /port in use/);
  bad.fail = false;
  input.n = 2;
  r.trigger("retry");
  await r.settled();
  assert.deepEqual(good.applied, [1, 2]);
  assert.deepEqual(bad.applied, [2]);
  assert.deepEqual(
    seen.map((e) => e.length),
    [1, 0],
  );
});

test("after close() triggers are ignored", async () => {
  const dp = new RecordingDataplane("a");
  const input = { n: 1 };
  const r = new Reconciler({ compute: stateOf(input), dataplanes: [dp] });
  await r.open();
  await r.close();
  input.n = 2;
  r.trigger("late");
  await r.settled();
  assert.deepEqual(dp.applied, [1]);
});

test("a compute that throws leaves the last applied state in place", async () => {
  const dp = new RecordingDataplane("a");
  let broken = false;
  const r = new Reconciler({
    compute: (v) => {
      if (broken) throw new Error("bug");
      return stateOf({ n: v })(v);
    },
    dataplanes: [dp],
  });
  await r.open();
  broken = true;
  r.trigger("x");
  await r.settled();
  assert.deepEqual(dp.applied, [1]);
  assert.equal(r.current?.version, 1);
});

test("an onApplied that throws does not stop later reconciles", async () => {
  const dp = new RecordingDataplane("a");
  const input = { n: 1 };
  const r = new Reconciler({
    compute: stateOf(input),
    dataplanes: [dp],
    onApplied: () => {
      throw new Error("reporting bug");
    },
  });
  await r.open();
  input.n = 2;
  r.trigger("next");
  await r.settled();
  assert.deepEqual(dp.applied, [1, 2]);
});

/** A desired state with the given frontends, each reduced to a marker the test reads back. */
function withFrontends(version: number, fes: Record<string, number>): DesiredState {
  const frontends: DesiredState["frontends"] = {};
  for (const [name, n] of Object.entries(fes)) {
    frontends[name] = { n } as unknown as DesiredState["frontends"][string];
  }
  return { version, frontends };
}

const markers = (s: DesiredState | undefined) =>
  Object.fromEntries(
    Object.entries(s?.frontends ?? {}).map(([k, v]) => [k, (v as unknown as { n: number }).n]),
  );

test("appliedPart: a truth table of what a partly refused state leaves applied", () => {
  const prev = withFrontends(1, { a: 1, b: 1 });
  const next = withFrontends(2, { a: 2, b: 2, c: 2 });
  const cases: [string, DesiredState | undefined, string[], Record<string, number> | null, string[]][] = [
    ["no error: all of next", prev, [], { a: 2, b: 2, c: 2 }, []],
    ["new frontend failed: absent", prev, ['frontend "c": EADDRINUSE'], { a: 2, b: 2 }, ["c"]],
    [
      "existing frontend failed: keeps previous",
      prev,
      ['frontend "b": bad table'],
      { a: 2, b: 1, c: 2 },
      ["b"],
    ],
    ["two failures in one message", prev, ['frontend "a": x; frontend "c": y'], { a: 1, b: 2 }, ["a", "c"]],
    ["one error per dataplane", prev, ['frontend "a": x', 'frontend "c": y'], { a: 1, b: 2 }, ["a", "c"]],
    ["no previous: failed ones absent", undefined, ['frontend "a": x'], { b: 2, c: 2 }, ["a"]],
    ["error naming no frontend: nothing known applied", prev, ["worker pool stopped"], null, []],
    ["error naming an unknown frontend: nothing known applied", prev, ['frontend "zz": x'], null, []],
    ["one attributable, one not: nothing known applied", prev, ['frontend "a": x', "boom"], null, []],
  ];
  for (const [name, previous, messages, want, failed] of cases) {
    const got = appliedPart(
      next,
      previous,
      messages.map((m) => new Error(m)),
    );
    if (want === null) {
      assert.equal(got, null, name);
      continue;
    }
    assert.ok(got, name);
    assert.deepEqual(markers(got.state), want, name);
    assert.equal(got.state.version, 2, name);
    assert.deepEqual(got.failed, failed, name);
  }
});

test("a frontend a dataplane refused is not reported as applied and is tried again at the next trigger", async () => {
  const dp = new RecordingDataplane("proxy");
  const lines: [string, string, object][] = [];
  const log = {
    info: (o: object, m: string) => lines.push(["info", m, o]),
    error: (o: object, m: string) => lines.push(["error", m, o]),
    debug: (o: object, m: string) => lines.push(["debug", m, o]),
  };
  const reported: Record<string, number>[] = [];
  const r = new Reconciler({
    compute: (v) => withFrontends(v, { f: 1, g: 1 }),
    dataplanes: [dp],
    log,
    onApplied: (applied) => reported.push(markers(applied)),
  });
  dp.fail = true;
  await r.open();
  assert.deepEqual(reported, [{ g: 1 }], "only what was applied is reported");
  assert.deepEqual(markers(r.current), { g: 1 });
  assert.ok(!lines.some(([, m]) => m === "applied desired state"));
  assert.ok(
    lines.some(([level, m]) => level === "error" && m === "applied desired state except frontend(s) f"),
  );
  // Nothing changed in the inputs, yet f is still missing: the next trigger retries it.
  dp.fail = false;
  r.trigger("probe");
  await r.settled();
  assert.deepEqual(reported.at(-1), { f: 1, g: 1 });
  assert.deepEqual(markers(r.current), { f: 1, g: 1 });
  assert.equal(lines.at(-1)?.[1], "applied desired state");
});

test("an apply failure that names no frontend reports nothing applied and keeps the last state", async () => {
  const dp = new RecordingDataplane("proxy");
  const lines: string[] = [];
  const log = {
    info: (_o: object, m: string) => lines.push(m),
    error: (_o: object, m: string) => lines.push(m),
    debug: () => {},
  };
  const input = { n: 1 };
  let calls = 0;
  const r = new Reconciler({ compute: stateOf(input), dataplanes: [dp], log, onApplied: () => calls++ });
  await r.open();
  assert.equal(calls, 1);
  dp.fail = true;
  dp.failMessage = "the worker pool has been stopped";
  input.n = 2;
  r.trigger("change");
  await r.settled();
  assert.equal(calls, 1, "onApplied is not called when nothing applied");
  assert.equal(r.current?.version, 1);
  assert.equal(lines.at(-1), "desired state not applied");
  assert.equal(r.lastErrors.length, 1);
});

test("after a refused apply the next trigger applies again even when the inputs went back to the last state", async () => {
  // The dataplane may have taken part of the refused state: only a new apply makes
  // it match the reconciler's reference again.
  const dp = new RecordingDataplane("proxy");
  const input = { n: 1 };
  const r = new Reconciler({ compute: stateOf(input), dataplanes: [dp] });
  await r.open();
  dp.fail = true;
  dp.failMessage = "xdp: map update failed";
  input.n = 2;
  r.trigger("change");
  await r.settled();
  dp.fail = false;
  input.n = 1;
  r.trigger("back");
  await r.settled();
  assert.deepEqual(dp.applied, [1, 2], "the state equal to the last one is applied again");
  assert.equal(r.current?.version, 2);
  r.trigger("nothing");
  await r.settled();
  assert.deepEqual(dp.applied, [1, 2], "once applied cleanly, unchanged states are skipped again");
});
