// Bindings to Debian's libbpf.so.1 (and three libc calls) through koffi. Only the
// calls the loader needs, declared with their C prototypes so a reader can check
// them against /usr/include/bpf/libbpf.h. Loaded lazily: importing this module
// on a machine without libbpf costs nothing until something calls libbpf().
import koffi from "koffi";
import { LodestoneError } from "../../errors.ts";

export const XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0;
export const XDP_FLAGS_SKB_MODE = 1 << 1;
export const XDP_FLAGS_DRV_MODE = 1 << 2;
export const XDP_FLAGS_REPLACE = 1 << 4;
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;

type Ptr = unknown;

export interface Libbpf {
  versionString(): string;
  objectOpenFile(path: string): Ptr | null;
  objectLoad(obj: Ptr): number;
  objectClose(obj: Ptr): void;
  findProgramByName(obj: Ptr, name: string): Ptr | null;
  programFd(prog: Ptr): number;
  findMapByName(obj: Ptr, name: string): Ptr | null;
  mapFd(map: Ptr): number;
  mapSetMaxEntries(map: Ptr, n: number): number;
  mapSetPinPath(map: Ptr, path: string): number;
  mapIsPinned(map: Ptr): boolean;
  mapUpdate(fd: number, key: Buffer, value: Buffer, flags: number): number;
  mapLookup(fd: number, key: Buffer, value: Buffer): number;
  mapDelete(fd: number, key: Buffer): number;
  mapNextKey(fd: number, key: Buffer | null, next: Buffer): number;
  /** Update `count` key/value pairs in one syscall; returns the error and how many were done. */
  mapUpdateBatch(fd: number, keys: Buffer, values: Buffer, count: number): { err: number; done: number };
  /** Read up to `count` entries after the key in `inBatch` (from the start when null). */
  mapLookupBatch(
    fd: number,
    inBatch: Buffer | null,
    outBatch: Buffer,
    keys: Buffer,
    values: Buffer,
    count: number,
  ): { err: number; done: number };
  objGet(path: string): number;
  xdpAttach(ifindex: number, progFd: number, flags: number): number;
  xdpDetach(ifindex: number, flags: number): number;
  xdpQueryId(ifindex: number, flags: number): { err: number; progId: number };
  numPossibleCpus(): number;
  strerror(err: number): string;
  errno(): number;
  ifNameToIndex(name: string): number;
  close(fd: number): number;
  /** Route libbpf's log lines (verifier output included) to `sink` until the returned function is called. */
  capturePrint(sink: (level: number, line: string) => void): () => void;
}

let cached: Libbpf | null = null;

