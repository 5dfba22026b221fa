// One row per rule: a small edit to a valid config, and the exact key path and
// line:column the error must point at. The expected position is found by searching the
// edited text for a marker string, independently of the loader's own YAML walk.
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatIssue, parseConfig } from "../../../src/config/index.ts";

const BASE = `healthchecks:
  hc: { type: tcp }
backends:
  b1: { address: 127.0.0.1, port: 9001, healthcheck: hc }
  b2: { address: 127.0.0.1, port: 9002 }
services:
  svc:
    pools:
      - { name: p, backends: { b1: {}, b2: {} } }
frontends:
  fe: { listen: 127.0.0.1:8080, service: svc }
`;

/** 1-based line:column of `needle` (which must occur exactly once), moved `offset` characters right. */
function positionOf(text: string, needle: string, offset = 0): { line: number; column: number } {
  const at = text.indexOf(needle);
  assert.ok(at >= 0, `marker ${JSON.stringify(needle)} not in config`);
  assert.equal(text.indexOf(needle, at + 1), -1, `marker ${JSON.stringify(needle)} is not unique`);
  const before = text.slice(0, at + offset);
  const line = before.split("\n").length;
  return { line, column: at + offset - before.lastIndexOf("\n") };
}

interface Case {
  rule: string;
  /** Edits applied to BASE in order: [search, replacement]. */
  edits: [string | RegExp, string][];
  path: string;
  /** Marker for the expected position, and how far into it the position is. */
  at: [string, number?];
  message: RegExp;
}

/**
 * Make `fe` an XDP frontend: svc becomes maglev, both backends move to port 9001 (dsr keeps
 * ports) and fe's line is replaced by `fe` (the inside of its mapping).
 */
const XDP = (fe: string): [string | RegExp, string][] => [
  ["    pools:\n", "    algorithm: maglev\n    pools:\n"],
  ["port: 9002", "port: 9001"],
  [/ {2}fe: \{.*\}\n/, `  fe: { ${fe} }\n`],
];
const XDP_FE = "listen: 10.9.0.1:9001, service: svc, dataplane: xdp";

/** Append a frontend at the end of the file. */
const FE2 = (listen: string, protocol = "tcp", name = "fe2") =>
  [/\n$/, `\n  ${name}: { listen: "${listen}", protocol: ${protocol}, service: svc }\n`] as [RegExp, string];

