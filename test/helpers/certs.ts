// Self-signed TLS certificates for tests, made by openssl: EC P-256, valid for a day,
// so they are quick to make and never outlive the test that needs them.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface CertSubject {
  /** The subject's common name. */
  cn: string;
  /** openssl's subjectAltName value, e.g. "DNS:www.test,IP:127.0.0.1"; none when omitted. */
  subjectAltName?: string;
}

/** Write a self-signed certificate and its key as PEM files at the given paths. */
export function writeSelfSignedCert(certPath: string, keyPath: string, subject: CertSubject): void {
  const san = subject.subjectAltName ? ["-addext", `subjectAltName=${subject.subjectAltName}`] : [];
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-keyout",
      keyPath,
      "-out",
      certPath,
      "-subj",
      `/CN=${subject.cn}`,
      ...san,
    ],
    { stdio: "ignore" },
  );
}

/** A self-signed certificate and key in memory (the files live only for the call). */
export function selfSignedCert(subject: CertSubject): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), "lodestone-cert-"));
  try {
    writeSelfSignedCert(join(dir, "cert.pem"), join(dir, "key.pem"), subject);
    return { key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
