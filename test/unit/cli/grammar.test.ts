import assert from "node:assert/strict";
import { test } from "node:test";
import { complete, helpFor, type NameSource, resolve, tokenize } from "../../../src/cli/shell/grammar.ts";
import { nameSource } from "../../../src/cli/shell/repl.ts";

const names: NameSource = nameSource({
  frontends: ["www", "dns"],
  backends: ["web-1", "web-2", "spare"],
  services: [
    {
      name: "web",
      algorithm: "maglev",
      activePool: 0,
      activePoolName: "main",
      frontends: ["www"],
      pools: [
        {
          name: "main",
          index: 0,
          active: true,
          members: ["web-1", "web-2"].map((backend) => ({
            backend,
            state: "up" as const,
            configuredWeight: 100,
            effectiveWeight: 100,
            flush: false,
            override: null,
          })),
        },
        {
          name: "fallback",
          index: 1,
          active: false,
          members: [
            {
              backend: "spare",
              state: "up" as const,
              configuredWeight: 100,
              effectiveWeight: 0,
              flush: false,
              override: null,
            },
          ],
        },
      ],
    },
  ],
});

// input -> expected resolution: "ok <action> <args json> <flags json>" or the failure kind and detail
const table: [string, string][] = [
  ["show backends", "ok show.backends {} {}"],
  ["sh ba", "ok show.backends {} {}"],
  ["sho backends", "ok show.backends {} {}"],
  ["sh ba web-1", 'ok show.backend {"backend":"web-1"} {}'],
  ["show backend web-1", 'ok show.backend {"backend":"web-1"} {}'],
  ["show b", "ok show.backends {} {}"],
  ["sh f", "ok show.frontends {} {}"],
  ["sh fr www", 'ok show.frontend {"frontend":"www"} {}'],
  ["sh se", "ok show.services {} {}"],
  ["sh h", "ok show.healthchecks {} {}"],
  ["sh v --json", 'ok show.version {} {"json":true}'],
  ["s ba", "ambiguous s: set,show"],
  ["show", "incomplete show"],
  ["show backend", "incomplete show backend"],
  ["show nothing", "unknown nothing"],
  ["frobnicate", "unknown frobnicate"],
  ["set backend web-1 disable --flush", 'ok set.backend.disable {"backend":"web-1"} {"flush":true}'],
  ["se b web-1 d", 'ok set.backend.disable {"backend":"web-1"} {}'],
  ["set backend web-1 pause --flush", "bad-flag"],
  ["set backend web-1 p", 'ok set.backend.pause {"backend":"web-1"} {}'],
  ["set backend web-1 e", 'ok set.backend.enable {"backend":"web-1"} {}'],
  ["set backend web-1 r", 'ok set.backend.resume {"backend":"web-1"} {}'],
  [
    "set service web pool main backend web-1 weight 50 --flush",
    'ok set.weight {"service":"web","pool":"main","backend":"web-1","weight":"50"} {"flush":true}',
  ],
  [
    "se se web po main ba web-1 we 0",
    'ok set.weight {"service":"web","pool":"main","backend":"web-1","weight":"0"} {}',
  ],
  ["set service web pool main", "incomplete set service web pool main"],
  ["c ch", "ok config.check {} {}"],
  ["c r", "ok config.reload {} {}"],
  ["w e --backend web-1 --level warn", 'ok watch.events {} {"backend":"web-1","level":"warn"}'],
  ["watch events --type=log,reload", 'ok watch.events {} {"type":"log,reload"}'],
  ["watch events --backend", "bad-flag"],
  ["show backends --bogus", "bad-flag"],
];

for (const [input, expected] of table) {
  test(`resolve "${input}" -> ${expected}`, () => {
    const r = resolve(tokenize(input));
    let got: string;
    switch (r.kind) {
      case "ok":
        got = `ok ${r.action} ${JSON.stringify(r.args)} ${JSON.stringify(r.flags)}`;
        break;
      case "ambiguous":
        got = `ambiguous ${r.token}: ${[...r.candidates].sort().join(",")}`;
        break;
      case "incomplete":
        got = `incomplete ${r.words.join(" ")}`;
        break;
      case "unknown":
        got = `unknown ${r.token}`;
        break;
      case "bad-flag":
        got = "bad-flag";
        break;
    }
    assert.equal(got, expected);
  });
}

// line -> completion candidates
const completions: [string, string[]][] = [
  ["", ["config", "set", "show", "watch"]],
  ["s", ["set", "show"]],
  ["sh", ["show "]],
  [
    "show ",
    ["backend", "backends", "frontend", "frontends", "healthchecks", "service", "services", "version"],
  ],
  ["show ba", ["backend", "backends"]],
  ["show backend ", ["spare", "web-1", "web-2"]],
  ["show backend w", ["web-1", "web-2"]],
  ["sh ba web-1 ", []],
  ["show frontend ", ["dns", "www"]],
  ["set backend web-1 ", ["disable", "enable", "pause", "resume"]],
  ["set backend web-1 d", ["disable "]],
  ["set backend web-1 disable --", ["--flush", "--json"]],
  ["set service ", ["web "]],
  ["set service web pool ", ["fallback", "main"]],
  ["set service web pool fallback backend ", ["spare "]],
  ["set service web pool main backend ", ["web-1", "web-2"]],
  ["watch events --level ", ["error", "info", "warn"]],
  ["watch events --backend sp", ["spare "]],
  ["frob ", []],
];

for (const [line, expected] of completions) {
  test(`complete "${line}" -> ${expected.join(" ") || "nothing"}`, () => {
    const [hits, partial] = complete(line, names);
    assert.deepEqual(hits, expected);
    assert.equal(partial, /\s$/.test(line) || line === "" ? "" : line.split(/\s+/).pop());
  });
}

test('"?" after a partial word lists only what it can become', () => {
  assert.deepEqual(
    helpFor("show ba", names).map((h) => h.text),
    ["backends", "backend"],
  );
});

test('"?" after a complete command lists <enter> and its flags', () => {
  const texts = helpFor("set backend web-1 disable ", names).map((h) => h.text);
  assert.deepEqual(texts, ["<enter>", "--flush", "--json"]);
});

test('"?" where a name is expected lists the live names', () => {
  const lines = helpFor("show backend ", names);
  assert.equal(lines.length, 1);
  assert.equal(lines[0].text, "<backend>");
  assert.match(lines[0].help, /spare, web-1, web-2/);
});

test("tokenize splits on whitespace and keeps quoted words together", () => {
  assert.deepEqual(tokenize('  show  backend "a b" '), ["show", "backend", "a b"]);
});
