// The configuration `lodestone run --demo` runs: three demo backends, two in a
// primary pool and one in a fallback pool, behind an HTTP health check, served by a
// TCP frontend on 127.0.0.1:8080 (each curl is a new connection, so round-robin
// alternates between demo-1 and demo-2; when both fail their checks, demo-3 takes over).
//
// LODESTONE_DEMO_PORTS="8080,9001,9002,9003[,9700]" moves the frontend, the three
// backends (and the admin API) elsewhere (the tests use it to stay off fixed ports).
import { LodestoneError } from "../errors.ts";

export const DEMO_CONFIG_FILE = "<demo>";

export interface DemoPorts {
  frontend: number;
  backends: [number, number, number];
  /** Admin API port; the config default (9700) when absent. */
  admin?: number;
}

export const DEFAULT_DEMO_PORTS: DemoPorts = { frontend: 8080, backends: [9001, 9002, 9003] };

/** Parse LODESTONE_DEMO_PORTS ("frontend,b1,b2,b3[,admin]"); the defaults when unset. */
export function demoPorts(env: string | undefined): DemoPorts {
  if (env === undefined || env.trim() === "") return DEFAULT_DEMO_PORTS;
  const n = env.split(",").map((p) => Number(p.trim()));
  if ((n.length !== 4 && n.length !== 5) || !n.every((p) => Number.isInteger(p) && p >= 1 && p <= 65535)) {
    throw new LodestoneError(
      "DEMO_PORTS_INVALID",
      `LODESTONE_DEMO_PORTS must be four or five ports "frontend,b1,b2,b3[,admin]", got ${JSON.stringify(env)}`,
    );
  }
  const ports: DemoPorts = { frontend: n[0], backends: [n[1], n[2], n[3]] };
  if (n.length === 5) ports.admin = n[4];
  return ports;
}

export function demoConfig(ports: DemoPorts = DEFAULT_DEMO_PORTS): string {
  const [p1, p2, p3] = ports.backends;
  return `# lodestone --demo
healthchecks:
  demo-http: { type: http, path: /healthz, interval: 1s, timeout: 500ms, rise: 2, fall: 2 }
backends:
  demo-1: { address: 127.0.0.1, port: ${p1}, healthcheck: demo-http }
  demo-2: { address: 127.0.0.1, port: ${p2}, healthcheck: demo-http }
  demo-3: { address: 127.0.0.1, port: ${p3}, healthcheck: demo-http }
services:
  demo:
    algorithm: round-robin
    pools:
      - { name: primary, backends: { demo-1: {}, demo-2: {} } }
      - { name: fallback, backends: { demo-3: {} } }
frontends:
  demo:
    listen: 127.0.0.1:${ports.frontend}
    protocol: tcp
    service: demo
runtime:
  warmup: { max-wait: 3s }
  drain-timeout: 2s
${ports.admin === undefined ? "" : `admin: { listen: 127.0.0.1:${ports.admin} }\n`}`;
}

export function demoHelp(ports: DemoPorts = DEFAULT_DEMO_PORTS): string[] {
  const [p1, p2, p3] = ports.backends;
  return [
    `demo: lodestone listens on 127.0.0.1:${ports.frontend} (tcp) in front of demo-1..3 on 127.0.0.1:${p1}, ${p2}, ${p3}`,
    `demo: try   curl http://127.0.0.1:${ports.frontend}/   a few times: answers alternate between demo-1 and demo-2`,
    `demo: fail  curl http://127.0.0.1:${p1}/fail   (and :${p2}/fail) makes that backend's health check fail;`,
    "demo:       about 2s later traffic avoids it, and with both failing the fallback pool (demo-3) answers",
    `demo: heal  curl http://127.0.0.1:${p1}/recover   brings it back about 2s later; Ctrl-C stops everything`,
  ];
}
