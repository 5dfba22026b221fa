// The epoll sockets the L4 relay runs on (src/dataplane/proxy/epoll/), driven against
// real net sockets on loopback.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { after, describe, it } from "node:test";
import { EpollTcpServer } from "../../../src/dataplane/proxy/epoll/server.ts";
import {
  connectEpollTcp,
  type EpollTcpStream,
  type StreamEvents,
} from "../../../src/dataplane/proxy/epoll/stream.ts";
import { connectTo, readBytes, tcpServer } from "../../helpers/proxy-peers.ts";
import { noDelay, recorder } from "../../helpers/stream-recorder.ts";
import { waitFor } from "../../helpers/wait.ts";

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function server(
  take: (s: EpollTcpStream) => void,
  host = "127.0.0.1",
): { server: EpollTcpServer; port: number } {
  const srv = EpollTcpServer.listen(host, 0, {}, take, () => {});
  cleanups.push(() => srv.close());
  const address = srv.address();
  assert.ok(address !== null);
  return { server: srv, port: address.port };
}

function accepted(host?: string): { port: number; next: Promise<EpollTcpStream> } {
  let resolve!: (s: EpollTcpStream) => void;
  const next = new Promise<EpollTcpStream>((r) => {
    resolve = r;
  });
  const { port } = server((s) => {
    cleanups.push(() => s.close());
    resolve(s);
  }, host);
  return { port, next };
}

/** A loopback connection: a net client (half-open allowed) and the stream that accepted it. */
async function connected(reading = true): Promise<{
  client: Socket;
  stream: EpollTcpStream;
  events: ReturnType<typeof recorder>;
}> {
  const { port, next } = accepted();
  const client = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
  client.on("error", () => {});
  cleanups.push(() => client.destroy());
  await once(client, "connect");
  const stream = await next;
  const events = recorder();
  stream.setEvents(events);
  if (reading) stream.resume();
  return { client, stream, events };
}

function connectOut(port: number, events: StreamEvents): Promise<EpollTcpStream> {
  return new Promise<EpollTcpStream>((resolve, reject) => {
    const s: EpollTcpStream = connectEpollTcp("127.0.0.1", port, events, (err) =>
      err ? reject(err) : resolve(s),
    );
    cleanups.push(() => s.close());
  });
}

