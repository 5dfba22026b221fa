// The admin API's contract against a real Daemon (in-process) with real TCP backends:
// every read endpoint, every mutation and its effect in status, and the error paths.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { request } from "node:http";
import { after, before, describe, test } from "node:test";
import { type Fixture, startFixture } from "../../helpers/admin-fixture.ts";
import { waitFor } from "../../helpers/wait.ts";

let f: Fixture;

before(async () => {
  f = await startFixture();
});
after(async () => {
  await f?.close();
});

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(f.url + path, {
    method,
    headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

describe("reads", () => {
  test("GET /frontends lists the frontend with state up, its listen, protocol and counters", async () => {
    const r = await call("GET", "/api/v1/frontends");
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 1);
    const fe = r.body[0];
    assert.equal(fe.name, "www");
    assert.equal(fe.state, "up");
    assert.equal(fe.listen, `127.0.0.1:${f.frontendPort}`);
    assert.equal(fe.protocol, "tcp");
    assert.equal(fe.activePoolName, "main");
    assert.deepEqual(Object.keys(fe.counters).sort(), [
      "bytesIn",
      "bytesOut",
      "connectErrors",
      "connectionsActive",
      "connectionsTotal",
    ]);
  });

  test("GET /frontends/:name answers one frontend, 404 with UNKNOWN_FRONTEND for others", async () => {
    assert.equal((await call("GET", "/api/v1/frontends/www")).body.name, "www");
    const r = await call("GET", "/api/v1/frontends/nope");
    assert.equal(r.status, 404);
    assert.equal(r.body.error.code, "UNKNOWN_FRONTEND");
  });

  test("GET /services/:name lists pools in priority order with configured and effective weights", async () => {
    const r = await call("GET", "/api/v1/services/web");
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.body.pools.map((p: { name: string; active: boolean }) => [p.name, p.active]),
      [
        ["main", true],
        ["spare", false],
      ],
    );
    const main = r.body.pools[0].members.map((m: { backend: string; configuredWeight: number }) => [
      m.backend,
      m.configuredWeight,
    ]);
    assert.deepEqual(main, [
      ["a", 100],
      ["b", 50],
    ]);
    assert.equal(r.body.pools[1].members[0].effectiveWeight, 0, "spare pool is not active");
    assert.deepEqual(r.body.frontends, ["www"]);
    assert.equal((await call("GET", "/api/v1/services")).body.length, 1);
    assert.equal((await call("GET", "/api/v1/services/nope")).status, 404);
  });

  test("GET /backends and /backends/:name show state, last transition, last probe and history", async () => {
    const list = await call("GET", "/api/v1/backends");
    assert.deepEqual(
      list.body.map((b: { name: string }) => b.name),
      ["a", "b", "c"],
    );
    assert.equal(list.body[0].history, undefined, "history only on the single-backend view");
    const a = (await waitFor(
      async () => {
        const r = await call("GET", "/api/v1/backends/a");
        return r.body.lastProbe ? r : null;
      },
      5000,
      "a first probe of a",
      50,
    ))!;
    assert.equal(a.body.state, "up");
    assert.equal(a.body.healthcheck, "tcp-fast");
    assert.equal(a.body.lastProbe.ok, true);
    assert.equal(typeof a.body.lastProbe.latencyMs, "number");
    assert.equal(a.body.lastTransition.to, "up");
    assert.ok(a.body.history.length >= 1);
    const c = await call("GET", "/api/v1/backends/c");
    assert.equal(c.body.healthcheck, null);
    assert.equal(c.body.lastProbe, null);
    assert.equal((await call("GET", "/api/v1/backends/zzz")).body.error.code, "UNKNOWN_BACKEND");
  });

  test("GET /healthchecks lists each check with the backends using it", async () => {
    const r = await call("GET", "/api/v1/healthchecks");
    assert.equal(r.body[0].name, "tcp-fast");
    assert.deepEqual(r.body[0].backends, ["a", "b"]);
  });

  test("GET /config answers the normalized config, its source file and load time", async () => {
    const r = await call("GET", "/api/v1/config");
    assert.equal(r.body.source, f.file);
    assert.equal(typeof r.body.loadedAt, "number");
    assert.deepEqual(Object.keys(r.body.config.backends), ["a", "b", "c"]);
    assert.equal(r.body.config.frontends.www.listen.port, f.frontendPort);
  });

  test("GET /version names the program and version", async () => {
    const r = await call("GET", "/api/v1/version");
    assert.equal(r.body.name, "lodestone");
    assert.match(r.body.version, /^\d+\.\d+\.\d+/);
  });

  test("GET /openapi.json documents every route and the request schemas the handlers enforce", async () => {
    const r = await call("GET", "/api/v1/openapi.json");
    assert.equal(r.body.openapi, "3.1.0");
    const weight = r.body.paths["/api/v1/services/{service}/pools/{pool}/backends/{backend}/weight"].post;
    const schema = weight.requestBody.content["application/json"].schema;
    assert.deepEqual(schema.required, ["weight"]);
    assert.equal(schema.properties.weight.maximum, 100);
    assert.equal(schema.additionalProperties, false);
    assert.ok(r.body.paths["/api/v1/backends/{name}"].get);
    assert.ok(r.body.paths["/api/v1/events"].get);
    assert.deepEqual(r.body.paths["/api/v1/backends/{name}/disable"].post.security, [{ bearer: [] }]);
  });
});

