import assert from "node:assert/strict";
import { test } from "node:test";
import { type ControlEvent, EventBus } from "../../../src/control/events.ts";

const log = (bus: EventBus, message: string) => bus.publish({ type: "log", level: "info", message });

test("events get increasing ids and reach every subscriber in order", () => {
  const bus = new EventBus({ now: () => 1000 });
  const a: ControlEvent[] = [];
  const b: number[] = [];
  bus.subscribe((e) => a.push(e));
  bus.subscribe((e) => b.push(e.id));
  log(bus, "one");
  bus.publish({ type: "backend-transition", backend: "x", from: "unknown", to: "up", reason: "HTTP 200" });
  assert.deepEqual(
    a.map((e) => [e.id, e.type, e.at]),
    [
      [1, "log", 1000],
      [2, "backend-transition", 1000],
    ],
  );
  assert.deepEqual(b, [1, 2]);
  assert.equal(bus.lastId, 2);
});

test("unsubscribe stops delivery; a throwing subscriber does not stop others", () => {
  const bus = new EventBus();
  const got: number[] = [];
  const off = bus.subscribe(() => {
    throw new Error("boom");
  });
  const listener = (e: ControlEvent) => got.push(e.id);
  bus.subscribe(listener);
  log(bus, "a");
  off();
  assert.equal(bus.unsubscribe(listener), true);
  log(bus, "b");
  assert.deepEqual(got, [1]);
});

test("since(id) replays the bounded history after a Last-Event-ID", () => {
  const bus = new EventBus({ capacity: 5 });
  for (let i = 0; i < 12; i++) log(bus, `m${i}`);
  // ids 1..12, only 8..12 kept
  assert.equal(bus.oldestId, 8);
  assert.deepEqual(
    bus.since(0).map((e) => e.id),
    [8, 9, 10, 11, 12],
  );
  assert.deepEqual(
    bus.since(10).map((e) => e.id),
    [11, 12],
  );
  assert.deepEqual(bus.since(12), []);
  assert.deepEqual(
    bus.since(3).map((e) => e.id),
    [8, 9, 10, 11, 12],
  );
});

test("an empty bus replays nothing", () => {
  const bus = new EventBus();
  assert.deepEqual(bus.since(0), []);
  assert.equal(bus.lastId, 0);
  assert.equal(bus.oldestId, 1);
});
