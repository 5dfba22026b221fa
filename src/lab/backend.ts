// A lab backend: an HTTP server on [::]:PORT (IPv4 too) that answers every request
// with its own name, so the client can count who served it. Runs inside a backend
// namespace, started by the lab. Usage: backend.ts NAME PORT
import { createServer } from "node:http";

const [name, portText] = process.argv.slice(2);
const port = Number(portText);
if (!name || !(port >= 1 && port <= 65535)) {
  process.stderr.write("usage: backend.ts NAME PORT\n");
  process.exit(2);
}
const body = `${name}\n`;
const server = createServer((req, res) => {
  req.on("error", () => {});
  res.on("error", () => {});
  res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(body) });
  res.end(body);
});
server.on("clientError", (_err, socket) => socket.destroy());
server.on("error", (err) => {
  process.stderr.write(`backend ${name}: ${err.message}\n`);
  process.exit(1);
});
server.listen({ port, host: "::", ipv6Only: false }, () => {
  process.stdout.write(`backend ${name} listening on ${port}\n`);
});
for (const sig of ["SIGTERM", "SIGINT"] as const) {
  process.on(sig, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
