import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { verifierSummary } from "../../../src/dataplane/xdp/loader.ts";

describe("verifierSummary: what a rejected program tells the operator", () => {
  it("keeps the end of the verifier log, where the rejected instruction and the reason are", () => {
    const body = Array.from({ length: 100 }, (_, i) => `${i}: (61) r1 = *(u32 *)(r2 +0)`);
    const lines = [
      "libbpf: prog 'lodestone_xdp': BPF program load failed: Permission denied",
      "libbpf: prog 'lodestone_xdp': -- BEGIN PROG LOAD LOG --",
      ...body,
      "invalid access to packet, off=0 size=4, R2(id=0,off=0,r=0)",
      "libbpf: prog 'lodestone_xdp': -- END PROG LOAD LOG --",
      "libbpf: failed to load object",
    ];
    const s = verifierSummary(lines);
    assert.match(s, /verifier log \(last 30 of 101 lines\)/);
    assert.match(s, /invalid access to packet/);
    assert.match(s, /99: \(61\)/);
    assert.doesNotMatch(s, /^0: /m);
  });

  it("without a verifier log, shows libbpf's warnings", () => {
    const s = verifierSummary(["libbpf: debug noise"], ["libbpf: couldn't reuse pinned map at '/x/ring'"]);
    assert.match(s, /couldn't reuse pinned map/);
    assert.doesNotMatch(s, /debug noise/);
  });
});
