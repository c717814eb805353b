/**
 * Map creation: the kernel's parameter checks (syscall.c map_create, then each type's
 * map_alloc_check / map_alloc — kernel/bpf/hashtab.c, arraymap.c, lpm_trie.c,
 * queue_stack_maps.c, bloom_filter.c, ringbuf.c) and a table from map type to
 * implementation. Checks come in the kernel's order so the first failing one decides the
 * errno. Types the VM does not implement fail with NotSupportedError, naming the type.
 */
import { NotSupportedError } from '../../errors.js';
import { ArrayMap, PercpuArrayMap } from './array.js';
import { BloomFilterMap } from './bloom-filter.js';
import { CgroupArrayMap } from './cgroup-array.js';
import { CgroupStorageMap } from './cgroup-storage.js';
import { CpuMap } from './cpumap.js';
import { DevMap, DevMapHash } from './devmap.js';
import { Errno } from './errno.js';
import { MapError } from './errors.js';
import { ArrayOfMapsMap, ProgArrayMap } from './fd-array.js';
import { MapFlag, MapType, mapTypeName } from './flags.js';
import { HashOfMapsMap } from './hash-of-maps.js';
import { HashMap, PercpuHashMap } from './hash.js';
import { LpmTrieMap } from './lpm-trie.js';
import { LruHashMap, LruPercpuHashMap, lruMaxEntries } from './lru-hash.js';
import type { MapInfo, MapOptions, VmMap } from './map.js';
import { PerfEventArrayMap } from './perf-event-array.js';
import { QueueStackMap } from './queue-stack.js';
import type { MapRegistry } from './registry.js';
import { RingbufMap } from './ringbuf.js';
import { PERF_MAX_STACK_DEPTH, STACK_BUILD_ID_SIZE, StackTraceMap } from './stack-trace.js';
import { XskMap } from './xskmap.js';
import { checkSockMap, SockHash, SockMap } from './sock-map.js';
import { checkValueFields } from './value-fields.js';

/** KMALLOC_MAX_SIZE of x86-64/arm64 with 4 KiB pages: 2^(MAX_PAGE_ORDER + PAGE_SHIFT) = 4 MiB. */
export const KMALLOC_MAX_SIZE = 1 << 22;
/** PCPU_MIN_UNIT_SIZE: the largest per-CPU value. */
export const PCPU_MIN_UNIT_SIZE = 32 << 10;
/** sizeof(struct htab_elem) on 64-bit. */
const HTAB_ELEM_SIZE = 48;
/** sizeof(struct lpm_trie_node) on 64-bit, and the trie's data size limits. */
const LPM_TRIE_NODE_SIZE = 32;
const LPM_DATA_SIZE_MAX = 256;
const PAGE_SIZE = 4096;
/**
 * The VM's own limits, past which creation answers ENOMEM as a kernel out of memory would:
 * hash maps keep a bucket head per entry, LRU maps their list links (set up at creation).
 */
export const VM_MAX_HASH_ENTRIES = 1 << 26;
export const VM_MAX_LRU_ENTRIES = 1 << 24;

const F = MapFlag;
const ACCESS_MASK = F.RDONLY | F.RDONLY_PROG | F.WRONLY | F.WRONLY_PROG;
const HTAB_CREATE_FLAG_MASK = F.NO_PREALLOC | F.NO_COMMON_LRU | F.NUMA_NODE | ACCESS_MASK | F.ZERO_SEED;
const ARRAY_CREATE_FLAG_MASK = F.NUMA_NODE | F.MMAPABLE | ACCESS_MASK | F.PRESERVE_ELEMS | F.INNER_MAP;
const LPM_CREATE_FLAG_MASK = F.NO_PREALLOC | F.NUMA_NODE | ACCESS_MASK;
const QUEUE_STACK_CREATE_FLAG_MASK = F.NUMA_NODE | ACCESS_MASK;
const BLOOM_CREATE_FLAG_MASK = F.NUMA_NODE | F.ZERO_SEED | ACCESS_MASK;
const RINGBUF_CREATE_FLAG_MASK = F.NUMA_NODE;
const DEV_CREATE_FLAG_MASK = F.NUMA_NODE | F.RDONLY | F.WRONLY;
const STACK_CREATE_FLAG_MASK = F.NUMA_NODE | F.RDONLY | F.WRONLY | F.STACK_BUILD_ID;
const LOCAL_STORAGE_CREATE_FLAG_MASK = F.NUMA_NODE | ACCESS_MASK;
/**
 * NR_CPUS, CPUMAP's limit on max_entries: a build option; 8192 is the x86-64 distribution
 * kernels' (CONFIG_MAXSMP). Kernels built with fewer CPUs refuse smaller maps.
 */
