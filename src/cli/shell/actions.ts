// What each resolved command does: one admin API call, then a table (or --json).
// Shared by the `lodestone` subcommands and the shell. Returns the exit code.
import type { backendViews, frontendViews, healthcheckViews, serviceViews } from "../../api/views.ts";
import type { ConfigDiff } from "../../config/index.ts";
import type { ControlEvent } from "../../control/events.ts";
import { type ApiClient, CliError, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, unreachable } from "../client.ts";
import { formatConfigDiff } from "../config-check.ts";
import { ago, bytes, duration, fields, paint, type Style, state, table } from "./format.ts";
import type { Resolution } from "./grammar.ts";

type Frontend = ReturnType<typeof frontendViews>[number];
type Service = ReturnType<typeof serviceViews>[number];
type Backend = ReturnType<typeof backendViews>[number];
type Healthcheck = ReturnType<typeof healthcheckViews>[number];

export interface Io {
  out(text: string): void;
  err(text: string): void;
  style: Style;
  /** Ends `watch events` (Ctrl-C in the shell, SIGINT on the command line). */
  signal?: AbortSignal;
}

type Ok = Extract<Resolution, { kind: "ok" }>;

const enc = encodeURIComponent;

export async function runAction(r: Ok, client: ApiClient, io: Io): Promise<number> {
  const json = r.flags.json === true;
  const show = (data: unknown, human: () => string) =>
    io.out(json ? `${JSON.stringify(data, null, 2)}\n` : human());
  const st = io.style;
  switch (r.action) {
    case "show.frontends": {
      const list = await client.get<Frontend[]>("/api/v1/frontends");
      show(list, () => frontendTable(st, list));
      return EXIT_OK;
    }
    case "show.frontend": {
      const f = await client.get<Frontend>(`/api/v1/frontends/${enc(r.args.frontend)}`);
      show(f, () =>
        fields(st, [
          ["frontend", f.name],
          ["state", state(st, f.state)],
          ["listen", `${f.protocol}://${f.listen}`],
          ["service", f.service],
          ["active pool", f.activePoolName ?? paint(st, "red", "none")],
          ["connections", `${f.counters.connectionsActive} active, ${f.counters.connectionsTotal} total`],
          ["bytes", `${bytes(f.counters.bytesIn)} in, ${bytes(f.counters.bytesOut)} out`],
          ["connect errors", String(f.counters.connectErrors)],
        ]),
      );
      return EXIT_OK;
    }
    case "show.services": {
      const list = await client.get<Service[]>("/api/v1/services");
      show(list, () =>
        table(
          st,
          ["SERVICE", "ALGORITHM", "ACTIVE POOL", "POOLS", "FRONTENDS"],
          list.map((s) => [
            s.name,
            s.algorithm,
            s.activePoolName ?? paint(st, "red", "none"),
            s.pools.map((p) => p.name).join(","),
            s.frontends.join(","),
          ]),
        ),
      );
      return EXIT_OK;
    }
    case "show.service": {
      const s = await client.get<Service>(`/api/v1/services/${enc(r.args.service)}`);
      show(s, () => serviceDetail(st, s));
      return EXIT_OK;
    }
    case "show.backends": {
      const list = await client.get<Backend[]>("/api/v1/backends");
      show(list, () => backendTable(st, list));
      return EXIT_OK;
    }
    case "show.backend": {
      const b = await client.get<Backend>(`/api/v1/backends/${enc(r.args.backend)}`);
      show(b, () => backendDetail(st, b));
      return EXIT_OK;
    }
    case "show.healthchecks": {
      const list = await client.get<Healthcheck[]>("/api/v1/healthchecks");
      show(list, () =>
        table(
          st,
          ["HEALTHCHECK", "TYPE", "INTERVAL", "TIMEOUT", "RISE/FALL", "BACKENDS"],
          list.map((c) => [
            c.name,
            c.type,
            duration(c.interval),
            duration(c.timeout),
            `${c.rise}/${c.fall}`,
            c.backends.join(","),
          ]),
        ),
      );
      return EXIT_OK;
    }
    case "show.version": {
      const v = await client.get<{ version: string; node: string; uptimeSeconds: number; pid: number }>(
        "/api/v1/version",
      );
      show(v, () => `lodestone ${v.version} (node ${v.node}, pid ${v.pid}, up ${v.uptimeSeconds}s)\n`);
      return EXIT_OK;
    }
    case "set.backend.pause":
    case "set.backend.resume":
    case "set.backend.enable":
    case "set.backend.disable": {
      const verb = r.action.split(".")[2];
      const body = verb === "disable" && r.flags.flush === true ? { flush: true } : {};
      const b = await client.post<Backend>(`/api/v1/backends/${enc(r.args.backend)}/${verb}`, body);
      show(b, () => `backend ${b.name}: ${verb}${body.flush ? " (flush)" : ""} -> ${state(st, b.state)}\n`);
      return EXIT_OK;
    }
    case "set.weight": {
      const weight = Number(r.args.weight);
      if (!/^\d{1,3}$/.test(r.args.weight) || weight > 100) {
        throw new CliError(
          "USAGE",
          `weight must be an integer from 0 to 100, got "${r.args.weight}"`,
          EXIT_USAGE,
        );
      }
      const { service, pool, backend } = r.args;
      const m = await client.post<{ configuredWeight: number; effectiveWeight: number; state: string }>(
        `/api/v1/services/${enc(service)}/pools/${enc(pool)}/backends/${enc(backend)}/weight`,
        { weight, ...(r.flags.flush === true ? { flush: true } : {}) },
      );
      show(
        m,
        () =>
          `${service}/${pool}/${backend}: weight ${m.configuredWeight} (effective ${m.effectiveWeight}, ${state(st, m.state)})\n`,
      );
      return EXIT_OK;
    }
    case "config.check": {
      const c = await client.post<{
        ok: boolean;
        source?: string;
        diff?: ConfigDiff;
        errors?: { text: string }[];
      }>("/api/v1/config/check");
      show(c, () =>
        c.ok
          ? `${c.source}: ok\n${c.diff ? formatConfigDiff(c.diff) : ""}`
          : `config invalid:\n${errorLines(c.errors)}`,
      );
      return c.ok ? EXIT_OK : EXIT_REFUSED;
    }
    case "config.reload": {
      const c = await client.post<{ ok: boolean; summary?: string; errors?: { text: string }[] }>(
        "/api/v1/config/reload",
      );
      show(c, () => (c.ok ? `reloaded: ${c.summary}\n` : `reload refused:\n${errorLines(c.errors)}`));
      return c.ok ? EXIT_OK : EXIT_REFUSED;
    }
    case "watch.events":
      return watchEvents(r, client, io);
    default:
      throw new CliError("USAGE", `no action for ${r.action}`, EXIT_USAGE);
  }
}

