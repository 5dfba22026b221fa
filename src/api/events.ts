// GET /api/v1/events: the event bus as Server-Sent Events. A client that reconnects
// with Last-Event-ID gets what it missed from the bus history, then live events.
// Writing never waits: a client that stops reading fills a bounded buffer and is
// dropped, so a slow consumer can never hold the bus (or the daemon) back.
import type { ServerResponse } from "node:http";
import type { ControlEvent, ControlEventType, EventBus } from "../control/events.ts";

export const EVENT_TYPES: readonly ControlEventType[] = [
  "backend-transition",
  "frontend-transition",
  "weight-change",
  "backend-ejected",
  "reload",
  "log",
];
const LEVELS = ["info", "warn", "error"] as const;
type Level = (typeof LEVELS)[number];

export interface EventFilter {
  types?: ReadonlySet<ControlEventType>;
  backend?: string;
  frontend?: string;
  /** Log events below this level are left out (other events are not log events and pass). */
  level?: Level;
}

export type FilterParse = { ok: true; filter: EventFilter } | { ok: false; message: string };

/** ?type=a,b&backend=X&frontend=Y&level=warn -> a filter, or a message naming the bad value. */
export function parseEventFilter(query: URLSearchParams): FilterParse {
  const filter: EventFilter = {};
  const types = query
    .getAll("type")
    .flatMap((t) => t.split(","))
    .filter((t) => t !== "");
  if (types.length > 0) {
    for (const t of types) {
      if (!EVENT_TYPES.includes(t as ControlEventType)) {
        return {
          ok: false,
          message: `unknown event type "${t}" (expected one of ${EVENT_TYPES.join(", ")})`,
        };
      }
    }
    filter.types = new Set(types as ControlEventType[]);
  }
  const backend = query.get("backend");
  if (backend) filter.backend = backend;
  const frontend = query.get("frontend");
  if (frontend) filter.frontend = frontend;
  const level = query.get("level");
  if (level) {
    if (!LEVELS.includes(level as Level)) {
      return { ok: false, message: `unknown level "${level}" (expected info, warn or error)` };
    }
    filter.level = level as Level;
  }
  return { ok: true, filter };
}

/** Does the event pass the filter? backend/frontend keep only events about that object. */
export function eventMatches(e: ControlEvent, f: EventFilter): boolean {
  if (f.types && !f.types.has(e.type)) return false;
  if (f.backend !== undefined && !("backend" in e && e.backend === f.backend)) return false;
  if (f.frontend !== undefined && !("frontend" in e && e.frontend === f.frontend)) return false;
  if (f.level !== undefined && e.type === "log" && LEVELS.indexOf(e.level) < LEVELS.indexOf(f.level)) {
    return false;
  }
  return true;
}

/** The Last-Event-ID header wins over ?last-event-id=; 0 (replay everything kept) when absent. */
export function parseLastEventId(header: string | undefined, query: string | null): number | null {
  const raw = header ?? query;
  if (raw === undefined || raw === null || raw === "") return 0;
  return /^\d{1,15}$/.test(raw.trim()) ? Number(raw.trim()) : null;
}

export function formatEvent(e: ControlEvent): string {
  return `id: ${e.id}\ndata: ${JSON.stringify(e)}\n\n`;
}

export interface StreamOptions {
  heartbeatMs: number;
  /** Bytes queued for a client before it is dropped. */
  maxBuffer: number;
}

/** Serve one SSE client until it disconnects, overflows, or the returned closer is called. */
export function streamEvents(
  bus: EventBus,
  res: ServerResponse,
  lastId: number,
  filter: EventFilter,
  options: StreamOptions,
  onDrop?: (reason: string) => void,
): () => void {
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  let closed = false;
  let unsubscribe = () => {};
  let heartbeat: NodeJS.Timeout | undefined;
  const close = () => {
    if (closed) return;
    closed = true;
    unsubscribe();
    clearInterval(heartbeat);
    res.end();
  };
  const send = (chunk: string) => {
    if (closed) return;
    res.write(chunk);
    if (res.writableLength > options.maxBuffer) {
      closed = true;
      unsubscribe();
      clearInterval(heartbeat);
      onDrop?.(`client not reading: more than ${options.maxBuffer} bytes queued`);
      res.destroy();
    }
  };
  // Replay and subscribe in the same tick: nothing can be published in between.
  const missed = lastId > 0 && lastId + 1 < bus.oldestId;
  send(`retry: 1000\n: lodestone events, last id ${bus.lastId}\n\n`);
  if (missed) send(`: events ${lastId + 1} to ${bus.oldestId - 1} are no longer kept\n\n`);
  for (const e of bus.since(lastId)) if (eventMatches(e, filter)) send(formatEvent(e));
  if (closed) return close;
  const off = bus.subscribe((e) => {
    if (eventMatches(e, filter)) send(formatEvent(e));
  });
  unsubscribe = () => {
    off();
  };
  heartbeat = setInterval(() => send(": heartbeat\n\n"), options.heartbeatMs);
  heartbeat.unref();
  res.on("close", close);
  res.on("error", close);
  return close;
}
