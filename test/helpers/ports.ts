// Ports for tests that must name one before anything listens on it (a config file,
// a backend that is down on purpose). Everything else listens on port 0 directly.
import { createSocket } from "node:dgram";
import { createServer } from "node:net";

/** A port that was free a moment ago on `host` (bind 0, read it, close). */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A UDP port that was free a moment ago on 127.0.0.1 (bind 0, read it, close). */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket("udp4");
    s.on("error", reject);
    s.bind(0, "127.0.0.1", () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}
