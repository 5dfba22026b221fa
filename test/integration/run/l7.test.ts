// An http frontend through `lodestone run`: the control plane hands the L7 dataplane
// the backends of every service its routes forward to (routeServices).
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, test } from "node:test";
import { Cleanup, startLodestoneOnFreePort } from "./helpers.ts";

const cleanup = new Cleanup();
after(() => cleanup.run());

async function httpBackend(name: string): Promise<number> {
  const server: Server = createServer((req, res) => res.end(`${name} ${req.url}\n`));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  cleanup.add(`http backend ${name}`, () => {
    server.closeAllConnections();
    return new Promise((r) => server.close(() => r(undefined)));
  });
  return (server.address() as { port: number }).port;
}

test("routes forward to another service's backends and redirect, the default service gets the rest", async () => {
  const web = await httpBackend("web");
  const api = await httpBackend("api");
  // A port found free can be taken before lodestone binds it: then a new one.
  const { lb, port } = await startLodestoneOnFreePort(
    cleanup,
    (port) => `backends:
  w: { address: 127.0.0.1, port: ${web} }
  a: { address: 127.0.0.1, port: ${api} }
services:
  web: { pools: [ { name: p, backends: { w: {} } } ] }
  api: { pools: [ { name: p, backends: { a: {} } } ] }
frontends:
  www:
    listen: 127.0.0.1:${port}
    protocol: http
    service: web
    routes:
      - { match: { path-prefix: /api/ }, service: api }
      - { match: { path-prefix: /old/ }, redirect: { location: /new/, status: 301 } }
`,
  );
  await lb.ready();
  const get = async (path: string) => {
    const r = await fetch(`http://127.0.0.1:${port}${path}`, { redirect: "manual" });
    return [r.status, (await r.text()).trim(), r.headers.get("location")];
  };
  assert.deepEqual(await get("/"), [200, "web /", null]);
  assert.deepEqual(await get("/api/users"), [200, "api /api/users", null]);
  assert.deepEqual(await get("/old/page"), [301, "", "/new/"]);
});