function errorLines(errors: { text: string }[] | undefined): string {
  return (errors ?? []).map((e) => `  ${e.text}\n`).join("");
}

function frontendTable(st: Style, list: Frontend[]): string {
  return table(
    st,
    ["FRONTEND", "STATE", "LISTEN", "SERVICE", "ACTIVE POOL", "CONNS", "TOTAL", "IN", "OUT"],
    list.map((f) => [
      f.name,
      state(st, f.state),
      `${f.protocol}://${f.listen}`,
      f.service,
      f.activePoolName ?? "-",
      String(f.counters.connectionsActive),
      String(f.counters.connectionsTotal),
      bytes(f.counters.bytesIn),
      bytes(f.counters.bytesOut),
    ]),
  );
}

function serviceDetail(st: Style, s: Service): string {
  const head = fields(st, [
    ["service", s.name],
    ["algorithm", s.algorithm],
    ["active pool", s.activePoolName ?? paint(st, "red", "none")],
    ["frontends", s.frontends.join(", ") || "-"],
  ]);
  const rows: string[][] = [];
  for (const p of s.pools) {
    for (const m of p.members) {
      rows.push([
        `${p.index}${p.active ? "*" : ""} ${p.name}`,
        m.backend,
        state(st, m.state),
        String(m.configuredWeight) + (m.override ? " (set)" : ""),
        String(m.effectiveWeight),
      ]);
    }
  }
  return `${head}\n${table(st, ["POOL", "BACKEND", "STATE", "WEIGHT", "EFFECTIVE"], rows)}`;
}

function backendTable(st: Style, list: Backend[]): string {
  return table(
    st,
    ["BACKEND", "STATE", "ADDRESS", "CHECK", "SINCE", "LAST PROBE", "CONNS"],
    list.map((b) => [
      b.name,
      state(st, b.state),
      `${b.address}:${b.port}`,
      b.healthcheck ?? "-",
      ago(b.since),
      b.lastProbe
        ? `${b.lastProbe.ok ? "ok" : "fail"} ${b.lastProbe.latencyMs.toFixed(1)}ms ${b.lastProbe.reason}`
        : "-",
      String(b.counters.connectionsActive),
    ]),
  );
}

