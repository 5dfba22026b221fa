// The compiled program against its TypeScript contract, and the loader against
// the kernel: BTF layout vs layout.ts, verifier acceptance, pinning and reuse,
// readable errors for a verifier rejection and for stale pinned maps.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BPF_SOURCE_DIR, buildBpfObject, ensureBpfObject } from "../../../src/dataplane/xdp/build.ts";
import * as layout from "../../../src/dataplane/xdp/layout.ts";
import { XdpProgram } from "../../../src/dataplane/xdp/loader.ts";
import { LodestoneError } from "../../../src/errors.ts";
import { mountBpffs, skipReason, unmountBpffs } from "./netns.ts";

const skip = skipReason();

interface BtfType {
  id: number;
  kind: string;
  name?: string;
  size?: number;
  type_id?: number;
  nr_elems?: number;
  members?: Array<{ name: string; type_id: number; bits_offset: number }>;
  vars?: Array<{ type_id: number }>;
}

describe("XDP program and loader", { skip: skip ?? false }, () => {
  let objectPath = "";
  let work = "";
  let bpffs = "";
  let btf = new Map<number, BtfType>();

  before(() => {
    objectPath = ensureBpfObject();
    work = mkdtempSync(join(tmpdir(), `ls-xdp-${process.pid}-`));
    bpffs = join(work, "bpffs");
    mountBpffs(bpffs);
    const dump = JSON.parse(
      execFileSync("bpftool", ["-j", "btf", "dump", "file", objectPath]).toString(),
    ) as {
      types: BtfType[];
    };
    btf = new Map(dump.types.map((t) => [t.id, t]));
  });

  after(() => {
    if (bpffs) unmountBpffs(bpffs);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  function sizeOf(id: number): number {
    const t = btf.get(id)!;
    switch (t.kind) {
      case "INT":
      case "STRUCT":
      case "UNION":
        return t.size!;
      case "TYPEDEF":
      case "VOLATILE":
      case "CONST":
        return sizeOf(t.type_id!);
      case "ARRAY":
        return t.nr_elems! * sizeOf(t.type_id!);
      default:
        throw new Error(`unexpected BTF kind ${t.kind}`);
    }
  }

  it("lays out every C struct exactly as layout.ts says (BTF of the compiled object)", () => {
    for (const [name, want] of Object.entries(layout.STRUCTS)) {
      const t = [...btf.values()].find((x) => x.kind === "STRUCT" && x.name === name);
      assert.ok(t, `struct ${name} is in the object's BTF`);
      assert.equal(t.size, want.size, `sizeof(struct ${name})`);
      const fields = want.fields as Record<string, readonly [number, number]>;
      const members = t.members!.filter((m) => m.name !== "pad");
      assert.deepEqual(
        members.map((m) => m.name),
        Object.keys(fields),
        `struct ${name}: the same fields in the same order`,
      );
      for (const m of members) {
        assert.equal(m.bits_offset / 8, fields[m.name][0], `offsetof(${name}, ${m.name})`);
        assert.equal(sizeOf(m.type_id), fields[m.name][1], `sizeof(${name}.${m.name})`);
      }
    }
  });

  it("declares the maps layout.ts names", () => {
    const sec = [...btf.values()].find((t) => t.kind === "DATASEC" && t.name === ".maps")!;
    const names = sec.vars!.map((v) => btf.get(v.type_id)!.name).sort();
    assert.deepEqual(names, [...layout.MAP_NAMES].sort());
  });

  it("agrees with lodestone_maps.h on every constant layout.ts mirrors", () => {
    const header = readFileSync(join(BPF_SOURCE_DIR, "lodestone_maps.h"), "utf8");
    const defines = new Map<string, number>();
    // The forms the header uses: 42, 0xffu, (1u << 2), (1 << 20), and another LS_ name.
    const value = (expr: string): number | null => {
      const e = expr
        .replace(/[()]/g, "")
        .replace(/(\d)u\b/g, "$1")
        .trim();
      const shift = e.match(/^(\d+)\s*<<\s*(\d+)$/);
      if (shift) return Number(shift[1]) * 2 ** Number(shift[2]);
      if (/^(0x[\da-fA-F]+|\d+)$/.test(e)) return Number(e);
      return defines.get(e) ?? null;
    };
    for (const m of header.matchAll(/^#define (LS_\w+) (.+?)(?:\s*\/\*.*)?$/gm)) {
      const v = value(m[2]);
      if (v !== null) defines.set(m[1], v);
    }
    const mirrored = layout as unknown as Record<string, unknown>;
    let checked = 0;
    for (const [name, v] of defines) {
      if (name in mirrored) {
        assert.equal(mirrored[name], v, name);
        checked++;
      }
    }
    assert.ok(checked >= 10, `checked ${checked} constants`);
    assert.equal(defines.get("LS_DROP_REASONS"), layout.DROP_REASONS.length);
  });

  it("passes the verifier, pins its maps, and a second load reuses them with their entries", () => {
    const pinRoot = join(bpffs, "reuse");
    const first = XdpProgram.load({ objectPath, pinRoot, ringEntries: 8192 });
    assert.equal(first.reusedMaps, false);
    const key = layout.encodeVipKey({ address: "10.9.9.9", port: 80, proto: "tcp" });
    const meta = layout.encodeVipMeta({
      flags: 0,
      vipId: 3,
      ringOffset: 0,
      ringSize: 7,
      natAddress: null,
      natPortMin: 0,
      natPortMax: 0,
    });
    first.maps.vips.update(key, meta);
    first.close();

    const second = XdpProgram.load({ objectPath, pinRoot, ringEntries: 8192 });
    try {
      assert.equal(second.reusedMaps, true);
      assert.deepEqual(second.maps.vips.lookup(key), meta);
      assert.equal(second.maps.vips.keys().length, 1);
    } finally {
      second.close();
    }
  });

  it("writes ring slots in batches and reads any range back, from the start or from an offset", () => {
    const p = XdpProgram.load({ objectPath, pinRoot: null, ringEntries: 70000 });
    try {
      const n = 65537;
      const offset = 1234;
      const slots = Uint32Array.from({ length: n }, (_, i) => offset + i);
      const values = Uint32Array.from({ length: n }, (_, i) => (i * 7919) % 4096);
      p.maps.ring.updateBatch(Buffer.from(slots.buffer), Buffer.from(values.buffer), n);
      const back = p.maps.ring.readRange(offset, n);
      assert.deepEqual(new Uint32Array(back.buffer, back.byteOffset, n), values);
      assert.equal(layout.decodeU32(p.maps.ring.lookup(layout.encodeU32(offset + 5))!), values[5]);
      assert.equal(layout.decodeU32(p.maps.ring.readRange(0, 1)), 0, "untouched slot");
      assert.equal(layout.decodeU32(p.maps.ring.readRange(offset - 1, 2), 4), values[0]);
    } finally {
      p.close();
    }
  });

  it("refuses pinned maps of another size with an error that says what to do", () => {
    const pinRoot = join(bpffs, "resized");
    XdpProgram.load({ objectPath, pinRoot, ringEntries: 4096 }).close();
    assert.throws(
      () => XdpProgram.load({ objectPath, pinRoot, ringEntries: 8192 }),
      (e: unknown) =>
        e instanceof LodestoneError &&
        e.code === "XDP_LOAD_FAILED" &&
        /do not match this program/.test(e.message) &&
        /lodestone xdp unpin/.test(e.message) &&
        /couldn't reuse pinned map/.test(e.message),
    );
  });

  it("reports a verifier rejection with the end of the verifier log", () => {
    const broken = buildBpfObject(join(work, "broken", "lodestone.bpf.o"), "-DLS_VERIFIER_SELFTEST");
    assert.throws(
      () => XdpProgram.load({ objectPath: broken, pinRoot: join(bpffs, "broken") }),
      (e: unknown) =>
        e instanceof LodestoneError &&
        e.code === "XDP_LOAD_FAILED" &&
        /verifier log \(last \d+ of \d+ lines\)/.test(e.message) &&
        /invalid access to packet|invalid mem access/.test(e.message),
    );
  });

  it("names a missing object file", () => {
    assert.throws(
      () => XdpProgram.load({ objectPath: join(work, "nope.o"), pinRoot: join(bpffs, "x") }),
      (e: unknown) => e instanceof LodestoneError && e.code === "XDP_OBJECT_MISSING",
    );
  });
});

if (skip) it(`XDP loader tests skipped: ${skip}`, (t) => t.skip(skip));
