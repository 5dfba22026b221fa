// Checks that need the whole file: references between sections, duplicates, listen
// conflicts, cross-field limits. Pure: takes the normalized (possibly partial) config
// and returns issues with YAML key paths (kebab-case, as the user wrote them).
//
// References are checked on the raw document (see checkReferences) so that an entry
// with a schema error still has its references checked, and a reference to a broken
// entry is not also reported as dangling.
import { accessSync, constants, statSync } from "node:fs";
import { canonicalIp, formatHostPort, ipFamily, isLoopback, isWildcard, listenConflicts } from "./address.ts";
import { formatDuration } from "./duration.ts";
import { formatPath, type PathSegment, type PendingIssue } from "./issues.ts";
import { XDP_RUNTIME_DEFAULTS } from "./schema.ts";
import type { Config, FrontendConfig, HostPort } from "./types.ts";

export interface SemanticInput {
  /** The normalized config; entries that failed the schema are absent. */
  config: Config;
  /** False when admin/runtime failed the schema (their values in `config` are then defaults, not checked). */
  adminParsed: boolean;
  runtimeParsed: boolean;
}

/** "a, b, c" (at most 8, then "..."), or "none are defined" — for dangling-reference hints. */
function known(names: ReadonlySet<string>): string {
  if (names.size === 0) return "none are defined";
  const list = [...names].sort();
  return list.length > 8 ? `${list.slice(0, 8).join(", ")}, ...` : list.join(", ");
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The names written in a section of the raw document. */
function namesOf(raw: Record<string, unknown>, section: string): Set<string> {
  const v = raw[section];
  return new Set(isObject(v) ? Object.keys(v) : []);
}

/**
 * References between sections, read from the raw document (not the normalized config)
 * so they are reported even for entries that have schema errors of their own:
 * backend -> healthcheck, pool member -> backend, frontend -> service; plus a backend
 * twice in one service and duplicate pool names.
 */
export function checkReferences(raw: Record<string, unknown>): PendingIssue[] {
  const issues: PendingIssue[] = [];
  const add = (path: PathSegment[], message: string, at: "key" | "value" = "value") =>
    issues.push({ path, message, at });
  const healthchecks = namesOf(raw, "healthchecks");
  const backends = namesOf(raw, "backends");
  const services = namesOf(raw, "services");

  const entries = (section: string) => (isObject(raw[section]) ? Object.entries(raw[section]) : []);

  for (const [name, be] of entries("backends")) {
    if (isObject(be) && typeof be.healthcheck === "string" && !healthchecks.has(be.healthcheck)) {
      add(
        ["backends", name, "healthcheck"],
        `unknown healthcheck "${be.healthcheck}" (healthchecks: ${known(healthchecks)})`,
      );
    }
  }

  for (const [name, svc] of entries("services")) {
    if (!isObject(svc) || !Array.isArray(svc.pools)) continue;
    const seenIn = new Map<string, string>();
    const poolNames = new Map<string, number>();
    svc.pools.forEach((pool: unknown, p: number) => {
      if (!isObject(pool)) return;
      if (typeof pool.name === "string") {
        const first = poolNames.get(pool.name);
        if (first !== undefined) {
          add(
            ["services", name, "pools", p, "name"],
            `pool name "${pool.name}" is already used by ${formatPath(["services", name, "pools", first])}`,
          );
        } else {
          poolNames.set(pool.name, p);
        }
      }
      if (!isObject(pool.backends)) return;
      const poolLabel = typeof pool.name === "string" ? `pool "${pool.name}"` : `pools[${p}]`;
      for (const member of Object.keys(pool.backends)) {
        const path: PathSegment[] = ["services", name, "pools", p, "backends", member];
        if (!backends.has(member)) {
          add(path, `unknown backend "${member}" (backends: ${known(backends)})`, "key");
        }
        const prev = seenIn.get(member);
        if (prev !== undefined) {
          add(
            path,
            `backend "${member}" is already in ${prev} of this service: a backend may appear once per service`,
            "key",
          );
        } else {
          seenIn.set(member, poolLabel);
        }
      }
    });
  }

  for (const [name, fe] of entries("frontends")) {
    if (isObject(fe) && typeof fe.service === "string" && !services.has(fe.service)) {
      add(["frontends", name, "service"], `unknown service "${fe.service}" (services: ${known(services)})`);
    }
    // L7 routes that forward name a service too.
    if (isObject(fe) && Array.isArray(fe.routes)) {
      fe.routes.forEach((route: unknown, r: number) => {
        if (isObject(route) && typeof route.service === "string" && !services.has(route.service)) {
          add(
            ["frontends", name, "routes", r, "service"],
            `unknown service "${route.service}" (services: ${known(services)})`,
          );
        }
      });
    }
  }
  return issues;
}

/** Cross-field and cross-entry checks on the normalized config (entries that passed the schema). */
export function checkSemantics(input: SemanticInput): PendingIssue[] {
  const { config } = input;
  const issues: PendingIssue[] = [];
  const add = (path: PathSegment[], message: string, at: "key" | "value" = "value") =>
    issues.push({ path, message, at });

  for (const [name, hc] of Object.entries(config.healthchecks)) {
    if (hc.timeout > hc.interval) {
      add(
        ["healthchecks", name, "timeout"],
        `timeout ${formatDuration(hc.timeout)} exceeds interval ${formatDuration(hc.interval)}: a probe must finish before the next one starts`,
      );
    }
  }

  for (const [name, svc] of Object.entries(config.services)) {
    const count = new Set(svc.pools.flatMap((p) => p.members.map((m) => m.backend))).size;
    if (svc.maglev.tableSize < count) {
      add(
        ["services", name, "maglev", "table-size"],
        `table-size ${svc.maglev.tableSize} is smaller than this service's ${count} backends: Maglev needs a prime well above the backend count, e.g. 65537`,
      );
    }
  }

  // Listen conflicts: tcp, http and https (and the admin API) share the TCP port space; udp has its own.
  const taken: { space: "tcp" | "udp"; at: HostPort; path: PathSegment[] }[] = [];
  const claim = (space: "tcp" | "udp", at: HostPort, path: PathSegment[]) => {
    const clash = taken.find((t) => t.space === space && listenConflicts(t.at, at));
    if (clash) {
      add(
        path,
        `${space} ${formatHostPort(at)} conflicts with ${formatPath(clash.path)} (${formatHostPort(clash.at)}): both would bind the same ${space} port`,
      );
    } else {
      taken.push({ space, at, path });
    }
  };
  for (const [name, fe] of Object.entries(config.frontends)) {
    if (fe.routes.length > 0 && fe.protocol !== "http" && fe.protocol !== "https") {
      add(
        ["frontends", name, "routes"],
        `routes need protocol http or https (this frontend is ${fe.protocol})`,
      );
    }
    issues.push(...checkL7(name, fe));
    // XDP VIPs take part in the conflict check like listeners: a VIP is keyed by
    // (address, port, protocol), so two on the same address and port conflict only in the
    // same port space, and a proxy listener on the VIP's address (or a wildcard) would
    // never see the traffic the program takes first on its interface.
    claim(fe.protocol === "udp" ? "udp" : "tcp", fe.listen, ["frontends", name, "listen"]);
  }
  issues.push(...checkXdp(config, input.runtimeParsed));

  if (input.adminParsed) {
    const a = config.admin;
    claim("tcp", a.listen, ["admin", "listen"]);
    if (!isLoopback(a.listen.host) && a.tokenFile === undefined && a.tokenEnv === undefined) {
      add(
        ["admin", "listen"],
        `admin API on non-loopback ${formatHostPort(a.listen)} without token-file or token-env: lodestone refuses to start with an unauthenticated API on the network (set one, or listen on 127.0.0.1)`,
      );
    }
  }

  if (input.runtimeParsed) {
    const w = config.runtime.warmup;
    if (w.minDelay > w.maxWait) {
      add(
        ["runtime", "warmup", "min-delay"],
        `min-delay ${formatDuration(w.minDelay)} exceeds max-wait ${formatDuration(w.maxWait)}`,
      );
    }
  }

  return issues;
}

/**
 * L7 keys: `http` on http/https frontends only, `tls` exactly on https ones, and the
 * files they name readable now (the one check here that touches the filesystem: a
 * missing certificate found by `validate` beats one found at start or reload).
 */
function checkL7(name: string, fe: FrontendConfig): PendingIssue[] {
  const issues: PendingIssue[] = [];
  const at = (...rest: PathSegment[]): PathSegment[] => ["frontends", name, ...rest];
  const l7 = fe.protocol === "http" || fe.protocol === "https";
  if (fe.http !== undefined && !l7) {
    issues.push({
      path: at("http"),
      message: `http settings need protocol http or https (this frontend is ${fe.protocol})`,
      at: "key",
    });
  }
  if (fe.tls !== undefined && fe.protocol !== "https") {
    issues.push({
      path: at("tls"),
      message: `tls settings need protocol https (this frontend is ${fe.protocol})`,
      at: "key",
    });
  }
  if (fe.protocol === "https" && fe.tls === undefined) {
    issues.push({
      path: at("protocol"),
      message: "protocol https needs tls: { certificates: [{ cert: file.pem, key: file.key }] }",
    });
  }
  fe.tls?.certificates.forEach((c, i) => {
    for (const key of ["cert", "key"] as const) {
      const problem = unreadable(c[key]);
      if (problem !== null) {
        issues.push({
          path: at("tls", "certificates", i, key),
          message: `cannot read ${c[key]}: ${problem}`,
        });
      }
    }
  });
  const ca = fe.http?.upstreamTls?.ca;
  if (ca !== undefined) {
    const problem = unreadable(ca);
    if (problem !== null)
      issues.push({ path: at("http", "upstream-tls", "ca"), message: `cannot read ${ca}: ${problem}` });
  }
  const keyFile = fe.http?.sticky?.cookie.keyFile;
  if (keyFile !== undefined) {
    const problem = unreadable(keyFile);
    if (problem !== null) {
      issues.push({
        path: at("http", "sticky", "cookie", "key-file"),
        message: `cannot read ${keyFile}: ${problem}`,
      });
    }
  }
  return issues;
}

/** Why a file cannot be read, or null when it can. */
function unreadable(path: string): string | null {
  try {
    if (!statSync(path).isFile()) return "not a regular file";
    accessSync(path, constants.R_OK);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : String(code ?? err);
  }
}

/**
 * XDP frontends: the block is present exactly when dataplane is xdp, and what the kernel
 * path cannot do is refused here with the key to fix (the dataplane would refuse it
 * too, but only at apply time and without a line number).
 */
function checkXdp(config: Config, runtimeParsed: boolean): PendingIssue[] {
  const issues: PendingIssue[] = [];
  const add = (path: PathSegment[], message: string, at: "key" | "value" = "value") =>
    issues.push({ path, message, at });
  const fragmentOwners = new Map<string, string>();
  const ringEntries =
    (runtimeParsed ? config.runtime.xdp?.ringEntries : undefined) ?? XDP_RUNTIME_DEFAULTS.ringEntries;
  let ringUsed = 0;
  for (const [name, fe] of Object.entries(config.frontends)) {
    const at = (...rest: PathSegment[]): PathSegment[] => ["frontends", name, ...rest];
    if (fe.dataplane !== "xdp") {
      if (fe.xdp !== undefined) {
        add(at("xdp"), "xdp settings need dataplane: xdp (this frontend uses the proxy dataplane)", "key");
      }
      continue;
    }
    if (fe.protocol !== "tcp" && fe.protocol !== "udp") {
      add(at("protocol"), `the XDP dataplane balances tcp and udp only (this frontend is ${fe.protocol})`);
    }
    if (fe.xdp === undefined) {
      add(
        at("dataplane"),
        "dataplane xdp needs an xdp block, at least the interface: xdp: { interface: eth0 }",
      );
      continue;
    }
    if (isWildcard(fe.listen.host)) {
      add(at("listen"), `the XDP dataplane needs a concrete VIP address, not ${fe.listen.host}`);
    }
    const vipFamily = ipFamily(fe.listen.host);
    if (fe.xdp.natAddress !== undefined && ipFamily(fe.xdp.natAddress) !== vipFamily) {
      add(
        at("xdp", "nat-address"),
        `nat-address ${fe.xdp.natAddress} is not IPv${vipFamily} like the VIP ${fe.listen.host}`,
      );
    }
    if (fe.xdp.fragments) {
      const key = `${fe.protocol} ${canonicalIp(fe.listen.host)}`;
      const owner = fragmentOwners.get(key);
      if (owner !== undefined) {
        add(
          at("xdp", "fragments"),
          `frontends.${owner} already hashes ${fe.protocol} fragments to ${fe.listen.host}: fragments carry no ports, so one frontend per address and protocol may do this`,
        );
      } else {
        fragmentOwners.set(key, name);
      }
    }
    const svc = config.services[fe.service];
    if (svc === undefined) continue; // a dangling reference is reported by checkReferences
    if (svc.algorithm !== "maglev") {
      add(
        at("service"),
        `service "${svc.name}" uses algorithm ${svc.algorithm}: the XDP dataplane balances with maglev only`,
      );
    }
    ringUsed += svc.maglev.tableSize;
    if (ringUsed > ringEntries) {
      add(
        at("service"),
        `the Maglev tables of the XDP frontends up to this one need ${ringUsed} ring slots; runtime.xdp.ring-entries is ${ringEntries}`,
      );
    }
    issues.push(...checkXdpBackends(config, name, fe));
  }
  return issues;
}

/** Every backend of an XDP VIP is in the VIP's family, and (dsr) on the VIP's port: one issue per rule. */
function checkXdpBackends(config: Config, name: string, fe: FrontendConfig): PendingIssue[] {
  const issues: PendingIssue[] = [];
  const svc = config.services[fe.service];
  const vipFamily = ipFamily(fe.listen.host);
  const otherFamily: string[] = [];
  const otherPort: string[] = [];
  const seen = new Set<string>();
  for (const member of svc.pools.flatMap((p) => p.members)) {
    const b = config.backends[member.backend];
    if (b === undefined || seen.has(b.name)) continue;
    seen.add(b.name);
    if (ipFamily(b.address) !== vipFamily) otherFamily.push(`${b.name} (${b.address})`);
    else if (fe.xdp?.mode === "dsr" && b.port !== fe.listen.port) otherPort.push(`${b.name} on ${b.port}`);
  }
  if (otherFamily.length > 0) {
    issues.push({
      path: ["frontends", name, "service"],
      message: `the XDP dataplane does not translate between address families; backends not IPv${vipFamily} like the VIP: ${otherFamily.join(", ")}`,
      at: "value",
    });
  }
  if (otherPort.length > 0) {
    issues.push({
      path: ["frontends", name, "listen"],
      message: `in xdp mode dsr every backend listens on the VIP's port ${fe.listen.port}: ${otherPort.join(", ")} (use mode nat to change ports)`,
      at: "value",
    });
  }
  return issues;
}
