// The TCP proxy's hand-written relay and its idle sweep: what replaced pipe() and
// socket.setTimeout must keep their contracts (whole replies after both FINs,
// idleness judged on bytes in either direction).
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { after, describe, it } from "node:test";
import { desiredFrontend, desiredState, type FrontendSpec } from "../../helpers/desired.ts";
import { closed, proxyRig, readBytes, tcpServer } from "../../helpers/proxy-peers.ts";
import { delay, waitFor } from "../../helpers/wait.ts";

const rig = proxyRig();
after(() => rig.close());
const { peer, proxy, client } = rig;

/** Everything a socket receives until it ends. */
function readAll(s: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on("data", (d: Buffer) => chunks.push(d));
  return closed(s, 5000).then(() => Buffer.concat(chunks));
}

describe("TCP proxy relay", () => {
  for (const size of [1, 64 * 1024, 8 * 1024 * 1024 + 1000]) {
    it(`delivers a whole ${size}-byte reply when the client's FIN comes first and the backend closes right after writing`, async () => {
      const reply = Buffer.alloc(size);
      for (let i = 0; i < size; i++) reply[i] = i % 251;
      // The backend answers the client's FIN with the reply and its own FIN at once.
      const backend = await peer(tcpServer((socket) => socket.on("end", () => socket.end(reply))));
      const { dp, port } = await proxy({ backends: [{ name: "b", port: backend.port }] });
      for (let round = 0; round < 3; round++) {
        const s = await client(port);
        // A client slow to start reading makes the proxy hold part of the reply in its
        // own buffer when the backend's FIN arrives: that part must still go out.
        s.pause();
        const got = readAll(s);
        s.end("request");
        await delay(150);
        s.resume();
        const body = await got;
        assert.equal(body.length, size, `round ${round}: every byte arrived`);
        assert.ok(body.equals(reply), `round ${round}: the bytes are intact`);
      }
      await waitFor(() => dp.stats().frontends.fe.connectionsActive === 0, 3000, "connections to finish");
      assert.equal(dp.stats().frontends.fe.bytesOut, 3 * size);
    });
  }

  it("comes out of a storm of mixed endings with no connection and no descriptor left", async () => {
    // The backend does what the first byte asks: echo, reset, close at once, or answer
    // and end. Clients end normally, half-close first, reset, or leave without a byte.
    const backend = await peer(
      tcpServer((socket) => {
        socket.on("end", () => socket.end());
        socket.once("data", (d: Buffer) => {
          const ask = String.fromCharCode(d[0]);
          if (ask === "r") socket.resetAndDestroy();
          else if (ask === "c") socket.destroy();
          else if (ask === "h") socket.end(d);
          else socket.write(d);
        });
      }),
    );
    const { dp, port } = await proxy({
      backends: [{ name: "b", port: backend.port }],
      settings: { idleTimeout: 5000 },
    });
    const warm = await client(port);
    warm.write("e");
    await readBytes(warm, 1);
    warm.destroy();
    await waitFor(() => dp.stats().frontends.fe.connectionsActive === 0, 3000, "warm-up to end");
    const descriptors = () => readdirSync("/proc/self/fd").length;
    const before = descriptors();
    const one = (i: number): Promise<void> =>
      new Promise((resolve) => {
        const s = connect({ host: "127.0.0.1", port, allowHalfOpen: i % 5 === 1 });
        s.on("error", () => {});
        s.on("close", () => resolve());
        s.on("data", () => {});
        const ask = "erch"[i % 4];
        s.once("connect", () => {
          switch (i % 5) {
            case 0: // ask, then leave once answered (or cut off)
              s.write(`${ask}payload`);
              s.once("data", () => s.end());
              s.once("end", () => s.end());
              break;
            case 1: // half-close first, then wait for the backend's end
              s.end(`${ask}payload`);
              break;
            case 2: // ask, then reset
              s.write(`${ask}payload`, () => s.resetAndDestroy());
              break;
            case 3: // leave without a byte
              s.end();
              break;
            default: // a burst, and leave once answered
              s.write(Buffer.alloc(200_000, ask));
              s.once("data", () => s.end());
              s.once("end", () => s.end());
          }
        });
      });
    for (let batch = 0; batch < 6; batch++) {
      await Promise.all(Array.from({ length: 50 }, (_, k) => one(batch * 50 + k)));
    }
    await waitFor(() => dp.stats().frontends.fe.connectionsActive === 0, 5000, "every connection to end");
    await waitFor(() => descriptors() <= before || undefined, 5000, "descriptors back to where they were");
    const s = await client(port);
    s.write("ealive");
    assert.equal((await readBytes(s, 6)).toString(), "ealive");
  });

  it("delivers the client's bytes to a backend that sent its FIN first", async () => {
    let got: Promise<Buffer> | null = null;
    const backend = await peer(
      tcpServer((socket) => {
        const chunks: Buffer[] = [];
        socket.on("data", (d: Buffer) => chunks.push(d));
        got = new Promise((resolve) => socket.on("end", () => resolve(Buffer.concat(chunks))));
        socket.end("bye");
      }),
    );
    const { port } = await proxy({ backends: [{ name: "b", port: backend.port }] });
    const s = await client(port);
    assert.equal((await readBytes(s, 3)).toString(), "bye");
    const upload = Buffer.alloc(2 * 1024 * 1024, 9);
    s.end(upload);
    await waitFor(() => got !== null, 3000, "the backend to see the connection");
    const received = await got!;
    assert.equal(received.length, upload.length);
    await closed(s);
  });

  it("counts idleness from the update when an idleTimeout is set on a running listener", async () => {
    const backend = await peer(tcpServer());
    const spec: FrontendSpec = {
      backends: [{ name: "b", port: backend.port }],
      settings: { idleTimeout: 0 },
    };
    const { dp, port } = await proxy(spec);
    const s = await client(port);
    s.write("x");
    assert.equal((await readBytes(s, 1)).toString(), "x");
    await delay(500); // silent, with no timeout configured
    const updated = Date.now();
    await dp.apply(desiredState([desiredFrontend({ ...spec, settings: { idleTimeout: 300 } })], 2));
    await closed(s, 3000);
    const after = Date.now() - updated;
    assert.ok(after >= 250, `closed ${after}ms after the update, not at the first sweep`);
  });

  it("keeps a connection whose only traffic comes from the backend open past idleTimeout", async () => {
    let talker: Socket | null = null;
    const backend = await peer(
      tcpServer((socket) => {
        talker = socket;
      }),
    );
    const { port } = await proxy({
      backends: [{ name: "b", port: backend.port }],
      settings: { idleTimeout: 300 },
    });
    const s = await client(port);
    let received = 0;
    s.on("data", (d: Buffer) => {
      received += d.length;
    });
    await waitFor(() => talker !== null, 3000, "backend connection");
    const started = Date.now();
    while (Date.now() - started < 900) {
      talker!.write("t");
      await delay(50);
    }
    assert.equal(s.destroyed, false, "open after three idle timeouts of backend-only traffic");
    assert.ok(received > 5, `the client received the backend's bytes (${received})`);
    // Silence: now it goes, not before the timeout.
    const silentFrom = Date.now();
    await closed(s, 3000);
    const after = Date.now() - silentFrom;
    assert.ok(after >= 250, `closed ${after}ms after the last byte, not before idleTimeout`);
  });
});
