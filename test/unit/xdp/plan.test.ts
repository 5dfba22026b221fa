import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  decodeReal,
  decodeU32,
  decodeVipKey,
  decodeVipMeta,
  encodeU32,
  LS_FAMILY_V4,
  LS_REAL_ACTIVE,
  LS_REAL_NONE,
  LS_VIP_FRAG_ALIAS,
  LS_VIP_HASH_3TUPLE,
  LS_VIP_HASH_SRC,
  LS_VIP_NAT,
} from "../../../src/dataplane/xdp/layout.ts";
import {
  type BackendLink,
  type MapOp,
  type PlanInput,
  ProgrammedState,
  plan,
  ringChanges,
  type XdpFrontendOptions,
} from "../../../src/dataplane/xdp/plan.ts";
import { LodestoneError } from "../../../src/errors.ts";
import { type BackendSpec, frontend } from "../../integration/xdp/desired.ts";

const SIZE = 251;
const DSR: XdpFrontendOptions = { interface: "eth0", mode: "dsr" };

function links(specs: BackendSpec[]): Record<string, BackendLink> {
  const out: Record<string, BackendLink> = {};
  specs.forEach((b, i) => {
    out[b.name] = { mac: `02:00:00:00:00:${(i + 16).toString(16)}`, srcMac: "02:00:00:00:00:01", ifindex: 2 };
  });
  return out;
}

function input(
  name: string,
  specs: BackendSpec[],
  options = DSR,
  port = 80,
  proto: "tcp" | "udp" = "tcp",
): PlanInput {
  // In DSR mode backends listen on the VIP's port, as DSR requires.
  const backends = options.mode === "dsr" ? specs.map((b) => ({ ...b, port })) : specs;
  return { desired: frontend(name, proto, "10.0.1.1", port, backends, SIZE), options, links: links(specs) };
}

const three: BackendSpec[] = [
  { name: "a", address: "10.0.0.11", port: 80 },
  { name: "b", address: "10.0.0.12", port: 80 },
  { name: "c", address: "10.0.0.13", port: 80 },
];

const mapOf = (o: MapOp): string | null => ("map" in o ? o.map : null);
const count = (ops: MapOp[], pred: (op: MapOp) => boolean) => ops.filter(pred).length;
/** Ring writes flattened to one {key, value} per slot, in the order they are written. */
const ringWrites = (ops: MapOp[]) =>
  ops.flatMap((o) =>
    o.kind === "ring"
      ? [...o.slots].map((s, i) => ({ key: encodeU32(s), value: encodeU32(o.values[i]) }))
      : [],
  );
const index = (ops: MapOp[], pred: (op: MapOp) => boolean) => ops.findIndex(pred);

describe("XDP plan: first programming", () => {
  it("writes backends, then every ring slot, then the VIP that points at them", () => {
    const st = new ProgrammedState(1 << 16);
    const ops = plan(st, [input("web", three)]);
    assert.equal(
      count(ops, (o) => o.kind === "update" && o.map === "reals"),
      3,
    );
    assert.equal(ringWrites(ops).length, SIZE);
    const lastReal = ops.findLastIndex((o) => o.kind === "update" && o.map === "reals");
    const firstRing = index(ops, (o) => o.kind === "ring");
    const vip = index(ops, (o) => o.kind === "update" && o.map === "vips");
    assert.ok(lastReal < firstRing && firstRing < vip, "reals < ring < vip");
    assert.equal(vip, ops.length - 1);
    // Every slot names one of the three backend slots.
    const ids = new Set(ringWrites(ops).map((o) => decodeU32((o as { value: Buffer }).value)));
    assert.deepEqual([...ids].sort(), [0, 1, 2]);
  });

  it("zeroes the counters of every slot it hands out", () => {
    const ops = plan(new ProgrammedState(1 << 16), [input("web", three)]);
    assert.equal(
      count(ops, (o) => o.kind === "zero-stats" && o.map === "vip_stats"),
      1,
    );
    assert.equal(
      count(ops, (o) => o.kind === "zero-stats" && o.map === "real_stats"),
      3,
    );
  });

  it("changes nothing when the same desired state is applied again", () => {
    const st = new ProgrammedState(1 << 16);
    plan(st, [input("web", three)]);
    assert.deepEqual(plan(st, [input("web", three)]), []);
  });
});