const cases: Case[] = [
  {
    rule: "backend -> healthcheck reference must exist",
    edits: [["healthcheck: hc", "healthcheck: nope"]],
    path: "backends.b1.healthcheck",
    at: ["nope"],
    message: /unknown healthcheck "nope" \(healthchecks: hc\)/,
  },
  {
    rule: "pool member -> backend reference must exist",
    edits: [["b2: {} }", "ghost: {} }"]],
    path: "services.svc.pools[0].backends.ghost",
    at: ["ghost"],
    message: /unknown backend "ghost" \(backends: b1, b2\)/,
  },
  {
    rule: "frontend -> service reference must exist",
    edits: [["service: svc", "service: nosvc"]],
    path: "frontends.fe.service",
    at: ["nosvc"],
    message: /unknown service "nosvc" \(services: svc\)/,
  },
  {
    rule: "a backend may appear only once per service",
    edits: [["b2: {} } }\n", "b2: {} } }\n      - { name: q, backends: { b1: { weight: 5 } } }\n"]],
    path: "services.svc.pools[1].backends.b1",
    at: ["b1: { weight: 5"],
    message: /backend "b1" is already in pool "p" of this service/,
  },
  {
    rule: "pool names are unique within a service",
    edits: [["{ b1: {}, b2: {} } }\n", "{ b1: {} } }\n      - { name: p, backends: { b2: {} } }\n"]],
    path: "services.svc.pools[1].name",
    at: ["p, backends: { b2"],
    message: /pool name "p" is already used by services\.svc\.pools\[0\]/,
  },
  {
    rule: "a service needs at least one pool",
    edits: [["    pools:\n      - { name: p, backends: { b1: {}, b2: {} } }", "    pools: []"]],
    path: "services.svc.pools",
    at: ["[]"],
    message: /at least one pool/,
  },
  {
    rule: "a pool needs at least one backend",
    edits: [["backends: { b1: {}, b2: {} }", "backends: {}"]],
    path: "services.svc.pools[0].backends",
    at: ["{}"],
    message: /at least one backend/,
  },
  {
    rule: "weights are at most 100",
    edits: [["b2: {} }", "b2: { weight: 150 } }"]],
    path: "services.svc.pools[0].backends.b2.weight",
    at: ["150"],
    message: /integer weight from 0 to 100/,
  },
  {
    rule: "weights are integers",
    edits: [["b2: {} }", "b2: { weight: 2.5 } }"]],
    path: "services.svc.pools[0].backends.b2.weight",
    at: ["2.5"],
    message: /integer weight from 0 to 100/,
  },
  {
    rule: "weights are not negative",
    edits: [["b2: {} }", "b2: { weight: -1 } }"]],
    path: "services.svc.pools[0].backends.b2.weight",
    at: ["-1"],
    message: /integer weight from 0 to 100/,
  },
  {
    rule: "the Maglev table size must be prime",
    edits: [["  svc:\n", "  svc:\n    algorithm: maglev\n    maglev: { table-size: 65536 }\n"]],
    path: "services.svc.maglev.table-size",
    at: ["65536"],
    message: /65536 is not prime .*65521 and 65537/,
  },
  {
    rule: "the Maglev table must have at least one slot per backend",
    edits: [
      [
        "  b2: { address: 127.0.0.1, port: 9002 }\n",
        "  b2: { address: 127.0.0.1, port: 9002 }\n  b3: { address: 127.0.0.1, port: 9003 }\n",
      ],
      ["b2: {} }", "b2: {}, b3: {} }"],
      ["  svc:\n", "  svc:\n    maglev: { table-size: 2 }\n"],
    ],
    path: "services.svc.maglev.table-size",
    at: ["table-size: 2", 12],
    message: /table-size 2 is smaller than this service's 3 backends/,
  },
  {
    rule: "the algorithm is one of the known ones",
    edits: [["  svc:\n", "  svc:\n    algorithm: fastest\n"]],
    path: "services.svc.algorithm",
    at: ["fastest"],
    message: /expected one of round-robin, .*maglev/,
  },
  {
    rule: "two frontends may not listen on the same tcp address and port",
    edits: [FE2("127.0.0.1:8080")],
    path: "frontends.fe2.listen",
    at: ['"127.0.0.1:8080"'],
    message: /conflicts with frontends\.fe\.listen/,
  },
  {
    rule: "an IPv4 wildcard conflicts with a specific address on the same port",
    edits: [FE2("0.0.0.0:8080")],
    path: "frontends.fe2.listen",
    at: ['"0.0.0.0'],
    message: /tcp 0\.0\.0\.0:8080 conflicts with frontends\.fe\.listen \(127\.0\.0\.1:8080\)/,
  },
  {
    rule: "an IPv6 wildcard conflicts with an IPv4 address on the same port (dual stack)",
    edits: [FE2("[::]:8080")],
    path: "frontends.fe2.listen",
    at: ['"[::]'],
    message: /conflicts with frontends\.fe\.listen/,
  },
  {
    rule: "http and tcp frontends share the TCP port space",
    edits: [FE2("127.0.0.1:8080", "http")],
    path: "frontends.fe2.listen",
    at: ['"127.0.0.1:8080"'],
    message: /tcp 127\.0\.0\.1:8080 conflicts/,
  },
  {
    rule: "two udp frontends may not share a port",
    edits: [
      ["listen: 127.0.0.1:8080, service", "listen: 127.0.0.1:8080, protocol: udp, service"],
      FE2("127.0.0.1:8080", "udp"),
    ],
    path: "frontends.fe2.listen",
    at: ['"127.0.0.1:8080"'],
    message: /udp 127\.0\.0\.1:8080 conflicts/,
  },
  {
    rule: "the admin API may not take a frontend's port",
    edits: [["frontends:\n", "admin: { listen: 127.0.0.1:8080 }\nfrontends:\n"]],
    path: "admin.listen",
    at: ["127.0.0.1:8080 }\n"],
    message: /conflicts with frontends\.fe\.listen/,
  },
  {
    rule: "durations need a unit",
    edits: [["{ type: tcp }", "{ type: tcp, interval: 2 }"]],
    path: "healthchecks.hc.interval",
    at: ["interval: 2 }", 10],
    message: /use a unit, e\.g\. 2s/,
  },
  {
    rule: "durations have a known unit",
    edits: [["{ type: tcp }", "{ type: tcp, interval: 2d }"]],
    path: "healthchecks.hc.interval",
    at: ["2d"],
    message: /not a duration/,
  },
  {
    rule: "durations are not zero where a wait is needed",
    edits: [["{ type: tcp }", "{ type: tcp, timeout: 0s }"]],
    path: "healthchecks.hc.timeout",
    at: ["0s"],
    message: /longer than 0s/,
  },
  {
    rule: "addresses are IP literals, not hostnames",
    edits: [["address: 127.0.0.1, port: 9002", "address: db.example.com, port: 9002"]],
    path: "backends.b2.address",
    at: ["db.example.com"],
    message: /"db\.example\.com" is not an IP address/,
  },
  {
    rule: "ports are at least 1",
    edits: [["port: 9002", "port: 0"]],
    path: "backends.b2.port",
    at: ["0 }"],
    message: /port number from 1 to 65535/,
  },
  {
    rule: "ports are at most 65535",
    edits: [["port: 9002", "port: 65536"]],
    path: "backends.b2.port",
    at: ["65536"],
    message: /port number from 1 to 65535/,
  },
  {
    rule: "ports are numbers, not strings",
    edits: [["port: 9002", 'port: "9002"']],
    path: "backends.b2.port",
    at: ['"9002"'],
    message: /port number from 1 to 65535/,
  },
  {
    rule: "listen addresses are IP literals",
    edits: [["listen: 127.0.0.1:8080", "listen: localhost:8080"]],
    path: "frontends.fe.listen",
    at: ["localhost"],
    message: /"localhost" is not an IP address/,
  },
  {
    rule: "IPv6 listen addresses need brackets",
    edits: [["listen: 127.0.0.1:8080", 'listen: "::1:8080"']],
    path: "frontends.fe.listen",
    at: ['"::1:8080"'],
    message: /brackets/,
  },
  {
    rule: "a probe's timeout may not exceed its interval",
    edits: [["{ type: tcp }", "{ type: tcp, interval: 1s, timeout: 1500ms }"]],
    path: "healthchecks.hc.timeout",
    at: ["1500ms"],
    message: /timeout 1s500ms exceeds interval 1s/,
  },
  {
    rule: "rise is at least 1",
    edits: [["{ type: tcp }", "{ type: tcp, rise: 0 }"]],
    path: "healthchecks.hc.rise",
    at: ["0 }"],
    message: /integer from 1 to 100/,
  },
  {
    rule: "fall is at least 1",
    edits: [["{ type: tcp }", "{ type: tcp, fall: 0 }"]],
    path: "healthchecks.hc.fall",
    at: ["0 }"],
    message: /integer from 1 to 100/,
  },
  {
    rule: "a udp check needs a payload to send",
    edits: [["{ type: tcp }", "{ type: udp }"]],
    path: "healthchecks.hc.send",
    at: ["{ type: udp }"],
    message: /udp check needs `send`/,
  },
  {
    rule: "an agent check needs a port",
    edits: [["{ type: tcp }", "{ type: agent }"]],
    path: "healthchecks.hc.port",
    at: ["{ type: agent }"],
    message: /agent check needs `port`/,
  },
  {
    rule: "a check has a known type",
    edits: [["{ type: tcp }", "{ type: icmp }"]],
    path: "healthchecks.hc.type",
    at: ["icmp"],
    message: /unknown check type "icmp": expected one of tcp, http, https, udp, agent/,
  },
  {
    rule: "a check needs a type",
    edits: [["{ type: tcp }", "{ interval: 1s }"]],
    path: "healthchecks.hc.type",
    at: ["{ interval: 1s }"],
    message: /required: type/,
  },
  {
    rule: "expected statuses are 100 to 599",
    edits: [["{ type: tcp }", '{ type: http, expect-status: [200, "700"] }']],
    path: "healthchecks.hc.expect-status[1]",
    at: ['"700"'],
    message: /"700" is not a status/,
  },
  {
    rule: "https-only keys are unknown on an http check, with the allowed keys listed",
    edits: [["{ type: tcp }", "{ type: http, sni: example.com }"]],
    path: "healthchecks.hc.sni",
    at: ["sni"],
    message: /unknown key "sni"; allowed keys: type, interval, .*expect-body$/,
  },
  {
    rule: "the admin API off loopback needs a token",
    edits: [["frontends:\n", "admin: { listen: 0.0.0.0:9700 }\nfrontends:\n"]],
    path: "admin.listen",
    at: ["0.0.0.0:9700"],
    message: /without token-file or token-env: lodestone refuses to start/,
  },
  {
    rule: "unknown keys are errors, with the allowed keys listed",
    edits: [["port: 9002 }", "port: 9002, weigth: 50 }"]],
    path: "backends.b2.weigth",
    at: ["weigth"],
    message: /unknown key "weigth"; allowed keys: address, port, healthcheck/,
  },
  {
    rule: "unknown top-level sections are errors",
    edits: [["frontends:\n", "frontend:\n  x: {}\nfrontends:\n"]],
    path: "frontend",
    at: ["frontend:\n"],
    message:
      /unknown key "frontend" \(did you mean "frontends"\?\); allowed keys: healthchecks, backends, services, frontends, admin, runtime/,
  },
  {
    rule: "entry names are plain identifiers",
    edits: [["services:\n", "  b.3: { address: 127.0.0.1, port: 9003 }\nservices:\n"]],
    path: 'backends["b.3"]',
    at: ["b.3"],
    message: /"b\.3" is not a name/,
  },
  {
    rule: "routes are for http and https frontends only",
    edits: [["service: svc }", "service: svc, routes: [{ match: {}, service: svc }] }"]],
    path: "frontends.fe.routes",
    at: ["[{"],
    message: /routes need protocol http or https \(this frontend is tcp\)/,
  },
  {
    rule: "warmup min-delay may not exceed max-wait",
    edits: [["frontends:\n", "runtime: { warmup: { min-delay: 10s, max-wait: 5s } }\nfrontends:\n"]],
    path: "runtime.warmup.min-delay",
    at: ["10s"],
    message: /min-delay 10s exceeds max-wait 5s/,
  },
  {
    rule: "log levels are pino's",
    edits: [["frontends:\n", "runtime: { log-level: verbose }\nfrontends:\n"]],
    path: "runtime.log-level",
    at: ["verbose"],
    message: /expected one of trace, debug, info, warn, error, fatal/,
  },
  {
    rule: "a section is a mapping of names",
    edits: [["frontends:\n  fe: { listen: 127.0.0.1:8080, service: svc }\n", "frontends: [fe]\n"]],
    path: "frontends",
    at: ["[fe]"],
    message: /expected a mapping of name -> settings, got a list/,
  },
  {
    rule: "dataplane xdp needs an xdp block",
    edits: XDP(XDP_FE),
    path: "frontends.fe.dataplane",
    at: ["dataplane: xdp", 11],
    message: /dataplane xdp needs an xdp block, at least the interface/,
  },
  {
    rule: "an xdp block needs dataplane xdp",
    edits: [["service: svc }", "service: svc, xdp: { interface: eth0 } }"]],
    path: "frontends.fe.xdp",
    at: ["xdp:"],
    message: /xdp settings need dataplane: xdp/,
  },
  {
    rule: "the dataplane is proxy or xdp",
    edits: [["service: svc }", "service: svc, dataplane: dpdk }"]],
    path: "frontends.fe.dataplane",
    at: ["dpdk"],
    message: /expected one of proxy, xdp/,
  },
  {
    rule: "xdp interface names follow Linux's rules (no '/')",
    edits: XDP(`${XDP_FE}, xdp: { interface: eth0/1 }`),
    path: "frontends.fe.xdp.interface",
    at: ["eth0/1"],
    message: /"eth0\/1" is not a Linux interface name/,
  },
  {
    rule: "xdp interface names are at most 15 characters",
    edits: XDP(`${XDP_FE}, xdp: { interface: abcdefghijklmnop }`),
    path: "frontends.fe.xdp.interface",
    at: ["abcdefghijklmnop"],
    message: /is not a Linux interface name: 1 to 15 characters/,
  },
  {
    rule: "xdp frontends are tcp or udp",
    edits: XDP(`${XDP_FE}, protocol: http, xdp: { interface: eth0 }`),
    path: "frontends.fe.protocol",
    at: ["http,"],
    message: /the XDP dataplane balances tcp and udp only \(this frontend is http\)/,
  },
  {
    rule: "an xdp VIP is a concrete address",
    edits: XDP("listen: 0.0.0.0:9001, service: svc, dataplane: xdp, xdp: { interface: eth0 }"),
    path: "frontends.fe.listen",
    at: ["0.0.0.0:9001"],
    message: /needs a concrete VIP address, not 0\.0\.0\.0/,
  },
  {
    rule: "xdp mode nat needs nat-address",
    edits: XDP(`${XDP_FE}, xdp: { interface: eth0, mode: nat }`),
    path: "frontends.fe.xdp.mode",
    at: ["nat }"],
    message: /mode nat needs nat-address/,
  },
  {
    rule: "xdp nat-address is in the VIP's family",
    edits: XDP(`${XDP_FE}, xdp: { interface: eth0, mode: nat, nat-address: "fd00::2" }`),
    path: "frontends.fe.xdp.nat-address",
    at: ['"fd00::2"'],
    message: /nat-address fd00::2 is not IPv4 like the VIP 10\.9\.0\.1/,
  },
  {
    rule: "xdp nat-address is an IP literal",
    edits: XDP(`${XDP_FE}, xdp: { interface: eth0, mode: nat, nat-address: lb.local }`),
    path: "frontends.fe.xdp.nat-address",
    at: ["lb.local"],
    message: /"lb\.local" is not an IP address/,
  },
  {
    rule: "xdp nat-address is only for mode nat",
    edits: XDP(`${XDP_FE}, xdp: { interface: eth0, nat-address: 10.9.0.2 }`),
    path: "frontends.fe.xdp.nat-address",
    at: ["10.9.0.2"],
    message: /nat-address is only used with mode nat \(this block is mode dsr\)/,
  },
  {
    rule: "xdp nat-ports is a range min-max with min <= max",
    edits: XDP(
      `${XDP_FE}, xdp: { interface: eth0, mode: nat, nat-address: 10.9.0.2, nat-ports: "65000-61000" }`,
    ),
    path: "frontends.fe.xdp.nat-ports",
    at: ['"65000-61000"'],
    message: /expected a port range "min-max" from 1 to 65535/,
  },
  {
    rule: "xdp fragments need mode dsr",
    edits: XDP(`${XDP_FE}, xdp: { interface: eth0, mode: nat, nat-address: 10.9.0.2, fragments: true }`),
    path: "frontends.fe.xdp.fragments",
    at: ["true"],
    message: /fragments needs mode dsr/,
  },
  {
    rule: "xdp frontends need a maglev service",
    edits: [
      ["port: 9002", "port: 9001"],
      [/ {2}fe: \{.*\}\n/, `  fe: { ${XDP_FE}, xdp: { interface: eth0 } }\n`],
    ],
    path: "frontends.fe.service",
    at: ["service: svc,", 9],
    message: /service "svc" uses algorithm round-robin: the XDP dataplane balances with maglev only/,
  },
  {
    rule: "xdp mode dsr keeps the port: every backend listens on the VIP's port",
    edits: XDP("listen: 10.9.0.1:80, service: svc, dataplane: xdp, xdp: { interface: eth0 }"),
    path: "frontends.fe.listen",
    at: ["10.9.0.1:80"],
    message: /every backend listens on the VIP's port 80: b1 on 9001, b2 on 9001 \(use mode nat/,
  },
  {
    rule: "xdp backends are in the VIP's family",
    edits: XDP('listen: "[fd00::1]:9001", service: svc, dataplane: xdp, xdp: { interface: eth0 }'),
    path: "frontends.fe.service",
    at: ["service: svc,", 9],
    message: /backends not IPv6 like the VIP: b1 \(127\.0\.0\.1\), b2 \(127\.0\.0\.1\)/,
  },
  {
    rule: "one xdp frontend per address and protocol hashes fragments",
    edits: [
      ...XDP(`${XDP_FE}, xdp: { interface: eth0, fragments: true }`),
      [
        /\n$/,
        "\n  fe2: { listen: 10.9.0.1:9002, service: svc2, dataplane: xdp, xdp: { interface: eth1, fragments: true } }\n",
      ],
      ["services:\n", "  b3: { address: 127.0.0.1, port: 9002 }\nservices:\n"],
      [
        "frontends:\n",
        "  svc2: { algorithm: maglev, pools: [{ name: p, backends: { b3: {} } }] }\nfrontends:\n",
      ],
    ],
    path: "frontends.fe2.xdp.fragments",
    at: ["eth1, fragments: true", 17],
    message: /frontends\.fe already hashes tcp fragments to 10\.9\.0\.1/,
  },
  {
    rule: "two xdp frontends on one VIP and protocol conflict",
    edits: [
      ...XDP(`${XDP_FE}, xdp: { interface: eth0 }`),
      [/\n$/, "\n  fe2: { listen: 10.9.0.1:9001, service: svc, dataplane: xdp, xdp: { interface: eth1 } }\n"],
    ],
    path: "frontends.fe2.listen",
    at: ["10.9.0.1:9001, service: svc, dataplane: xdp, xdp: { interface: eth1"],
    message: /tcp 10\.9\.0\.1:9001 conflicts with frontends\.fe\.listen/,
  },
  {
    rule: "a proxy wildcard listener conflicts with an xdp VIP on its port",
    edits: [...XDP(`${XDP_FE}, xdp: { interface: eth0 }`), FE2("0.0.0.0:9001")],
    path: "frontends.fe2.listen",
    at: ['"0.0.0.0:9001"'],
    message: /tcp 0\.0\.0\.0:9001 conflicts with frontends\.fe\.listen/,
  },
  {
    rule: "xdp rings must fit runtime.xdp.ring-entries",
    edits: [
      ...XDP(`${XDP_FE}, xdp: { interface: eth0 }`),
      ["frontends:\n", "runtime: { xdp: { ring-entries: 1024 } }\nfrontends:\n"],
    ],
    path: "frontends.fe.service",
    at: ["service: svc,", 9],
    message: /need 65537 ring slots; runtime\.xdp\.ring-entries is 1024/,
  },
  {
    rule: "runtime.xdp.attach-mode is auto, native or generic",
    edits: [["frontends:\n", "runtime: { xdp: { attach-mode: skb } }\nfrontends:\n"]],
    path: "runtime.xdp.attach-mode",
    at: ["skb"],
    message: /expected auto, native or generic/,
  },
  {
    rule: "runtime.xdp.pin-root is an absolute path",
    edits: [["frontends:\n", "runtime: { xdp: { pin-root: bpf/lodestone } }\nfrontends:\n"]],
    path: "runtime.xdp.pin-root",
    at: ["bpf/lodestone"],
    message: /expected an absolute directory path/,
  },
  {
    rule: "runtime.xdp has only its four keys",
    edits: [["frontends:\n", "runtime: { xdp: { detach: false } }\nfrontends:\n"]],
    path: "runtime.xdp.detach",
    at: ["detach"],
    message: /unknown key "detach"; allowed keys: pin-root, attach-mode, ring-entries, detach-on-stop/,
  },
];

