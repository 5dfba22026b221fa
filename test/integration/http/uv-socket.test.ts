// UvSocket: the net.Socket surface an L7 client connection uses, over a libuv handle.
// Driven from real net clients on loopback; each test pins one part of the contract
// ClientConnection relies on.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { connect, createServer, type Socket } from "node:net";
import { after, describe, it } from "node:test";
import { UvSocket } from "../../../src/dataplane/proxy/http/uv-socket.ts";
import { TcpServer } from "../../../src/dataplane/proxy/uv-tcp.ts";
import { readBytes } from "../../helpers/proxy-peers.ts";
import { delay, waitFor } from "../../helpers/wait.ts";

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A UvSocket for the server side of a fresh loopback connection, and its net client. */
async function pair(): Promise<{ uv: UvSocket; client: Socket }> {
  let take!: (s: UvSocket) => void;
  const accepted = new Promise<UvSocket>((r) => {
    take = r;
  });
  const server = TcpServer.listen(
    "127.0.0.1",
    0,
    {},
    (stream) => take(new UvSocket(stream)),
    () => {},
  );
  const port = server.address()!.port;
  const client = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
  client.on("error", () => {});
  const uv = await accepted;
  uv.on("error", () => {});
  cleanups.push(() => {
    uv.destroy();
    client.destroy();
    server.close();
  });
  return { uv, client };
}

/** Everything a UvSocket emits as 'data', concatenated. */
function collect(uv: UvSocket): { text(): string; chunks: Buffer[] } {
  const chunks: Buffer[] = [];
  uv.on("data", (c: Buffer) => chunks.push(c));
  return { chunks, text: () => Buffer.concat(chunks).toString() };
}