describe("XDP plan: updates write only what changed", () => {
  it("a backend's weight going to 0 rewrites exactly the slots that moved, and nothing else", () => {
    const st = new ProgrammedState(1 << 16);
    const first = plan(st, [input("web", three)]);
    const before = new Uint32Array(SIZE);
    for (const o of ringWrites(first)) {
      const u = o as { key: Buffer; value: Buffer };
      before[decodeU32(u.key)] = decodeU32(u.value);
    }
    const drained = three.map((b) => (b.name === "b" ? { ...b, weight: 0 } : b));
    const next = input("web", drained);
    const ops = plan(st, [next]);
    // Backend slots are handed out in name order: a=0, b=1, c=2, so ring values equal table indexes.
    const after = next.desired.maglev!;
    const changed = [...before.keys()].filter((s) => before[s] !== after[s]);
    assert.deepEqual(
      ringWrites(ops).map((o) => decodeU32((o as { key: Buffer }).key)),
      changed,
      "exactly the changed slots are rewritten",
    );
    assert.ok(changed.length < SIZE / 2, "most of the ring is untouched");
    for (const s of before.keys())
      if (before[s] === 1) assert.ok(changed.includes(s), `b's slot ${s} rewritten`);
    for (const o of ringWrites(ops)) assert.notEqual(decodeU32((o as { value: Buffer }).value), 1);
    assert.equal(
      count(ops, (o) => mapOf(o) === "reals" || mapOf(o) === "vips"),
      0,
      "backends and VIP unchanged",
    );
    assert.equal(
      count(ops, (o) => o.kind === "flush"),
      0,
      "drain, not flush",
    );
  });

  it("flushes a weight-0 backend once, after the ring stopped choosing it", () => {
    const st = new ProgrammedState(1 << 16);
    plan(st, [input("web", three)]);
    const flushed = three.map((b) => (b.name === "b" ? { ...b, weight: 0, flush: true } : b));
    const ops = plan(st, [input("web", flushed)]);
    const flushes = ops.filter((o) => o.kind === "flush");
    assert.deepEqual(flushes, [{ kind: "flush", realId: 1 }]);
    assert.ok(ops.findLastIndex((o) => mapOf(o) === "ring") < index(ops, (o) => o.kind === "flush"));
    assert.equal(
      count(plan(st, [input("web", flushed)]), (o) => o.kind === "flush"),
      0,
      "not again",
    );
  });

  it("clears the active flag of a backend that went down, so its flows move", () => {
    const st = new ProgrammedState(1 << 16);
    plan(st, [input("web", three)]);
    const down = three.map((b) => (b.name === "c" ? { ...b, state: "down" as const } : b));
    const ops = plan(st, [input("web", down)]);
    const realOps = ops.filter((o) => o.kind === "update" && o.map === "reals") as Array<{ value: Buffer }>;
    assert.equal(realOps.length, 1);
    assert.equal(decodeReal(realOps[0].value)!.flags & LS_REAL_ACTIVE, 0);
  });

  it("keeps a disabled (drained) backend active for its established flows", () => {
    const st = new ProgrammedState(1 << 16);
    plan(st, [input("web", three)]);
    const disabled = three.map((b) => (b.name === "c" ? { ...b, state: "disabled" as const } : b));
    const ops = plan(st, [input("web", disabled)]);
    assert.equal(
      count(ops, (o) => mapOf(o) === "reals"),
      0,
    );
  });

  it("a removed backend leaves the ring before its slot is cleared and its flows flushed", () => {
    const st = new ProgrammedState(1 << 16);
    plan(st, [input("web", three)]);
    const ops = plan(st, [input("web", three.slice(0, 2))]);
    const clear = index(ops, (o) => o.kind === "update" && o.map === "reals");
    assert.ok(clear > ops.findLastIndex((o) => mapOf(o) === "ring"));
    assert.equal(decodeReal((ops[clear] as { value: Buffer }).value), null);
    assert.deepEqual(
      ops.filter((o) => o.kind === "flush"),
      [{ kind: "flush", realId: 2 }],
    );
    for (const o of ringWrites(ops)) assert.notEqual(decodeU32((o as { value: Buffer }).value), 2);
  });

  it("a new table size moves the ring to a new region before the VIP points at it", () => {
    const st = new ProgrammedState(1 << 16);
    plan(st, [input("web", three)]);
    const bigger: PlanInput = {
      desired: frontend("web", "tcp", "10.0.1.1", 80, three, 509),
      options: DSR,
      links: links(three),
    };
    const ops = plan(st, [bigger]);
    assert.equal(ringWrites(ops).length, 509);
    const vipOp = ops.find((o) => o.kind === "update" && o.map === "vips") as { value: Buffer };
    const meta = decodeVipMeta(vipOp.value, LS_FAMILY_V4);
    assert.equal(meta.ringSize, 509);
    assert.equal(meta.ringOffset, SIZE, "new region after the old one");
    assert.equal(st.ringSpace.freeSlots(), (1 << 16) - 509, "old region freed");
  });

  it("a vanished frontend is deleted first and its ring space, VIP and backend slots are freed", () => {
    const st = new ProgrammedState(1 << 16);
    plan(st, [input("web", three), input("dns", three, DSR, 53, "udp")]);
    const ops = plan(st, [input("dns", three, DSR, 53, "udp")]);
    assert.equal(ops[0].kind, "delete");
    assert.equal(
      count(ops, (o) => o.kind === "flush"),
      3,
    );
    assert.equal(st.ringSpace.freeSlots(), (1 << 16) - SIZE);
    assert.equal(st.vipIds.size(), 1);
    assert.equal(st.realIds.size(), 3);
  });

  it("empties the ring slots of a backend whose link is unknown", () => {
    const st = new ProgrammedState(1 << 16);
    const partial: PlanInput = { ...input("web", three), links: links(three.slice(0, 2)) };
    const ops = plan(st, [partial]);
    const values = ringWrites(ops).map((o) => decodeU32((o as { value: Buffer }).value));
    assert.ok(values.includes(LS_REAL_NONE));
    assert.ok(!values.includes(2));
  });
});

