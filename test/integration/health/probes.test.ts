import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { AgentCheck, UdpCheck } from "../../../src/config/types.ts";
import { probe } from "../../../src/health/probe.ts";
import { selfSignedCert } from "../../helpers/certs.ts";
import { closedPort, httpCheck, startHttp, startTcp, startUdp, tcpCheck, timing } from "./servers.ts";

const never = new AbortController().signal;
const at = (port: number, address = "127.0.0.1") => ({ address, port });

describe("tcp probe", () => {
  test("passes against a listening port and closes the connection", async (t) => {
    let closed = 0;
    const server = await startTcp((s) => s.on("close", () => closed++));
    t.after(server.close);
    const r = await probe(at(server.port), tcpCheck(), never);
    assert.deepEqual([r.ok, r.reason], [true, "connected"]);
    assert.ok(r.latencyMs >= 0 && r.latencyMs < 1000);
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(closed, 1);
  });

  test("fails on a refused port with the errno", async () => {
    const r = await probe(at(await closedPort()), tcpCheck(), never);
    assert.deepEqual([r.ok, r.reason], [false, "connect ECONNREFUSED"]);
  });

  test("works over IPv6 loopback", async (t) => {
    let server: Awaited<ReturnType<typeof startTcp>>;
    try {
      server = await startTcp(() => {}, "::1");
    } catch {
      t.skip("no IPv6 loopback on this host");
      return;
    }
    t.after(server.close);
    const r = await probe(at(server.port, "::1"), tcpCheck(), never);
    assert.equal(r.ok, true);
  });

  test("an aborted probe reports 'aborted' at once", async (t) => {
    const server = await startTcp();
    t.after(server.close);
    const ac = new AbortController();
    ac.abort();
    const r = await probe(at(server.port), tcpCheck(), ac.signal);
    assert.deepEqual([r.ok, r.reason], [false, "aborted"]);
  });
});

