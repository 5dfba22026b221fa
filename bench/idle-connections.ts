// How much memory idle keep-alive client connections cost the proxy.
//
//   node bench/idle-connections.ts [connections=10000] [http|tcp]
//
// A child process runs one listener (nothing else, so its RSS is the proxy's): the L7
// proxy (http, the default) or the L4 relay (tcp), in front of a Node HTTP backend.
// This process opens N client connections on loopback, sends one keep-alive GET on
// each (so every connection has served a request and sits idle in keep-alive), then
// asks the child for its RSS (after a GC) and prints it with the baseline before any
// connection. Bounded: at most 200 connects in flight, 10 s each, 120 s overall. An L4
// connection takes two descriptors in the proxy: N above half of `ulimit -n` fails.
import { fork } from "node:child_process";
import { createServer } from "node:http";
import { connect, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import type { DesiredFrontend } from "../src/model/desired.ts";

const CHILD = process.argv[2] === "--child";

if (CHILD) {
  const protocol = process.argv[4] === "tcp" ? "tcp" : "http";
  const backendPort = Number(process.argv[3]);
  const frontend: DesiredFrontend = {
    name: "bench",
    protocol,
    listen: { host: "127.0.0.1", port: 0 },
    service: "web",
    algorithm: "round-robin",
    hashOn: "client-address",
    activePool: 0,
    backends: [
      {
        name: "b",
        address: "127.0.0.1",
        port: backendPort,
        pool: "p",
        poolIndex: 0,
        state: "up",
        configuredWeight: 100,
        weight: 100,
        flush: false,
      },
    ],
    maglev: null,
    maglevSeed: 0,
    settings: {
      name: "bench",
      listen: { host: "127.0.0.1", port: 0 },
      protocol,
      service: "web",
      dataplane: "proxy",
      connectTimeout: 3000,
      idleTimeout: 300_000,
      maxConnections: 0,
      connectRetries: 2,
      proxyProtocol: "none",
      udp: { sessionTimeout: 30_000, maxSessions: 1 },
      routes: [],
    },
  };
  const l =
    protocol === "tcp"
      ? new (await import("../src/dataplane/proxy/tcp.ts")).TcpListener(frontend)
      : (await import("../src/dataplane/proxy/http/index.ts")).createHttpListener(frontend);
  await l.start();
  const rss = () => {
    (globalThis as { gc?: () => void }).gc?.();
    return process.memoryUsage().rss;
  };
  process.on("message", (m) => {
    if (m === "rss") process.send!({ rss: rss(), active: l.stats().connectionsActive });
    if (m === "stop") void l.stop(0).then(() => process.exit(0));
  });
  process.send!({ port: l.address()!.port, rss: rss() });
} else {
  const n = Number(process.argv[2] ?? 10_000);
  const protocol = process.argv[3] === "tcp" ? "tcp" : "http";
  const deadline = Date.now() + 120_000;
  const backend = createServer({ keepAliveTimeout: 60_000 }, (_req, res) => res.end("ok"));
  await new Promise<void>((r) => backend.listen(0, "127.0.0.1", () => r()));
  const backendPort = (backend.address() as { port: number }).port;
  const child = fork(fileURLToPath(import.meta.url), ["--child", String(backendPort), protocol], {
    execArgv: ["--expose-gc"],
  });
  const next = () => new Promise<Record<string, number>>((r) => child.once("message", (m) => r(m as never)));
  const ready = await next();
  const port = ready.port;
  const sockets: Socket[] = [];
  let failed = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const s = connect(port, "127.0.0.1");
      // A connection the proxy never answers (e.g. it ran out of descriptors) counts as
      // failed instead of holding the run.
      const giveUp = setTimeout(() => {
        failed++;
        s.destroy();
        resolve();
      }, 10_000);
      s.on("error", () => {
        clearTimeout(giveUp);
        failed++;
        resolve();
      });
      s.on("connect", () => s.write("GET / HTTP/1.1\r\nHost: bench\r\n\r\n"));
      s.once("data", () => {
        clearTimeout(giveUp);
        sockets.push(s);
        resolve();
      });
    });
  const started = Date.now();
  let opened = 0;
  while (opened < n && Date.now() < deadline) {
    const batch = Math.min(200, n - opened);
    await Promise.all(Array.from({ length: batch }, one));
    opened += batch;
  }
  const openMs = Date.now() - started;
  await new Promise((r) => setTimeout(r, 1000));
  child.send("rss");
  const after = await next();
  const mib = (b: number) => (b / 1024 / 1024).toFixed(1);
  console.log(
    JSON.stringify({
      protocol,
      connections: sockets.length,
      failed,
      activeInProxy: after.active,
      rssBaselineMiB: Number(mib(ready.rss)),
      rssMiB: Number(mib(after.rss)),
      perConnectionKiB: Number(((after.rss - ready.rss) / 1024 / Math.max(1, sockets.length)).toFixed(1)),
      openSeconds: openMs / 1000,
      under300MiB: after.rss < 300 * 1024 * 1024,
    }),
  );
  for (const s of sockets) s.destroy();
  child.send("stop");
  await new Promise((r) => child.once("exit", r));
  backend.closeAllConnections();
  backend.close();
}