describe("epoll sockets", () => {
  it("accepts, reads what a client sends, writes back and counts both ways", async () => {
    const { client, stream, events } = await connected();
    client.write("hello");
    await waitFor(() => Buffer.concat(events.data).toString() === "hello" || undefined);
    assert.deepEqual(events.finFollows, [false]);
    assert.equal(stream.write(Buffer.from("world")), true, "a small write goes straight to the kernel");
    assert.equal((await readBytes(client, 5)).toString(), "world");
    assert.equal(stream.bytesRead, 5);
    assert.equal(stream.bytesWritten, 5);
    assert.deepEqual(stream.peer(), { address: "127.0.0.1", port: client.localPort, family: "IPv4" });
    assert.equal(stream.local()?.port, client.remotePort);
  });

  it("delivers a megabyte intact and its end after it", async () => {
    const { client, events } = await connected();
    const payload = randomBytes(1024 * 1024);
    client.end(payload);
    await waitFor(() => events.ended || undefined, 5000);
    assert.ok(Buffer.concat(events.data).equals(payload));
  });

  it("says the FIN follows the bytes that came with it; a write with `more` then shutdown() delivers the bytes, then the end", async () => {
    // A peer that answers and closes at once: its bytes and FIN are in the socket by
    // the time the stream reads, so the read says finFollows and no further recv is needed.
    const answer = Buffer.from("response and goodbye");
    const peer = await tcpServer((sock) => sock.end(answer));
    cleanups.push(() => peer.close());
    const events = recorder();
    const out = connectEpollTcp("127.0.0.1", peer.port, events, () => {});
    cleanups.push(() => out.close());
    out.pause();
    await waitFor(() => peer.received.length === 1 || undefined);
    await new Promise((r) => setTimeout(r, 50)); // its answer and FIN are on their way
    out.resume();
    await waitFor(() => events.ended || undefined);
    assert.ok(Buffer.concat(events.data).equals(answer));
    assert.equal(events.finFollows.at(-1), true, "the read that drained the socket carried the FIN");

    // Writing with `more` then shutting down: the client gets the bytes and then its end.
    const { client, stream } = await connected();
    const ended = once(client, "end");
    assert.equal(stream.write(Buffer.from("last"), true), true);
    stream.shutdown();
    assert.equal((await readBytes(client, 4)).toString(), "last");
    await ended;
  });

  it("reads a backlog bigger than one turn's reads intact, and its end", async () => {
    const { client, stream, events } = await connected(false);
    const payload = randomBytes(4 * 1024 * 1024);
    client.end(payload);
    await new Promise((r) => setTimeout(r, 100)); // let the kernel take what it will
    stream.resume();
    await waitFor(() => events.ended || undefined, 5000);
    assert.ok(Buffer.concat(events.data).equals(payload));
  });

  it("queues a write the peer cannot take, reports drain, and loses no byte", async () => {
    const { client, stream, events } = await connected(false);
    client.pause();
    const payload = randomBytes(16 * 1024 * 1024);
    const chunk = Buffer.alloc(64 * 1024);
    let queued = false;
    for (let off = 0; off < payload.length; off += chunk.length) {
      // The stream copies what it queues: reusing the caller's buffer must be safe.
      payload.copy(chunk, 0, off, off + chunk.length);
      if (!stream.write(chunk)) queued = true;
    }
    assert.ok(queued, "16 MiB to a paused reader cannot all reach the kernel at once");
    assert.ok(stream.pendingWrites > 0);
    stream.shutdown(); // after the queue
    client.resume();
    const got = await readBytes(client, payload.length, 10_000);
    assert.ok(got.equals(payload));
    await waitFor(() => events.drains > 0 || undefined);
    assert.equal(stream.pendingWrites, 0);
    await once(client, "end");
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

  it("holds the peer's FIN while paused in onData, and reports it on resume", async () => {
    const { client, stream, events } = await connected();
    stream.setEvents({
      ...events,
      onData: (n, buf, fin) => {
        events.onData(n, buf, fin);
        stream.pause();
      },
    });
    client.end("x");
    await waitFor(() => events.data.length > 0 || undefined);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(events.ended, false, "no end while paused");
    stream.resume();
    await waitFor(() => events.ended || undefined);
  });

  it("half-closes: shutdown() sends our FIN and the peer can still talk; the peer's FIN is onEnd", async () => {
    const { client, stream, events } = await connected();
    stream.write(Buffer.from("bye"));
    stream.shutdown();
    const clientEnded = once(client, "end");
    assert.equal((await readBytes(client, 3)).toString(), "bye");
    await clientEnded;
    client.end("late reply");
    await waitFor(() => events.ended || undefined);
    assert.equal(Buffer.concat(events.data).toString(), "late reply");
    assert.deepEqual(events.errors, []);
  });

  it("refuses a write after shutdown() with EPIPE", async () => {
    const { client, stream, events } = await connected();
    const clientEnded = once(client, "end");
    stream.write(Buffer.from("done"));
    stream.shutdown();
    stream.write(Buffer.from("too late"));
    assert.equal(events.errors[0]?.code, "EPIPE");
    assert.equal((await readBytes(client, 4)).toString(), "done");
    await clientEnded;
  });

  it("has Nagle off on accepted sockets (inherited from the listener) and on connected ones", async () => {
    const { stream } = await connected();
    assert.equal(noDelay(stream.fd), true, "accepted socket");
    const peer = await tcpServer();
    cleanups.push(() => peer.close());
    const out = await connectOut(peer.port, recorder());
    assert.equal(noDelay(out.fd), true, "connected socket");
    out.close();
    assert.equal(out.fd, -1);
  });

  it("connects out and relays, holds writes made before the connect, and reports a refused connect", async () => {
    const peer = await tcpServer();
    cleanups.push(() => peer.close());
    const events = recorder();
    let connectedYet = false;
    const s = connectEpollTcp("127.0.0.1", peer.port, events, (err) => {
      assert.equal(err, null);
      connectedYet = true;
    });
    cleanups.push(() => s.close());
    assert.equal(s.write(Buffer.from("early ")), false, "queued until connected");
    assert.equal(connectedYet, false, "onConnect never runs inside connect");
    await waitFor(() => connectedYet || undefined);
    s.write(Buffer.from("echo me"));
    await waitFor(() => Buffer.concat(events.data).toString() === "early echo me" || undefined);

    const gone = await tcpServer();
    const gonePort = gone.port;
    await gone.close();
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
      connectEpollTcp("127.0.0.1", gonePort, recorder(), resolve);
    });
    assert.equal(err?.code, "ECONNREFUSED");
    assert.match(err?.message ?? "", /connect ECONNREFUSED 127\.0\.0\.1:\d+/);
  });

  it("reports an address it cannot connect to asynchronously, on a closed stream", async () => {
    let sync = true;
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
      const s = connectEpollTcp("not-an-address", 80, recorder(), (e) => {
        assert.equal(sync, false);
        resolve(e);
      });
      assert.equal(s.closed, true);
      sync = false;
    });
    assert.equal(err?.code, "SOCKADDR_INVALID");
  });

  it("cancels a connect silently when closed before it completes", async () => {
    const peer = await tcpServer();
    cleanups.push(() => peer.close());
    let called = false;
    const s = connectEpollTcp("127.0.0.1", peer.port, recorder(), () => {
      called = true;
    });
    s.close();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(called, false);
  });

  it("refuses to listen on a taken port with EADDRINUSE, and shares one with reusePort", () => {
    const { port } = server(() => {});
    assert.throws(
      () =>
        EpollTcpServer.listen(
          "127.0.0.1",
          port,
          {},
          () => {},
          () => {},
        ),
      (err: NodeJS.ErrnoException) =>
        err.code === "EADDRINUSE" && /bind EADDRINUSE 127\.0\.0\.1/.test(err.message),
    );
    const a = EpollTcpServer.listen(
      "127.0.0.1",
      0,
      { reusePort: true },
      () => {},
      () => {},
    );
    cleanups.push(() => a.close());
    const shared = a.address()?.port;
    assert.ok(shared !== undefined);
    const b = EpollTcpServer.listen(
      "127.0.0.1",
      shared,
      { reusePort: true },
      () => {},
      () => {},
    );
    cleanups.push(() => b.close());
    assert.equal(b.address()?.port, shared);
  });

  it("listens on IPv6, where '::' takes IPv4 clients too, and connects over IPv6", async () => {
    const { port, next } = accepted("::");
    const client = await connectTo(port);
    cleanups.push(() => client.destroy());
    const stream = await next;
    assert.deepEqual(stream.peer(), { address: "::ffff:127.0.0.1", port: client.localPort, family: "IPv6" });

    // And out over IPv6, to the same listener.
    const second = accepted("::1");
    const events = recorder();
    const out = await new Promise<EpollTcpStream>((resolve, reject) => {
      const s: EpollTcpStream = connectEpollTcp("::1", second.port, events, (err) =>
        err ? reject(err) : resolve(s),
      );
      cleanups.push(() => s.close());
    });
    const inbound = await second.next;
    assert.deepEqual(out.peer(), { address: "::1", port: second.port, family: "IPv6" });
    assert.equal(inbound.peer()?.port, out.local()?.port);
  });

  it("reports a peer's reset as an error, not an end", async () => {
    const { client, events } = await connected();
    client.resetAndDestroy();
    await waitFor(() => events.errors.length > 0 || undefined);
    assert.equal(events.errors[0].code, "ECONNRESET");
    assert.equal(events.ended, false);
  });

  it("gives a socket that reuses a closed one's fd none of the closed one's events", async () => {
    // Many connections opened and closed while data flows: a stale event reaching the
    // wrong stream would show up as bytes in the wrong recorder.
    const peer = await tcpServer();
    cleanups.push(() => peer.close());
    for (let round = 0; round < 20; round++) {
      const streams: { s: EpollTcpStream; r: ReturnType<typeof recorder>; tag: string }[] = [];
      for (let i = 0; i < 10; i++) {
        const r = recorder();
        const s = await connectOut(peer.port, r);
        const tag = `r${round}c${i};`;
        s.write(Buffer.from(tag));
        streams.push({ s, r, tag });
      }
      await waitFor(() => streams.every((x) => Buffer.concat(x.r.data).length >= x.tag.length) || undefined);
      for (const x of streams) {
        assert.equal(Buffer.concat(x.r.data).toString(), x.tag);
        x.s.close();
      }
    }
  });

  it("keeps the process alive while a socket is open, and only then", async () => {
    const code = `
      const { EpollTcpServer } = await import(${JSON.stringify(new URL("../../../src/dataplane/proxy/epoll/server.ts", import.meta.url).href)});
      const s = EpollTcpServer.listen("127.0.0.1", 0, {}, () => {}, () => {});
      setTimeout(() => { s.close(); console.log("closed"); }, 200);
    `;
    const { execFile } = await import("node:child_process");
    const started = Date.now();
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ["--input-type=module", "-e", code], { timeout: 10_000 }, (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      ),
    );
    assert.equal(out.trim(), "closed", "the open listener kept the process up until it closed");
    assert.ok(Date.now() - started < 9000, "and the process exited once it had closed");
  });
});