export const NR_CPUS = 8192;
/** BPF_LOCAL_STORAGE_MAX_VALUE_SIZE: U16_MAX − sizeof(struct bpf_local_storage_elem) (128). */
export const LOCAL_STORAGE_MAX_VALUE_SIZE = 0xffff - 128;

/** bpf_map_flags_access_ok: a map cannot be both read-only and write-only for programs. */
function accessOk(flags: number): boolean {
  return (flags & (F.RDONLY_PROG | F.WRONLY_PROG)) !== (F.RDONLY_PROG | F.WRONLY_PROG);
}

type Attr = Required<Omit<MapOptions, 'innerMap' | 'name' | 'mapExtra' | 'fields'>> & { mapExtra: bigint; innerMap: VmMap | undefined };

/** htab_map_alloc_check (+ htab_map_alloc's size checks): 0 or -errno. */
function checkHash(a: Attr): number {
  const percpu = a.type === MapType.PERCPU_HASH || a.type === MapType.LRU_PERCPU_HASH;
  const lru = a.type === MapType.LRU_HASH || a.type === MapType.LRU_PERCPU_HASH;
  const percpuLru = (a.flags & F.NO_COMMON_LRU) !== 0;
  const prealloc = (a.flags & F.NO_PREALLOC) === 0;
  if (a.flags & ~HTAB_CREATE_FLAG_MASK || !accessOk(a.flags)) return -Errno.EINVAL;
  if (!lru && percpuLru) return -Errno.EINVAL;
  if (lru && !prealloc) return -Errno.ENOTSUPP;
  if (a.flags & F.NUMA_NODE && (percpu || percpuLru)) return -Errno.EINVAL;
  if (a.maxEntries === 0 || a.keySize === 0 || a.valueSize === 0) return -Errno.EINVAL;
  if (a.keySize + a.valueSize >= KMALLOC_MAX_SIZE - HTAB_ELEM_SIZE) return -Errno.E2BIG;
  if (percpu && Math.ceil(a.valueSize / 8) * 8 > PCPU_MIN_UNIT_SIZE) return -Errno.E2BIG;
  if (a.maxEntries > 2 ** 31) return -Errno.E2BIG;
  return 0;
}

/** array_map_alloc_check (fd arrays first check their u32 values): 0 or -errno. */
function checkArray(a: Attr): number {
  const fd = a.type === MapType.PROG_ARRAY || a.type === MapType.PERF_EVENT_ARRAY || a.type === MapType.ARRAY_OF_MAPS
    || a.type === MapType.CGROUP_ARRAY;
  if (fd) {
    if (a.valueSize !== 4) return -Errno.EINVAL;
    // Program read-only/write-only is not supported for special maps yet.
    if (a.flags & (F.RDONLY_PROG | F.WRONLY_PROG)) return -Errno.EINVAL;
  }
  const percpu = a.type === MapType.PERCPU_ARRAY;
  if (a.maxEntries === 0 || a.keySize !== 4 || a.valueSize === 0 || a.flags & ~ARRAY_CREATE_FLAG_MASK || !accessOk(a.flags)
    || (percpu && a.flags & F.NUMA_NODE)) return -Errno.EINVAL;
  if (a.type !== MapType.ARRAY && a.flags & (F.MMAPABLE | F.INNER_MAP)) return -Errno.EINVAL;
  if (a.type !== MapType.PERF_EVENT_ARRAY && a.flags & F.PRESERVE_ELEMS) return -Errno.EINVAL;
  if (a.valueSize > 0x7fffffff) return -Errno.E2BIG;
  if (percpu && Math.ceil(a.valueSize / 8) * 8 > PCPU_MIN_UNIT_SIZE) return -Errno.E2BIG;
  // array_map_alloc: max_entries is rounded up to a power of two (Spectre v1), which must not overflow.
  if (a.maxEntries > 2 ** 31) return -Errno.E2BIG;
  return 0;
}

