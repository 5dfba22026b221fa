// A backend inside its namespace: TCP on each port answers every line with its
// name, UDP on each port answers every datagram with its name. All on :: (v4 too).
// Usage: backend-agent.ts NAME PORT[,PORT...]
import { createSocket, type Socket as DgramSocket } from "node:dgram";
import { createServer, type Server, type Socket } from "node:net";
import { serveAgent } from "./netns.ts";

const [name, portsText] = process.argv.slice(2);
const ports = portsText.split(",").map(Number);
const sockets = new Set<Socket>();
let tcpConnections = 0;
let udpDatagrams = 0;
/** Source addresses seen: the client's in DSR mode, the balancer's in NAT mode. */
const peers = new Set<string>();
const plain = (a: string | undefined) => (a ?? "").replace(/^::ffff:/, "");

const tcps: Server[] = [];
const udps: DgramSocket[] = [];
for (const port of ports) {
  const tcp = createServer((sock) => {
    tcpConnections++;
    peers.add(plain(sock.remoteAddress));
    sockets.add(sock);
    sock.on("error", () => {});
    sock.on("close", () => sockets.delete(sock));
    let buf = "";
    sock.on("data", (d) => {
      buf += d.toString();
      let i = buf.indexOf("\n");
      while (i >= 0) {
        buf = buf.slice(i + 1);
        sock.write(`${name}\n`);
        i = buf.indexOf("\n");
      }
    });
  });
  tcp.on("error", (err) => {
    process.stderr.write(`tcp: ${err.message}\n`);
    process.exit(1);
  });
  const udp = createSocket({ type: "udp6", ipv6Only: false });
  udp.on("error", (err) => process.stderr.write(`udp: ${err.message}\n`));
  udp.on("message", (_msg, rinfo) => {
    udpDatagrams++;
    peers.add(plain(rinfo.address));
    udp.send(name, rinfo.port, rinfo.address);
  });
  await new Promise<void>((res) => tcp.listen({ port, host: "::", ipv6Only: false }, res));
  await new Promise<void>((res) => udp.bind(port, "::", res));
  tcps.push(tcp);
  udps.push(udp);
}

serveAgent(
  (req) => {
    if (req.op === "counts") return { tcpConnections, udpDatagrams, peers: [...peers].sort() };
    throw new Error(`unknown op ${String(req.op)}`);
  },
  async () => {
    for (const s of sockets) s.destroy();
    for (const t of tcps) t.close();
    for (const u of udps) u.close();
  },
);
