/**
 * The kernel's tables for maps, with the UAPI names and numbers (include/uapi/linux/bpf.h):
 * map types, BPF_MAP_CREATE flags and element-update flags. Keys drop the common prefix:
 * `MapType.RINGBUF` is `BPF_MAP_TYPE_RINGBUF` (27), `MapFlag.NO_PREALLOC` is `BPF_F_NO_PREALLOC`.
 */

/** `enum bpf_map_type`, as of Linux 6.18, and the two numbers assigned since (6.19+). */
export const MapType = {
  UNSPEC: 0,
  HASH: 1,
  ARRAY: 2,
  PROG_ARRAY: 3,
  PERF_EVENT_ARRAY: 4,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  STACK_TRACE: 7,
  CGROUP_ARRAY: 8,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  LPM_TRIE: 11,
  ARRAY_OF_MAPS: 12,
  HASH_OF_MAPS: 13,
  DEVMAP: 14,
  SOCKMAP: 15,
  CPUMAP: 16,
  XSKMAP: 17,
  SOCKHASH: 18,
  /** Deprecated in the UAPI in favour of CGRP_STORAGE (same number as CGROUP_STORAGE_DEPRECATED). */
  CGROUP_STORAGE: 19,
  REUSEPORT_SOCKARRAY: 20,
  /** Deprecated in the UAPI (same number as PERCPU_CGROUP_STORAGE_DEPRECATED). */
  PERCPU_CGROUP_STORAGE: 21,
  QUEUE: 22,
  STACK: 23,
  SK_STORAGE: 24,
  DEVMAP_HASH: 25,
  STRUCT_OPS: 26,
  RINGBUF: 27,
  INODE_STORAGE: 28,
  TASK_STORAGE: 29,
  BLOOM_FILTER: 30,
  USER_RINGBUF: 31,
  CGRP_STORAGE: 32,
  ARENA: 33,
  /** Linux 6.19+. */
  INSN_ARRAY: 34,
  /** Resizable hash map (after 6.19). */
  RHASH: 35,
} as const;
export type MapType = (typeof MapType)[keyof typeof MapType];

/** `map_flags` of BPF_MAP_CREATE (`BPF_F_*`). */
export const MapFlag = {
  /** Hash maps: allocate elements on update instead of up front. */
  NO_PREALLOC: 1 << 0,
  /** LRU maps: one LRU list per CPU instead of a common one. */
  NO_COMMON_LRU: 1 << 1,
  /** `numa_node` is valid. */
  NUMA_NODE: 1 << 2,
  /** The syscall side may only read (also a `file_flags` bit of BPF_OBJ_GET). */
  RDONLY: 1 << 3,
  /** The syscall side may only write. */
  WRONLY: 1 << 4,
  /** Stack-trace maps store build id + offset. */
  STACK_BUILD_ID: 1 << 5,
  /** Testing: zero hash seed. */
  ZERO_SEED: 1 << 6,
  /** Programs may only read. */
  RDONLY_PROG: 1 << 7,
  /** Programs may only write. */
  WRONLY_PROG: 1 << 8,
  /** Socket-storage maps: clone into accepted sockets. */
  CLONE: 1 << 9,
  /** Array and arena maps: may be mmap()ed. */
  MMAPABLE: 1 << 10,
  /** Perf-event arrays: keep entries when the creating file closes. */
  PRESERVE_ELEMS: 1 << 11,
  /** An inner map whose max_entries may differ between instances. */
  INNER_MAP: 1 << 12,
  /** Struct-ops maps registered through a link. */
  LINK: 1 << 13,
  /** BPF_OBJ_PIN/GET: `path_fd` is valid. */
  PATH_FD: 1 << 14,
  /** `value_type_btf_obj_fd` is valid. */
  VTYPE_BTF_OBJ_FD: 1 << 15,
  /** `map_token_fd` holds a BPF token. */
  TOKEN_FD: 1 << 16,
  /** Arena: SIGSEGV on a user fault instead of allocating a page. */
  SEGV_ON_FAULT: 1 << 17,
  /** Arena: do not translate kernel pointers to user pointers. */
  NO_USER_CONV: 1 << 18,
} as const;

/** `flags` of BPF_MAP_UPDATE_ELEM (and of lookups for `F_LOCK`). */
export const UpdateFlag = {
  /** Create a new element or update an existing one. */
  ANY: 0,
  /** Create only: EEXIST if the key is there. */
  NOEXIST: 1,
  /** Update only: ENOENT if the key is not there. */
  EXIST: 2,
  /** Take the value's `struct bpf_spin_lock` while copying. */
  F_LOCK: 4,
} as const;

/** `enum bpf_stats_type` of BPF_ENABLE_STATS. */
export const StatsType = {
  /** Run time and run count of every program (`run_time_ns`, `run_cnt` in the program info). */
  RUN_TIME: 0,
} as const;

function namer(table: Readonly<Record<string, number>>, prefix: string): (value: number) => string {
  const names = new Map<number, string>();
  for (const [key, value] of Object.entries(table)) if (!names.has(value)) names.set(value, prefix + key);
  return (value) => names.get(value) ?? `${prefix}UNKNOWN(${value})`;
}

/** Kernel name of a map type: `27` → `'BPF_MAP_TYPE_RINGBUF'`. */
export const mapTypeName: (type: number) => string = namer(MapType, 'BPF_MAP_TYPE_');

const PER_CPU: ReadonlySet<number> = new Set([
  MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH, MapType.PERCPU_CGROUP_STORAGE,
]);

/** Whether values of a map of `type` are per CPU (the syscall side sees one slot per possible CPU). */
export function isPerCpuMapType(type: number): boolean {
  return PER_CPU.has(type);
}

const MAP_OF_MAPS: ReadonlySet<number> = new Set([MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS]);

/** Whether the values of a map of `type` are maps (written as fds, read back as map ids). */
export function isMapOfMapsType(type: number): boolean {
  return MAP_OF_MAPS.has(type);
}

const KEYLESS: ReadonlySet<number> = new Set([
  MapType.QUEUE, MapType.STACK, MapType.BLOOM_FILTER, MapType.RINGBUF, MapType.USER_RINGBUF, MapType.ARENA,
]);

/** Whether a map of `type` has no keys (key size 0: queues, stacks, bloom filters, ring buffers, arenas). */
export function isKeylessMapType(type: number): boolean {
  return KEYLESS.has(type);
}