describe("http probe", () => {
  let srv: Awaited<ReturnType<typeof startHttp>>;
  before(async () => {
    srv = await startHttp({ status: 200, body: "all ok" });
  });
  after(() => srv.close());

  test("passes on 200 and sends method, path, default Host and Connection: close", async () => {
    srv.behaviour.status = 200;
    const r = await probe(at(srv.port), httpCheck({ method: "HEAD", path: "/ping?x=1" }), never);
    assert.deepEqual([r.ok, r.reason], [true, "HTTP 200"]);
    assert.equal(srv.seen.method, "HEAD");
    assert.equal(srv.seen.url, "/ping?x=1");
    assert.equal(srv.seen.headers?.host, `127.0.0.1:${srv.port}`);
    assert.equal(srv.seen.headers?.connection, "close");
  });

  test("sends the configured Host header", async () => {
    const r = await probe(at(srv.port), httpCheck({ host: "app.example" }), never);
    assert.equal(r.ok, true);
    assert.equal(srv.seen.headers?.host, "app.example");
  });

  test("fails on 503 with the status as reason", async () => {
    srv.behaviour.status = 503;
    const r = await probe(at(srv.port), httpCheck(), never);
    srv.behaviour.status = 200;
    assert.deepEqual([r.ok, r.reason], [false, "HTTP 503"]);
  });

  test("accepts statuses in the configured ranges only", async () => {
    srv.behaviour.status = 503;
    const expect503 = await probe(at(srv.port), httpCheck({ expectStatus: [{ min: 503, max: 503 }] }), never);
    srv.behaviour.status = 200;
    const expectOnly204 = await probe(
      at(srv.port),
      httpCheck({ expectStatus: [{ min: 204, max: 204 }] }),
      never,
    );
    assert.equal(expect503.ok, true);
    assert.deepEqual([expectOnly204.ok, expectOnly204.reason], [false, "HTTP 200"]);
  });

  test("checks the body for a substring", async () => {
    const yes = await probe(at(srv.port), httpCheck({ expectBody: "ok" }), never);
    const no = await probe(at(srv.port), httpCheck({ expectBody: "healthy" }), never);
    assert.deepEqual([yes.ok, yes.reason], [true, "HTTP 200"]);
    assert.deepEqual([no.ok, no.reason], [false, 'body does not contain "healthy"']);
  });

  test("searches only the first 64 KiB of a large body", async (t) => {
    const big = await startHttp({ status: 200, body: `${"x".repeat(70 * 1024)}needle` });
    t.after(big.close);
    const r = await probe(at(big.port), httpCheck({ expectBody: "needle" }), never);
    assert.deepEqual([r.ok, r.reason], [false, 'body does not contain "needle"']);
    const early = await probe(at(big.port), httpCheck({ expectBody: "xxx" }), never);
    assert.equal(early.ok, true);
  });

  test("uses one connection per probe and closes it", async (t) => {
    const s = await startHttp({ status: 200, body: "ok" });
    t.after(s.close);
    for (let i = 0; i < 3; i++) await probe(at(s.port), httpCheck(), never);
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(s.seen.connections, 3);
    assert.equal(s.seen.closed, 3);
  });

  test("times out against a server that never answers", async (t) => {
    const hang = await startHttp({ status: 200, body: "", hang: true });
    t.after(hang.close);
    const r = await probe(at(hang.port), httpCheck({ timeout: 200 }), never);
    assert.deepEqual([r.ok, r.reason], [false, "timeout after 200ms"]);
    assert.ok(r.latencyMs >= 190 && r.latencyMs < 3000, `latency ${r.latencyMs}`);
  });

  test("fails on a refused port", async () => {
    const r = await probe(at(await closedPort()), httpCheck(), never);
    assert.deepEqual([r.ok, r.reason], [false, "connect ECONNREFUSED"]);
  });

  test("fails with a readable reason when the peer is not speaking HTTP", async (t) => {
    const junk = await startTcp((s) => s.end("SSH-2.0-OpenSSH\r\n\r\n"));
    t.after(junk.close);
    const r = await probe(at(junk.port), httpCheck(), never);
    assert.equal(r.ok, false);
    assert.match(r.reason, /bad HTTP response|connection closed/);
  });
});

describe("https probe", () => {
  let srv: Awaited<ReturnType<typeof startHttp>>;
  before(async () => {
    srv = await startHttp(
      { status: 200, body: "ok" },
      selfSignedCert({ cn: "health.test", subjectAltName: "DNS:health.test,IP:127.0.0.1" }),
    );
  });
  after(() => srv.close());

  test("passes against a self-signed certificate with verify off, sending SNI", async () => {
    const r = await probe(
      at(srv.port),
      httpCheck({ type: "https", verify: false, sni: "health.test" }),
      never,
    );
    assert.deepEqual([r.ok, r.reason], [true, "HTTP 200"]);
    assert.equal(srv.seen.servername, "health.test");
  });

  test("fails against a self-signed certificate with verify on, naming the TLS error", async () => {
    const r = await probe(
      at(srv.port),
      httpCheck({ type: "https", verify: true, sni: "health.test" }),
      never,
    );
    assert.equal(r.ok, false);
    assert.match(r.reason, /^tls DEPTH_ZERO_SELF_SIGNED_CERT/);
  });

  test("https against a plain HTTP port fails with a reason", async (t) => {
    const plain = await startHttp({ status: 200, body: "ok" });
    t.after(plain.close);
    const r = await probe(at(plain.port), httpCheck({ type: "https", timeout: 500 }), never);
    assert.equal(r.ok, false);
    assert.match(r.reason, /^tls handshake failed/);
  });
});

