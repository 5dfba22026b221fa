// Loads lodestone's XDP object through libbpf, pins its maps, attaches it to
// interfaces, and hands out map handles. The maps are pinned under a bpffs
// directory (default /sys/fs/bpf/lodestone): a restarted daemon reuses them, so
// conntrack survives and forwarding never stops while the program stays attached.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, statfsSync } from "node:fs";
import { dirname, join } from "node:path";
import { LodestoneError } from "../../errors.ts";
import { encodeU32, MAP_NAMES, type MapName } from "./layout.ts";
import { BPF_ANY, type Libbpf, libbpf, XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE } from "./libbpf.ts";

export const DEFAULT_PIN_ROOT = "/sys/fs/bpf/lodestone";
const BPF_FS_MAGIC = 0xcafe4a11;
const PROGRAM_NAME = "lodestone_xdp";

export type AttachMode = "auto" | "native" | "generic";

export interface LoadOptions {
  /** The compiled object (see build.ts). */
  objectPath: string;
  /**
   * bpffs directory for the pinned maps; created (and bpffs mounted at /sys/fs/bpf) if
   * needed. null: no pinning (a dry run through the verifier, `lodestone xdp check`).
   */
  pinRoot?: string | null;
  /** Total Maglev ring slots shared by all VIPs (default 1<<20, i.e. 16 VIPs of 65537). */
  ringEntries?: number;
  /** Receives libbpf's log lines (level 0 warn, 1 info, 2 debug). */
  log?: (level: number, line: string) => void;
}

/** One map of the loaded object: fixed-size keys and values as Buffers. */
export class BpfMap {
  readonly name: string;
  readonly fd: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly #lib: Libbpf;

  constructor(lib: Libbpf, name: string, fd: number, keySize: number, valueSize: number) {
    this.#lib = lib;
    this.name = name;
    this.fd = fd;
    this.keySize = keySize;
    this.valueSize = valueSize;
  }