/** trie_alloc. */
function checkLpm(a: Attr): number {
  if (a.maxEntries === 0 || !(a.flags & F.NO_PREALLOC) || a.flags & ~LPM_CREATE_FLAG_MASK || !accessOk(a.flags)
    || a.keySize < 4 + 1 || a.keySize > 4 + LPM_DATA_SIZE_MAX
    || a.valueSize < 1 || a.valueSize > KMALLOC_MAX_SIZE - LPM_DATA_SIZE_MAX - LPM_TRIE_NODE_SIZE) return -Errno.EINVAL;
  return 0;
}

/** queue_stack_map_alloc_check. */
function checkQueueStack(a: Attr): number {
  if (a.maxEntries === 0 || a.keySize !== 0 || a.valueSize === 0 || a.flags & ~QUEUE_STACK_CREATE_FLAG_MASK || !accessOk(a.flags)) return -Errno.EINVAL;
  if (a.valueSize > KMALLOC_MAX_SIZE) return -Errno.E2BIG;
  return 0;
}

/** bloom_map_alloc_check. */
function checkBloom(a: Attr): number {
  if (a.keySize !== 0 || a.valueSize === 0 || a.maxEntries === 0 || a.flags & ~BLOOM_CREATE_FLAG_MASK || !accessOk(a.flags)
    || (a.mapExtra & ~0xfn) !== 0n) return -Errno.EINVAL;
  if (a.valueSize > KMALLOC_MAX_SIZE) return -Errno.E2BIG;
  return 0;
}

/** ringbuf_map_alloc. */
function checkRingbuf(a: Attr): number {
  if (a.flags & ~RINGBUF_CREATE_FLAG_MASK) return -Errno.EINVAL;
  const size = a.maxEntries;
  if (a.keySize || a.valueSize || size === 0 || (size & (size - 1)) !== 0 || size % PAGE_SIZE !== 0) return -Errno.EINVAL;
  return 0;
}

/** dev_map_alloc_check: `u32 ifindex` or `struct bpf_devmap_val` values. */
function checkDevmap(a: Attr): number {
  if (a.maxEntries === 0 || a.keySize !== 4 || (a.valueSize !== 4 && a.valueSize !== 8) || a.flags & ~DEV_CREATE_FLAG_MASK) return -Errno.EINVAL;
  // The hash's bucket count is a power of two that must not overflow.
  if (a.type === MapType.DEVMAP_HASH && a.maxEntries > 2 ** 31) return -Errno.EINVAL;
  return 0;
}

/** cpu_map_alloc: `u32 qsize` or `struct bpf_cpumap_val` values, at most NR_CPUS entries. */
function checkCpumap(a: Attr): number {
  if (a.maxEntries === 0 || a.keySize !== 4 || (a.valueSize !== 4 && a.valueSize !== 8) || a.flags & ~F.NUMA_NODE) return -Errno.EINVAL;
  if (a.maxEntries > NR_CPUS) return -Errno.E2BIG;
  return 0;
}

/** xsk_map_alloc: u32 socket fds. */
function checkXskmap(a: Attr): number {
  if (a.maxEntries === 0 || a.keySize !== 4 || a.valueSize !== 4 || a.flags & ~DEV_CREATE_FLAG_MASK) return -Errno.EINVAL;
  return 0;
}

/** stack_map_alloc. */
function checkStackTrace(a: Attr): number {
  if (a.flags & ~STACK_CREATE_FLAG_MASK) return -Errno.EINVAL;
  if (a.maxEntries === 0 || a.keySize !== 4 || a.valueSize < 8 || a.valueSize % 8) return -Errno.EINVAL;
  if (a.flags & F.STACK_BUILD_ID) {
    if (a.valueSize % STACK_BUILD_ID_SIZE || a.valueSize / STACK_BUILD_ID_SIZE > PERF_MAX_STACK_DEPTH) return -Errno.EINVAL;
  } else if (a.valueSize / 8 > PERF_MAX_STACK_DEPTH) return -Errno.EINVAL;
  if (a.maxEntries > 2 ** 31) return -Errno.E2BIG;
  return 0;
}