test("the base config of the rule table is valid", () => {
  const r = parseConfig(BASE, "base.yaml");
  assert.deepEqual(r.ok ? [] : r.errors.map(formatIssue), []);
});

for (const c of cases) {
  test(`rule: ${c.rule}`, () => {
    let text = BASE;
    for (const [from, to] of c.edits) {
      assert.ok(
        typeof from === "string" ? text.includes(from) : from.test(text),
        `edit target ${String(from)} missing`,
      );
      text = text.replace(from, to);
    }
    const r = parseConfig(text, "rules.yaml");
    assert.equal(r.ok, false, "config should be invalid");
    if (r.ok) return;
    assert.equal(
      r.errors.length,
      1,
      `exactly one error expected, got:\n${r.errors.map(formatIssue).join("\n")}`,
    );
    const [e] = r.errors;
    assert.equal(e.file, "rules.yaml");
    assert.equal(e.path, c.path);
    assert.deepEqual({ line: e.line, column: e.column }, positionOf(text, c.at[0], c.at[1] ?? 0));
    assert.match(e.message, c.message);
  });
}

const valid: { rule: string; edits: [string | RegExp, string][] }[] = [
  { rule: "udp and tcp frontends may share a port number", edits: [FE2("127.0.0.1:8080", "udp")] },
  { rule: "different addresses may share a port", edits: [FE2("127.0.0.2:8080")] },
  {
    rule: "IPv4 wildcard and IPv6 loopback may share a port",
    edits: [FE2("0.0.0.0:9090"), FE2("[::1]:9090", "tcp", "fe3")],
  },
  { rule: "a weight of 0 is allowed (drain)", edits: [["b2: {} }", "b2: { weight: 0 } }"]] },
  {
    rule: "a timeout equal to the interval is allowed",
    edits: [["{ type: tcp }", "{ type: tcp, interval: 1s, timeout: 1s }"]],
  },
  {
    rule: "the admin API off loopback with token-env is allowed",
    edits: [["frontends:\n", "admin: { listen: 0.0.0.0:9700, token-env: LS_TOKEN }\nfrontends:\n"]],
  },
  {
    rule: "the admin API off loopback with token-file is allowed",
    edits: [
      ["frontends:\n", 'admin: { listen: "[::]:9700", token-file: /etc/lodestone/token }\nfrontends:\n'],
    ],
  },
  {
    rule: "https checks take sni and verify",
    edits: [["{ type: tcp }", "{ type: https, sni: example.com, verify: true }"]],
  },
  {
    rule: "a udp check with a payload is valid",
    edits: [["{ type: tcp }", '{ type: udp, send: "ping", expect: pong }']],
  },
  { rule: "an agent check with a port is valid", edits: [["{ type: tcp }", "{ type: agent, port: 9999 }"]] },
  {
    rule: "a Maglev table equal to the backend count is allowed",
    edits: [["  svc:\n", "  svc:\n    maglev: { table-size: 2 }\n"]],
  },
  {
    rule: "routes on an http frontend are accepted",
    edits: [["service: svc }", "protocol: http, service: svc, routes: [{ match: {}, service: svc }] }"]],
  },
  {
    rule: "an xdp dsr frontend with its block is valid",
    edits: XDP(`${XDP_FE}, xdp: { interface: eth0 }`),
  },
  {
    rule: "an xdp nat frontend may change ports",
    edits: XDP(
      'listen: 10.9.0.1:80, protocol: udp, service: svc, dataplane: xdp, xdp: { interface: "veth-lb.1", mode: nat, nat-address: 10.9.0.2, nat-ports: "62000-62999" }',
    ),
  },
  {
    rule: "xdp tcp and udp VIPs may share an address and port",
    edits: [
      ...XDP(`${XDP_FE}, xdp: { interface: eth0, fragments: true }`),
      [
        /\n$/,
        "\n  fe2: { listen: 10.9.0.1:9001, protocol: udp, service: svc, dataplane: xdp, xdp: { interface: eth0, fragments: true } }\n",
      ],
    ],
  },
  {
    rule: "runtime.xdp with every key is valid",
    edits: [
      [
        "frontends:\n",
        "runtime: { xdp: { pin-root: /sys/fs/bpf/ls, attach-mode: native, ring-entries: 2048, detach-on-stop: false } }\nfrontends:\n",
      ],
    ],
  },
  {
    rule: "empty sections are allowed",
    edits: [["frontends:\n  fe: { listen: 127.0.0.1:8080, service: svc }\n", "frontends:\n"]],
  },
];

for (const v of valid) {
  test(`valid: ${v.rule}`, () => {
    let text = BASE;
    for (const [from, to] of v.edits) {
      assert.ok(
        typeof from === "string" ? text.includes(from) : from.test(text),
        `edit target ${String(from)} missing`,
      );
      text = text.replace(from, to);
    }
    const r = parseConfig(text, "valid.yaml");
    assert.deepEqual(r.ok ? [] : r.errors.map(formatIssue), []);
  });
}