  update(key: Buffer, value: Buffer, flags = BPF_ANY): void {
    const err = this.#lib.mapUpdate(this.fd, key, value, flags);
    if (err < 0) throw mapError(this.#lib, "update", this.name, err);
  }

  /** The value, or null when the key is absent. */
  lookup(key: Buffer): Buffer | null {
    const value = Buffer.alloc(this.valueSize);
    const err = this.#lib.mapLookup(this.fd, key, value);
    if (err === -2) return null; // ENOENT
    if (err < 0) throw mapError(this.#lib, "lookup", this.name, err);
    return value;
  }

  /** true if something was deleted. */
  delete(key: Buffer): boolean {
    const err = this.#lib.mapDelete(this.fd, key);
    if (err === -2) return false;
    if (err < 0) throw mapError(this.#lib, "delete", this.name, err);
    return true;
  }

  /**
   * Write many entries in one syscall per chunk: `keys` and `values` hold `count`
   * fixed-size entries back to back. Much faster than update() per entry for rings.
   */
  updateBatch(keys: Buffer, values: Buffer, count: number): void {
    const CHUNK = 16384;
    for (let i = 0; i < count; i += CHUNK) {
      const n = Math.min(CHUNK, count - i);
      const k = keys.subarray(i * this.keySize, (i + n) * this.keySize);
      const v = values.subarray(i * this.valueSize, (i + n) * this.valueSize);
      const { err, done } = this.#lib.mapUpdateBatch(this.fd, k, v, n);
      if (err < 0) throw mapError(this.#lib, `batch update (${done} of ${n} done)`, this.name, err);
    }
  }

  /** Array maps: the values at indexes [start, start + count), read in batches. */
  readRange(start: number, count: number): Buffer {
    const out = Buffer.alloc(count * this.valueSize);
    const CHUNK = 16384;
    let got = 0;
    while (got < count) {
      const n = Math.min(CHUNK, count - got);
      const index = start + got;
      // The batch starts after the key given in in_batch: index - 1 (or the beginning).
      const inBatch = index === 0 ? null : encodeU32(index - 1);
      const keys = Buffer.alloc(n * this.keySize);
      const values = out.subarray(got * this.valueSize, (got + n) * this.valueSize);
      const { err, done } = this.#lib.mapLookupBatch(this.fd, inBatch, Buffer.alloc(4), keys, values, n);
      if (err < 0 && err !== -2) throw mapError(this.#lib, "batch lookup", this.name, err);
      if (done === 0) break;
      got += done;
    }
    return out;
  }

  /** Every key present now (hash maps; for arrays, every index). */
  keys(): Buffer[] {
    const out: Buffer[] = [];
    let prev: Buffer | null = null;
    for (;;) {
      const next = Buffer.alloc(this.keySize);
      const err = this.#lib.mapNextKey(this.fd, prev, next);
      if (err === -2) return out;
      if (err < 0) throw mapError(this.#lib, "iterate", this.name, err);
      out.push(next);
      prev = next;
    }
  }
}

function mapError(lib: Libbpf, op: string, name: string, err: number): LodestoneError {
  return new LodestoneError("XDP_MAP_ERROR", `bpf map ${name}: ${op} failed: ${lib.strerror(err)} (${err})`);
}

/** Key and value sizes per map, per-CPU values included (multiplied by the CPU count). */
function mapSizes(cpus: number): Record<MapName, [number, number]> {
  const stats = 80 * cpus;
  return {
    vips: [20, 36],
    ring: [4, 4],
    reals: [4, 40],
    conntrack: [40, 24],
    nat: [40, 60],
    vip_stats: [4, stats],
    real_stats: [4, stats],
  };
}

export interface Attachment {
  ifname: string;
  ifindex: number;
  mode: "native" | "generic";
}

/** The loaded program and its maps. */
export class XdpProgram {
  readonly pinRoot: string | null;
  readonly cpus: number;
  readonly maps: Record<MapName, BpfMap>;
  /** Maps that already existed under pinRoot and were reused (a restart). */
  readonly reusedMaps: boolean;
  readonly #lib: Libbpf;
  #obj: unknown;
  readonly #progFd: number;
  readonly #attached = new Map<string, Attachment>();

  private constructor(
    lib: Libbpf,
    obj: unknown,
    progFd: number,
    maps: Record<MapName, BpfMap>,
    pinRoot: string | null,
    reused: boolean,
  ) {
    this.#lib = lib;
    this.#obj = obj;
    this.#progFd = progFd;
    this.maps = maps;
    this.pinRoot = pinRoot;
    this.cpus = lib.numPossibleCpus();
    this.reusedMaps = reused;
  }

  /** Open, (re)use pinned maps, load through the verifier. Errors carry the verifier's log. */
  static load(options: LoadOptions): XdpProgram {
    const lib = libbpf();
    const pinRoot = options.pinRoot === undefined ? DEFAULT_PIN_ROOT : options.pinRoot;
    if (!existsSync(options.objectPath)) {
      throw new LodestoneError("XDP_OBJECT_MISSING", `BPF object not found: ${options.objectPath}`);
    }
    if (pinRoot) ensureBpffs(pinRoot);
    const reused = pinRoot !== null && MAP_NAMES.every((name) => existsSync(join(pinRoot, name)));

    const logLines: string[] = [];
    const warnings: string[] = [];
    const restore = lib.capturePrint((level, line) => {
      logLines.push(line);
      if (level === 0) warnings.push(line);
      options.log?.(level, line);
    });
    let obj: unknown = null;
    try {
      obj = lib.objectOpenFile(options.objectPath);
      if (!obj) {
        throw new LodestoneError(
          "XDP_LOAD_FAILED",
          `cannot open ${options.objectPath}: ${lib.strerror(-lib.errno())}\n${tail(logLines)}`,
        );
      }
      const mapPtrs = {} as Record<MapName, unknown>;
      for (const name of MAP_NAMES) {
        const m = lib.findMapByName(obj, name);
        if (!m) throw new LodestoneError("XDP_LOAD_FAILED", `map ${name} missing from ${options.objectPath}`);
        mapPtrs[name] = m;
        if (pinRoot) lib.mapSetPinPath(m, join(pinRoot, name));
      }
      if (options.ringEntries !== undefined) lib.mapSetMaxEntries(mapPtrs.ring, options.ringEntries);
      const err = lib.objectLoad(obj);
      if (err < 0) {
        const pinHint = logLines.some((l) => /reuse pinned map|couldn't reuse/.test(l))
          ? `\nthe maps pinned under ${pinRoot} do not match this program (layout or size changed): ` +
            "remove them with `lodestone xdp unpin` (this drops conntrack state)"
          : "";
        throw new LodestoneError(
          "XDP_LOAD_FAILED",
          `loading ${options.objectPath} failed: ${lib.strerror(err)} (${err})${pinHint}\n${verifierSummary(logLines, warnings)}`,
        );
      }
      const prog = lib.findProgramByName(obj, PROGRAM_NAME);
      if (!prog) throw new LodestoneError("XDP_LOAD_FAILED", `program ${PROGRAM_NAME} missing`);
      const cpus = lib.numPossibleCpus();
      const sizes = mapSizes(cpus);
      const maps = {} as Record<MapName, BpfMap>;
      for (const name of MAP_NAMES) {
        maps[name] = new BpfMap(lib, name, lib.mapFd(mapPtrs[name]), sizes[name][0], sizes[name][1]);
      }
      const program = new XdpProgram(lib, obj, lib.programFd(prog), maps, pinRoot, reused);
      obj = null; // owned by the program now
      return program;
    } finally {
      restore();
      if (obj) lib.objectClose(obj);
    }
  }

  /**
   * Attach to an interface (of this process's network namespace). "auto" tries the
   * driver's native XDP first and falls back to generic (SKB) mode. Replaces a program
   * already attached there (our own from before a restart).
   */
  attach(ifname: string, mode: AttachMode = "auto"): Attachment {
    const ifindex = this.ifindex(ifname);
    const tries: Array<["native" | "generic", number]> =
      mode === "native"
        ? [["native", XDP_FLAGS_DRV_MODE]]
        : mode === "generic"
          ? [["generic", XDP_FLAGS_SKB_MODE]]
          : [
              ["native", XDP_FLAGS_DRV_MODE],
              ["generic", XDP_FLAGS_SKB_MODE],
            ];
    const errors: string[] = [];
    for (const [name, flags] of tries) {
      // An interface holds one XDP mode at a time: clear the other before switching.
      const other = flags === XDP_FLAGS_DRV_MODE ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
      const q = this.#lib.xdpQueryId(ifindex, other);
      if (q.err === 0 && q.progId !== 0) this.#lib.xdpDetach(ifindex, other);
      const err = this.#lib.xdpAttach(ifindex, this.#progFd, flags);
      if (err === 0) {
        const a: Attachment = { ifname, ifindex, mode: name };
        this.#attached.set(ifname, a);
        return a;
      }
      errors.push(`${name}: ${this.#lib.strerror(err)}`);
    }
    throw new LodestoneError("XDP_ATTACH_FAILED", `cannot attach XDP to ${ifname}: ${errors.join("; ")}`);
  }

  detach(ifname: string): void {
    const a = this.#attached.get(ifname);
    if (!a) return;
    const flags = a.mode === "native" ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
    const err = this.#lib.xdpDetach(a.ifindex, flags);
    this.#attached.delete(ifname);
    if (err < 0 && err !== -19 /* ENODEV: interface gone */) {
      throw new LodestoneError(
        "XDP_DETACH_FAILED",
        `cannot detach XDP from ${ifname}: ${this.#lib.strerror(err)}`,
      );
    }
  }

  /** An interface's index in this process's network namespace. */
  ifindex(ifname: string): number {
    const ifindex = this.#lib.ifNameToIndex(ifname);
    if (!ifindex) throw new LodestoneError("XDP_NO_INTERFACE", `no network interface named ${ifname}`);
    return ifindex;
  }

  attachments(): Attachment[] {
    return [...this.#attached.values()];
  }

  /** Release the object. Attached interfaces keep forwarding (the kernel holds the program). */
  close(): void {
    if (this.#obj) this.#lib.objectClose(this.#obj);
    this.#obj = null;
  }
}

/** Detach whatever XDP program an interface has (both modes). Used by `lodestone xdp detach`. */
export function detachInterface(ifname: string): boolean {
  const lib = libbpf();
  const ifindex = lib.ifNameToIndex(ifname);
  if (!ifindex) throw new LodestoneError("XDP_NO_INTERFACE", `no network interface named ${ifname}`);
  let any = false;
  for (const flags of [XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE]) {
    const q = lib.xdpQueryId(ifindex, flags);
    if (q.err === 0 && q.progId !== 0) {
      lib.xdpDetach(ifindex, flags);
      any = true;
    }
  }
  return any;
}

/** The pinned maps of a running (or crashed) lodestone, for inspection without loading anything. */
export function openPinnedMaps(pinRoot = DEFAULT_PIN_ROOT): { maps: Record<MapName, BpfMap>; cpus: number } {
  const lib = libbpf();
  const cpus = lib.numPossibleCpus();
  const sizes = mapSizes(cpus);
  const maps = {} as Record<MapName, BpfMap>;
  for (const name of MAP_NAMES) {
    const path = join(pinRoot, name);
    const fd = lib.objGet(path);
    if (fd < 0) {
      throw new LodestoneError(
        "XDP_NOT_PINNED",
        `no pinned map at ${path}: ${lib.strerror(fd)} (is lodestone's XDP dataplane running?)`,
      );
    }
    maps[name] = new BpfMap(lib, name, fd, sizes[name][0], sizes[name][1]);
  }
  return { maps, cpus };
}

export function closeMaps(maps: Record<MapName, BpfMap>): void {
  const lib = libbpf();
  for (const m of Object.values(maps)) lib.close(m.fd);
}

/** Remove the pinned maps (drops conntrack and counters). */
export function unpinMaps(pinRoot = DEFAULT_PIN_ROOT): string[] {
  const removed: string[] = [];
  for (const name of MAP_NAMES) {
    const p = join(pinRoot, name);
    if (existsSync(p)) {
      rmSync(p);
      removed.push(p);
    }
  }
  return removed;
}

function isBpffs(path: string): boolean {
  try {
    return statfsSync(path).type === BPF_FS_MAGIC;
  } catch {
    return false;
  }
}

/** Make sure pinRoot is a directory on a bpffs; mount bpffs at /sys/fs/bpf when that is where it belongs. */
function ensureBpffs(pinRoot: string): void {
  let base = pinRoot;
  while (!existsSync(base) && dirname(base) !== base) base = dirname(base);
  if (!isBpffs(base)) {
    if (pinRoot.startsWith("/sys/fs/bpf/") && existsSync("/sys/fs/bpf") && !isBpffs("/sys/fs/bpf")) {
      try {
        execFileSync("mount", ["-t", "bpf", "bpf", "/sys/fs/bpf"], { stdio: "pipe" });
      } catch (err) {
        throw new LodestoneError(
          "XDP_BPFFS",
          `cannot mount bpffs at /sys/fs/bpf: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    } else {
      throw new LodestoneError("XDP_BPFFS", `${pinRoot} is not on a bpf filesystem (mount -t bpf bpf <dir>)`);
    }
  }
  mkdirSync(pinRoot, { recursive: true });
}

function tail(lines: string[], n = 40): string {
  return lines.slice(-n).join("\n");
}

/**
 * The verifier's log is long; what a reader needs is the last instructions before
 * the rejection and the reason line. Keep the end of the log, which holds both.
 */
export function verifierSummary(lines: string[], warnings: string[] = []): string {
  const start = lines.findIndex((l) => /BEGIN PROG LOAD LOG/.test(l));
  const end = lines.findIndex((l) => /END PROG LOAD LOG/.test(l));
  if (start >= 0 && end > start) {
    const body = lines.slice(start + 1, end);
    return `verifier log (last ${Math.min(30, body.length)} of ${body.length} lines):\n${body.slice(-30).join("\n")}`;
  }
  return tail(warnings.length > 0 ? warnings : lines, 15);
}
