import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { HttpListener } from "../../../src/dataplane/proxy/http/index.ts";
import {
  curl,
  desiredFrontend,
  type HttpBackend,
  rawRequest,
  startHttpBackend,
  startProxy,
  statusLines,
} from "./harness.ts";

const MiB = 1024 * 1024;
const SIZE = 20 * MiB;

/** Deterministic pseudo-random block so corruption or reordering changes the digest. */
const BLOCK = Buffer.alloc(64 * 1024);
for (let i = 0; i < BLOCK.length; i++) BLOCK[i] = (i * 31 + (i >> 8)) & 0xff;

function expectedDigest(size: number): string {
  const h = createHash("sha256");
  for (let sent = 0; sent < size; sent += BLOCK.length)
    h.update(BLOCK.subarray(0, Math.min(BLOCK.length, size - sent)));
  return h.digest("hex");
}

describe("HTTP/1.1 reverse proxy: streaming bodies larger than socket buffers", () => {
  let backend: HttpBackend;
  let proxy: HttpListener;
  let port: number;

  before(async () => {
    backend = await startHttpBackend((req, res) => {
      if (req.url?.startsWith("/download")) {
        const chunked = req.url.includes("chunked");
        if (!chunked) res.setHeader("Content-Length", SIZE);
        let sent = 0;
        const pump = () => {
          while (sent < SIZE) {
            const n = Math.min(BLOCK.length, SIZE - sent);
            sent += n;
            if (!res.write(BLOCK.subarray(0, n))) {
              res.once("drain", pump);
              return;
            }
          }
          res.end();
        };
        pump();
        return;
      }
      // Upload: hash what arrives, report size, digest and framing seen.
      const h = createHash("sha256");
      let n = 0;
      req.on("data", (d: Buffer) => {
        n += d.length;
        h.update(d);
      });
      req.on("end", () => {
        const body = JSON.stringify({
          n,
          digest: h.digest("hex"),
          te: req.headers["transfer-encoding"] ?? null,
        });
        res.setHeader("Content-Length", Buffer.byteLength(body));
        res.end(body);
      });
    });
    ({ proxy, port } = await startProxy(desiredFrontend([{ name: "b1", port: backend.port }])));
  });
  after(async () => {
    await proxy.stop(100);
    await backend.close();
  });

  for (const mode of ["content-length", "chunked"]) {
    test(`a 20 MiB ${mode} download arrives intact`, async () => {
      const path = mode === "chunked" ? "/download-chunked" : "/download";
      const r = await curl(
        ["-o", "/dev/null", "-w", "%{size_download}", `http://127.0.0.1:${port}${path}`],
        30_000,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(Number(r.stdout), SIZE);
      const { digest, size } = await download(port, path);
      assert.equal(size, SIZE);
      assert.equal(digest, expectedDigest(SIZE));
    });

    test(`a 20 MiB ${mode} upload arrives intact and streams without buffering`, async () => {
      const rssBefore = process.memoryUsage().rss;
      const result = await upload(port, SIZE, mode === "chunked");
      const grown = process.memoryUsage().rss - rssBefore;
      assert.equal(result.n, SIZE);
      assert.equal(result.digest, expectedDigest(SIZE));
      assert.equal(result.te, mode === "chunked" ? "chunked" : null);
      // Backend, proxy and client share this process: if any of them buffered the
      // whole body we would see tens of MiB more resident memory.
      assert.ok(grown < 40 * MiB, `rss grew by ${(grown / MiB).toFixed(1)} MiB`);
    });
  }

  test("a slow reader applies backpressure: the proxy pauses the backend instead of buffering", async () => {
    // Read nothing for a while: the proxy must not read the whole 20 MiB from the backend.
    const req = request({ port, path: "/download", agent: false });
    const done = new Promise<number>((resolve, reject) => {
      req.on("response", (res) => {
        res.pause();
        setTimeout(() => {
          const active = proxy.stats().backends.b1;
          // bytesOut counts bytes read from the backend so far.
          resolve(active.bytesOut);
          res.destroy();
        }, 300);
      });
      req.on("error", reject);
    });
    req.end();
    const before = proxy.stats().backends.b1.bytesOut;
    const readFromBackend = (await done) - before;
    assert.ok(
      readFromBackend < 12 * MiB,
      `proxy read ${(readFromBackend / MiB).toFixed(1)} MiB ahead of the client`,
    );
  });

  test("Expect: 100-continue gets the backend's 100 before the body is sent", async () => {
    const result = await new Promise<{ continued: boolean; body: string }>((resolve, reject) => {
      let continued = false;
      const req = request({
        port,
        method: "PUT",
        path: "/upload",
        agent: false,
        headers: { Expect: "100-continue", "Content-Length": 5 },
      });
      req.on("continue", () => {
        continued = true;
        req.end("hello");
      });
      req.on("response", (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d) => {
          body += d;
        });
        res.on("end", () => resolve({ continued, body }));
      });
      req.on("error", reject);
    });
    assert.equal(result.continued, true);
    assert.equal(JSON.parse(result.body).n, 5);
  });

  test("curl's 100-continue upload of 2 MiB works end to end", async () => {
    const dir = await mkdtemp(join(tmpdir(), "lodestone-l7-"));
    const file = join(dir, "body.bin");
    await writeFile(file, Buffer.concat(Array.from({ length: 32 }, () => BLOCK)));
    try {
      const r = await curl([
        "-H",
        "Expect: 100-continue",
        "--data-binary",
        `@${file}`,
        `http://127.0.0.1:${port}/upload`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const body = JSON.parse(r.stdout);
      assert.equal(body.n, 2 * MiB);
      assert.equal(body.digest, expectedDigest(2 * MiB));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a chunked request with trailers and extensions is forwarded byte for byte", async () => {
    const reply = await rawRequest(
      port,
      "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
        "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
    );
    assert.deepEqual(statusLines(reply), [200]);
    const body = JSON.parse(reply.slice(reply.indexOf("\r\n\r\n") + 4));
    assert.equal(body.n, 11);
    assert.equal(body.digest, createHash("sha256").update("hello world").digest("hex"));
  });
});

function download(port: number, path: string): Promise<{ digest: string; size: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ port, path, agent: false }, (res) => {
      const h = createHash("sha256");
      let size = 0;
      res.on("data", (d: Buffer) => {
        size += d.length;
        h.update(d);
      });
      res.on("end", () => resolve({ digest: h.digest("hex"), size }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

function upload(
  port: number,
  size: number,
  chunked: boolean,
): Promise<{ n: number; digest: string; te: string | null }> {
  return new Promise((resolve, reject) => {
    const req = request({
      port,
      method: "POST",
      path: "/upload",
      agent: false,
      headers: chunked ? { "Transfer-Encoding": "chunked" } : { "Content-Length": size },
    });
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => {
        body += d;
      });
      res.on("end", () => resolve(JSON.parse(body)));
    });
    req.on("error", reject);
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        const n = Math.min(BLOCK.length, size - sent);
        sent += n;
        if (!req.write(BLOCK.subarray(0, n))) {
          req.once("drain", pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}
