// What is measured. Adding a scenario (e.g. XDP or HTTP/2) is one entry here: the harness
// runs every contender on every scenario whose `mode` the contender supports, and
// records the others as n/a with a reason.

/**
 * How contenders are configured for a scenario:
 *   http - L7 reverse proxy (HAProxy mode http, NGINX http{}, lodestone protocol http)
 *   tcp  - L4 TCP proxy (HAProxy mode tcp, NGINX stream{}, lodestone protocol tcp)
 * The load is HTTP/1.1 from wrk in both cases.
 */
export type ProxyMode = "http" | "tcp";

export interface Scenario {
  /** Stable name, used by --scenario and in the JSON. */
  name: string;
  title: string;
  mode: ProxyMode;
  /** Backend path: "/" is a 64-byte body, "/1m" is 1 MiB. */
  path: "/" | "/1m";
  /** Send "Connection: close" so every request pays for a new connection. */
  connectionClose: boolean;
  /** wrk -t and -c. */
  threads: number;
  connections: number;
  /** The headline number of the row: requests/s, or MB/s for bulk transfer. */
  metric: "rps" | "mbps";
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: "l7-keepalive",
    title: "L7 HTTP keep-alive, 64 B responses",
    mode: "http",
    path: "/",
    connectionClose: false,
    threads: 1,
    connections: 50,
    metric: "rps",
  },
  {
    name: "l7-newconn",
    title: "L7 HTTP new connection per request",
    mode: "http",
    path: "/",
    connectionClose: true,
    threads: 1,
    connections: 50,
    metric: "rps",
  },
  {
    name: "l7-1mib",
    title: "L7 HTTP keep-alive, 1 MiB responses",
    mode: "http",
    path: "/1m",
    connectionClose: false,
    threads: 1,
    connections: 10,
    metric: "mbps",
  },
  {
    name: "l4-keepalive",
    title: "L4 TCP proxy, HTTP keep-alive, 64 B responses",
    mode: "tcp",
    path: "/",
    connectionClose: false,
    threads: 1,
    connections: 50,
    metric: "rps",
  },
  {
    name: "l4-connrate",
    title: "L4 TCP proxy, new connection per request",
    mode: "tcp",
    path: "/",
    connectionClose: true,
    threads: 1,
    connections: 50,
    metric: "rps",
  },
];

/** 64 ASCII bytes, no characters that need escaping in an NGINX string. */
export const SMALL_BODY = "lodestone-bench-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL";
export const LARGE_BODY_BYTES = 1024 * 1024;

/** Size of the body each backend path serves, so a probe can check the proxy passed it whole. */
export function expectedBodyBytes(path: Scenario["path"]): number {
  return path === "/1m" ? LARGE_BODY_BYTES : SMALL_BODY.length;
}
