import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { type ClientHttp2Session, connect as h2connect } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createHttpListener, type HttpListener } from "../../../src/dataplane/proxy/http/index.ts";
import { writeSelfSignedCert } from "../../helpers/certs.ts";
import { curl, desiredFrontend, type HttpBackend, startHttpBackend } from "./harness.ts";

const dir = mkdtempSync(join(tmpdir(), "lodestone-h2-"));
const BIG = 5 * 1024 * 1024;
const BLOCK = Buffer.alloc(BIG);
for (let i = 0; i < BIG; i++) BLOCK[i] = (i * 7 + (i >> 10)) & 0xff;

function h2request(
  session: ClientHttp2Session,
  headers: Record<string, string>,
  body?: Buffer | string,
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = session.request(headers, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let resHeaders: Record<string, unknown> = {};
    req.on("response", (h) => {
      resHeaders = h;
    });
    req.on("data", (d: Buffer) => chunks.push(d));
    req.on("end", () =>
      resolve({ status: Number(resHeaders[":status"]), headers: resHeaders, body: Buffer.concat(chunks) }),
    );
    req.on("error", reject);
    if (body !== undefined) req.end(body);
  });
}

describe("HTTP/2 clients (ALPN h2) to HTTP/1.1 backends", () => {
  let backend: HttpBackend;
  let proxy: HttpListener;
  let port: number;
  let session: ClientHttp2Session;

  before(async () => {
    const cert = join(dir, "c.pem");
    const key = join(dir, "k.pem");
    writeSelfSignedCert(cert, key, { cn: "h2.test", subjectAltName: "DNS:h2.test" });
    backend = await startHttpBackend((req, res) => {
      if (req.url === "/big") {
        res.setHeader("Content-Length", BIG);
        res.end(BLOCK);
        return;
      }
      if (req.url === "/big-chunked") {
        res.write(BLOCK.subarray(0, BIG / 2));
        res.end(BLOCK.subarray(BIG / 2));
        return;
      }
      const h = createHash("sha256");
      let n = 0;
      req.on("data", (d: Buffer) => {
        n += d.length;
        h.update(d);
      });
      req.on("end", () => {
        res.setHeader("Set-Cookie", ["a=1", "b=2"]);
        res.end(
          JSON.stringify({
            version: req.httpVersion,
            method: req.method,
            url: req.url,
            te: req.headers["transfer-encoding"] ?? null,
            cl: req.headers["content-length"] ?? null,
            host: req.headers.host,
            proto: req.headers["x-forwarded-proto"],
            n,
            digest: h.digest("hex"),
          }),
        );
      });
    });
    const fe = desiredFrontend([{ name: "b", port: backend.port }], {
      routes: [
        { match: { path: "/moved" }, redirect: { location: "/new{uri}", status: 301 } },
        { match: { path: "/nowhere" }, service: "ghost" },
      ],
    });
    fe.protocol = "https";
    Object.assign(fe.settings, {
      protocol: "https",
      tls: { certificates: [{ cert, key }], minVersion: "TLSv1.2", alpn: ["h2", "http/1.1"] },
    });
    proxy = createHttpListener(fe);
    await proxy.start();
    port = proxy.address()!.port;
    session = h2connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false, servername: "h2.test" });
    session.on("error", () => {});
  });
  after(async () => {
    session.close();
    await proxy.stop(100);
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a GET over h2 reaches the backend as HTTP/1.1 with Host and X-Forwarded-Proto", async () => {
    const r = await h2request(session, { ":method": "GET", ":path": "/hello?x=1", ":authority": "h2.test" });
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body.toString());
    assert.deepEqual(
      { version: seen.version, url: seen.url, host: seen.host, proto: seen.proto },
      { version: "1.1", url: "/hello?x=1", host: "h2.test", proto: "https" },
    );
    assert.deepEqual(r.headers["set-cookie"], ["a=1", "b=2"]);
    assert.equal(r.headers.connection, undefined);
  });

  test("a body without content-length goes to the backend chunked, intact", async () => {
    const body = Buffer.from("x".repeat(100_000));
    const r = await h2request(session, { ":method": "POST", ":path": "/up", ":authority": "h2.test" }, body);
    const seen = JSON.parse(r.body.toString());
    assert.equal(seen.te, "chunked");
    assert.equal(seen.n, body.length);
    assert.equal(seen.digest, createHash("sha256").update(body).digest("hex"));
  });

  test("a body with content-length keeps it", async () => {
    const r = await h2request(
      session,
      { ":method": "PUT", ":path": "/up", ":authority": "h2.test", "content-length": "5" },
      "hello",
    );
    const seen = JSON.parse(r.body.toString());
    assert.deepEqual([seen.cl, seen.te, seen.n], ["5", null, 5]);
  });

  test("5 MiB responses (content-length and chunked) arrive intact over h2", async () => {
    const want = createHash("sha256").update(BLOCK).digest("hex");
    for (const path of ["/big", "/big-chunked"]) {
      const r = await h2request(session, { ":method": "GET", ":path": path, ":authority": "h2.test" });
      assert.equal(r.body.length, BIG, path);
      assert.equal(createHash("sha256").update(r.body).digest("hex"), want, path);
    }
  });

  test("20 concurrent streams on one session all succeed", async () => {
    const rs = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        h2request(session, { ":method": "GET", ":path": `/c/${i}`, ":authority": "h2.test" }),
      ),
    );
    assert.deepEqual(
      rs.map((r) => JSON.parse(r.body.toString()).url),
      Array.from({ length: 20 }, (_, i) => `/c/${i}`),
    );
    // Every stream's virtual connection is released once its response is done.
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(proxy.stats().connectionsActive, 0);
  });

  test("routes and proxy errors apply to h2 requests too", async () => {
    const moved = await h2request(session, {
      ":method": "GET",
      ":path": "/moved?a=1",
      ":authority": "h2.test",
    });
    assert.equal(moved.status, 301);
    assert.equal(moved.headers.location, "/new/moved?a=1");
    const ghost = await h2request(session, {
      ":method": "GET",
      ":path": "/nowhere",
      ":authority": "h2.test",
    });
    assert.equal(ghost.status, 503);
  });

  test("curl --http2 works, and HTTP/1.1 clients share the port", async () => {
    const r2 = await curl([
      "-k",
      "--http2",
      "-w",
      "\\n%{http_version}",
      "--resolve",
      `h2.test:${port}:127.0.0.1`,
      `https://h2.test:${port}/v`,
    ]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.ok(r2.stdout.endsWith("\n2"), r2.stdout);
    const r1 = await curl(["-k", "--http1.1", "-w", "\\n%{http_version}", `https://127.0.0.1:${port}/v`]);
    assert.equal(r1.code, 0, r1.stderr);
    assert.ok(r1.stdout.endsWith("\n1.1"), r1.stdout);
  });
});
