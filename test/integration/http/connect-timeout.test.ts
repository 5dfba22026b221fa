// A backend that never completes the TCP handshake, on loopback: a child process
// listens with a backlog of 1 and then blocks (Atomics.wait, no CPU) so it never
// accepts; once its accept queue is full the kernel drops further SYNs and connects
// to it hang — exactly what connect-timeout is for.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { connect, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import {
  desiredFrontend,
  type HttpBackend,
  rawRequest,
  startHttpBackend,
  startProxy,
  statusLines,
} from "./harness.ts";

const CHILD = `
const net = require("node:net");
const s = net.createServer();
s.listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
  process.stdout.write(String(s.address().port) + "\\n", () => {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20000);
    process.exit(0);
  });
});`;

describe("backend connect timeout", () => {
  let child: ChildProcess;
  let blackhole: number;
  const fillers: Socket[] = [];
  let good: HttpBackend;

  before(async () => {
    child = spawn(process.execPath, ["-e", CHILD], { stdio: ["ignore", "pipe", "ignore"] });
    blackhole = await new Promise<number>((resolve, reject) => {
      child.stdout!.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
      child.once("error", reject);
    });
    // Fill the accept queue (backlog 1 holds about two); later SYNs are dropped.
    for (let i = 0; i < 4; i++) {
      const s = connect(blackhole, "127.0.0.1");
      s.on("error", () => {});
      fillers.push(s);
    }
    await new Promise((r) => setTimeout(r, 200));
    good = await startHttpBackend((_req, res) => res.end("reached"));
  });
  after(async () => {
    for (const s of fillers) s.destroy();
    child.kill();
    await good.close();
  });

  test("a backend that does not answer the handshake within connect-timeout: 503", async () => {
    const { proxy, port } = await startProxy(
      desiredFrontend([{ name: "hole", port: blackhole }], { connectTimeout: 300, connectRetries: 0 }),
    );
    try {
      const started = Date.now();
      const reply = await rawRequest(port, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", {
        timeout: 5000,
      });
      const elapsed = Date.now() - started;
      assert.deepEqual(statusLines(reply), [503]);
      assert.ok(elapsed >= 250 && elapsed < 3000, `answered after ${elapsed} ms`);
      assert.equal(proxy.stats().backends.hole.connectErrors, 1);
    } finally {
      await proxy.stop(100);
    }
  });

  test("a connect timeout moves the request to another backend", async () => {
    const { proxy, port } = await startProxy(
      desiredFrontend(
        [
          { name: "a-hole", port: blackhole },
          { name: "b-good", port: good.port },
        ],
        { connectTimeout: 300, connectRetries: 1 },
      ),
    );
    try {
      // Round-robin: at least one of the two requests starts on the hole and is moved.
      for (let i = 0; i < 2; i++) {
        const reply = await rawRequest(port, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", {
          timeout: 5000,
        });
        assert.deepEqual(statusLines(reply), [200], `request ${i}`);
        assert.ok(reply.endsWith("reached"));
      }
      const errors = proxy.stats().backends["a-hole"].connectErrors;
      assert.ok(errors >= 1 && errors <= 2, `${errors} connect errors`);
    } finally {
      await proxy.stop(100);
    }
  });
});