describe("XDP plan: VIP flags", () => {
  const flagsOf = (inp: PlanInput) => {
    const ops = plan(new ProgrammedState(1 << 16), [inp]);
    const v = ops.find((o) => o.kind === "update" && o.map === "vips") as { value: Buffer };
    return decodeVipMeta(v.value, LS_FAMILY_V4);
  };
  it("dsr + client-address-port: plain 5-tuple hashing", () => {
    assert.equal(flagsOf(input("web", three)).flags, 0);
  });
  it("dsr + client-address: source-only hashing", () => {
    const inp = input("web", three);
    inp.desired.hashOn = "client-address";
    assert.equal(flagsOf(inp).flags, LS_VIP_HASH_SRC);
  });
  it("fragments: 3-tuple hashing", () => {
    assert.equal(flagsOf(input("web", three, { ...DSR, fragments: true })).flags, LS_VIP_HASH_3TUPLE);
  });
  it("nat: the NAT flag, address and default port range", () => {
    const m = flagsOf(input("web", three, { interface: "eth0", mode: "nat", natAddress: "10.0.0.2" }));
    assert.equal(m.flags, LS_VIP_NAT);
    assert.equal(m.natAddress, "10.0.0.2");
    assert.deepEqual([m.natPortMin, m.natPortMax], [61000, 65535]);
  });
});

