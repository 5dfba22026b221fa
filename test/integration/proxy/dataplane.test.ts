import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { ProxyDataplane } from "../../../src/dataplane/proxy/dataplane.ts";
import { desiredFrontend, desiredState, type FrontendSpec } from "../../helpers/desired.ts";
import { freePort } from "../../helpers/ports.ts";
import {
  closed,
  connectTo,
  namedServer,
  proxyRig,
  readBytes,
  readLine,
  tcpServer,
} from "../../helpers/proxy-peers.ts";
import { delay } from "../../helpers/wait.ts";

const rig = proxyRig();
after(() => rig.close());
const { defer, peer, dataplane } = rig;

async function refused(port: number): Promise<boolean> {
  try {
    const s = await connectTo(port);
    s.destroy();
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ECONNREFUSED";
  }
}

describe("ProxyDataplane.apply", () => {
  it("rejects a protocol without a listener with PROTOCOL_UNSUPPORTED and still starts the others", async () => {
    const echo = await peer(tcpServer());
    const dp = dataplane();
    const state = desiredState([
      desiredFrontend({
        name: "web",
        protocol: "sctp" as "tcp",
        backends: [{ name: "echo", port: echo.port }],
      }),
      desiredFrontend({ name: "raw", backends: [{ name: "echo", port: echo.port }] }),
    ]);
    await assert.rejects(dp.apply(state), { code: "PROTOCOL_UNSUPPORTED", message: /frontend "web"/ });
    assert.deepEqual(dp.frontends(), ["raw"]);
    const s = await connectTo(dp.address("raw")!.port);
    s.write("ok");
    assert.equal((await readBytes(s, 2)).toString(), "ok");
    s.destroy();
  });

  it("reports a taken port as LISTEN_FAILED and binds it on a later apply once free", async () => {
    const echo = await peer(tcpServer());
    const squatter = await peer(tcpServer());
    const dp = dataplane();
    const state = desiredState([
      desiredFrontend({
        listen: { host: "127.0.0.1", port: squatter.port },
        backends: [{ name: "echo", port: echo.port }],
      }),
    ]);
    await assert.rejects(dp.apply(state), { code: "LISTEN_FAILED", message: /EADDRINUSE/ });
    assert.deepEqual(dp.frontends(), []);
    await squatter.close();
    await dp.apply(state);
    assert.equal(dp.address("fe")!.port, squatter.port);
  });

  it("is idempotent: the same state twice keeps the listener and its connections", async () => {
    const a = await peer(namedServer("a"));
    const dp = dataplane();
    const state = desiredState([desiredFrontend({ backends: [{ name: "a", port: a.port }] })]);
    await dp.apply(state);
    const port = dp.address("fe")!.port;
    const held = await connectTo(port);
    defer(() => void held.destroy());
    assert.equal(await readLine(held), "a");
    await dp.apply(state);
    assert.equal(dp.address("fe")!.port, port);
    held.write("same");
    assert.equal((await readBytes(held, 4)).toString(), "same");
    assert.equal(dp.stats().frontends.fe.connectionsTotal, 1);
  });

  it("replaces a frontend whose listen address changed; the old port stops accepting", async () => {
    const a = await peer(namedServer("a"));
    const dp = dataplane();
    const spec = (port: number): FrontendSpec => ({
      listen: { host: "127.0.0.1", port },
      backends: [{ name: "a", port: a.port }],
    });
    const first = await freePort();
    await dp.apply(desiredState([desiredFrontend(spec(first))]));
    const held = await connectTo(first);
    defer(() => void held.destroy());
    assert.equal(await readLine(held), "a");
    const second = await freePort();
    await dp.apply(desiredState([desiredFrontend(spec(second))], 2));
    assert.ok(await refused(first), "the old address no longer accepts");
    const s = await connectTo(second);
    assert.equal(await readLine(s), "a");
    s.destroy();
    held.write("drain");
    assert.equal((await readBytes(held, 5)).toString(), "drain", "the old listener's connection drains");
  });

  it("removes a vanished frontend: port closed, open connections drain until drainTimeout", async () => {
    const a = await peer(namedServer("a"));
    const dp = dataplane(300);
    await dp.apply(desiredState([desiredFrontend({ backends: [{ name: "a", port: a.port }] })]));
    const port = dp.address("fe")!.port;
    const held = await connectTo(port);
    assert.equal(await readLine(held), "a");
    await dp.apply(desiredState([], 2));
    assert.deepEqual(dp.frontends(), []);
    assert.ok(await refused(port));
    held.write("x");
    assert.equal((await readBytes(held, 1)).toString(), "x", "still served while draining");
    await closed(held, 2000);
  });

  it("serializes concurrent applies: the last one wins", async () => {
    const a = await peer(namedServer("a"));
    const b = await peer(namedServer("b"));
    const dp = dataplane();
    const p1 = dp.apply(desiredState([desiredFrontend({ backends: [{ name: "a", port: a.port }] })], 1));
    const p2 = dp.apply(desiredState([desiredFrontend({ backends: [{ name: "b", port: b.port }] })], 2));
    await Promise.all([p1, p2]);
    const s = await connectTo(dp.address("fe")!.port);
    assert.equal(await readLine(s), "b");
    s.destroy();
  });

  it("switches a frontend from tcp to udp on the same port", async () => {
    const a = await peer(namedServer("a"));
    const dp = dataplane();
    const port = await freePort();
    await dp.apply(
      desiredState([
        desiredFrontend({ listen: { host: "127.0.0.1", port }, backends: [{ name: "a", port: a.port }] }),
      ]),
    );
    await dp.apply(
      desiredState(
        [
          desiredFrontend({
            protocol: "udp",
            listen: { host: "127.0.0.1", port },
            backends: [{ name: "a", port: a.port }],
          }),
        ],
        2,
      ),
    );
    assert.ok(await refused(port), "tcp is gone");
    assert.equal(dp.address("fe")!.port, port);
  });
});

describe("ProxyDataplane.stop", () => {
  it("waits for open connections to finish within drainTimeout", async () => {
    const echo = await peer(tcpServer());
    const dp = new ProxyDataplane();
    await dp.apply(desiredState([desiredFrontend({ backends: [{ name: "echo", port: echo.port }] })]));
    const port = dp.address("fe")!.port;
    const held = await connectTo(port);
    held.write("x");
    await readBytes(held, 1);
    let stopped = false;
    const stopping = dp.stop(5000).then(() => {
      stopped = true;
    });
    await delay(100);
    assert.equal(stopped, false, "stop waits for the open connection");
    assert.ok(await refused(port), "no new connections while draining");
    held.end();
    await stopping;
    assert.equal(stopped, true);
    await assert.rejects(dp.apply(desiredState([])), { code: "DATAPLANE_STOPPED" });
  });

  it("closes what is still open when drainTimeout passes", async () => {
    const echo = await peer(tcpServer());
    const dp = new ProxyDataplane();
    await dp.apply(desiredState([desiredFrontend({ backends: [{ name: "echo", port: echo.port }] })]));
    const held = await connectTo(dp.address("fe")!.port);
    held.write("x");
    await readBytes(held, 1);
    const started = Date.now();
    await dp.stop(200);
    const took = Date.now() - started;
    assert.ok(took >= 150 && took < 2000, `stop took ${took}ms`);
    await closed(held, 1000);
  });
});