/** cgroup_storage_map_alloc: keys `struct bpf_cgroup_storage_key` or u64; max_entries must be 0 (storages are per cgroup). */
function checkCgroupStorage(a: Attr): number {
  const max = a.type === MapType.PERCPU_CGROUP_STORAGE ? Math.min(LOCAL_STORAGE_MAX_VALUE_SIZE, PCPU_MIN_UNIT_SIZE) : LOCAL_STORAGE_MAX_VALUE_SIZE;
  if (a.keySize !== 16 && a.keySize !== 8) return -Errno.EINVAL;
  if (a.valueSize === 0) return -Errno.EINVAL;
  if (a.valueSize > max) return -Errno.E2BIG;
  if (a.flags & ~LOCAL_STORAGE_CREATE_FLAG_MASK || !accessOk(a.flags)) return -Errno.EINVAL;
  if (a.maxEntries !== 0) return -Errno.EINVAL;
  return 0;
}

/** bpf_map_meta_alloc: the inner map template of a map-of-maps. */
function checkInner(a: Attr): number {
  if (a.innerMap === undefined || !a.innerMap.open) return -Errno.EBADF;
  // No more than one level of map-in-map.
  if (a.innerMap.type === MapType.ARRAY_OF_MAPS || a.innerMap.type === MapType.HASH_OF_MAPS) return -Errno.EINVAL;
  return 0;
}

interface TypeEntry {
  check: (a: Attr) => number;
  make: (registry: MapRegistry, info: Omit<MapInfo, 'id'>, a: Attr) => VmMap;
}

/** Map type → checks and implementation. */
const TYPES: ReadonlyMap<number, TypeEntry> = new Map<number, TypeEntry>([
  [MapType.HASH, { check: checkHash, make: (r, i) => new HashMap(r, i) }],
  [MapType.PERCPU_HASH, { check: checkHash, make: (r, i) => new PercpuHashMap(r, i) }],
  [MapType.LRU_HASH, { check: checkHash, make: (r, i) => new LruHashMap(r, i) }],
  [MapType.LRU_PERCPU_HASH, { check: checkHash, make: (r, i) => new LruPercpuHashMap(r, i) }],
  [MapType.ARRAY, { check: checkArray, make: (r, i) => new ArrayMap(r, i) }],
  [MapType.PERCPU_ARRAY, { check: checkArray, make: (r, i) => new PercpuArrayMap(r, i) }],
  [MapType.PROG_ARRAY, { check: checkArray, make: (r, i) => new ProgArrayMap(r, i) }],
  [MapType.PERF_EVENT_ARRAY, { check: checkArray, make: (r, i) => new PerfEventArrayMap(r, i) }],
  [MapType.ARRAY_OF_MAPS, {
    check: (a) => checkArray(a) || checkInner(a),
    make: (r, i, a) => new ArrayOfMapsMap(r, i, a.innerMap!),
  }],
  [MapType.HASH_OF_MAPS, {
    check: (a) => (a.valueSize !== 4 ? -Errno.EINVAL : checkHash(a) || checkInner(a)),
    make: (r, i, a) => new HashOfMapsMap(r, i, a.innerMap!),
  }],
  [MapType.LPM_TRIE, { check: checkLpm, make: (r, i) => new LpmTrieMap(r, i) }],
  [MapType.QUEUE, { check: checkQueueStack, make: (r, i) => new QueueStackMap(r, i) }],
  [MapType.STACK, { check: checkQueueStack, make: (r, i) => new QueueStackMap(r, i) }],
  [MapType.BLOOM_FILTER, { check: checkBloom, make: (r, i) => new BloomFilterMap(r, i) }],
  [MapType.RINGBUF, { check: checkRingbuf, make: (r, i) => new RingbufMap(r, i) }],
  // dev_map_init_map: programs' lookups point straight at the value, so they may not write it.
  [MapType.DEVMAP, { check: checkDevmap, make: (r, i) => new DevMap(r, { ...i, flags: i.flags | F.RDONLY_PROG }) }],
  [MapType.DEVMAP_HASH, { check: checkDevmap, make: (r, i) => new DevMapHash(r, { ...i, flags: i.flags | F.RDONLY_PROG }) }],
  [MapType.CPUMAP, { check: checkCpumap, make: (r, i) => new CpuMap(r, i) }],
  [MapType.XSKMAP, { check: checkXskmap, make: (r, i) => new XskMap(r, i) }],
  [MapType.CGROUP_ARRAY, { check: checkArray, make: (r, i) => new CgroupArrayMap(r, i) }],
  [MapType.CGROUP_STORAGE, { check: checkCgroupStorage, make: (r, i) => new CgroupStorageMap(r, i, false) }],
  [MapType.PERCPU_CGROUP_STORAGE, { check: checkCgroupStorage, make: (r, i) => new CgroupStorageMap(r, i, true) }],
  [MapType.STACK_TRACE, { check: checkStackTrace, make: (r, i) => new StackTraceMap(r, i) }],
  [MapType.SOCKMAP, { check: checkSockMap, make: (r, i) => new SockMap(r, i) }],
  [MapType.SOCKHASH, { check: checkSockMap, make: (r, i) => new SockHash(r, i) }],
]);

