// GET /api/v1/events as Server-Sent Events on a real admin server: replay after
// Last-Event-ID gives exactly the missed events in order, filters, heartbeats, and a
// client that stops reading is dropped without holding up the bus or other clients.
import assert from "node:assert/strict";
import { type IncomingMessage, request } from "node:http";
import { after, before, test } from "node:test";
import { SseParser } from "../../../src/cli/shell/actions.ts";
import type { ControlEvent } from "../../../src/control/events.ts";
import { type Fixture, startFixture } from "../../helpers/admin-fixture.ts";

let f: Fixture;

before(async () => {
  f = await startFixture({ heartbeatMs: 100, sseMaxBuffer: 256 * 1024 });
});
after(async () => {
  await f?.close();
});

interface Stream {
  res: IncomingMessage;
  events: ControlEvent[];
  ids: string[];
  raw: string;
  waitFor(pred: (s: Stream) => boolean, timeoutMs?: number): Promise<void>;
  close(): void;
  closed: Promise<void>;
}

function open(path: string, headers: Record<string, string> = {}): Promise<Stream> {
  const u = new URL(f.url + path);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, headers }, (res) => {
      const parser = new SseParser();
      const waiters = new Set<() => void>();
      const s: Stream = {
        res,
        events: [],
        ids: [],
        raw: "",
        waitFor(pred, timeoutMs = 5000) {
          if (pred(s)) return Promise.resolve();
          return new Promise((ok, fail) => {
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(
                new Error(
                  `stream condition not met; got ${s.events.length} events, raw: ${s.raw.slice(-300)}`,
                ),
              );
            }, timeoutMs);
            const check = () => {
              if (!pred(s)) return;
              clearTimeout(timer);
              waiters.delete(check);
              ok();
            };
            waiters.add(check);
          });
        },
        close: () => req.destroy(),
        closed: new Promise((ok) => res.on("close", () => ok())),
      };
      res.setEncoding("utf8");
      res.on("error", () => {});
      res.on("data", (chunk: string) => {
        s.raw += chunk;
        for (const m of parser.push(chunk)) {
          s.events.push(JSON.parse(m.data) as ControlEvent);
          s.ids.push(m.id ?? "");
        }
        for (const w of [...waiters]) w();
      });
      resolve(s);
    });
    req.on("error", reject);
    req.end();
  });
}

test("the stream is text/event-stream and replays the kept history with ids equal to bus ids", async () => {
  const s = await open("/api/v1/events");
  try {
    assert.equal(s.res.statusCode, 200);
    assert.match(s.res.headers["content-type"] ?? "", /^text\/event-stream/);
    const last = f.daemon.events.lastId;
    await s.waitFor((x) => x.events.some((e) => e.id === last));
    assert.deepEqual(
      s.events.map((e) => e.id),
      f.daemon.events.since(0).map((e) => e.id),
    );
    assert.deepEqual(
      s.ids,
      s.events.map((e) => String(e.id)),
    );
  } finally {
    s.close();
  }
});

test("reconnecting with Last-Event-ID delivers exactly the missed events, in order, then live ones", async () => {
  const first = await open("/api/v1/events");
  const seenUpTo = f.daemon.events.lastId;
  await first.waitFor((x) => x.events.some((e) => e.id === seenUpTo));
  first.close();
  await first.closed;

  // Events happen while nobody listens.
  await fetch(`${f.url}/api/v1/backends/c/pause`, { method: "POST" }).then((r) => r.body?.cancel());
  await fetch(`${f.url}/api/v1/backends/c/resume`, { method: "POST" }).then((r) => r.body?.cancel());
  const missed = f.daemon.events.since(seenUpTo);
  assert.ok(missed.length >= 4, `expected several missed events, got ${missed.length}`);

  const again = await open("/api/v1/events", { "last-event-id": String(seenUpTo) });
  try {
    const lastMissed = missed[missed.length - 1].id;
    await again.waitFor((x) => x.events.some((e) => e.id === lastMissed));
    assert.deepEqual(
      again.events.map((e) => e.id),
      missed.map((e) => e.id),
    );
    assert.deepEqual(again.events, missed);
    // Then live.
    const live = f.daemon.events.publish({ type: "log", level: "warn", message: "live one" });
    await again.waitFor((x) => x.events.some((e) => e.id === live.id));
    assert.equal(again.events.at(-1)?.id, live.id);
  } finally {
    again.close();
  }
});