describe("UvSocket", () => {
  it("emits data chunks the listener may keep: each read is its own copy", async () => {
    const { uv, client } = await pair();
    const got = collect(uv);
    client.write("first");
    await waitFor(() => got.chunks.length === 1 || undefined);
    client.write("second");
    await waitFor(() => got.chunks.length === 2 || undefined);
    assert.equal(got.chunks[0].toString(), "first", "the first chunk was not overwritten by the second read");
    assert.equal(got.chunks[1].toString(), "second");
    assert.equal(uv.remoteAddress, "127.0.0.1");
    assert.equal(uv.remotePort, client.localPort);
    assert.equal(uv.bytesRead, 11);
  });

  it("holds data while paused, delivers it on resume, and reports a FIN behind it after it", async () => {
    const { uv, client } = await pair();
    const got = collect(uv);
    let ended = false;
    uv.on("end", () => {
      ended = true;
    });
    uv.pause();
    assert.equal(uv.isPaused(), true);
    client.end("held bytes");
    await delay(100);
    assert.equal(got.chunks.length, 0, "no data while paused");
    assert.equal(ended, false, "the FIN waits behind the held bytes");
    uv.resume();
    await waitFor(() => ended || undefined);
    assert.equal(got.text(), "held bytes");
  });

  it("reports a FIN while paused when nothing is held (as net.Socket does)", async () => {
    const { uv, client } = await pair();
    collect(uv);
    const ended = once(uv, "end");
    uv.pause();
    client.end();
    await ended;
  });

  it("writes strings as latin1 and buffers, corked writes as one, and counts bytes", async () => {
    const { uv, client } = await pair();
    uv.cork();
    assert.equal(uv.write("HTTP/1.1 200 OK\r\n\r\n", "latin1"), true);
    uv.write(Buffer.from("body\xff", "latin1"));
    assert.ok(uv.writableLength > 0, "corked chunks count as not yet written");
    uv.uncork();
    assert.equal(uv.writableLength, 0);
    const got = await readBytes(client, 24);
    assert.equal(got.toString("latin1"), "HTTP/1.1 200 OK\r\n\r\nbody\xff");
    assert.equal(uv.bytesWritten, 24);
  });

  it("returns false from a write that had to be queued and emits drain once it is out", async () => {
    const { uv, client } = await pair();
    client.pause();
    const big = randomBytes(8 * 1024 * 1024);
    let flowing = true;
    for (let off = 0; off < big.length && flowing; off += 256 * 1024) {
      flowing = uv.write(big.subarray(off, off + 256 * 1024));
    }
    assert.equal(flowing, false, "8 MiB to a paused reader must back up");
    const drained = once(uv, "drain");
    client.resume();
    client.on("data", () => {});
    await drained;
    assert.equal(uv.writableLength, 0);
  });

  it("end() sends the FIN after the data; close follows the peer's FIN", async () => {
    const { uv, client } = await pair();
    collect(uv);
    const closed = once(uv, "close");
    uv.end("bye");
    assert.equal((await readBytes(client, 3)).toString(), "bye");
    await once(client, "end");
    client.end();
    await closed;
    assert.equal(uv.destroyed, true);
  });

  it("emits timeout after the idle time with no bytes either way, not while bytes flow", async () => {
    const { uv, client } = await pair();
    collect(uv);
    let timeouts = 0;
    uv.on("timeout", () => {
      timeouts++;
    });
    // Wide margins: a loaded CI machine may stall this process for a while.
    uv.setTimeout(400);
    for (let i = 0; i < 10; i++) {
      client.write("x");
      await delay(50);
    }
    assert.equal(timeouts, 0, "traffic every 50 ms keeps a 400 ms timeout away");
    await waitFor(() => timeouts > 0 || undefined, 3000);
    uv.setTimeout(0);
  });

  it("destroy() closes the connection, emits close once, and the peer sees its FIN", async () => {
    const { uv, client } = await pair();
    let closes = 0;
    uv.on("close", () => {
      closes++;
    });
    const clientSawEnd = once(client, "end");
    uv.destroy();
    uv.destroy();
    await clientSawEnd;
    await delay(20);
    assert.equal(closes, 1);
  });

  it("keeps two client connections' chunks apart although their reads share one buffer", async () => {
    const a = await pair();
    const b = await pair();
    const gotA = collect(a.uv);
    const gotB = collect(b.uv);
    for (let i = 0; i < 5; i++) {
      a.client.write(`a${i};`);
      await waitFor(() => gotA.chunks.length > i || undefined);
      b.client.write(`b${i};`);
      await waitFor(() => gotB.chunks.length > i || undefined);
    }
    assert.equal(gotA.text(), "a0;a1;a2;a3;a4;");
    assert.equal(gotB.text(), "b0;b1;b2;b3;b4;");
  });

  describe("as a backend connection (connect)", () => {
    /** A backend on 127.0.0.1:0 whose connections go to `onConnection`, and a UvSocket connecting to it. */
    async function toBackend(onConnection: (s: Socket) => void): Promise<UvSocket> {
      const server = createServer({ allowHalfOpen: true }, (s) => {
        s.on("error", () => {});
        onConnection(s);
      });
      server.listen(0, "127.0.0.1");
      await once(server, "listening");
      cleanups.push(() => server.close());
      const uv = UvSocket.connect("127.0.0.1", (server.address() as { port: number }).port);
      uv.on("error", () => {});
      cleanups.push(() => uv.destroy());
      return uv;
    }

    it("connects, reads views of its buffer, and a kept chunk is not overwritten by the next read", async () => {
      let serverSide!: Socket;
      const uv = await toBackend((s) => {
        serverSide = s;
      });
      await once(uv, "connect");
      const kept: Buffer[] = [];
      uv.on("data", (chunk: Buffer) => {
        kept.push(chunk);
        uv.keepChunk();
      });
      await waitFor(() => serverSide || undefined);
      serverSide.write("first");
      await waitFor(() => kept.length === 1 || undefined);
      serverSide.write("second");
      await waitFor(() => kept.length === 2 || undefined);
      assert.equal(kept[0].toString(), "first", "a kept chunk keeps its bytes");
      assert.equal(kept[1].toString(), "second");
    });

    it("answers the backend's FIN with its own and closes", async () => {
      const uv = await toBackend((s) => s.end("bye"));
      const got = collect(uv);
      await once(uv, "close");
      assert.equal(got.text(), "bye");
      assert.equal(uv.destroyed, true);
    });

    it("reports a refused connect as an error, then close", async () => {
      const server = createServer();
      server.listen(0, "127.0.0.1");
      await once(server, "listening");
      const port = (server.address() as { port: number }).port;
      await new Promise<void>((r) => server.close(() => r()));
      const uv = UvSocket.connect("127.0.0.1", port);
      const error = once(uv, "error");
      // not once(): it rejects on the 'error' that comes first
      const closed = new Promise((r) => uv.on("close", r));
      const [err] = (await error) as [NodeJS.ErrnoException];
      assert.equal(err.code, "ECONNREFUSED");
      await closed;
    });
  });
});
