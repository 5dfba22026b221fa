// The libuv-handle sockets L7's cleartext connections run on (src/dataplane/proxy/uv-tcp.ts), driven
// against real net sockets on loopback. They use Node's internal bindings: these tests
// are what says a Node update changed them.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { after, describe, it } from "node:test";
import { assertUvTcp, connectTcp, TcpServer, type TcpStream } from "../../../src/dataplane/proxy/uv-tcp.ts";
import { connectTo, readBytes, tcpServer } from "../../helpers/proxy-peers.ts";
import { noDelay, recorder } from "../../helpers/stream-recorder.ts";
import { waitFor } from "../../helpers/wait.ts";

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A listening TcpServer on 127.0.0.1:0 whose accepted streams are handed to `take`. */
function server(take: (s: TcpStream) => void): { server: TcpServer; port: number } {
  const srv = TcpServer.listen("127.0.0.1", 0, {}, take, () => {});
  cleanups.push(() => srv.close());
  const address = srv.address();
  assert.ok(address !== null);
  return { server: srv, port: address.port };
}

function accepted(): { port: number; next: Promise<TcpStream> } {
  let resolve!: (s: TcpStream) => void;
  const next = new Promise<TcpStream>((r) => {
    resolve = r;
  });
  const { port } = server((s) => {
    cleanups.push(() => s.close());
    resolve(s);
  });
  return { port, next };
}

/**
 * A loopback connection: a net client and the TcpStream that accepted it, with
 * recording events; reading started unless `reading` is false.
 */
async function connected(reading = true): Promise<{
  client: Socket;
  stream: TcpStream;
  events: ReturnType<typeof recorder>;
}> {
  const { port, next } = accepted();
  const client = await connectTo(port);
  cleanups.push(() => client.destroy());
  const stream = await next;
  const events = recorder();
  stream.setEvents(events);
  if (reading) stream.resume();
  return { client, stream, events };
}

/** As connected(), with a client that stays open for writing after the stream's FIN. */
async function connectedHalfOpen(): Promise<{
  client: Socket;
  stream: TcpStream;
  events: ReturnType<typeof recorder>;
}> {
  const { port, next } = accepted();
  const client = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
  client.on("error", () => {});
  cleanups.push(() => client.destroy());
  const stream = await next;
  const events = recorder();
  stream.setEvents(events);
  stream.resume();
  return { client, stream, events };
}