describe("udp probe", () => {
  const udpCheck = (extra: Partial<UdpCheck> = {}): UdpCheck => ({
    name: "udp",
    type: "udp",
    ...timing,
    send: "ping",
    ...extra,
  });

  test("passes when the echo server replies, and matches the expected substring", async (t) => {
    const echo = await startUdp((m) => `pong:${m.toString()}`);
    t.after(echo.close);
    const any = await probe(at(echo.port), udpCheck(), never);
    const match = await probe(at(echo.port), udpCheck({ expect: "pong:ping" }), never);
    const mismatch = await probe(at(echo.port), udpCheck({ expect: "PONG" }), never);
    assert.deepEqual([any.ok, any.reason], [true, "reply received"]);
    assert.equal(match.ok, true);
    assert.deepEqual([mismatch.ok, mismatch.reason], [false, 'reply does not contain "PONG"']);
    assert.equal(echo.received(), 3);
  });

  test("times out when nothing answers", async (t) => {
    const silent = await startUdp(() => null);
    t.after(silent.close);
    const r = await probe(at(silent.port), udpCheck({ timeout: 150 }), never);
    assert.deepEqual([r.ok, r.reason], [false, "timeout after 150ms"]);
    assert.equal(silent.received(), 1);
  });

  test("fails fast on a closed port (ICMP port unreachable)", async () => {
    const r = await probe(at(await closedPort()), udpCheck({ timeout: 5000 }), never);
    assert.equal(r.ok, false);
    assert.match(r.reason, /ECONNREFUSED/);
    assert.ok(r.latencyMs < 2500, `latency ${r.latencyMs}`);
  });
});

describe("agent probe", () => {
  const agentCheck = (port: number): AgentCheck => ({ name: "agent", type: "agent", ...timing, port });
  const agentSaying = (line: string, end = true) =>
    startTcp((s) => {
      if (end) s.end(line);
      else s.write(line);
    });

  for (const [line, ok, reason, report] of [
    ["drain\n", true, "agent says drain", { state: "drain" }],
    ["weight:50\n", true, "agent says weight:50", { weightPercent: 50 }],
    ["down\n", false, "agent says down", { state: "down" }],
    ["up 75% # fine\r\n", true, "agent says up weight:75", { state: "up", weightPercent: 75 }],
  ] as const) {
    test(`an agent answering ${JSON.stringify(line)} -> ${ok ? "pass" : "fail"} (${reason})`, async (t) => {
      const agent = await agentSaying(line);
      t.after(agent.close);
      // The agent port comes from the check, not from the backend's traffic port.
      const r = await probe(at(agent.port), agentCheck(agent.port), never);
      assert.deepEqual([r.ok, r.reason, r.agent], [ok, reason, report]);
    });
  }

  test("reads the line without waiting for the agent to close", async (t) => {
    const agent = await agentSaying("ready\n", false);
    t.after(agent.close);
    // The agent never closes: waiting for the close would end in a timeout.
    const r = await probe(at(agent.port), { ...agentCheck(agent.port), timeout: 5000 }, never);
    assert.deepEqual([r.ok, r.reason], [true, "agent says ready"]);
  });

  test("a reply without newline counts once the agent closes", async (t) => {
    const agent = await agentSaying("up");
    t.after(agent.close);
    const r = await probe(at(agent.port), agentCheck(agent.port), never);
    assert.deepEqual([r.ok, r.reason], [true, "agent says up"]);
  });

  test("an agent that says nothing fails", async (t) => {
    const mute = await agentSaying("");
    t.after(mute.close);
    const r = await probe(at(mute.port), agentCheck(mute.port), never);
    assert.deepEqual([r.ok, r.reason], [false, "agent sent an empty reply"]);
  });

  test("an unreachable agent fails with the errno", async () => {
    const port = await closedPort();
    const r = await probe(at(port), agentCheck(port), never);
    assert.deepEqual([r.ok, r.reason], [false, "connect ECONNREFUSED"]);
  });
});

test("an unknown check type is a failed probe, not a crash", async () => {
  const r = await probe(at(1), { ...tcpCheck(), type: "smtp" } as never, never);
  assert.deepEqual([r.ok, r.reason], [false, 'unknown check type "smtp"']);
});