test("?last-event-id= works like the header", async () => {
  const from = f.daemon.events.lastId;
  const e = f.daemon.events.publish({ type: "log", level: "info", message: "by query" });
  const s = await open(`/api/v1/events?last-event-id=${from}`);
  try {
    await s.waitFor((x) => x.events.length >= 1);
    assert.deepEqual(
      s.events.map((x) => x.id),
      [e.id],
    );
  } finally {
    s.close();
  }
});

test("filters by type, backend and level", async () => {
  const from = f.daemon.events.lastId;
  const s = await open(`/api/v1/events?last-event-id=${from}&type=backend-transition&backend=c`);
  const logs = await open(`/api/v1/events?last-event-id=${from}&type=log&level=warn`);
  try {
    await fetch(`${f.url}/api/v1/backends/c/disable`, { method: "POST" }).then((r) => r.body?.cancel());
    await fetch(`${f.url}/api/v1/backends/b/disable`, { method: "POST" }).then((r) => r.body?.cancel());
    f.daemon.events.publish({ type: "log", level: "info", message: "quiet" });
    f.daemon.events.publish({ type: "log", level: "error", message: "loud" });
    await s.waitFor((x) => x.events.length >= 1);
    await logs.waitFor((x) => x.events.some((e) => e.type === "log" && e.message === "loud"));
    assert.ok(s.events.every((e) => e.type === "backend-transition" && e.backend === "c"));
    assert.equal(s.events[0].type === "backend-transition" && s.events[0].to, "disabled");
    assert.deepEqual(
      logs.events.map((e) => (e.type === "log" ? `${e.level}:${e.message}` : e.type)),
      ["error:loud"],
    );
  } finally {
    s.close();
    logs.close();
    for (const b of ["b", "c"]) {
      await fetch(`${f.url}/api/v1/backends/${b}/enable`, { method: "POST" }).then((r) => r.body?.cancel());
    }
  }
});

test("bad filters and Last-Event-ID are 400, not a stream", async () => {
  for (const q of ["?type=nope", "?level=debug", "?last-event-id=abc"]) {
    const r = await fetch(`${f.url}/api/v1/events${q}`);
    assert.equal(r.status, 400, q);
    await r.body?.cancel();
  }
});

test("an idle stream gets heartbeat comments", async () => {
  const s = await open(`/api/v1/events?last-event-id=${f.daemon.events.lastId}&type=reload`);
  try {
    await s.waitFor((x) => (x.raw.match(/: heartbeat/g) ?? []).length >= 2, 3000);
  } finally {
    s.close();
  }
});

test("a client that stops reading is dropped; the bus and a reading client carry on", async () => {
  const from = f.daemon.events.lastId;
  const slow = await open(`/api/v1/events?last-event-id=${from}&type=log`);
  const fast = await open(`/api/v1/events?last-event-id=${from}&type=log`);
  slow.res.pause();
  // 400 x 32 KiB = 12.5 MiB: more than loopback socket buffers hold for the paused client.
  const payload = "x".repeat(32 * 1024);
  let lastId = 0;
  for (let i = 0; i < 400; i++) {
    lastId = f.daemon.events.publish({ type: "log", level: "info", message: `${i} ${payload}` }).id;
    await new Promise((r) => setTimeout(r, 1));
  }
  await fast.waitFor((x) => x.events.some((e) => e.id === lastId), 10_000);
  assert.equal(fast.events.length, 400);
  slow.res.resume();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    slow.closed,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error("the slow client was never dropped")), 5000);
    }),
  ]);
  clearTimeout(timer);
  assert.ok(slow.events.length < 400, `the slow client was cut off (got ${slow.events.length})`);
  fast.close();
});
