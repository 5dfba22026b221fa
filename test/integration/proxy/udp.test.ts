import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { once } from "node:events";
import { after, describe, it } from "node:test";
import { ProxyDataplane } from "../../../src/dataplane/proxy/dataplane.ts";
import { desiredFrontend, desiredState, type FrontendSpec } from "../../helpers/desired.ts";
import { freePort } from "../../helpers/ports.ts";
import { udpClient, udpEcho } from "../../helpers/proxy-peers.ts";
import { delay, waitFor } from "../../helpers/wait.ts";

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

async function echo(tag: string) {
  const peer = await udpEcho(tag);
  cleanups.push(() => peer.close());
  return peer;
}

async function newClient() {
  const c = await udpClient();
  cleanups.push(() => c.close());
  return c;
}

async function proxy(spec: Omit<FrontendSpec, "protocol">): Promise<{ dp: ProxyDataplane; port: number }> {
  const dp = new ProxyDataplane();
  cleanups.push(() => dp.stop(0));
  await dp.apply(desiredState([desiredFrontend({ ...spec, protocol: "udp" })]));
  return { dp, port: dp.address("fe")!.port };
}

describe("UDP proxy", () => {
  it("round-trips a datagram and the reply comes from the frontend's address", async () => {
    const backend = await echo("b:");
    const { dp, port } = await proxy({ backends: [{ name: "b", port: backend.port }] });
    const c = await newClient();
    const reply = await c.request("ping", port);
    assert.equal(reply.text, "b:ping");
    assert.equal(reply.address, "127.0.0.1");
    assert.equal(reply.port, port, "the reply's source port is the frontend's, not the backend's");
    assert.notEqual(backend.sources[0], `127.0.0.1:${c.port}`, "the backend sees the proxy, not the client");
    const stats = dp.stats().frontends.fe;
    assert.equal(stats.connectionsTotal, 1);
    assert.equal(stats.connectionsActive, 1);
    assert.equal(stats.bytesIn, 4);
    assert.equal(stats.bytesOut, 6);
    assert.equal(stats.backends.b.connectionsActive, 1);
  });

  it("carries empty and near-maximum datagrams unchanged", async () => {
    const got: number[] = [];
    const backend = createSocket("udp4");
    cleanups.push(() => void backend.close());
    backend.on("message", (msg, rinfo) => {
      got.push(msg.length);
      backend.send(msg, rinfo.port, rinfo.address);
    });
    backend.bind(0, "127.0.0.1");
    await once(backend, "listening");
    const { port } = await proxy({ backends: [{ name: "b", port: backend.address().port }] });
    const c = createSocket("udp4");
    cleanups.push(() => void c.close());
    c.on("error", () => {});
    for (const size of [0, 1, 60000]) {
      const payload = Buffer.alloc(size, size % 251);
      c.send(payload, port, "127.0.0.1");
      const [reply] = (await once(c, "message")) as [Buffer];
      assert.deepEqual(reply, payload, `${size}-byte datagram`);
    }
    assert.deepEqual(got, [0, 1, 60000]);
  });

  it("keeps a client's datagrams on one backend session", async () => {
    const a = await echo("a:");
    const b = await echo("b:");
    const { dp, port } = await proxy({
      algorithm: "round-robin",
      backends: [
        { name: "a", port: a.port },
        { name: "b", port: b.port },
      ],
    });
    const c1 = await newClient();
    const c2 = await newClient();
    const first1 = (await c1.request("1", port)).text.slice(0, 2);
    const first2 = (await c2.request("1", port)).text.slice(0, 2);
    assert.notEqual(first1, first2, "round-robin sends the two clients to different backends");
    for (let i = 0; i < 5; i++) {
      assert.equal((await c1.request(`x${i}`, port)).text.slice(0, 2), first1);
      assert.equal((await c2.request(`y${i}`, port)).text.slice(0, 2), first2);
    }
    assert.equal(dp.stats().frontends.fe.connectionsTotal, 2);
    assert.equal(new Set(a.sources).size + new Set(b.sources).size, 2, "one backend socket per session");
  });

  it("expires a session after sessionTimeout without traffic", async () => {
    const backend = await echo("");
    const { dp, port } = await proxy({
      backends: [{ name: "b", port: backend.port }],
      settings: { udp: { sessionTimeout: 400 } },
    });
    const c = await newClient();
    await c.request("hi", port);
    const lastReply = Date.now();
    assert.equal(dp.stats().frontends.fe.connectionsActive, 1);
    await delay(100);
    // (On a badly overloaded machine the delay may overshoot the timeout; then this check says nothing.)
    if (Date.now() - lastReply < 300) {
      assert.equal(dp.stats().frontends.fe.connectionsActive, 1, "not expired before the timeout");
    }
    await waitFor(() => dp.stats().frontends.fe.connectionsActive === 0, 1000, "session expiry");
    await c.request("again", port);
    assert.equal(dp.stats().frontends.fe.connectionsTotal, 2, "a new session after expiry");
    assert.equal(new Set(backend.sources).size, 2, "from a new backend-side socket");
  });

  it("drops new clients when maxSessions are open, and counts them", async () => {
    const backend = await echo("");
    const { dp, port } = await proxy({
      backends: [{ name: "b", port: backend.port }],
      settings: { udp: { maxSessions: 2 } },
    });
    const clients = [await newClient(), await newClient(), await newClient()];
    await clients[0].request("a", port);
    await clients[1].request("b", port);
    await assert.rejects(clients[2].request("c", port, 300), /no UDP reply/);
    assert.equal(dp.stats().frontends.fe.connectionsActive, 2);
    assert.equal(dp.stats().frontends.fe.rejected, 1, "the dropped datagram is counted");
    assert.equal((await clients[0].request("still", port)).text, "still", "existing sessions keep working");
  });

  it("closes a flushed backend's sessions and keeps a drained backend's", async () => {
    const a = await echo("a:");
    const b = await echo("b:");
    const fe = (wa: number, flush: boolean) => ({
      algorithm: "weighted-round-robin" as const,
      backends: [
        { name: "a", port: a.port, weight: wa, flush },
        { name: "b", port: b.port },
      ],
    });
    const { dp, port } = await proxy(fe(100, false));
    const c1 = await newClient();
    const c2 = await newClient();
    const r1 = await c1.request("1", port);
    await c2.request("1", port);
    const onA = r1.text.startsWith("a:") ? c1 : c2;
    assert.ok((await onA.request("x", port)).text.startsWith("a:"));
    // Drain: the session stays on a.
    await dp.apply(desiredState([desiredFrontend({ ...fe(0, false), protocol: "udp" })], 2));
    assert.equal((await onA.request("y", port)).text, "a:y");
    // Flush: the session is closed; the next datagram opens a new one on b.
    await dp.apply(desiredState([desiredFrontend({ ...fe(0, true), protocol: "udp" })], 3));
    assert.equal(dp.stats().frontends.fe.backends.a.connectionsActive, 0);
    assert.equal((await onA.request("z", port)).text, "b:z");
  });

  it("prepends a PROXY v2 dgram header to every datagram when asked", async () => {
    const got: Buffer[] = [];
    const backend = createSocket("udp4");
    cleanups.push(() => void backend.close());
    backend.on("message", (msg, rinfo) => {
      got.push(msg);
      backend.send("ack", rinfo.port, rinfo.address);
    });
    backend.bind(0, "127.0.0.1");
    await once(backend, "listening");
    const { port } = await proxy({
      backends: [{ name: "b", port: backend.address().port }],
      settings: { proxyProtocol: "v2" },
    });
    const c = await newClient();
    assert.equal((await c.request("one", port)).text, "ack", "the reply carries no header");
    await c.request("two", port);
    const header = Buffer.alloc(28);
    Buffer.from("0d0a0d0a000d0a515549540a2112000c7f0000017f000001", "hex").copy(header);
    header.writeUInt16BE(c.port, 24);
    header.writeUInt16BE(port, 26);
    assert.deepEqual(got, [
      Buffer.concat([header, Buffer.from("one")]),
      Buffer.concat([header, Buffer.from("two")]),
    ]);
  });

  it("drops datagrams when no backend has weight", async () => {
    const backend = await echo("");
    const { dp, port } = await proxy({ backends: [{ name: "b", port: backend.port, weight: 0 }] });
    const c = await newClient();
    await assert.rejects(c.request("x", port, 300), /no UDP reply/);
    assert.equal(dp.stats().frontends.fe.connectionsTotal, 0);
    assert.equal(dp.stats().frontends.fe.rejected, 1);
    assert.equal(backend.sources.length, 0);
  });

  it("ends a session whose backend port is closed and counts the error", async () => {
    const { dp, port } = await proxy({ backends: [{ name: "gone", port: await freePort() }] });
    const c = await newClient();
    await assert.rejects(c.request("x", port, 300), /no UDP reply/);
    await c.request("y", port, 300).catch(() => {});
    await waitFor(() => dp.stats().frontends.fe.connectErrors >= 1, 1000, "ICMP unreachable to be counted");
    assert.equal(dp.stats().frontends.fe.backends.gone.connectErrors, dp.stats().frontends.fe.connectErrors);
  });

  it("serves IPv6 clients on an IPv6 frontend", async (t) => {
    const probe = createSocket("udp6");
    probe.on("error", () => {});
    const v6 = await new Promise<boolean>((resolve) => {
      probe.once("error", () => resolve(false));
      probe.bind(0, "::1", () => resolve(true));
    });
    probe.close();
    if (!v6) {
      t.skip("no ::1 on this host");
      return;
    }
    const backend = await echo("six:");
    const dp = new ProxyDataplane();
    cleanups.push(() => dp.stop(0));
    await dp.apply(
      desiredState([
        desiredFrontend({
          protocol: "udp",
          listen: { host: "::1", port: 0 },
          backends: [{ name: "b", port: backend.port }],
        }),
      ]),
    );
    const port = dp.address("fe")!.port;
    const c = createSocket("udp6");
    cleanups.push(() => void c.close());
    c.on("error", () => {});
    c.send("hello", port, "::1");
    const [reply, rinfo] = (await once(c, "message")) as [Buffer, { address: string; port: number }];
    assert.equal(reply.toString(), "six:hello");
    assert.equal(rinfo.address, "::1");
    assert.equal(rinfo.port, port);
  });
});