describe("XDP plan: fragments", () => {
  const FRAG: XdpFrontendOptions = { ...DSR, fragments: true };
  const vipWrites = (ops: MapOp[]) =>
    ops.filter((o) => o.kind === "update" && o.map === "vips") as Array<{ key: Buffer; value: Buffer }>;

  it("writes the VIP a second time under port 0, flagged to match fragments only", () => {
    const ops = plan(new ProgrammedState(1 << 16), [input("dns", three, FRAG, 53, "udp")]);
    const writes = vipWrites(ops);
    assert.equal(writes.length, 2);
    assert.equal(decodeVipKey(writes[0].key).port, 53);
    assert.equal(decodeVipKey(writes[1].key).port, 0);
    const main = decodeVipMeta(writes[0].value, LS_FAMILY_V4);
    const alias = decodeVipMeta(writes[1].value, LS_FAMILY_V4);
    assert.equal(main.flags, LS_VIP_HASH_3TUPLE);
    assert.equal(alias.flags, LS_VIP_HASH_3TUPLE | LS_VIP_FRAG_ALIAS);
    assert.deepEqual(
      [alias.vipId, alias.ringOffset, alias.ringSize],
      [main.vipId, main.ringOffset, main.ringSize],
    );
  });

  it("deletes the port-0 entry when fragments is turned off, and with its VIP", () => {
    const st = new ProgrammedState(1 << 16);
    plan(st, [input("dns", three, FRAG, 53, "udp")]);
    const off = plan(st, [input("dns", three, DSR, 53, "udp")]);
    const deletes = off.filter((o) => o.kind === "delete") as Array<{ key: Buffer }>;
    assert.deepEqual(
      deletes.map((d) => decodeVipKey(d.key).port),
      [0],
    );
    plan(st, [input("dns", three, FRAG, 53, "udp")]);
    const gone = plan(st, []).filter((o) => o.kind === "delete") as Array<{ key: Buffer }>;
    assert.deepEqual(gone.map((d) => decodeVipKey(d.key).port).sort(), [0, 53]);
  });

  it("refuses two frontends hashing fragments of one address and protocol", () => {
    assert.throws(
      () =>
        plan(new ProgrammedState(1 << 16), [
          input("a", three, FRAG, 53, "udp"),
          input("b", three, FRAG, 54, "udp"),
        ]),
      (e: unknown) =>
        e instanceof LodestoneError && e.code === "XDP_BAD_OPTIONS" && /fragments/.test(e.message),
    );
  });
});

describe("XDP plan: bad input is refused before anything is written", () => {
  const bad: Array<[string, () => PlanInput[]]> = [
    [
      "an http frontend",
      () => {
        const i = input("web", three);
        i.desired.protocol = "http";
        return [i];
      },
    ],
    [
      "a non-maglev algorithm",
      () => {
        const i = input("web", three);
        i.desired.maglev = null;
        i.desired.algorithm = "round-robin";
        return [i];
      },
    ],
    ["nat without an address", () => [input("web", three, { interface: "eth0", mode: "nat" })]],
    [
      "a nat address of the other family",
      () => [input("web", three, { interface: "eth0", mode: "nat", natAddress: "fd00::2" })],
    ],
    [
      "nat with fragments",
      () => [
        input("web", three, { interface: "eth0", mode: "nat", natAddress: "10.0.0.2", fragments: true }),
      ],
    ],
    [
      "an inverted nat port range",
      () => [
        input("web", three, {
          interface: "eth0",
          mode: "nat",
          natAddress: "10.0.0.2",
          natPorts: { min: 9, max: 1 },
        }),
      ],
    ],
    ["a backend of the other family", () => [input("web", [{ name: "x", address: "fd00::11", port: 80 }])]],
    ["two frontends on one VIP", () => [input("web", three), input("web2", three)]],
    [
      "a dsr backend on another port",
      () => {
        const spec = [{ name: "x", address: "10.0.0.11", port: 8080 }];
        return [
          { desired: frontend("web", "tcp", "10.0.1.1", 80, spec, SIZE), options: DSR, links: links(spec) },
        ];
      },
    ],
    [
      "a wildcard VIP",
      () => {
        const i = input("web", three);
        i.desired.listen.host = "0.0.0.0";
        return [i];
      },
    ],
  ];
  for (const [what, make] of bad) {
    it(`refuses ${what} with a LodestoneError naming the frontend, state untouched`, () => {
      const st = new ProgrammedState(1 << 16);
      plan(st, [input("keep", three, DSR, 9999)]);
      assert.throws(
        () => plan(st, make()),
        (e: unknown) => e instanceof LodestoneError && /^XDP_/.test(e.code) && /frontend/.test(e.message),
      );
      assert.equal(st.vips.size, 1);
      assert.deepEqual(plan(st, [input("keep", three, DSR, 9999)]), []);
    });
  }
});

describe("ringChanges", () => {
  const cases: Array<[number[], number[], number[]]> = [
    [[], [], []],
    [[1, 2, 3], [1, 2, 3], []],
    [[1, 2, 3], [1, 9, 3], [1]],
    [
      [1, 2, 3],
      [3, 2, 1],
      [0, 2],
    ],
    [
      [1, 2],
      [1, 2, 3],
      [0, 1, 2],
    ],
  ];
  for (const [prev, next, want] of cases) {
    it(`[${prev}] -> [${next}] writes slots [${want}]`, () => {
      assert.deepEqual(ringChanges(Uint32Array.from(prev), Uint32Array.from(next)), want);
    });
  }
});
