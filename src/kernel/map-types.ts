/**
 * The kernel's tables for maps, with the UAPI names and numbers (include/uapi/linux/bpf.h):
 * map types, BPF_MAP_CREATE flags and element-update flags. Keys drop the common prefix:
 * `MapType.RINGBUF` is `BPF_MAP_TYPE_RINGBUF` (27), `MapFlag.NO_PREALLOC` is `BPF_F_NO_PREALLOC`.
 *
 * Map types and flags are shared with the object layer: one table, in
 * src/object/uapi-types.ts, re-exported here.
 */
import { MapType } from '../object/uapi-types.js';

export { MapFlag, MapType, mapTypeName } from '../object/uapi-types.js';


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
