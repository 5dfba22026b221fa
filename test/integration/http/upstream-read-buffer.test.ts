// Cleartext backend connections read into a reused buffer (upstream.ts). These tests
// make the proxy keep chunks past a read, the cases where reuse would corrupt data:
// a client that reads slowly (chunks wait in the client socket's write queue) and a
// response head dribbled over many reads (the scanner holds parts of it). The body
// is random, not periodic, so overwritten bytes would change its digest.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { Agent, request } from "node:http";
import type { Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import type { HttpListener } from "../../../src/dataplane/proxy/http/index.ts";
import { desiredFrontend, type RawBackend, startProxy, startRawBackend } from "./harness.ts";

const BIG = randomBytes(6 * 1024 * 1024 + 777);
const SMALL = randomBytes(3000);

function sha(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}

/** Answer each request on a connection in turn: /big, /dribble (head 5 bytes at a time), else /small. */
function serve(s: Socket): void {
  let buffered = "";
  let busy = Promise.resolve();
  s.on("data", (d: Buffer) => {
    buffered += d.toString("latin1");
    for (let end = buffered.indexOf("\r\n\r\n"); end >= 0; end = buffered.indexOf("\r\n\r\n")) {
      const path = buffered.slice(0, end).split(" ")[1];
      buffered = buffered.slice(end + 4);
      busy = busy.then(() => answer(s, path));
    }
  });
}

async function answer(s: Socket, path: string): Promise<void> {
  if (s.destroyed) return;
  const body = path === "/big" ? BIG : SMALL;
  const head = Buffer.from(
    `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`,
  );
  if (path === "/dribble") {
    for (let i = 0; i < head.length && !s.destroyed; i += 5) {
      s.write(head.subarray(i, i + 5));
      await new Promise((r) => setTimeout(r, 2));
    }
  } else {
    s.write(head);
  }
  // The body in uneven pieces, so reads end at arbitrary offsets.
  let at = 0;
  let n = 1;
  while (at < body.length && !s.destroyed) {
    const size = Math.min(body.length - at, ((n++ * 7919) % 200_000) + 1);
    if (!s.write(body.subarray(at, at + size))) await new Promise((r) => s.once("drain", r));
    at += size;
  }
}

/** GET path; the client pauses for a few ms every `every` chunks. */
function get(
  port: number,
  agent: Agent,
  path: string,
  every = 0,
): Promise<{ status: number; digest: string; size: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ port, host: "127.0.0.1", path, agent }, (res) => {
      const h = createHash("sha256");
      let size = 0;
      let chunks = 0;
      res.on("data", (d: Buffer) => {
        h.update(d);
        size += d.length;
        if (every > 0 && ++chunks % every === 0) {
          res.pause();
          setTimeout(() => res.resume(), 3);
        }
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, digest: h.digest("hex"), size }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

describe("upstream read buffer reuse never corrupts data the proxy still holds", () => {
  let backend: RawBackend;
  let proxy: HttpListener;
  let port: number;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });

  before(async () => {
    backend = await startRawBackend((s) => serve(s));
    ({ proxy, port } = await startProxy(desiredFrontend([{ name: "b1", port: backend.port }])));
  });
  after(async () => {
    agent.destroy();
    await proxy.stop(100);
    await backend.close();
  });

  test("a 6 MiB random body to a client that keeps pausing arrives intact", async () => {
    const r = await get(port, agent, "/big", 4);
    assert.equal(r.status, 200);
    assert.equal(r.size, BIG.length);
    assert.equal(r.digest, sha(BIG));
  });

  test("a response head dribbled 5 bytes at a time, then its body, arrives intact", async () => {
    const r = await get(port, agent, "/dribble");
    assert.equal(r.status, 200);
    assert.equal(r.digest, sha(SMALL));
  });

  test("big, small and dribbled responses in turn on reused connections stay intact", async () => {
    for (const path of ["/big", "/small", "/dribble", "/big", "/small"]) {
      const r = await get(port, agent, path, path === "/big" ? 8 : 0);
      assert.equal(r.status, 200, path);
      assert.equal(r.digest, sha(path === "/big" ? BIG : SMALL), path);
    }
  });
});
