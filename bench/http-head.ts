// HTTP/1.1 message-head micro-benchmark (a script, not a test):
//   ./node_modules/.bin/node bench/http-head.ts [--ms 300] [--rounds 5] [--json]
// Times the head code of one keep-alive exchange in isolation: the scanner finding
// the end of a head, the strict parsers, and the forwarded-head builders (with the
// latin1 encode the proxy does when it writes the head, since that is where V8
// flattens the string built). Heads are wrk's request, a browser-like request and
// NGINX's 64-byte-response head. Each case runs for a bounded time per round
// (--ms) and --rounds rounds; the median ns per head is printed. Single-threaded,
// no I/O. Compare two trees by alternating runs of each (the machine is shared).
import { loadavg } from "node:os";
import { forwardRequestHead, forwardResponseHead } from "../src/dataplane/proxy/http/forward-head.ts";
import { DEFAULT_HEAD_LIMITS, HeadScanner } from "../src/dataplane/proxy/http/head-scanner.ts";
import { parseRequestHead, parseResponseHead } from "../src/dataplane/proxy/http/message-head.ts";
import { REQUEST_SCAN_ERRORS, RESPONSE_SCAN_ERRORS } from "../src/dataplane/proxy/http/parse.ts";

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}
const MS = Math.min(flag("--ms", 300), 5000);
const ROUNDS = Math.min(flag("--rounds", 5), 50);
const JSON_OUT = process.argv.includes("--json");

const WRK = Buffer.from("GET / HTTP/1.1\r\nHost: 127.0.0.1:18081\r\n\r\n", "latin1");
const BROWSER = Buffer.from(
  "GET /static/app.js?v=3 HTTP/1.1\r\n" +
    "Host: www.example.com\r\n" +
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0\r\n" +
    "Accept: */*\r\n" +
    "Accept-Language: en-US,en;q=0.5\r\n" +
    "Accept-Encoding: gzip, deflate, br, zstd\r\n" +
    "Referer: https://www.example.com/index.html\r\n" +
    "Connection: keep-alive\r\n" +
    "Cookie: session=4f2a9c1e7b3d5a6f8e0c; theme=dark; lang=en\r\n" +
    "Sec-Fetch-Dest: script\r\n" +
    "Sec-Fetch-Mode: no-cors\r\n" +
    "Sec-Fetch-Site: same-origin\r\n" +
    'If-None-Match: W/"5e1f-19a2b3c4d5e"\r\n' +
    "\r\n",
  "latin1",
);
const NGINX = Buffer.from(
  "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sat, 21 Nov 2026 23:00:00 GMT\r\n" +
    "Content-Type: text/plain\r\nContent-Length: 64\r\nConnection: keep-alive\r\n\r\n",
  "latin1",
);

const reqScanner = new HeadScanner(DEFAULT_HEAD_LIMITS, REQUEST_SCAN_ERRORS, true);
const resScanner = new HeadScanner(DEFAULT_HEAD_LIMITS, RESPONSE_SCAN_ERRORS, false);
const ctx = { clientAddress: "127.0.0.1", proto: "http", path: "/", fallbackHost: "127.0.0.1:8080" };
const sink = Buffer.allocUnsafe(65536);
let keep = 0; // folded from every result so no work is dead code

function scan(scanner: HeadScanner, head: Buffer): Buffer {
  if (scanner.feed(head, 0) < 0) throw new Error("bench head incomplete");
  return scanner.take();
}

const wrkReq = parseRequestHead(WRK);
const browserReq = parseRequestHead(BROWSER);
const nginxRes = parseResponseHead(NGINX, "GET");

const cases: [string, () => void][] = [
  ["scan request (wrk)", () => (keep += scan(reqScanner, WRK).length)],
  ["scan request (browser)", () => (keep += scan(reqScanner, BROWSER).length)],
  ["scan response (nginx)", () => (keep += scan(resScanner, NGINX).length)],
  ["parseRequestHead (wrk)", () => (keep += parseRequestHead(WRK).headers.length)],
  ["parseRequestHead (browser)", () => (keep += parseRequestHead(BROWSER).headers.length)],
  ["parseResponseHead (nginx)", () => (keep += parseResponseHead(NGINX, "GET").headers.length)],
  [
    "forwardRequestHead+encode (wrk)",
    () => (keep += sink.write(forwardRequestHead(wrkReq, ctx), 0, "latin1")),
  ],
  [
    "forwardRequestHead+encode (browser)",
    () =>
      (keep += sink.write(forwardRequestHead(browserReq, { ...ctx, path: browserReq.path }), 0, "latin1")),
  ],
  [
    "forwardResponseHead+encode (nginx)",
    () => (keep += sink.write(forwardResponseHead(nginxRes, 1, true), 0, "latin1")),
  ],
  [
    "exchange (wrk + nginx)",
    () => {
      const req = parseRequestHead(scan(reqScanner, WRK));
      keep += sink.write(forwardRequestHead(req, ctx), 0, "latin1");
      const res = parseResponseHead(scan(resScanner, NGINX), req.method);
      keep += sink.write(forwardResponseHead(res, req.minor, req.keepAlive && res.keepAlive), 0, "latin1");
    },
  ],
];

/** ns per call of `fn` over about MS milliseconds (batches of 1000 calls). */
function measure(fn: () => void): number {
  const limit = BigInt(MS) * 1_000_000n;
  const t0 = process.hrtime.bigint();
  let calls = 0;
  let elapsed = 0n;
  while (elapsed < limit && calls < 100_000_000) {
    for (let i = 0; i < 1000; i++) fn();
    calls += 1000;
    elapsed = process.hrtime.bigint() - t0;
  }
  return Number(elapsed) / calls;
}

function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

const load = loadavg()[0];
for (const [, fn] of cases) measure(fn); // warm-up: let V8 optimise every case first
const samples = cases.map(() => [] as number[]);
for (let r = 0; r < ROUNDS; r++) {
  // Rounds interleave the cases, so a burst of load elsewhere hits them alike.
  for (let c = 0; c < cases.length; c++) samples[c].push(measure(cases[c][1]));
}
const rows = cases.map(([name], c) => ({
  name,
  nsMedian: Math.round(median(samples[c])),
  nsMin: Math.round(Math.min(...samples[c])),
}));
if (JSON_OUT) {
  console.log(JSON.stringify({ ms: MS, rounds: ROUNDS, loadavg: [load, loadavg()[0]], rows, keep }));
} else {
  console.log(
    `${ROUNDS} rounds of ${MS} ms per case; load average ${load.toFixed(2)} -> ${loadavg()[0].toFixed(2)}`,
  );
  console.log(`${"case".padEnd(38)} ${"ns/head".padStart(9)} ${"min".padStart(9)}`);
  for (const r of rows) {
    console.log(`${r.name.padEnd(38)} ${String(r.nsMedian).padStart(9)} ${String(r.nsMin).padStart(9)}`);
  }
}
