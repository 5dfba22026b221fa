// Shared parts of the outlier-detection tests: a backend that answers every request
// with one status, a GET that reports only the status, and the config of an http
// frontend in front of a "bad" and a "good" backend with outlier detection on.
import { createServer, request } from "node:http";

export interface StatusBackend {
  port: number;
  close(): Promise<void>;
}

/** An HTTP backend on 127.0.0.1:0 that answers every request with `status` and its name. */
export async function statusBackend(name: string, status: number): Promise<StatusBackend> {
  const server = createServer((_req, res) => {
    res.writeHead(status, { "content-type": "text/plain" });
    res.end(name);
  });
  server.on("clientError", (_err, sock) => sock.destroy());
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as { port: number }).port,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** GET / on 127.0.0.1:`port`; the status code, or null when the request failed. */
export function getStatus(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/", agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? null));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(null));
    req.end();
  });
}

export interface OutlierConfigSpec {
  bad: number;
  good: number;
  /** The frontend's listen port. */
  port: number;
  /** base-ejection-time, e.g. "300ms". */
  ejectionTime: string;
  workers: number;
  logLevel: string;
}

/** Frontend `www` (http, no retries, ejects after 2 errors, at most 50%) over backends `bad` and `good`. */
export function outlierConfig(spec: OutlierConfigSpec): string {
  return `backends:
  bad: { address: 127.0.0.1, port: ${spec.bad} }
  good: { address: 127.0.0.1, port: ${spec.good} }
services:
  web: { algorithm: round-robin, pools: [ { name: main, backends: { bad: {}, good: {} } } ] }
frontends:
  www:
    listen: 127.0.0.1:${spec.port}
    protocol: http
    service: web
    http:
      retries: 0
      outlier-detection: { consecutive-errors: 2, base-ejection-time: ${spec.ejectionTime}, max-ejected-percent: 50 }
runtime: { workers: ${spec.workers}, drain-timeout: 1s, log-level: ${spec.logLevel} }
`;
}
