// `lodestone xdp check | status | unpin`, driven through commander in-process.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Command } from "commander";
import { register } from "../../../src/cli/commands/xdp.ts";
import { ensureBpfObject } from "../../../src/dataplane/xdp/build.ts";
import {
  encodeReal,
  encodeU32,
  encodeVipKey,
  encodeVipMeta,
  LS_REAL_ACTIVE,
} from "../../../src/dataplane/xdp/layout.ts";
import { XdpProgram } from "../../../src/dataplane/xdp/loader.ts";
import { mountBpffs, skipReason, unmountBpffs } from "./netns.ts";

const skip = skipReason();

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const program = new Command().exitOverride();
  register(
    program,
    (s) => {
      out += s;
    },
    (s) => {
      err += s;
    },
  );
  process.exitCode = 0;
  await program.parseAsync(["node", "lodestone", "xdp", ...args]);
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { code, out, err };
}

describe("lodestone xdp", { skip: skip ?? false }, () => {
  let work = "";
  let bpffs = "";

  before(() => {
    ensureBpfObject();
    work = mkdtempSync(join(tmpdir(), `ls-xdp-${process.pid}-cli-`));
    bpffs = join(work, "bpffs");
    mountBpffs(bpffs);
  });

  after(() => {
    if (bpffs) unmountBpffs(bpffs);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("check: runs the program through the verifier without pinning anything", async () => {
    const r = await run(["check"]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /accepted by the verifier/);
  });

  it("status: says plainly when nothing is pinned", async () => {
    const r = await run(["status", "--pin-root", join(bpffs, "nothing")]);
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /^lodestone xdp status: no pinned map at .*is lodestone's XDP dataplane running\?\)\n$/,
    );
  });

  it("status: shows VIPs, backends and counters from the pinned maps; unpin removes them", async () => {
    const pinRoot = join(bpffs, "lodestone");
    const p = XdpProgram.load({ objectPath: ensureBpfObject(), pinRoot, ringEntries: 4096 });
    p.maps.vips.update(
      encodeVipKey({ address: "fd00:77:1::1", port: 443, proto: "tcp" }),
      encodeVipMeta({
        flags: 0,
        vipId: 0,
        ringOffset: 0,
        ringSize: 7,
        natAddress: null,
        natPortMin: 0,
        natPortMax: 0,
      }),
    );
    p.maps.reals.update(
      encodeU32(5),
      encodeReal({
        address: "fd00:77::11",
        port: 443,
        flags: LS_REAL_ACTIVE,
        mac: "02:00:00:00:00:11",
        srcMac: "02:00:00:00:00:02",
        ifindex: 2,
        vipId: 0,
      }),
    );
    p.close();

    const text = await run(["status", "--pin-root", pinRoot]);
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /\[fd00:77:1::1\]:443\/tcp {2}dsr {2}hash 5-tuple {2}ring 7/);
    assert.match(text.out, /- fd00:77::11:443 02:00:00:00:00:11 {2}flows 0/);

    const json = await run(["status", "--pin-root", pinRoot, "--json"]);
    const s = JSON.parse(json.out);
    assert.equal(s.vips.length, 1);
    assert.equal(s.vips[0].backends[0].slot, 5);
    assert.equal(s.vips[0].stats.packets, 0);

    const u = await run(["unpin", "--pin-root", pinRoot]);
    assert.equal(u.code, 0);
    assert.equal(existsSync(join(pinRoot, "vips")), false);
  });

  it("detach: names an interface that does not exist", async () => {
    const r = await run(["detach", "ls-no-such-if"]);
    assert.equal(r.code, 1);
    assert.match(r.err, /no network interface named ls-no-such-if/);
  });
});

if (skip) it(`lodestone xdp tests skipped: ${skip}`, (t) => t.skip(skip));