function backendDetail(st: Style, b: Backend): string {
  const pairs: [string, string][] = [
    ["backend", b.name],
    ["state", `${state(st, b.state)} since ${ago(b.since)}`],
    ["address", `${b.address}:${b.port}`],
    ["healthcheck", b.healthcheck ?? "none (static)"],
    ["counter", `${b.counter} (rise ${b.rise}, fall ${b.fall})`],
  ];
  if (b.lastProbe) {
    pairs.push([
      "last probe",
      `${b.lastProbe.ok ? "ok" : "fail"} in ${b.lastProbe.latencyMs.toFixed(1)}ms: ${b.lastProbe.reason} (${ago(b.lastProbe.at)})`,
    ]);
  }
  if (b.override) pairs.push(["operator", JSON.stringify(b.override)]);
  pairs.push(["connections", `${b.counters.connectionsActive} active, ${b.counters.connectionsTotal} total`]);
  const history = (b.history ?? [])
    .slice(-10)
    .map((t) => [new Date(t.at).toISOString(), `${t.from} -> ${state(st, t.to)}`, t.reason]);
  return `${fields(st, pairs)}\n${table(st, ["AT", "TRANSITION", "REASON"], history)}`;
}

/** One line for an event. */
export function describeEvent(e: ControlEvent): string {
  switch (e.type) {
    case "backend-transition":
      return `backend ${e.backend}: ${e.from} -> ${e.to} (${e.reason})`;
    case "frontend-transition":
      return `frontend ${e.frontend}: pool ${e.fromPoolName ?? "none"} -> ${e.toPoolName ?? "none"}`;
    case "weight-change":
      return `frontend ${e.frontend} backend ${e.backend}: weight ${e.from} -> ${e.to}${e.flush ? " (flush)" : ""}`;
    case "backend-ejected":
      return `frontend ${e.frontend} backend ${e.backend}: ${e.ejected ? "ejected" : "returned"} by outlier detection (${e.reason})`;
    case "reload":
      return `reload ${e.ok ? "ok" : "failed"}: ${e.summary}${e.errors?.length ? ` (${e.errors.join("; ")})` : ""}`;
    case "log":
      return `[${e.level}] ${e.message}`;
  }
}

/** Parse an SSE byte stream into (id, data) messages; comments and retry lines are skipped. */
export class SseParser {
  #buf = "";
  #id: string | undefined;
  #data: string[] = [];

  push(chunk: string): { id?: string; data: string }[] {
    this.#buf += chunk;
    const out: { id?: string; data: string }[] = [];
    let nl = this.#buf.indexOf("\n");
    while (nl >= 0) {
      const line = this.#buf.slice(0, nl).replace(/\r$/, "");
      this.#buf = this.#buf.slice(nl + 1);
      nl = this.#buf.indexOf("\n");
      if (line === "") {
        if (this.#data.length > 0) out.push({ id: this.#id, data: this.#data.join("\n") });
        this.#data = [];
        this.#id = undefined;
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "id") this.#id = value;
      else if (field === "data") this.#data.push(value);
    }
    return out;
  }
}

async function watchEvents(r: Ok, client: ApiClient, io: Io): Promise<number> {
  const q = new URLSearchParams();
  for (const k of ["type", "backend", "frontend", "level"]) {
    const v = r.flags[k];
    if (typeof v === "string") q.set(k, v);
  }
  const count = typeof r.flags.count === "string" ? Number(r.flags.count) : Number.POSITIVE_INFINITY;
  if (!(count > 0)) throw new CliError("USAGE", "--count must be a positive number", EXIT_USAGE);
  const json = r.flags.json === true;
  let lastId: string | undefined;
  let seen = 0;
  let connectedOnce = false;
  const path = `/api/v1/events${q.size > 0 ? `?${q}` : ""}`;
  while (!io.signal?.aborted) {
    let res: Response;
    try {
      res = await fetch(client.connection.base + path, {
        headers: client.headers({
          accept: "text/event-stream",
          ...(lastId ? { "last-event-id": lastId } : {}),
        }),
        signal: io.signal,
      });
    } catch (err) {
      if (io.signal?.aborted) break;
      if (!connectedOnce) throw unreachable(client.connection.base, err);
      await sleep(1000, io.signal);
      continue;
    }
    if (!res.ok) {
      const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
      throw new CliError(
        "REFUSED",
        body?.error?.message ?? `HTTP ${res.status}`,
        res.status >= 500 ? 3 : EXIT_REFUSED,
        res.status,
      );
    }
    if (connectedOnce) io.err(`reconnected (after event ${lastId ?? "none"})\n`);
    connectedOnce = true;
    const parser = new SseParser();
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        for (const m of parser.push(decoder.decode(chunk, { stream: true }))) {
          if (m.id) lastId = m.id;
          let e: ControlEvent;
          try {
            e = JSON.parse(m.data) as ControlEvent;
          } catch {
            continue;
          }
          io.out(
            json
              ? `${JSON.stringify(e)}\n`
              : `${new Date(e.at).toISOString().slice(11, 23)}  ${paint(io.style, "grey", `#${e.id}`)}  ${describeEvent(e)}\n`,
          );
          if (++seen >= count) return EXIT_OK;
        }
      }
    } catch {
      if (io.signal?.aborted) break;
    }
    io.err("event stream closed; reconnecting\n");
    await sleep(1000, io.signal);
  }
  return EXIT_OK;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}
