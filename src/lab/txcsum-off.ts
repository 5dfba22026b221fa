// Turn off transmit checksum offload on interfaces of this network namespace
// (what `ethtool -K IF tx off` does, through the SIOCETHTOOL ioctl, as ethtool is
// not installed). Packets that locally created sockets send through a veth then
// carry complete TCP/UDP checksums, as packets from a real wire do: XDP sees no
// checksum-offload metadata, so NAT's incremental updates and native XDP_TX need
// complete ones. Usage: txcsum-off.ts IFNAME...
import koffi from "koffi";

const SIOCETHTOOL = 0x8946;
const ETHTOOL_STXCSUM = 0x17;
const libc = koffi.load("libc.so.6");
const EthtoolValue = koffi.struct("ethtool_value", { cmd: "uint32_t", data: "uint32_t" });
koffi.struct("ifreq_ethtool", {
  name: koffi.array("char", 16),
  data: koffi.pointer(EthtoolValue),
  pad: koffi.array("uint8_t", 16),
});
const socket = libc.func("int socket(int domain, int type, int protocol)");
const ioctl = libc.func("int ioctl(int fd, unsigned long request, ifreq_ethtool *ifr)");
const close = libc.func("int close(int fd)");

const fd = socket(2 /* AF_INET */, 2 /* SOCK_DGRAM */, 0) as number;
if (fd < 0) throw new Error("socket() failed");
let failed = false;
for (const name of process.argv.slice(2)) {
  const rc = ioctl(fd, SIOCETHTOOL, {
    name,
    data: { cmd: ETHTOOL_STXCSUM, data: 0 },
    pad: new Uint8Array(16),
  });
  if (rc !== 0) {
    process.stderr.write(`ioctl(SIOCETHTOOL, ETHTOOL_STXCSUM) on ${name} failed\n`);
    failed = true;
  }
}
close(fd);
process.exit(failed ? 1 : 0);
