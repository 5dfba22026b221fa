import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FrontendConfig } from "../../../src/config/types.ts";
import { XdpDataplane } from "../../../src/dataplane/xdp/dataplane.ts";
import { frontend } from "../../integration/xdp/desired.ts";

const backends = [{ name: "a", address: "10.0.0.11", port: 80 }];

describe("XdpDataplane: which frontends it programs", () => {
  it("takes a frontend named in its options", () => {
    const dp = new XdpDataplane({ frontends: { web: { interface: "eth0", mode: "dsr" } } });
    assert.deepEqual(dp.optionsFor(frontend("web", "tcp", "10.0.1.1", 80, backends)), {
      interface: "eth0",
      mode: "dsr",
    });
    assert.equal(dp.optionsFor(frontend("other", "tcp", "10.0.1.1", 81, backends)), null);
  });

  it("takes a frontend whose settings say dataplane xdp and carry an xdp block", () => {
    const f = frontend("web", "tcp", "10.0.1.1", 80, backends);
    f.settings = {
      ...f.settings,
      dataplane: "xdp",
      xdp: { interface: "eth1", mode: "nat", natAddress: "10.0.0.2" },
    } as unknown as FrontendConfig;
    assert.deepEqual(new XdpDataplane().optionsFor(f), {
      interface: "eth1",
      mode: "nat",
      natAddress: "10.0.0.2",
    });
  });

  it("leaves proxy frontends alone", () => {
    assert.equal(new XdpDataplane().optionsFor(frontend("web", "tcp", "10.0.1.1", 80, backends)), null);
  });

  it("with no XDP frontend, applies without loading anything and reports empty stats", async () => {
    const dp = new XdpDataplane({ objectPath: "/nonexistent/lodestone.bpf.o" });
    await dp.apply({ version: 1, frontends: { web: frontend("web", "tcp", "10.0.1.1", 80, backends) } });
    assert.deepEqual(dp.stats(), { frontends: {} });
    assert.deepEqual(dp.attachments(), []);
    await dp.stop(0);
  });

  it("after stop, refuses to apply with XDP_STOPPED", async () => {
    const dp = new XdpDataplane();
    await dp.stop(0);
    await assert.rejects(dp.apply({ version: 1, frontends: {} }), { code: "XDP_STOPPED" });
  });
});

describe("XdpDataplane: bad settings", () => {
  it("refuses an XDP frontend it cannot run before loading anything", async () => {
    const dp = new XdpDataplane({
      objectPath: "/nonexistent/lodestone.bpf.o",
      frontends: { web: { interface: "eth0", mode: "nat" } },
    });
    await assert.rejects(
      dp.apply({ version: 1, frontends: { web: frontend("web", "tcp", "10.0.1.1", 80, backends) } }),
      (e: Error & { code?: string }) => e.code === "XDP_BAD_OPTIONS" && /nat address/.test(e.message),
    );
    await dp.stop(0);
  });
});
