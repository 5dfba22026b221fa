import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { createHttpListener, type HttpListener } from "../../../src/dataplane/proxy/http/index.ts";
import type { DesiredFrontend } from "../../../src/model/desired.ts";
import { writeSelfSignedCert } from "../../helpers/certs.ts";
import { emitsWithin } from "../../helpers/wait.ts";
import {
  type BackendSpec,
  curl,
  desiredFrontend,
  type FrontendOptions,
  type HttpBackend,
  startHttpBackend,
} from "./harness.ts";

const dir = mkdtempSync(join(tmpdir(), "lodestone-tls-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function makeCert(name: string, subject: string, sans: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  writeSelfSignedCert(cert, key, { cn: subject, subjectAltName: sans });
  return { cert, key };
}

/** The CN of the certificate the server presents for `servername`, and the negotiated ALPN. */
function handshake(port: number, servername?: string): Promise<{ cn: string; alpn: string | false | null }> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect(
      { port, host: "127.0.0.1", servername, rejectUnauthorized: false, ALPNProtocols: ["h2", "http/1.1"] },
      () => {
        const cn = String(s.getPeerCertificate().subject.CN);
        const alpn = s.alpnProtocol;
        s.destroy();
        resolve({ cn, alpn });
      },
    );
    s.on("error", reject);
  });
}

/** An https frontend with these certificates (TLS 1.2+, ALPN http/1.1). */
function httpsFrontend(
  backends: BackendSpec[],
  certificates: unknown[],
  options: FrontendOptions = {},
): DesiredFrontend {
  const fe = desiredFrontend(backends, options);
  fe.protocol = "https";
  Object.assign(fe.settings, {
    protocol: "https",
    tls: { certificates, minVersion: "TLSv1.2", alpn: ["http/1.1"] },
  });
  return fe;
}

describe("https frontends: certificates by SNI, ALPN, X-Forwarded-Proto", () => {
  let backend: HttpBackend;
  let proxy: HttpListener;
  let port: number;

  before(async () => {
    const a = makeCert("a", "default.test", "DNS:default.test");
    const wild = makeCert("wild", "wildcard.wild.test", "DNS:*.wild.test");
    const exact = makeCert("exact", "exact.wild.test", "DNS:exact.wild.test");
    backend = await startHttpBackend((req, res) => res.end(`${req.headers["x-forwarded-proto"]} ${req.url}`));
    proxy = createHttpListener(httpsFrontend([{ name: "b", port: backend.port }], [a, wild, exact]));
    await proxy.start();
    port = proxy.address()!.port;
  });
  after(async () => {
    await proxy.stop(100);
    await backend.close();
  });

  const table: [string, string | undefined, string][] = [
    ["no SNI gets the first certificate", undefined, "default.test"],
    ["an exact name", "exact.wild.test", "exact.wild.test"],
    ["a wildcard name", "other.wild.test", "wildcard.wild.test"],
    ["a name two labels below the wildcard falls back to the default", "a.b.wild.test", "default.test"],
    ["an unknown name falls back to the default", "nobody.test", "default.test"],
  ];
  for (const [name, sni, cn] of table) {
    test(`SNI: ${name}`, async () => {
      assert.equal((await handshake(port, sni)).cn, cn);
    });
  }

  test("ALPN settles on http/1.1 when the client offers h2 first", async () => {
    assert.equal((await handshake(port, "exact.wild.test")).alpn, "http/1.1");
  });

  test("curl over https reaches the backend, which sees X-Forwarded-Proto: https", async () => {
    const r = await curl([
      "-k",
      "--resolve",
      `exact.wild.test:${port}:127.0.0.1`,
      `https://exact.wild.test:${port}/p?q=1`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "https /p?q=1");
  });

  test("a plaintext request to the https port is refused without reaching the backend", async () => {
    const before = backend.requests.length;
    const r = await curl([`http://127.0.0.1:${port}/`]);
    assert.notEqual(r.code, 0);
    assert.equal(backend.requests.length, before);
    assert.ok(proxy.tlsErrors >= 1);
  });
});

describe("https frontends: the TLS handshake is under request-head-timeout", () => {
  test("a client that connects and never starts its handshake is closed after request-head-timeout", async () => {
    const cert = makeCert("hs", "hs.test", "DNS:hs.test");
    const proxy = createHttpListener(
      httpsFrontend([{ name: "b", port: 9 }], [cert], { http: { requestHeadTimeout: 300 } }),
    );
    await proxy.start();
    try {
      const started = Date.now();
      const s = connect(proxy.address()!.port, "127.0.0.1");
      s.on("error", () => {});
      const closed = await emitsWithin(s, "close", 5000);
      s.destroy();
      const elapsed = Date.now() - started;
      assert.ok(closed, "closed within 5 s (Node's default would hold it 120 s)");
      assert.ok(elapsed >= 250, `closed after ${elapsed} ms`);
      assert.ok(proxy.tlsErrors >= 1, "counted as a TLS client error");
    } finally {
      await proxy.stop(100);
    }
  });
});

describe("https frontends: certificate reload on update()", () => {
  test("new certificates are served to new handshakes after update()", async () => {
    const first = makeCert("r1", "first.test", "DNS:first.test");
    const second = makeCert("r2", "second.test", "DNS:second.test");
    const proxy = createHttpListener(httpsFrontend([{ name: "b", port: 9 }], [first]));
    await proxy.start();
    try {
      const port = proxy.address()!.port;
      assert.equal((await handshake(port)).cn, "first.test");
      const next = httpsFrontend([{ name: "b", port: 9 }], [second]);
      proxy.update(next);
      const deadline = Date.now() + 3000;
      while (proxy.tlsReloads === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal((await handshake(port)).cn, "second.test");
      proxy.update(next); // unchanged: no reload
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(proxy.tlsReloads, 1);
    } finally {
      await proxy.stop(0);
    }
  });
});

describe("https frontends: configuration errors", () => {
  test("a missing certificate file is a clear error at start", async () => {
    const fe = desiredFrontend([{ name: "b", port: 9 }]);
    fe.protocol = "https";
    Object.assign(fe.settings, {
      protocol: "https",
      tls: {
        certificates: [{ cert: "/nonexistent/c.pem", key: "/nonexistent/k.pem" }],
        minVersion: "TLSv1.2",
        alpn: [],
      },
    });
    const proxy = createHttpListener(fe);
    await assert.rejects(
      proxy.start(),
      (e: Error & { code?: string }) => e.code === "TLS_CERT_UNREADABLE" && /nonexistent/.test(e.message),
    );
    await proxy.stop(0);
  });

  test("https without tls settings is a clear error at start", async () => {
    const fe = desiredFrontend([{ name: "b", port: 9 }]);
    fe.protocol = "https";
    const proxy = createHttpListener(fe);
    await assert.rejects(proxy.start(), (e: Error & { code?: string }) => e.code === "TLS_NOT_CONFIGURED");
    await proxy.stop(0);
  });
});