/** The bindings, loading libbpf.so.1 on first use. Throws XDP_LIBBPF_MISSING when it is not installed. */
export function libbpf(): Libbpf {
  if (cached) return cached;
  let lib: ReturnType<typeof koffi.load>;
  let libc: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load("libbpf.so.1");
    libc = koffi.load("libc.so.6");
  } catch (err) {
    throw new LodestoneError(
      "XDP_LIBBPF_MISSING",
      `cannot load libbpf.so.1 (install Debian's libbpf1 / libbpf-dev): ${(err as Error).message}`,
      { cause: err },
    );
  }
  // Opaque handle types, named so the prototypes below read like libbpf.h.
  for (const name of ["bpf_object", "bpf_program", "bpf_map"]) koffi.opaque(name);
  // int (*libbpf_print_fn_t)(enum libbpf_print_level level, const char *, va_list ap);
  // On x86-64 and arm64 Linux a va_list argument arrives as a pointer, which vsnprintf takes back.
  const PrintFn = koffi.proto("int lodestone_libbpf_print(int level, const char *fmt, void *ap)");
  const setPrint = lib.func("void *libbpf_set_print(lodestone_libbpf_print *fn)");
  const vsnprintf = libc.func("int vsnprintf(_Out_ uint8_t *buf, size_t size, const char *fmt, void *ap)");

  const f = {
    version: lib.func("const char *libbpf_version_string(void)"),
    open: lib.func("bpf_object *bpf_object__open_file(const char *path, void *opts)"),
    load: lib.func("int bpf_object__load(bpf_object *obj)"),
    closeObj: lib.func("void bpf_object__close(bpf_object *obj)"),
    findProg: lib.func("bpf_program *bpf_object__find_program_by_name(bpf_object *obj, const char *name)"),
    progFd: lib.func("int bpf_program__fd(bpf_program *prog)"),
    findMap: lib.func("bpf_map *bpf_object__find_map_by_name(bpf_object *obj, const char *name)"),
    mapFd: lib.func("int bpf_map__fd(bpf_map *map)"),
    setMax: lib.func("int bpf_map__set_max_entries(bpf_map *map, uint32_t max_entries)"),
    setPin: lib.func("int bpf_map__set_pin_path(bpf_map *map, const char *path)"),
    isPinned: lib.func("bool bpf_map__is_pinned(bpf_map *map)"),
    update: lib.func("int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)"),
    lookup: lib.func("int bpf_map_lookup_elem(int fd, const void *key, _Inout_ uint8_t *value)"),
    del: lib.func("int bpf_map_delete_elem(int fd, const void *key)"),
    nextKey: lib.func("int bpf_map_get_next_key(int fd, const void *key, _Inout_ uint8_t *next_key)"),
    updateBatch: lib.func(
      "int bpf_map_update_batch(int fd, const void *keys, const void *values, _Inout_ uint32_t *count, void *opts)",
    ),
    lookupBatch: lib.func(
      "int bpf_map_lookup_batch(int fd, const void *in_batch, _Inout_ uint8_t *out_batch, _Inout_ uint8_t *keys, _Inout_ uint8_t *values, _Inout_ uint32_t *count, void *opts)",
    ),
    objGet: lib.func("int bpf_obj_get(const char *pathname)"),
    attach: lib.func("int bpf_xdp_attach(int ifindex, int prog_fd, uint32_t flags, void *opts)"),
    detach: lib.func("int bpf_xdp_detach(int ifindex, uint32_t flags, void *opts)"),
    queryId: lib.func("int bpf_xdp_query_id(int ifindex, int flags, _Out_ uint32_t *prog_id)"),
    cpus: lib.func("int libbpf_num_possible_cpus(void)"),
    strerror: lib.func("int libbpf_strerror(int err, _Out_ uint8_t *buf, size_t size)"),
    errnoLoc: libc.func("int *__errno_location(void)"),
    ifIndex: libc.func("unsigned int if_nametoindex(const char *ifname)"),
    close: libc.func("int close(int fd)"),
  };

  const cString = (buf: Buffer): string => {
    const end = buf.indexOf(0);
    return buf.toString("utf8", 0, end < 0 ? buf.length : end);
  };

  cached = {
    versionString: () => f.version() as string,
    objectOpenFile: (path) => f.open(path, null),
    objectLoad: (o) => f.load(o) as number,
    objectClose: (o) => f.closeObj(o),
    findProgramByName: (o, name) => f.findProg(o, name),
    programFd: (p) => f.progFd(p) as number,
    findMapByName: (o, name) => f.findMap(o, name),
    mapFd: (m) => f.mapFd(m) as number,
    mapSetMaxEntries: (m, n) => f.setMax(m, n) as number,
    mapSetPinPath: (m, path) => f.setPin(m, path) as number,
    mapIsPinned: (m) => f.isPinned(m) as boolean,
    mapUpdate: (fd, key, value, flags) => f.update(fd, key, value, flags) as number,
    mapLookup: (fd, key, value) => f.lookup(fd, key, value) as number,
    mapDelete: (fd, key) => f.del(fd, key) as number,
    mapNextKey: (fd, key, next) => f.nextKey(fd, key, next) as number,
    mapUpdateBatch: (fd, keys, values, count) => {
      const n = [count];
      const err = f.updateBatch(fd, keys, values, n, null) as number;
      return { err, done: n[0] };
    },
    mapLookupBatch: (fd, inBatch, outBatch, keys, values, count) => {
      const n = [count];
      const err = f.lookupBatch(fd, inBatch, outBatch, keys, values, n, null) as number;
      return { err, done: n[0] };
    },
    objGet: (path) => f.objGet(path) as number,
    xdpAttach: (ifindex, progFd, flags) => f.attach(ifindex, progFd, flags, null) as number,
    xdpDetach: (ifindex, flags) => f.detach(ifindex, flags, null) as number,
    xdpQueryId: (ifindex, flags) => {
      const out = [0];
      const err = f.queryId(ifindex, flags, out) as number;
      return { err, progId: out[0] };
    },
    numPossibleCpus: () => f.cpus() as number,
    strerror: (err) => {
      const buf = Buffer.alloc(256);
      f.strerror(err, buf, buf.length);
      return cString(buf);
    },
    errno: () => koffi.decode(f.errnoLoc(), "int") as number,
    ifNameToIndex: (name) => f.ifIndex(name) as number,
    close: (fd) => f.close(fd) as number,
    capturePrint: (sink) => {
      const buf = Buffer.alloc(8192);
      const cb = koffi.register((level: number, fmt: string, ap: unknown) => {
        try {
          const n = vsnprintf(buf, buf.length, fmt, ap) as number;
          const text = buf.toString("utf8", 0, Math.max(0, Math.min(n, buf.length - 1)));
          for (const line of text.split("\n")) if (line.trim()) sink(level, line);
        } catch {
          // A log line we cannot format must not break loading.
        }
        return 0;
      }, koffi.pointer(PrintFn));
      setPrint(cb);
      return () => {
        // NULL silences libbpf rather than restoring its stderr printer: the daemon logs, not libbpf.
        setPrint(null);
        koffi.unregister(cb);
      };
    },
  };
  return cached;
}
