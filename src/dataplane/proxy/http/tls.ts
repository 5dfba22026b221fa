// TLS for https frontends: per-frontend PEM certificates chosen by SNI (exact name
// first, then a wildcard one label up, then the first certificate as default), and
// ALPN. Certificate names come from the certificates themselves (subjectAltName DNS
// entries, else the CN), so the config only lists files.
import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createSecureContext, type SecureContext } from "node:tls";
import type { TlsSettings } from "../../../config/routes.ts";
import { LodestoneError } from "../../../errors.ts";

/** Exact and wildcard names -> item; pure lookup, tested without certificates. */
export class SniTable<T> {
  private readonly exact = new Map<string, T>();
  private readonly wildcard = new Map<string, T>();
  readonly fallback: T;

  constructor(fallback: T) {
    this.fallback = fallback;
  }

  /** First added name wins (certificates are listed in preference order). */
  add(name: string, item: T): void {
    const n = name.toLowerCase().replace(/\.$/, "");
    if (n.startsWith("*.")) {
      if (!this.wildcard.has(n.slice(2))) this.wildcard.set(n.slice(2), item);
    } else if (!this.exact.has(n)) {
      this.exact.set(n, item);
    }
  }

  /** The item for an SNI server name (or the fallback when none matches / no SNI sent). */
  lookup(servername: string | undefined): T {
    if (!servername) return this.fallback;
    const n = servername.toLowerCase().replace(/\.$/, "");
    const hit = this.exact.get(n);
    if (hit !== undefined) return hit;
    // A wildcard covers exactly one label: *.example.com matches a.example.com only.
    const dot = n.indexOf(".");
    if (dot > 0) {
      const w = this.wildcard.get(n.slice(dot + 1));
      if (w !== undefined) return w;
    }
    return this.fallback;
  }
}

/** DNS names a certificate is valid for: subjectAltName DNS entries, else its CN. */
export function certificateNames(cert: X509Certificate): string[] {
  const san = cert.subjectAltName;
  if (san) {
    const names = san
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s.startsWith("DNS:"))
      .map((s) => s.slice(4));
    if (names.length > 0) return names;
  }
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject);
  return cn ? [cn[1].trim()] : [];
}

export interface LoadedTls {
  table: SniTable<SecureContext>;
  /** Names per certificate, in config order (for logs and the admin API). */
  names: string[][];
  /** The first certificate as secure-context options: the default for clients without SNI. */
  defaultOptions: { cert: string; key: string; minVersion: TlsSettings["minVersion"] };
}

/** Read the PEM files and build one SecureContext per certificate. Clear errors for bad files. */
export async function loadTls(frontend: string, tls: TlsSettings): Promise<LoadedTls> {
  const contexts: { ctx: SecureContext; names: string[]; cert: string; key: string }[] = [];
  for (const [i, c] of tls.certificates.entries()) {
    let cert: string;
    let key: string;
    try {
      [cert, key] = await Promise.all([readFile(c.cert, "utf8"), readFile(c.key, "utf8")]);
    } catch (err) {
      throw new LodestoneError(
        "TLS_CERT_UNREADABLE",
        `frontend ${frontend}: tls.certificates[${i}]: ${(err as Error).message}`,
        { cause: err },
      );
    }
    let ctx: SecureContext;
    let names: string[];
    try {
      ctx = createSecureContext({ cert, key, minVersion: tls.minVersion });
      names = certificateNames(new X509Certificate(cert));
    } catch (err) {
      throw new LodestoneError(
        "TLS_CERT_INVALID",
        `frontend ${frontend}: tls.certificates[${i}] (${c.cert}): ${(err as Error).message}`,
        { cause: err },
      );
    }
    contexts.push({ ctx, names, cert, key });
  }
  const table = new SniTable(contexts[0].ctx);
  for (const { ctx, names } of contexts) for (const n of names) table.add(n, ctx);
  const first = contexts[0];
  return {
    table,
    names: contexts.map((c) => c.names),
    defaultOptions: { cert: first.cert, key: first.key, minVersion: tls.minVersion },
  };
}
