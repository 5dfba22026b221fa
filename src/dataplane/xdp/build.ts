// Builds the XDP object from source when it is missing or older than its sources.
// The object is not committed (docs/xdp.md says why): clang is part of setup.sh,
// and scripts/build-bpf.sh holds the one set of compiler flags.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { LodestoneError } from "../../errors.ts";

const here = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(here, "../../..");
export const BPF_SOURCE_DIR = join(here, "bpf");
export const DEFAULT_OBJECT_PATH = join(REPO_ROOT, "dist/bpf/lodestone.bpf.o");
/** Built beside the main object: XDP_PASS, for veth peers (see bpf/pass.bpf.c). */
export const DEFAULT_PASS_OBJECT_PATH = join(REPO_ROOT, "dist/bpf/pass.bpf.o");
const BUILD_SCRIPT = join(REPO_ROOT, "scripts/build-bpf.sh");

function newestSourceMtime(): number {
  let newest = statSync(BUILD_SCRIPT).mtimeMs;
  for (const name of readdirSync(BPF_SOURCE_DIR)) {
    if (name.endsWith(".c") || name.endsWith(".h")) {
      newest = Math.max(newest, statSync(join(BPF_SOURCE_DIR, name)).mtimeMs);
    }
  }
  return newest;
}

/** Compile to `out` unconditionally (extra clang flags in `cflags`). Throws XDP_BUILD_FAILED with clang's messages. */
export function buildBpfObject(out = DEFAULT_OBJECT_PATH, cflags = ""): string {
  try {
    execFileSync("bash", [BUILD_SCRIPT, out], { stdio: "pipe", env: { ...process.env, BPF_CFLAGS: cflags } });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    const detail = e.stderr?.toString().trim() || e.message;
    throw new LodestoneError("XDP_BUILD_FAILED", `building the XDP program failed:\n${detail}`, {
      cause: err,
    });
  }
  return out;
}

/** The object at `out`, rebuilt first if any source is newer. */
export function ensureBpfObject(out = DEFAULT_OBJECT_PATH): string {
  if (existsSync(out) && statSync(out).mtimeMs >= newestSourceMtime()) return out;
  return buildBpfObject(out);
}
