// Lab load: HTTP GETs against a URL, each on a new TCP connection (a new flow for the
// balancer), a few at a time, until COUNT answers or SECONDS have passed, whichever
// comes first. Prints one JSON line: answers per body (the backend's name), errors,
// elapsed time. Runs inside the client namespace. Usage: client.ts URL COUNT SECONDS [CONCURRENCY]
import { request } from "node:http";

export interface LoadResult {
  url: string;
  requested: number;
  ok: number;
  errors: number;
  byBackend: Record<string, number>;
  elapsedMs: number;
  /** A sample of error messages (at most 5). */
  errorSamples: string[];
}

const [url, countText, secondsText, concurrencyText] = process.argv.slice(2);
const count = Number(countText);
const seconds = Number(secondsText);
const concurrency = Number(concurrencyText ?? 8);
if (!url || !(count > 0) || !(seconds > 0) || !(concurrency > 0)) {
  process.stderr.write("usage: client.ts URL COUNT SECONDS [CONCURRENCY]\n");
  process.exit(2);
}

function get(): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, timeout: 3000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () =>
        res.statusCode === 200 ? resolve(body.trim()) : reject(new Error(`status ${res.statusCode}`)),
      );
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

const result: LoadResult = {
  url,
  requested: 0,
  ok: 0,
  errors: 0,
  byBackend: {},
  elapsedMs: 0,
  errorSamples: [],
};
const started = Date.now();
const deadline = started + seconds * 1000;

async function worker(): Promise<void> {
  while (result.requested < count && Date.now() < deadline) {
    result.requested++;
    try {
      const name = await get();
      result.ok++;
      result.byBackend[name] = (result.byBackend[name] ?? 0) + 1;
    } catch (err) {
      result.errors++;
      if (result.errorSamples.length < 5) result.errorSamples.push((err as Error).message);
    }
  }
}

await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
result.elapsedMs = Date.now() - started;
process.stdout.write(`${JSON.stringify(result)}\n`);