describe("errors", () => {
  test("unknown path is 404, wrong method 405 with Allow", async () => {
    const r = await call("GET", "/api/v1/nothing");
    assert.equal(r.status, 404);
    assert.equal(r.body.error.code, "NOT_FOUND");
    const m = await call("DELETE", "/api/v1/backends/a");
    assert.equal(m.status, 405);
    assert.equal(m.headers.get("allow"), "GET");
    const p = await call("GET", "/api/v1/backends/a/pause");
    assert.equal(p.status, 405);
    assert.equal(p.headers.get("allow"), "POST");
  });

  test("bad bodies are 400 with a message naming the problem", async () => {
    const path = "/api/v1/services/web/pools/main/backends/a/weight";
    const cases: [unknown, RegExp][] = [
      ["{not json", /not valid JSON/],
      [{ weight: 101 }, /weight/],
      [{ weight: -1 }, /weight/],
      [{ weight: 1.5 }, /weight/],
      [{ weight: "50" }, /weight/],
      [{}, /weight/],
      [{ weight: 5, extra: true }, /extra/],
      [{ weight: 5, flush: "yes" }, /flush/],
    ];
    for (const [body, message] of cases) {
      const r = await call("POST", path, body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.error.code, "BAD_REQUEST");
      assert.match(r.body.error.message, message);
    }
    const d = await call("POST", "/api/v1/backends/a/disable", { flush: 1 });
    assert.equal(d.status, 400);
    const p = await call("POST", "/api/v1/backends/a/pause", { anything: 1 });
    assert.equal(p.status, 400);
  });

  test("a body over 64 KiB is refused with 413, declared or streamed", async () => {
    const big = JSON.stringify({ weight: 5, pad: "x".repeat(70 * 1024) });
    const r = await call("POST", "/api/v1/services/web/pools/main/backends/a/weight", big);
    assert.equal(r.status, 413);
    assert.equal(r.body.error.code, "BODY_TOO_LARGE");
    // Chunked, no content-length: the limit holds while reading.
    const status = await new Promise<number>((resolve, reject) => {
      const u = new URL(`${f.url}/api/v1/backends/a/pause`);
      const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: "POST" }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      for (let i = 0; i < 80; i++) req.write("x".repeat(1024));
      req.end();
    });
    assert.equal(status, 413);
  });

  test("mutations on unknown names are 404 with the daemon's code", async () => {
    assert.equal((await call("POST", "/api/v1/backends/zzz/pause", {})).status, 404);
    const cases: [string, string][] = [
      ["/api/v1/services/nope/pools/main/backends/a/weight", "UNKNOWN_SERVICE"],
      ["/api/v1/services/web/pools/nope/backends/a/weight", "UNKNOWN_POOL"],
      ["/api/v1/services/web/pools/main/backends/c/weight", "UNKNOWN_MEMBER"],
    ];
    for (const [path, code] of cases) {
      const r = await call("POST", path, { weight: 10 });
      assert.equal(r.status, 404, path);
      assert.equal(r.body.error.code, code);
    }
  });
});

