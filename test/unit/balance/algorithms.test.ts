import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ALGORITHMS, buildMaglevTable, createBalancer, flowHash } from "../../../src/balance/index.ts";
import { WeightedSampler } from "../../../src/balance/random.ts";
import type { BalancerBackend, BalancerOptions, FlowKey } from "../../../src/balance/types.ts";
import { LodestoneError } from "../../../src/errors.ts";
import { mulberry32 } from "../../helpers/random.ts";

const FLOW: FlowKey = { address: "192.0.2.10", port: 40000 };

function backends(...weights: number[]): BalancerBackend[] {
  return weights.map((weight, i) => ({ name: String.fromCharCode(97 + i), weight }));
}

/** A source that returns the given numbers in turn, forever. */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length];
}

/** Flow keys from many distinct clients, so hashing algorithms see varied input. */
function flowAt(n: number): FlowKey {
  return { address: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`, port: 1024 + (n % 60000) };
}

function options(
  algorithm: BalancerOptions["algorithm"],
  extra: Partial<BalancerOptions> = {},
): BalancerOptions {
  return { algorithm, random: mulberry32(7), maglevTableSize: 4099, ...extra };
}

describe("every algorithm: eligibility truth table", () => {
  for (const algorithm of ALGORITHMS) {
    describe(algorithm, () => {
      test("a weight-0 backend is never chosen", () => {
        const b = createBalancer(backends(100, 0, 50, 0), options(algorithm));
        for (let n = 0; n < 2000; n++) {
          const i = b.pick(flowAt(n));
          assert.ok(i === 0 || i === 2, `picked ${i}`);
        }
      });

      test("excluded backends are never chosen and another eligible one is found", () => {
        const b = createBalancer(backends(100, 100, 0, 100), options(algorithm));
        for (let n = 0; n < 2000; n++) {
          const flow = flowAt(n);
          const first = b.pick(flow);
          assert.ok(first >= 0 && first !== 2);
          const tried = new Set([first]);
          const second = b.pick(flow, tried);
          assert.ok(second >= 0 && second !== first && second !== 2, `retry picked ${second} after ${first}`);
          tried.add(second);
          const third = b.pick(flow, tried);
          assert.ok(third >= 0 && !tried.has(third) && third !== 2, `second retry picked ${third}`);
          tried.add(third);
          assert.equal(b.pick(flow, tried), -1, "all eligible tried");
        }
      });

      test("-1 when every weight is 0", () => {
        const b = createBalancer(backends(0, 0, 0), options(algorithm));
        assert.equal(b.pick(FLOW), -1);
        assert.equal(b.pick(FLOW, new Set([0])), -1);
      });

      test("-1 with no backends at all", () => {
        assert.equal(createBalancer([], options(algorithm)).pick(FLOW), -1);
      });

      test("-1 when the only eligible backend is excluded", () => {
        const b = createBalancer(backends(0, 30, 0), options(algorithm));
        assert.equal(b.pick(FLOW), 1);
        assert.equal(b.pick(FLOW, new Set([1])), -1);
      });

      test("exclude entries that are out of range or weight 0 change nothing", () => {
        const b = createBalancer(backends(0, 30), options(algorithm));
        assert.equal(b.pick(FLOW, new Set([0, 7, -1])), 1);
      });

      test("a negative or NaN weight is refused with BALANCE_INVALID_WEIGHT", () => {
        for (const weight of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
          assert.throws(
            () => createBalancer([{ name: "a", weight }], options(algorithm)),
            (err: unknown) => err instanceof LodestoneError && err.code === "BALANCE_INVALID_WEIGHT",
          );
        }
      });
    });
  }

  test("an unknown algorithm is refused with BALANCE_UNKNOWN_ALGORITHM", () => {
    assert.throws(
      () => createBalancer(backends(1), { algorithm: "fastest" as BalancerOptions["algorithm"] }),
      (err: unknown) => err instanceof LodestoneError && err.code === "BALANCE_UNKNOWN_ALGORITHM",
    );
  });
});

describe("round-robin", () => {
  test("takes every weighted backend in turn, ignoring weight magnitude, skipping weight 0", () => {
    const b = createBalancer(backends(1, 0, 5, 1), { algorithm: "round-robin" });
    const picks = Array.from({ length: 7 }, () => b.pick(FLOW));
    assert.deepEqual(picks, [0, 2, 3, 0, 2, 3, 0]);
  });

  test("a retry continues the rotation past the excluded backend", () => {
    const b = createBalancer(backends(1, 1, 1), { algorithm: "round-robin" });
    assert.equal(b.pick(FLOW), 0);
    assert.equal(b.pick(FLOW, new Set([1])), 2);
    assert.equal(b.pick(FLOW), 0);
  });
});

describe("weighted-round-robin (smooth, nginx)", () => {
  test("weights 5:1:1 give nginx's sequence a a b a c a a, repeating", () => {
    const b = createBalancer(backends(5, 1, 1), { algorithm: "weighted-round-robin" });
    const picks = Array.from({ length: 14 }, () => "abc"[b.pick(FLOW)]).join(" ");
    assert.equal(picks, "a a b a c a a a a b a c a a");
  });

  test("weights 1:2:3 are served exactly in proportion over one cycle of 6", () => {
    const b = createBalancer(backends(1, 2, 3), { algorithm: "weighted-round-robin" });
    const counts = [0, 0, 0];
    for (let n = 0; n < 600; n++) counts[b.pick(FLOW)]++;
    assert.deepEqual(counts, [100, 200, 300]);
  });

  test("an excluded backend sits the round out (as nginx skips tried peers)", () => {
    const b = createBalancer(backends(5, 1, 1), { algorithm: "weighted-round-robin" });
    // Round 1 without a: b and c each gain 1, b (first on tie) wins and pays back 2.
    assert.equal(b.pick(FLOW, new Set([0])), 1);
    assert.equal(b.pick(FLOW), 0);
  });
});

describe("least-connections (weighted)", () => {
  test("prefers the backend with the lowest inflight/weight", () => {
    const cases: { weights: number[]; inflight: number[]; expected: number }[] = [
      { weights: [100, 100, 100], inflight: [5, 2, 9], expected: 1 },
      { weights: [100, 50], inflight: [10, 6], expected: 0 }, // 0.10 < 0.12
      { weights: [100, 50], inflight: [14, 6], expected: 1 }, // 0.14 > 0.12
      { weights: [1, 100], inflight: [0, 1], expected: 0 }, // 0 < 0.01
      { weights: [0, 100], inflight: [0, 50], expected: 1 }, // weight 0 ignored however idle
    ];
    for (const { weights, inflight, expected } of cases) {
      const b = createBalancer(backends(...weights), {
        algorithm: "least-connections",
        inflight: (i) => inflight[i],
      });
      assert.equal(b.pick(FLOW), expected, `weights ${weights} inflight ${inflight}`);
    }
  });

  test("ties are broken in round-robin order", () => {
    const b = createBalancer(backends(100, 100, 100), { algorithm: "least-connections", inflight: () => 3 });
    assert.deepEqual(
      Array.from({ length: 6 }, () => b.pick(FLOW)),
      [0, 1, 2, 0, 1, 2],
    );
  });

  test("tracks a changing load: always the least loaded at the moment of the pick", () => {
    const inflight = [0, 0, 0];
    const b = createBalancer(backends(100, 100, 200), {
      algorithm: "least-connections",
      inflight: (i) => inflight[i],
    });
    for (let n = 0; n < 400; n++) inflight[b.pick(FLOW)]++;
    assert.deepEqual(inflight, [100, 100, 200]);
  });
});

describe("random (weighted)", () => {
  test("with evenly spread random numbers the picks follow weights 1:2:3 exactly", () => {
    const k = 6000;
    let n = 0;
    const b = createBalancer(backends(1, 2, 3, 0), { algorithm: "random", random: () => (n++ % k) / k });
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < k; i++) counts[b.pick(FLOW)]++;
    assert.deepEqual(counts, [1000, 2000, 3000, 0]);
  });

  test("with a seeded PRNG the picks follow weights within 2% relative over 60000 picks", () => {
    const b = createBalancer(backends(10, 30, 60), { algorithm: "random", random: mulberry32(42) });
    const counts = [0, 0, 0];
    for (let i = 0; i < 60000; i++) counts[b.pick(FLOW)]++;
    [0.1, 0.3, 0.6].forEach((share, i) => {
      assert.ok(Math.abs(counts[i] / 60000 / share - 1) < 0.02, `backend ${i}: ${counts[i]}`);
    });
  });

  test("a random source returning 1, a negative number or NaN does not break a pick", () => {
    for (const value of [1, -0.5, Number.NaN, 7]) {
      const b = createBalancer(backends(1, 1), { algorithm: "random", random: () => value });
      const i = b.pick(FLOW);
      assert.ok(i === 0 || i === 1);
    }
  });

  test("retries draw among the rest in proportion to weight", () => {
    const k = 4000;
    let n = 0;
    const b = createBalancer(backends(50, 1, 3), { algorithm: "random", random: () => (n++ % k) / k });
    const counts = [0, 0, 0];
    for (let i = 0; i < k; i++) counts[b.pick(FLOW, new Set([0]))]++;
    assert.deepEqual(counts, [0, 1000, 3000]);
  });
});

describe("weighted sampler", () => {
  test("skipping one backend draws among the others in proportion, for every skip and every u", () => {
    const weights = [3, 0, 1, 4, 0, 2];
    const sampler = new WeightedSampler(backends(...weights));
    const k = 1000;
    for (let skip = 0; skip < weights.length; skip++) {
      const counts = weights.map(() => 0);
      for (let j = 0; j < k; j++) counts[sampler.sample((j + 0.5) / k, skip)]++;
      const rest = weights.reduce((a, w, i) => a + (i === skip ? 0 : w), 0);
      weights.forEach((w, i) => {
        const expected = i === skip ? 0 : (k * w) / rest;
        assert.ok(
          Math.abs(counts[i] - expected) <= 1,
          `skip ${skip}: backend ${i} got ${counts[i]}, want ${expected}`,
        );
      });
    }
  });

  test("skip on the fast path and skip through the exclude path agree", () => {
    const sampler = new WeightedSampler(backends(3, 0, 1, 4, 0, 2));
    const exclude = new Set([5]);
    for (let skip = 0; skip < 6; skip++) {
      for (let j = 0; j < 200; j++) {
        const u = j / 200;
        const viaExclude = sampler.sample(u, -1, new Set([skip, 99]));
        const viaSkip = sampler.sample(u, skip);
        assert.equal(viaSkip, viaExclude, `skip ${skip} u ${u}`);
        assert.notEqual(sampler.sample(u, skip, exclude), 5);
      }
    }
  });
});

describe("p2c (power of two choices, least request)", () => {
  test("of the two drawn backends, takes the lower inflight/weight", () => {
    // u=0.1 draws backend 0; the second draw (skipping 0) with u=0.99 lands on 1.
    const cases: { weights: number[]; inflight: number[]; expected: number }[] = [
      { weights: [100, 100], inflight: [10, 1], expected: 1 },
      { weights: [100, 100], inflight: [1, 10], expected: 0 },
      { weights: [100, 10], inflight: [50, 6], expected: 0 }, // 0.5 < 0.6
      { weights: [100, 10], inflight: [70, 6], expected: 1 }, // 0.7 > 0.6
      { weights: [100, 100], inflight: [4, 4], expected: 0 }, // tie: the first draw
    ];
    for (const { weights, inflight, expected } of cases) {
      const b = createBalancer(backends(...weights), {
        algorithm: "p2c",
        random: sequence(0.1, 0.99),
        inflight: (i) => inflight[i],
      });
      assert.equal(b.pick(FLOW), expected, `weights ${weights} inflight ${inflight}`);
    }
  });

  test("the two draws are distinct backends: of two, the idle one always wins", () => {
    const b = createBalancer(backends(100, 100), {
      algorithm: "p2c",
      random: mulberry32(3),
      inflight: (i) => (i === 0 ? 5 : 0),
    });
    for (let n = 0; n < 1000; n++) assert.equal(b.pick(FLOW), 1);
  });

  test("with equal load the picks follow weights 1:2:7 within 2% relative over 60000 picks", () => {
    const b = createBalancer(backends(1, 2, 7), {
      algorithm: "p2c",
      random: mulberry32(11),
      inflight: () => 0,
    });
    const counts = [0, 0, 0];
    for (let i = 0; i < 60000; i++) counts[b.pick(FLOW)]++;
    [0.1, 0.2, 0.7].forEach((share, i) => {
      assert.ok(Math.abs(counts[i] / 60000 / share - 1) < 0.02, `backend ${i}: ${counts[i]}`);
    });
  });

  test("spreads load: the most loaded backend ends within a few of the least", () => {
    const inflight = new Array(10).fill(0);
    const b = createBalancer(backends(...new Array(10).fill(100)), {
      algorithm: "p2c",
      random: mulberry32(5),
      inflight: (i) => inflight[i],
    });
    for (let n = 0; n < 10000; n++) inflight[b.pick(FLOW)]++;
    assert.ok(Math.max(...inflight) - Math.min(...inflight) <= 10, `spread ${inflight}`);
  });
});

describe("maglev and source-hash lookups", () => {
  for (const algorithm of ["maglev", "source-hash"] as const) {
    test(`${algorithm}: the same client always lands on the same backend`, () => {
      const b = createBalancer(backends(100, 100, 100, 100), options(algorithm));
      for (let n = 0; n < 500; n++) {
        const first = b.pick(flowAt(n));
        for (let r = 0; r < 3; r++) assert.equal(b.pick(flowAt(n)), first);
      }
    });

    test(`${algorithm}: two balancers built alike agree on every client`, () => {
      const a = createBalancer(backends(100, 50, 100), options(algorithm, { maglevSeed: 5 }));
      const c = createBalancer(backends(100, 50, 100), options(algorithm, { maglevSeed: 5 }));
      for (let n = 0; n < 2000; n++) assert.equal(a.pick(flowAt(n)), c.pick(flowAt(n)));
    });
  }

  test("source-hash: removing one of 10 backends moves about 1/10 of the clients", (t) => {
    const all = Array.from({ length: 10 }, (_, i) => ({ name: `b${i}`, weight: 100 }));
    const rest = all.filter((_, i) => i !== 3);
    const before = createBalancer(all, { algorithm: "source-hash" });
    const after = createBalancer(rest, { algorithm: "source-hash" });
    const clients = 20000;
    let moved = 0;
    let onRemoved = 0;
    for (let n = 0; n < clients; n++) {
      const flow = { address: `198.51.${n >> 8}.${n & 255}`, port: n };
      const was = all[before.pick(flow)].name;
      if (was === "b3") onRemoved++;
      if (rest[after.pick(flow)].name !== was) moved++;
    }
    t.diagnostic(
      `moved ${moved}/${clients} = ${((moved / clients) * 100).toFixed(2)}% (the removed backend had ${onRemoved})`,
    );
    assert.ok(moved >= onRemoved, "every client of the removed backend must move");
    assert.ok(moved / clients <= 0.1 + 0.02, `moved ${moved}`);
  });

  test("hashOn client-address: one client on any port lands on one backend", () => {
    const b = createBalancer(backends(100, 100, 100, 100, 100), {
      algorithm: "source-hash",
      hashOn: "client-address",
    });
    const first = b.pick({ address: "203.0.113.7", port: 1 });
    for (let port = 2; port < 2000; port++) assert.equal(b.pick({ address: "203.0.113.7", port }), first);
  });

  test("hashOn client-address-port: one client's connections spread over the backends", () => {
    const b = createBalancer(backends(100, 100, 100, 100, 100), {
      algorithm: "maglev",
      hashOn: "client-address-port",
    });
    const seen = new Set<number>();
    for (let port = 1; port < 2000; port++) seen.add(b.pick({ address: "203.0.113.7", port }));
    assert.equal(seen.size, 5);
  });

  test("maglev follows the table's weights: shares over many clients match 1:3", () => {
    const b = createBalancer(backends(25, 75), { algorithm: "maglev", hashOn: "client-address-port" });
    const counts = [0, 0];
    for (let n = 0; n < 40000; n++) counts[b.pick(flowAt(n))]++;
    assert.ok(Math.abs(counts[0] / 40000 - 0.25) < 0.01, `counts ${counts}`);
  });

  test("a prebuilt table is used as given", () => {
    const table = new Int32Array(7).fill(1);
    const b = createBalancer(backends(100, 100), { algorithm: "maglev", maglevTable: table });
    for (let n = 0; n < 100; n++) assert.equal(b.pick(flowAt(n)), 1);
    assert.equal(b.pick(FLOW, new Set([1])), 0, "retry walks off the table to the remaining backend");
  });

  test("a prebuilt table slot whose backend now has weight 0 is walked past", () => {
    const table = buildMaglevTable(backends(100, 100, 100), 101);
    const b = createBalancer(backends(100, 0, 100), { algorithm: "maglev", maglevTable: table });
    for (let n = 0; n < 500; n++) assert.notEqual(b.pick(flowAt(n)), 1);
  });

  test("a retry walks forward from the flow's slot to the next slot of another backend", () => {
    const list = backends(100, 100, 100, 100);
    const table = buildMaglevTable(list, 4099, 3);
    const b = createBalancer(list, { algorithm: "maglev", maglevTable: table, maglevSeed: 3 });
    for (let n = 0; n < 500; n++) {
      const flow = flowAt(n);
      let slot = flowHash(flow, "client-address", 3) % table.length;
      const first = table[slot];
      assert.equal(b.pick(flow), first);
      while (table[slot] === first) slot = (slot + 1) % table.length;
      assert.equal(b.pick(flow, new Set([first])), table[slot]);
    }
  });

  test("a prebuilt table pointing outside the backends is refused with BALANCE_INVALID_TABLE", () => {
    for (const table of [new Int32Array([0, 2]), new Int32Array([-2]), new Int32Array(0)]) {
      assert.throws(
        () => createBalancer(backends(1, 1), { algorithm: "maglev", maglevTable: table }),
        (err: unknown) => err instanceof LodestoneError && err.code === "BALANCE_INVALID_TABLE",
      );
    }
  });

  test("duplicate backend names are refused for hashing algorithms", () => {
    assert.throws(
      () =>
        createBalancer(
          [
            { name: "x", weight: 1 },
            { name: "x", weight: 1 },
          ],
          { algorithm: "source-hash" },
        ),
      (err: unknown) => err instanceof LodestoneError && err.code === "BALANCE_DUPLICATE_BACKEND",
    );
  });

  test("a backend too light to own any slot is still reachable on retry", () => {
    // 1 weight unit against 600000: expected 65537/600001 < 1 slot, so it owns none.
    const list = [
      { name: "big", weight: 600 },
      { name: "tiny", weight: 0.001 },
    ];
    const b = createBalancer(list, { algorithm: "maglev" });
    assert.equal(b.pick(FLOW), 0);
    assert.equal(b.pick(FLOW, new Set([0])), 1);
  });
});
