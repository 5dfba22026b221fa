// UDP through `lodestone run`: round trip, reply from the frontend address, session expiry.
import assert from "node:assert/strict";
import { createSocket, type Socket } from "node:dgram";
import { after, test } from "node:test";
import { freeUdpPort } from "../../helpers/ports.ts";
import { Cleanup, startLodestoneOnFreePorts, yamlConfig } from "./helpers.ts";

const cleanup = new Cleanup();
after(() => cleanup.run());

function bind(sock: Socket, port = 0): Promise<number> {
  return new Promise((resolve) => sock.bind(port, "127.0.0.1", () => resolve(sock.address().port)));
}

/** Replies "<name> <source port the proxy used> <payload>". */
async function udpBackend(name: string): Promise<{ port: number; sources: number[] }> {
  const sock = createSocket("udp4");
  const sources: number[] = [];
  sock.on("error", () => {});
  sock.on("message", (msg, rinfo) => {
    sources.push(rinfo.port);
    sock.send(`${name} ${rinfo.port} ${msg.toString()}`, rinfo.port, rinfo.address);
  });
  const port = await bind(sock);
  cleanup.add(`udp backend ${name}`, () => new Promise<void>((r) => sock.close(() => r())));
  return { port, sources };
}

function ask(client: Socket, port: number, text: string): Promise<{ reply: string; from: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no UDP reply within 2s")), 2000);
    client.once("message", (msg, rinfo) => {
      clearTimeout(timer);
      resolve({ reply: msg.toString(), from: `${rinfo.address}:${rinfo.port}` });
    });
    client.send(text, port, "127.0.0.1");
  });
}

test("UDP datagrams round-trip through run, replies come from the frontend, idle sessions expire", async () => {
  const backend = await udpBackend("u1");
  // A port found free can be taken before lodestone binds it: then new ports.
  const {
    lb,
    ports: [port],
  } = await startLodestoneOnFreePorts(
    cleanup,
    ([p]) =>
      yamlConfig({
        frontendPort: p,
        protocol: "udp",
        ports: { u1: backend.port },
        pools: [["main", { u1: 100 }]],
        frontendExtra: "udp: { session-timeout: 300ms }",
      }),
    { pick: freeUdpPort },
  );
  await lb.ready();
  const client = createSocket("udp4");
  client.on("error", () => {});
  await bind(client);
  cleanup.add("udp client", () => new Promise<void>((r) => client.close(() => r())));

  const one = await ask(client, port, "one");
  assert.equal(one.from, `127.0.0.1:${port}`, "the reply comes from the frontend address");
  const [name, src1, payload] = one.reply.split(" ");
  assert.deepEqual([name, payload], ["u1", "one"]);
  const two = await ask(client, port, "two");
  assert.equal(two.reply.split(" ")[1], src1, "same session within the timeout");

  await new Promise((r) => setTimeout(r, 900));
  const three = await ask(client, port, "three");
  assert.notEqual(three.reply.split(" ")[1], src1, "a new session (new proxy socket) after idle expiry");
  assert.equal(backend.sources.length, 3);
});
