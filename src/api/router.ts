// A tiny router for the admin API: "METHOD /path/:param" patterns matched segment by
// segment. Pure (no I/O) so that 404-vs-405 and parameter decoding are tested as a
// truth table. Parameters are percent-decoded; a malformed escape is a 400, not a crash.

export interface Route<H> {
  method: string;
  pattern: string;
  handler: H;
}

export type RouteMatch<H> =
  | { kind: "found"; route: Route<H>; params: Record<string, string> }
  | { kind: "not-found" }
  | { kind: "method-not-allowed"; allow: string[] }
  | { kind: "bad-path"; message: string };

interface Compiled<H> {
  route: Route<H>;
  segments: string[];
}

const split = (path: string): string[] => path.split("/").filter((s) => s !== "");

export class Router<H> {
  readonly #routes: Compiled<H>[] = [];

  add(method: string, pattern: string, handler: H): this {
    this.#routes.push({ route: { method, pattern, handler }, segments: split(pattern) });
    return this;
  }

  get routes(): readonly Route<H>[] {
    return this.#routes.map((r) => r.route);
  }

  /** Match a request path (without query string). A trailing slash is ignored. */
  match(method: string, path: string): RouteMatch<H> {
    const parts = split(path);
    const allow = new Set<string>();
    for (const c of this.#routes) {
      const params = matchSegments(c.segments, parts);
      if (params === null) continue;
      if (params instanceof Error) return { kind: "bad-path", message: params.message };
      if (c.route.method === method) return { kind: "found", route: c.route, params };
      allow.add(c.route.method);
    }
    if (allow.size > 0) return { kind: "method-not-allowed", allow: [...allow].sort() };
    return { kind: "not-found" };
  }
}

function matchSegments(pattern: string[], parts: string[]): Record<string, string> | null | Error {
  if (pattern.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p.startsWith(":")) {
      try {
        params[p.slice(1)] = decodeURIComponent(parts[i]);
      } catch {
        return new Error(`malformed percent-encoding in path segment "${parts[i]}"`);
      }
    } else if (p !== parts[i]) {
      return null;
    }
  }
  return params;
}
