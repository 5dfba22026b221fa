// Who may call the admin API. The decision is a pure function of (client address,
// Authorization header, is it a mutation, the configured token) so it is tested as a
// truth table; loading the token is the only I/O here.
//
//   token configured:  mutations need "Bearer <token>"; reads need it too unless the
//                      client is on loopback. A wrong token is refused even on loopback.
//   no token:          everything is allowed from loopback only (start refuses a
//                      non-loopback listen without a token, so others can't connect).
import { createHash, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import { BlockList, isIP } from "node:net";
import type { AdminConfig } from "../config/types.ts";
import { LodestoneError } from "../errors.ts";

export interface AdminToken {
  /** sha256 of the token: compared in constant time, and equal lengths by construction. */
  digest: Buffer;
  /** A short non-secret name for logs: "token:" + 8 hex digits of a second hash. */
  id: string;
}

export type AccessDecision =
  | { ok: true; who: string }
  | { ok: false; status: 401 | 403; message: string; challenge?: string };

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

/** 127.0.0.0/8 or ::1 (IPv4-mapped addresses are unwrapped by clientAddress first). */
export function isLoopback(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return LOOPBACK.check(address, family === 4 ? "ipv4" : "ipv6");
}

const sha256 = (s: string) => createHash("sha256").update(s).digest();

export function makeToken(secret: string): AdminToken {
  const id = createHash("sha256").update(`lodestone-token-id:${secret}`).digest("hex").slice(0, 8);
  return { digest: sha256(secret), id: `token:${id}` };
}

/**
 * Read the bearer token named by the admin config: the env variable wins over the
 * file when both are set and the variable is non-empty. Null when none is configured.
 * Throws LodestoneError ADMIN_TOKEN_UNREADABLE / ADMIN_TOKEN_EMPTY.
 */
export async function loadAdminToken(
  admin: AdminConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<AdminToken | null> {
  if (admin.tokenEnv !== undefined) {
    const value = env[admin.tokenEnv]?.trim();
    if (value) return makeToken(value);
    if (admin.tokenFile === undefined) {
      throw new LodestoneError(
        "ADMIN_TOKEN_EMPTY",
        `admin.token-env names ${admin.tokenEnv}, which is unset or empty`,
      );
    }
  }
  if (admin.tokenFile !== undefined) {
    let text: string;
    try {
      text = await readFile(admin.tokenFile, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "error";
      throw new LodestoneError(
        "ADMIN_TOKEN_UNREADABLE",
        `cannot read admin.token-file ${admin.tokenFile}: ${code}`,
      );
    }
    const value = text.trim();
    if (!value) throw new LodestoneError("ADMIN_TOKEN_EMPTY", `admin.token-file ${admin.tokenFile} is empty`);
    return makeToken(value);
  }
  return null;
}

/** The token in an "Authorization: Bearer <token>" header; null when absent; "" when malformed. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const m = /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(header);
  return m ? m[1] : "";
}

/** Strip the IPv4-mapped prefix node:net reports on dual-stack sockets. */
export function clientAddress(remote: string | undefined): string {
  if (!remote) return "unknown";
  return remote.startsWith("::ffff:") && remote.includes(".") ? remote.slice(7) : remote;
}

export function decideAccess(input: {
  remote: string;
  authorization: string | undefined;
  mutation: boolean;
  token: AdminToken | null;
}): AccessDecision {
  const local = isLoopback(input.remote);
  const presented = bearerToken(input.authorization);
  const challenge = 'Bearer realm="lodestone"';
  if (input.token === null) {
    if (!local) return { ok: false, status: 403, message: "the admin API answers loopback clients only" };
    return { ok: true, who: `${input.remote} anonymous` };
  }
  if (presented === null) {
    if (local && !input.mutation) return { ok: true, who: `${input.remote} anonymous` };
    return {
      ok: false,
      status: 401,
      message: input.mutation
        ? "this call changes state: send Authorization: Bearer <token>"
        : "token required",
      challenge,
    };
  }
  if (presented === "" || !timingSafeEqual(sha256(presented), input.token.digest)) {
    return {
      ok: false,
      status: 401,
      message: "invalid bearer token",
      challenge: `${challenge}, error="invalid_token"`,
    };
  }
  return { ok: true, who: `${input.remote} ${input.token.id}` };
}
