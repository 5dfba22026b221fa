// Demo backends for `lodestone run --demo`: tiny HTTP servers on loopback that say
// who they are, with a health route the demo's http-check probes and two routes to
// flip that health so failover can be watched without killing anything:
//   GET /            -> "hello from demo-N\n"
//   GET /healthz     -> 200 "ok" while healthy, 503 "failing" after /fail
//   GET /fail        -> make /healthz fail (the balancer takes it out after fall x interval)
//   GET /recover     -> make /healthz pass again
import { createServer, type Server } from "node:http";

export interface DemoBackend {
  name: string;
  host: string;
  port: number;
  healthy: boolean;
  close(): Promise<void>;
}

export const DEMO_HOST = "127.0.0.1";

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port }, () => {
      server.off("error", reject);
      const addr = server.address();
      resolve(typeof addr === "object" && addr ? addr.port : port);
    });
  });
}

export async function startDemoBackend(name: string, host: string, port: number): Promise<DemoBackend> {
  const backend: DemoBackend = { name, host, port, healthy: true, close: async () => {} };
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const reply = (status: number, body: string) => {
      res.writeHead(status, { "content-type": "text/plain", "content-length": Buffer.byteLength(body) });
      res.end(body);
    };
    if (path === "/healthz")
      return reply(backend.healthy ? 200 : 503, backend.healthy ? "ok\n" : "failing\n");
    if (path === "/fail") {
      backend.healthy = false;
      return reply(200, `${name}: health check will now fail\n`);
    }
    if (path === "/recover") {
      backend.healthy = true;
      return reply(200, `${name}: health check will now pass\n`);
    }
    reply(200, `hello from ${name}\n`);
  });
  server.on("clientError", (_err, socket) => socket.destroy());
  backend.port = await listen(server, host, port);
  backend.close = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return backend;
}

/** Start demo-1..demo-N on the given ports; on failure, close the ones already started. */
export async function startDemoBackends(
  ports: readonly number[],
  host: string = DEMO_HOST,
): Promise<DemoBackend[]> {
  const started: DemoBackend[] = [];
  try {
    for (let i = 0; i < ports.length; i++)
      started.push(await startDemoBackend(`demo-${i + 1}`, host, ports[i]));
  } catch (err) {
    await Promise.all(started.map((b) => b.close()));
    throw err;
  }
  return started;
}