/** The highest map type number this kernel (6.18) knows: BPF_MAP_TYPE_ARENA. */
const MAX_MAP_TYPE = MapType.ARENA;

function u32Field(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`${name} ${value} is not a u32`);
  return value;
}

/** Checks `options` as BPF_MAP_CREATE would and makes the map. See {@link MapRegistry.create}. */
export function createMap(registry: MapRegistry, options: MapOptions): VmMap {
  const a: Attr = {
    type: u32Field('map type', options.type),
    keySize: u32Field('key size', options.keySize),
    valueSize: u32Field('value size', options.valueSize),
    maxEntries: u32Field('max entries', options.maxEntries),
    flags: u32Field('map flags', options.flags ?? 0),
    mapExtra: BigInt.asUintN(64, BigInt(options.mapExtra ?? 0)),
    innerMap: options.innerMap,
  };
  const name = options.name ?? '';
  const fail = (errno: number, detail?: string): never => {
    throw new MapError(`create map '${name}' (${mapTypeName(a.type)})`, errno, detail === undefined ? undefined : { detail });
  };
  // map_create: map_extra is only for bloom filters (and arenas); RDONLY with WRONLY is contradictory.
  if (a.type !== MapType.BLOOM_FILTER && a.type !== MapType.ARENA && a.mapExtra !== 0n) fail(Errno.EINVAL, 'map_extra is only for bloom filters');
  if (a.flags & F.RDONLY && a.flags & F.WRONLY) fail(Errno.EINVAL, 'BPF_F_RDONLY and BPF_F_WRONLY together');
  if (a.type === MapType.UNSPEC || a.type > MAX_MAP_TYPE) fail(Errno.EINVAL, 'unknown map type');
  const entry = TYPES.get(a.type);
  if (entry === undefined) throw new NotSupportedError(`map type ${mapTypeName(a.type)} is not supported by the VM`);
  const err = entry.check(a) || checkValueFields(options.fields, a.type, a.valueSize, a.flags);
  if (err) fail(-err);
  const maxEntries = a.type === MapType.LRU_HASH || a.type === MapType.LRU_PERCPU_HASH
    ? lruMaxEntries(a.maxEntries, a.flags, registry.cpus)
    : a.maxEntries;
  const lru = a.type === MapType.LRU_HASH || a.type === MapType.LRU_PERCPU_HASH;
  // Stack trace maps preallocate their elements in the kernel: as many as a hash map can have here.
  const hash = lru || a.type === MapType.HASH || a.type === MapType.PERCPU_HASH || a.type === MapType.HASH_OF_MAPS
    || a.type === MapType.STACK_TRACE;
  if ((lru && maxEntries > VM_MAX_LRU_ENTRIES) || (hash && maxEntries > VM_MAX_HASH_ENTRIES)) {
    fail(Errno.ENOMEM, `the VM holds at most ${lru ? VM_MAX_LRU_ENTRIES : VM_MAX_HASH_ENTRIES} entries in such a map`);
  }
  const info: Omit<MapInfo, 'id'> = { ...a, maxEntries, name, fields: options.fields };
  try {
    return entry.make(registry, info, a);
  } catch (cause) {
    // Typed arrays and linear memory that cannot be had: the kernel's -ENOMEM.
    if (cause instanceof RangeError) return fail(Errno.ENOMEM, cause.message);
    throw cause;
  }
}