describe("uv-tcp sockets", () => {
  it("finds the internal bindings it needs on this Node runtime", () => {
    assert.doesNotThrow(() => assertUvTcp());
  });

  it("accepts, reads what a client sends, writes back and counts both ways", async () => {
    const { client, stream, events } = await connected();
    client.write("hello");
    await waitFor(() => Buffer.concat(events.data).toString() === "hello" || undefined);
    assert.equal(stream.write(Buffer.from("world")), true, "a small write goes straight to the kernel");
    assert.equal((await readBytes(client, 5)).toString(), "world");
    assert.equal(stream.bytesRead, 5);
    assert.equal(stream.bytesWritten, 5);
    const peer = stream.peer();
    assert.equal(peer?.address, "127.0.0.1");
    assert.equal(peer?.port, client.localPort);
    assert.equal(stream.local()?.port, client.remotePort);
  });

  it("delivers a megabyte intact across reads (the read buffer grows from 4 KiB)", async () => {
    const { client, events } = await connected();
    const payload = randomBytes(1024 * 1024);
    client.end(payload);
    await waitFor(() => events.ended || undefined, 5000);
    assert.ok(Buffer.concat(events.data).equals(payload));
    assert.ok(
      events.data.some((d) => d.length > 4096),
      "some reads were bigger than the first buffer",
    );
  });

  it("queues a write the peer cannot take, reports drain, and loses no byte", async () => {
    const { client, stream, events } = await connected(false);
    client.pause();
    const payload = randomBytes(16 * 1024 * 1024);
    let queued = false;
    for (let off = 0; off < payload.length; off += 64 * 1024) {
      if (!stream.write(payload.subarray(off, off + 64 * 1024))) queued = true;
    }
    assert.ok(queued, "16 MiB to a paused reader cannot all reach the kernel at once");
    assert.ok(stream.pendingWrites > 0);
    client.resume();
    const got = await readBytes(client, payload.length, 10_000);
    assert.ok(got.equals(payload));
    await waitFor(() => events.drains > 0 || undefined);
    assert.equal(stream.pendingWrites, 0);
  });

  it("reads nothing while paused and resumes where it left off", async () => {
    const { client, stream, events } = await connected(false);
    client.write("before");
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(events.data.length, 0, "not reading until resume()");
    stream.resume();
    await waitFor(() => events.data.length > 0 || undefined);
    stream.pause();
    client.write("after");
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(Buffer.concat(events.data).toString(), "before");
    stream.resume();
    await waitFor(() => Buffer.concat(events.data).toString() === "beforeafter" || undefined);
  });

  it("half-closes: shutdown() sends our FIN and the peer can still talk; the peer's FIN is onEnd", async () => {
    const { client, stream, events } = await connectedHalfOpen();
    let shutdownDone = false;
    stream.write(Buffer.from("bye"));
    stream.shutdown(() => {
      shutdownDone = true;
    });
    const clientEnded = once(client, "end");
    assert.equal((await readBytes(client, 3)).toString(), "bye");
    await clientEnded;
    await waitFor(() => shutdownDone || undefined);
    client.end("late reply");
    await waitFor(() => events.ended || undefined);
    assert.equal(Buffer.concat(events.data).toString(), "late reply");
  });

  it("has Nagle off on accepted sockets (inherited from the listener) and on connected ones", async () => {
    const { stream } = await connected();
    assert.ok(stream.fd >= 0);
    assert.equal(noDelay(stream.fd), true, "accepted socket");
    const peer = await tcpServer();
    cleanups.push(() => peer.close());
    const out = await new Promise<TcpStream>((resolve, reject) => {
      const s: TcpStream = connectTcp("127.0.0.1", peer.port, recorder(), (err) =>
        err ? reject(err) : resolve(s),
      );
    });
    cleanups.push(() => out.close());
    assert.equal(noDelay(out.fd), true, "connected socket");
    out.close();
    assert.equal(out.fd, -1);
  });

  it("refuses a write after shutdown() with EPIPE", async () => {
    const { client, stream, events } = await connected();
    const clientEnded = once(client, "end");
    stream.write(Buffer.from("done"));
    stream.shutdown(() => {});
    stream.write(Buffer.from("too late"));
    assert.equal(events.errors[0]?.code, "EPIPE");
    assert.equal((await readBytes(client, 4)).toString(), "done");
    await clientEnded;
  });

  it("reads a connected stream from the start; pause() before the connect holds the bytes until resume()", async () => {
    const greeter = createServer((sock) => sock.end("hello first"));
    greeter.listen(0, "127.0.0.1");
    await once(greeter, "listening");
    cleanups.push(() => new Promise((r) => greeter.close(r)));
    const { port } = greeter.address() as AddressInfo;

    const events = recorder();
    const s = connectTcp("127.0.0.1", port, events, () => {}); // no resume() anywhere
    cleanups.push(() => s.close());
    await waitFor(() => events.ended || undefined);
    assert.equal(Buffer.concat(events.data).toString(), "hello first");

    const held = recorder();
    let connected = false;
    const p = connectTcp("127.0.0.1", port, held, () => {
      connected = true;
    });
    cleanups.push(() => p.close());
    p.pause();
    await waitFor(() => connected || undefined);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(held.data, [], "nothing delivered while paused");
    p.resume();
    await waitFor(() => held.ended || undefined);
    assert.equal(Buffer.concat(held.data).toString(), "hello first");
  });

  it("connects out, and reports a refused connect as ECONNREFUSED", async () => {
    const peer = await tcpServer();
    cleanups.push(() => peer.close());
    const events = recorder();
    const ok = await new Promise<TcpStream>((resolve, reject) => {
      const s: TcpStream = connectTcp("127.0.0.1", peer.port, events, (err) =>
        err ? reject(err) : resolve(s),
      );
    });
    cleanups.push(() => ok.close());
    ok.resume();
    ok.write(Buffer.from("echo me"));
    await waitFor(() => Buffer.concat(events.data).toString() === "echo me" || undefined);

    const closedPort = peer.port; // still open: find a closed one by closing a fresh server
    assert.ok(closedPort > 0);
    const gone = await tcpServer();
    const gonePort = gone.port;
    await gone.close();
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
      connectTcp("127.0.0.1", gonePort, recorder(), resolve);
    });
    assert.equal(err?.code, "ECONNREFUSED");
    assert.match(err?.message ?? "", /connect ECONNREFUSED 127\.0\.0\.1:\d+/);
  });

  it("refuses to listen on a taken port with EADDRINUSE", () => {
    const { port } = server(() => {});
    assert.throws(
      () =>
        TcpServer.listen(
          "127.0.0.1",
          port,
          {},
          () => {},
          () => {},
        ),
      (err: NodeJS.ErrnoException) => err.code === "EADDRINUSE",
    );
  });

  it("shares a port between two servers with reusePort", () => {
    const a = TcpServer.listen(
      "127.0.0.1",
      0,
      { reusePort: true },
      () => {},
      () => {},
    );
    cleanups.push(() => a.close());
    const port = a.address()?.port;
    assert.ok(port !== undefined);
    const b = TcpServer.listen(
      "127.0.0.1",
      port,
      { reusePort: true },
      () => {},
      () => {},
    );
    cleanups.push(() => b.close());
    assert.equal(b.address()?.port, port);
  });

  it("reports a peer's reset as an error, not an end", async () => {
    const { client, events } = await connected();
    client.resetAndDestroy();
    await waitFor(() => events.errors.length > 0 || undefined);
    assert.equal((events.errors[0] as NodeJS.ErrnoException).code, "ECONNRESET");
    assert.equal(events.ended, false);
  });
});
