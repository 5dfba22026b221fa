// The admin API client behind `lodestone show/set/config/watch/shell`: where the API
// is (flags, environment, or a config file's admin section), a small JSON client over
// fetch, and the mapping of outcomes to exit codes:
//   0 ok, 1 the API refused (4xx), 2 cannot reach the API or usage error, 3 server error.
import { readFile } from "node:fs/promises";
import { formatHostPort, loadConfigFile, parseListen } from "../config/index.ts";
import { LodestoneError } from "../errors.ts";

export const EXIT_OK = 0;
export const EXIT_REFUSED = 1;
export const EXIT_UNREACHABLE = 2;
export const EXIT_USAGE = 2;
export const EXIT_SERVER = 3;

export const DEFAULT_ADMIN = "127.0.0.1:9700";

export interface ConnectionOptions {
  admin?: string;
  token?: string;
  config?: string;
}

export interface Connection {
  /** e.g. http://127.0.0.1:9700 */
  base: string;
  token?: string;
}

/** An error the CLI prints as one line and turns into an exit code. */
export class CliError extends LodestoneError {
  readonly exitCode: number;
  readonly status?: number;
  constructor(code: string, message: string, exitCode: number, status?: number) {
    super(code, message);
    this.exitCode = exitCode;
    this.status = status;
  }
}

/** "127.0.0.1:9700", "[::1]:9700" or a full http:// URL -> base URL. */
export function adminBase(address: string): string {
  if (/^https?:\/\//.test(address)) return address.replace(/\/+$/, "");
  const l = parseListen(address);
  if (!l.ok) throw new CliError("USAGE", `--admin: ${l.message}`, EXIT_USAGE);
  return `http://${formatHostPort(l.value)}`;
}

/**
 * Flags win over LODESTONE_ADMIN / LODESTONE_TOKEN, which win over --config FILE's admin
 * section (its listen, and the token from its token-file or token-env).
 */
export async function resolveConnection(
  opts: ConnectionOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Connection> {
  // An empty variable counts as unset.
  let address = opts.admin ?? (env.LODESTONE_ADMIN || undefined);
  let token = opts.token ?? (env.LODESTONE_TOKEN || undefined);
  if (opts.config && (address === undefined || token === undefined)) {
    let result: Awaited<ReturnType<typeof loadConfigFile>>;
    try {
      result = await loadConfigFile(opts.config);
    } catch (err) {
      throw new CliError("USAGE", `--config: ${(err as Error).message}`, EXIT_USAGE);
    }
    if (!result.ok) {
      throw new CliError(
        "USAGE",
        `--config ${opts.config}: ${result.errors.length} error(s), run lodestone validate`,
        EXIT_USAGE,
      );
    }
    const admin = result.config.admin;
    address ??= formatHostPort(admin.listen);
    if (token === undefined && admin.tokenEnv && env[admin.tokenEnv]) token = env[admin.tokenEnv];
    if (token === undefined && admin.tokenFile) {
      try {
        token = (await readFile(admin.tokenFile, "utf8")).trim();
      } catch (err) {
        throw new CliError(
          "USAGE",
          `cannot read admin.token-file ${admin.tokenFile}: ${(err as NodeJS.ErrnoException).code ?? err}`,
          EXIT_USAGE,
        );
      }
    }
  }
  return { base: adminBase(address ?? DEFAULT_ADMIN), ...(token ? { token } : {}) };
}

export class ApiClient {
  readonly connection: Connection;

  constructor(connection: Connection) {
    this.connection = connection;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return {
      accept: "application/json",
      ...(this.connection.token ? { authorization: `Bearer ${this.connection.token}` } : {}),
      ...extra,
    };
  }

  get<T = unknown>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  post<T = unknown>(path: string, body: object = {}): Promise<T> {
    return this.request<T>("POST", path, body);
  }

  /** JSON in, JSON out; 4xx/5xx become CliError with the API's message. 422 bodies are returned with ok=false. */
  async request<T>(method: string, path: string, body?: object): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.connection.base + path, {
        method,
        headers: this.headers(body ? { "content-type": "application/json" } : {}),
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw unreachable(this.connection.base, err);
    }
    const text = await res.text();
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      throw new CliError(
        "BAD_REPLY",
        `${method} ${path}: HTTP ${res.status}, reply is not JSON`,
        EXIT_SERVER,
        res.status,
      );
    }
    if (res.status === 422) return data as T;
    if (res.ok) return data as T;
    const e = (data as { error?: { code?: string; message?: string } } | null)?.error;
    const message = e?.message ?? `HTTP ${res.status}`;
    throw new CliError(
      e?.code ?? `HTTP_${res.status}`,
      message,
      res.status >= 500 ? EXIT_SERVER : EXIT_REFUSED,
      res.status,
    );
  }
}

export function unreachable(base: string, err: unknown): CliError {
  const e = err as { name?: string; cause?: { code?: string; message?: string } } | null;
  // fetch() rejects with a bare TypeError whose cause says why; without an errno code
  // the cause's message ("bad port") is the only useful part, not the "TypeError" name.
  let why = e?.cause?.code ?? e?.cause?.message ?? e?.name ?? "error";
  if (why === "bad port") {
    why =
      "fetch() refuses this port (the WHATWG Fetch bad-port list, e.g. 1, 6000, 10080; browsers refuse it too): give the admin API another port";
  }
  return new CliError("UNREACHABLE", `cannot reach the admin API at ${base}: ${why}`, EXIT_UNREACHABLE);
}