describe("mutations", () => {
  test("disable with flush shows as disabled, weight 0, flush in the service view; enable brings it back", async () => {
    const r = await call("POST", "/api/v1/backends/b/disable", { flush: true });
    assert.equal(r.status, 200);
    assert.equal(r.body.state, "disabled");
    const svc = await call("GET", "/api/v1/services/web");
    const b = svc.body.pools[0].members.find((m: { backend: string }) => m.backend === "b");
    assert.equal(b.effectiveWeight, 0);
    assert.equal(b.flush, true);
    const e = await call("POST", "/api/v1/backends/b/enable");
    assert.equal(e.status, 200);
    await waitFor(
      async () => (await call("GET", "/api/v1/backends/b")).body.state === "up",
      5000,
      "b up",
      50,
    );
  });

  test("pause freezes the state and stops probing; resume probes again", async () => {
    const p = await call("POST", "/api/v1/backends/a/pause", {});
    assert.equal(p.body.state, "paused");
    assert.equal(p.body.override.kind, "paused");
    const before = (await call("GET", "/api/v1/backends/a")).body.lastProbe.at;
    await new Promise((r) => setTimeout(r, 350));
    assert.equal(
      (await call("GET", "/api/v1/backends/a")).body.lastProbe.at,
      before,
      "no probe while paused",
    );
    await call("POST", "/api/v1/backends/a/resume");
    await waitFor(
      async () => (await call("GET", "/api/v1/backends/a")).body.state === "up",
      5000,
      "a up",
      50,
    );
  });

  test("a weight override shows as configured and effective weight, then traffic follows it", async () => {
    const r = await call("POST", "/api/v1/services/web/pools/main/backends/a/weight", { weight: 0 });
    assert.equal(r.status, 200);
    assert.equal(r.body.configuredWeight, 0);
    assert.equal(r.body.effectiveWeight, 0);
    const svc = await call("GET", "/api/v1/services/web");
    const a = svc.body.pools[0].members.find((m: { backend: string }) => m.backend === "a");
    assert.deepEqual(a.override, { weight: 0, flush: false });
    const back = await call("POST", "/api/v1/services/web/pools/main/backends/a/weight", { weight: 100 });
    assert.equal(back.body.effectiveWeight, 100);
  });

  test("every mutation lands on the event bus with who did it", async () => {
    const from = f.daemon.events.lastId;
    await call("POST", "/api/v1/backends/c/pause");
    await call("POST", "/api/v1/backends/c/resume");
    const logs = f.daemon.events
      .since(from)
      .filter((e) => e.type === "log" && e.message.startsWith("admin "))
      .map((e) => (e.type === "log" ? e.message : ""));
    assert.deepEqual(logs, [
      "admin 127.0.0.1 anonymous: pause backend c",
      "admin 127.0.0.1 anonymous: resume backend c",
    ]);
  });

  test("config/check answers ok, config/reload answers the diff applied", async () => {
    const c = await call("POST", "/api/v1/config/check");
    assert.equal(c.status, 200);
    assert.equal(c.body.ok, true);
    assert.equal(c.body.changed, false);
    assert.equal(c.body.summary, "no changes");
    writeFileSync(f.file, f.yaml.replace("b: { weight: 50 }", "b: { weight: 60 }"));
    // check tells what the reload would change, and changes nothing itself.
    const preview = await call("POST", "/api/v1/config/check");
    assert.equal(preview.status, 200);
    assert.equal(preview.body.changed, true);
    assert.equal(preview.body.summary, "services ~web");
    assert.deepEqual(preview.body.diff.services, { added: [], removed: [], changed: ["web"] });
    const before = await call("GET", "/api/v1/services/web");
    assert.equal(before.body.pools[0].members[1].configuredWeight, 50);
    const r = await call("POST", "/api/v1/config/reload");
    assert.equal(r.status, 200);
    assert.equal(r.body.ok, true);
    assert.equal(r.body.changed, true);
    assert.deepEqual(r.body.diff.services.changed, ["web"]);
    const svc = await call("GET", "/api/v1/services/web");
    assert.equal(svc.body.pools[0].members[1].configuredWeight, 60);
  });

  test("an invalid config is refused by check and reload with 422 and file:line:column errors", async () => {
    writeFileSync(f.file, f.yaml.replace("algorithm: round-robin", "algorithm: nonsense"));
    const c = await call("POST", "/api/v1/config/check");
    assert.equal(c.status, 422);
    assert.equal(c.body.ok, false);
    assert.match(c.body.errors[0].text, /lodestone\.yaml:\d+:\d+/);
    const r = await call("POST", "/api/v1/config/reload");
    assert.equal(r.status, 422);
    assert.match(r.body.errors[0].path, /algorithm/);
    // Still running the last good config.
    const svc = await call("GET", "/api/v1/services/web");
    assert.equal(svc.body.algorithm, "round-robin");
    writeFileSync(f.file, f.yaml);
  });
});

test("a refused change is not published as if it had happened", async () => {
  const from = f.daemon.events.lastId;
  const r = await call("POST", "/api/v1/services/web/pools/nope/backends/a/weight", { weight: 1 });
  assert.equal(r.status, 404);
  assert.deepEqual(f.daemon.events.since(from), []);
});
