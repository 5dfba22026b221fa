// Sticky sessions by cookie: the value names the backend a client was sent to, with an
// HMAC so a client can only present values the proxy issued (it cannot steer itself to
// an arbitrary backend by writing a name). The key comes from `sticky.cookie.key-file`
// or is random per process — then cookies do not survive a restart: set key-file in
// production. Worker processes take their pool's random key (useProcessKey), so a
// cookie one worker set is honoured by the others. Pure apart from reading the key
// file and the random key.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import type { StickySettings } from "../../../config/routes.ts";
import { LodestoneError } from "../../../errors.ts";

let processKey = randomBytes(32);

/**
 * Use `key` instead of this process's random key for sticky cookies without key-file
 * (a worker process takes its pool's key, before its first listener). Keys shorter
 * than 16 bytes are refused.
 */
export function useProcessKey(key: Uint8Array): void {
  if (key.length < 16) {
    throw new LodestoneError(
      "STICKY_KEY_SHORT",
      `sticky cookie process key holds ${key.length} bytes, need 16`,
    );
  }
  processKey = Buffer.from(key);
}
const MAC_CHARS = 22; // 132 bits of HMAC-SHA256, base64url

export class StickyCookie {
  readonly name: string;
  private readonly key: Buffer;
  private readonly attributes: string;
  private readonly scope: string;

  /** `scope` binds cookies to one frontend (a cookie from another frontend never matches). */
  constructor(settings: StickySettings, scope: string, key: Buffer = loadKey(settings)) {
    this.name = settings.cookie.name;
    this.key = key;
    this.scope = scope;
    const ttl = settings.cookie.ttl;
    this.attributes = `; Path=/; HttpOnly${ttl > 0 ? `; Max-Age=${Math.ceil(ttl / 1000)}` : ""}`;
  }

  /** The cookie value for a backend: `name.mac`. */
  value(backend: string): string {
    return `${backend}.${this.mac(backend)}`;
  }

  /** The Set-Cookie field value that pins a client to `backend`. */
  setCookie(backend: string): string {
    return `${this.name}=${this.value(backend)}${this.attributes}`;
  }

  /** The backend a cookie value names, or null when it is malformed or its MAC is wrong. */
  verify(value: string): string | null {
    const dot = value.lastIndexOf(".");
    if (dot <= 0 || value.length - dot - 1 !== MAC_CHARS) return null;
    const backend = value.slice(0, dot);
    const want = Buffer.from(this.mac(backend), "latin1");
    const got = Buffer.from(value.slice(dot + 1), "latin1");
    return got.length === want.length && timingSafeEqual(got, want) ? backend : null;
  }

  private mac(backend: string): string {
    return createHmac("sha256", this.key)
      .update(`${this.scope}\0${backend}`)
      .digest("base64url")
      .slice(0, MAC_CHARS);
  }
}

function loadKey(settings: StickySettings): Buffer {
  const file = settings.cookie.keyFile;
  if (file === undefined) return processKey;
  let key: Buffer;
  try {
    key = readFileSync(file);
  } catch (err) {
    throw new LodestoneError(
      "STICKY_KEY_UNREADABLE",
      `cannot read sticky cookie key-file ${file}: ${(err as Error).message}`,
    );
  }
  if (key.length < 16) {
    throw new LodestoneError(
      "STICKY_KEY_SHORT",
      `sticky cookie key-file ${file} holds ${key.length} bytes: use at least 16 (e.g. openssl rand 32)`,
    );
  }
  return key;
}
