import assert from "node:assert/strict";
import { connect as h2connect } from "node:http2";
import { after, before, describe, test } from "node:test";
import type { HttpListener } from "../../../src/dataplane/proxy/http/index.ts";
import { emitsWithin } from "../../helpers/wait.ts";
import {
  curl,
  desiredFrontend,
  type HttpBackend,
  rawRequest,
  startHttpBackend,
  startProxy,
  statusLines,
} from "./harness.ts";

function h2get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const session = h2connect(`http://127.0.0.1:${port}`);
    session.on("error", reject);
    const req = session.request({ ":method": "GET", ":path": path, ":authority": "grpc.test" });
    let status = 0;
    let body = "";
    req.setEncoding("utf8");
    req.on("response", (h) => {
      status = Number(h[":status"]);
    });
    req.on("data", (d: string) => {
      body += d;
    });
    req.on("end", () => {
      session.close();
      resolve({ status, body });
    });
    req.on("error", reject);
  });
}

describe("HTTP/2 sessions idle out like keep-alive connections", () => {
  test("a session without frames for keep-alive-timeout gets a GOAWAY and is closed", async () => {
    const backend = await startHttpBackend((_req, res) => res.end("ok"));
    const { proxy, port } = await startProxy(
      desiredFrontend([{ name: "b", port: backend.port }], { http: { h2c: true, keepAliveTimeout: 300 } }),
    );
    const session = h2connect(`http://127.0.0.1:${port}`);
    session.on("error", () => {});
    try {
      const req = session.request({ ":method": "GET", ":path": "/", ":authority": "idle.test" });
      req.resume();
      await new Promise((r) => req.on("end", r));
      const idleFrom = Date.now();
      const goaway = emitsWithin(session, "goaway", 3000);
      const closed = emitsWithin(session, "close", 3000);
      assert.ok(await goaway, "GOAWAY within 3 s");
      assert.ok(await closed, "closed within 3 s");
      assert.ok(Date.now() - idleFrom >= 250, "not before keep-alive-timeout");
    } finally {
      session.destroy();
      await proxy.stop(100);
      await backend.close();
    }
  });
});

describe("cleartext HTTP/2 with prior knowledge (h2c)", () => {
  let backend: HttpBackend;
  let on: HttpListener;
  let off: HttpListener;
  let onPort: number;
  let offPort: number;

  before(async () => {
    backend = await startHttpBackend((req, res) =>
      res.end(`${req.httpVersion} ${req.headers.host} ${req.url} ${req.headers["x-forwarded-for"]}`),
    );
    ({ proxy: on, port: onPort } = await startProxy(
      desiredFrontend([{ name: "b", port: backend.port }], { http: { h2c: true } }),
    ));
    ({ proxy: off, port: offPort } = await startProxy(desiredFrontend([{ name: "b", port: backend.port }])));
  });
  after(async () => {
    await on.stop(100);
    await off.stop(100);
    await backend.close();
  });

  test("an h2c client is served (the backend sees HTTP/1.1)", async () => {
    const r = await h2get(onPort, "/svc/Method");
    assert.equal(r.status, 200);
    assert.equal(r.body, "1.1 grpc.test /svc/Method 127.0.0.1");
  });

  test("curl --http2-prior-knowledge works, and HTTP/1.1 still works on the same port", async () => {
    const r2 = await curl([
      "--http2-prior-knowledge",
      "-w",
      "\\n%{http_version}",
      `http://127.0.0.1:${onPort}/p`,
    ]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.ok(r2.stdout.endsWith("\n2"), r2.stdout);
    const r1 = await curl([`http://127.0.0.1:${onPort}/q`]);
    assert.equal(r1.stdout, `1.1 127.0.0.1:${onPort} /q 127.0.0.1`);
  });

  test("without h2c the preface is refused as an HTTP/1.1 request: 505", async () => {
    const reply = await rawRequest(offPort, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    assert.deepEqual(statusLines(reply), [505]);
  });
});
