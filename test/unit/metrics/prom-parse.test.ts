// The metrics tests' parser must itself be strict, or a broken exposition would pass.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parsePrometheus, sampleValue } from "../../helpers/prom-parse.ts";

const good = [
  "# HELP x_total things",
  "# TYPE x_total counter",
  'x_total{a="1",b="q\\"uote"} 3',
  'x_total{a="2"} 4',
  "# TYPE d_seconds histogram",
  'd_seconds_bucket{le="0.1",backend="a"} 1',
  'd_seconds_bucket{le="+Inf",backend="a"} 2',
  'd_seconds_sum{backend="a"} 0.25',
  'd_seconds_count{backend="a"} 2',
  'd_seconds_bucket{le="+Inf",backend="b"} 5',
  'd_seconds_count{backend="b"} 5',
  "# TYPE g gauge",
  "g Nan",
  "",
].join("\n");

test("parses counters, labelled histograms per series, escaped labels and NaN", () => {
  const m = parsePrometheus(good);
  assert.equal(m.get("x_total")?.type, "counter");
  assert.equal(m.get("x_total")?.help, "things");
  assert.equal(sampleValue(m, "x_total", { a: "2" }), 4);
  assert.equal(m.get("x_total")?.samples[0].labels.b, 'q"uote');
  assert.equal(sampleValue(m, "d_seconds", { backend: "a" }, "d_seconds_count"), 2);
  assert.equal(sampleValue(m, "d_seconds", { backend: "b" }, "d_seconds_count"), 5);
  assert.equal(sampleValue(m, "d_seconds", { backend: "a", le: "+Inf" }, "d_seconds_bucket"), 2);
  assert.ok(Number.isNaN(sampleValue(m, "g")));
});

const bad: [string, RegExp][] = [
  ["x 1", /no # TYPE/],
  ["# TYPE x counter\nx -1", /negative counter/],
  ["# TYPE x gauge\nx one", /bad value/],
  ["# TYPE x gauge\nx{a=1} 1", /not quoted/],
  ['# TYPE x gauge\nx{a="1" b="2"} 1', /","/],
  ['# TYPE x gauge\nx{a="1} 1', /unterminated|not a sample/],
  ['# TYPE x gauge\nx{a="1"} 1\nx{a="1"} 2', /duplicate series/],
  ["# TYPE x sometype", /bad type/],
  ["# TYPE x gauge\nx 1\n# TYPE x gauge", /TYPE after samples/],
  ["# TYPE 1x gauge", /bad metric name/],
];

for (const [text, message] of bad) {
  test(`rejects ${JSON.stringify(text)}`, () => {
    assert.throws(() => parsePrometheus(text), message);
  });
}
