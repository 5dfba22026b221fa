// UDP probe: send one datagram, wait for one reply (optionally containing a
// substring). The socket is connected, so an ICMP port-unreachable from the
// backend surfaces as ECONNREFUSED instead of a silent timeout.
import { createSocket } from "node:dgram";
import { isIP } from "node:net";
import type { UdpCheck } from "../../config/types.ts";
import type { ProbeResult, ProbeTarget } from "../types.ts";
import { describeError, withDeadline } from "./deadline.ts";

export function probeUdp(target: ProbeTarget, check: UdpCheck, signal: AbortSignal): Promise<ProbeResult> {
  return withDeadline(check.timeout, signal, (settle) => {
    const socket = createSocket(isIP(target.address) === 6 ? "udp6" : "udp4");
    socket.on("error", (err) => settle(false, describeError(err)));
    socket.on("message", (msg) => {
      if (check.expect === undefined || check.expect === "") settle(true, "reply received");
      else if (msg.toString("utf8").includes(check.expect)) settle(true, "reply received");
      else settle(false, `reply does not contain ${JSON.stringify(check.expect)}`);
    });
    socket.connect(target.port, target.address, () => {
      socket.send(check.send, (err) => {
        if (err) settle(false, describeError(err));
      });
    });
    return () => {
      try {
        socket.close();
      } catch {
        // already closed
      }
    };
  });
}