describe("epoll listener out of descriptors", () => {
  it("reports EMFILE, keeps listening, and accepts the waiting clients once descriptors free up", async () => {
    // A child process with a descriptor limit just above what it has open: it keeps
    // what it accepts until told to let go, and prints what happens.
    const server = new URL("../../../src/dataplane/proxy/epoll/server.ts", import.meta.url).href;
    const code = `
      import { readdirSync } from "node:fs";
      import koffi from "koffi";
            const { EpollTcpServer } = await import(${JSON.stringify(server)});
      const setrlimit = koffi.load("libc.so.6").func("int setrlimit(int, const void *)");
      const limit = Buffer.alloc(16);
      limit.writeBigUInt64LE(BigInt(readdirSync("/proc/self/fd").length + 8), 0);
      limit.writeBigUInt64LE(4096n, 8);
      if (setrlimit(7, limit) !== 0) throw new Error("setrlimit");
      let keep = true;
      const held = [];
      let accepted = 0;
      const srv = EpollTcpServer.listen("127.0.0.1", 0, {}, (s) => {
        accepted++;
        if (keep) held.push(s); else s.close();
        console.log("accepted " + accepted);
      }, (err) => console.log("error " + err.code));
      console.log("port " + srv.address().port);
      process.stdin.on("data", () => { keep = false; for (const s of held) s.close(); held.length = 0; });
      setTimeout(() => process.exit(0), 20000).unref();
    `;
    const { spawn } = await import("node:child_process");
    const child = spawn(process.execPath, ["--input-type=module", "-e", code], {
      cwd: new URL("../../../", import.meta.url),
      stdio: ["pipe", "pipe", "inherit"],
    });
    cleanups.push(() => child.kill());
    const lines: string[] = [];
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d: string) => lines.push(...d.split("\n").filter((l) => l !== "")));
    const portLine = await waitFor(() => lines.find((l) => l.startsWith("port ")), 10_000);
    const port = Number(portLine.slice(5));
    const clients: Socket[] = [];
    for (let i = 0; i < 20; i++) {
      const c = connect({ host: "127.0.0.1", port });
      c.on("error", () => {});
      clients.push(c);
      cleanups.push(() => c.destroy());
    }
    await waitFor(() => lines.includes("error EMFILE") || undefined, 10_000);
    const before = lines.filter((l) => l.startsWith("accepted ")).length;
    assert.ok(before < 20, "it ran out before accepting every client");
    child.stdin.write("let go\n");
    await waitFor(() => lines.includes("accepted 20") || undefined, 10_000);
    assert.equal(child.exitCode, null, "still running");
  });
});

describe("epoll sockets against a net server", () => {
  it("relays a greeting from a server that speaks first", async () => {
    const greeter = createServer((sock) => sock.end("hello first"));
    greeter.listen(0, "127.0.0.1");
    await once(greeter, "listening");
    cleanups.push(() => new Promise((r) => greeter.close(r)));
    const { port } = greeter.address() as AddressInfo;
    const events = recorder();
    const s = connectEpollTcp("127.0.0.1", port, events, () => {});
    cleanups.push(() => s.close());
    await waitFor(() => events.ended || undefined);
    assert.equal(Buffer.concat(events.data).toString(), "hello first");
  });
});
