/**
 * Creating a map (BPF_MAP_CREATE) and the {@link KernelMap} handle: element operations on raw
 * bytes in the kernel's layout, iteration, freezing and pinning. Batch operations are in
 * `map-batch.ts`, plain-JS-object access through a codec in `map-typed.ts`.
 */
import { Attr, BPF_OBJ_NAME_LEN, MAP_CREATE, MAP_ELEM } from './attr.js';
import { EbpfError } from '../errors.js';
import { Errno } from './errno.js';
import { KernelError } from './error.js';
import { mapInfo, type MapInfo } from './info.js';
import { MapSizeError } from './map-errors.js';
import {
  batchEntries, deleteBatch, lookupAndDeleteBatch, lookupBatch, updateBatch,
  type BatchCursor, type BatchEntriesOptions, type BatchLookupResult, type BatchOptions,
} from './map-batch.js';
import { joinPerCpu, perCpuValueSize, possibleCpuCount, splitPerCpu } from './map-percpu.js';
import { isPerCpuMapType, mapTypeName, UpdateFlag } from './map-types.js';
import { nativeSyscalls } from './native.js';
import { pinFd } from './object-fd.js';
import type { Syscalls } from './syscalls.js';
import { Command } from './types.js';

/** What {@link createMap} needs: the kernel's BPF_MAP_CREATE fields, named for JavaScript. */
export interface CreateMapOptions {
  /** `MapType.*` (UAPI number). */
  type: number;
  /** Key size in bytes (0 for queues, stacks, bloom filters, ring buffers). */
  keySize: number;
  /** Value size in bytes (for per-CPU maps: of one CPU's value). */
  valueSize: number;
  /** Capacity; for ring buffers the data size in bytes (a power of 2, a multiple of the page size). */
  maxEntries: number;
  /** `MapFlag.*` bits. */
  flags?: number;
  /** Name shown by bpftool: at most 15 bytes of `[A-Za-z0-9_.]`. */
  name?: string;
  /** Map-in-map: a map (or its fd) whose shape every inner map must have. */
  innerMap?: { readonly fd: number } | number;
  /** The same as `innerMap`, as an fd (the kernel's `inner_map_fd`). */
  innerMapFd?: number;
  /** NUMA node for the memory (with `MapFlag.NUMA_NODE`). */
  numaNode?: number;
  /** Per-type extra: hash-function count of a bloom filter, user address of an arena. */
  mapExtra?: bigint;
  /** Loaded BTF (fd) describing the key and value. */
  btfFd?: number;
  btfKeyTypeId?: number;
  btfValueTypeId?: number;
  /** struct_ops: the kernel struct's BTF id in vmlinux (or the module of `valueTypeBtfObjFd`). */
  btfVmlinuxValueTypeId?: number;
  /** Module BTF for `btfVmlinuxValueTypeId` (with `MapFlag.VTYPE_BTF_OBJ_FD`). */
  valueTypeBtfObjFd?: number;
  /** Offload the map to this network device. */
  mapIfindex?: number;
  /** Syscalls to use; the native ones by default. */
  syscalls?: Syscalls;
}

const NAME_CHARS = /^[A-Za-z0-9_.]*$/;

/**
 * Creates a map (BPF_MAP_CREATE) and returns its handle. Throws {@link KernelError}:
 * `EINVAL` for sizes or flags the map type refuses, `E2BIG` for too large a map, `EPERM`
 * without CAP_BPF (or with memlock limits on kernels before 5.11).
 *
 * @example
 * using map = createMap({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 1024, name: 'counts' });
 * map.update(u32(1), u64(42n));
 */
export function createMap(options: CreateMapOptions): KernelMap {
  const syscalls = options.syscalls ?? nativeSyscalls();
  const name = options.name ?? '';
  if (!NAME_CHARS.test(name) || name.length >= BPF_OBJ_NAME_LEN) {
    throw new TypeError(`map name '${name}': at most ${BPF_OBJ_NAME_LEN - 1} characters of [A-Za-z0-9_.]`);
  }
  const innerMap = options.innerMap ?? options.innerMapFd;
  const inner = innerMap === undefined ? 0 : typeof innerMap === 'number' ? innerMap : innerMap.fd;
  const attr = new Attr(MAP_CREATE.SIZE)
    .u32(MAP_CREATE.map_type, options.type)
    .u32(MAP_CREATE.key_size, options.keySize)
    .u32(MAP_CREATE.value_size, options.valueSize)
    .u32(MAP_CREATE.max_entries, options.maxEntries)
    .u32(MAP_CREATE.map_flags, options.flags ?? 0)
    .u32(MAP_CREATE.inner_map_fd, inner)
    .u32(MAP_CREATE.numa_node, options.numaNode ?? 0)
    .cstring(MAP_CREATE.map_name, name, BPF_OBJ_NAME_LEN)
    .u32(MAP_CREATE.map_ifindex, options.mapIfindex ?? 0)
    .u32(MAP_CREATE.btf_fd, options.btfFd ?? 0)
    .u32(MAP_CREATE.btf_key_type_id, options.btfKeyTypeId ?? 0)
    .u32(MAP_CREATE.btf_value_type_id, options.btfValueTypeId ?? 0)
    .u32(MAP_CREATE.btf_vmlinux_value_type_id, options.btfVmlinuxValueTypeId ?? 0)
    .u64(MAP_CREATE.map_extra, options.mapExtra ?? 0n)
    .s32(MAP_CREATE.value_type_btf_obj_fd, options.valueTypeBtfObjFd ?? 0);
  const fd = syscalls.withMemory(() => syscalls.bpf(Command.MAP_CREATE, attr.bytes));
  const label = `${name ? `'${name}' ` : ''}(${mapTypeName(options.type)})`;
  if (fd < 0) throw new KernelError(`create map ${label}`, -fd);
  try {
    return KernelMap.fromFd(fd, { syscalls });
  } catch (err) {
    syscalls.close(fd);
    throw err;
  }
}

/**
 * A map in the kernel. Owns its fd: `close()` it, or bind it with `using`.
 *
 * Keys and values are bytes in the kernel's layout (host byte order for integers). Per-CPU maps
 * take and give a whole per-CPU value — one slot per possible CPU, each rounded up to 8 bytes —
 * or, through {@link lookupPerCpu} and an array to {@link update}, one value per CPU.
 * Maps of maps and program arrays take fds as values ({@link setFd}) and give ids back
 * ({@link getId}).
 */
export class KernelMap implements Disposable {
  /** `MapType.*`. */
  readonly type: number;
  readonly keySize: number;
  /** Value size of one element (of one CPU's value for per-CPU maps). */
  readonly valueSize: number;
  readonly maxEntries: number;
  /** `MapFlag.*` bits. */
  readonly flags: number;
  readonly name: string;
  /** The kernel's id of the map (stays valid while anything holds the map). */
  readonly id: number;
  /** The info read when the handle was made. */
  readonly info: MapInfo;
  /** Whether values are per CPU. */
  readonly perCpu: boolean;
  /** Bytes of a whole value on the syscall side: `valueSize`, or the per-CPU layout's size. */
  readonly valueBytes: number;
  readonly #syscalls: Syscalls;
  #fd: number;

  /** Takes ownership of `fd`; use {@link KernelMap.fromFd} to read the info from the kernel. */
  constructor(fd: number, info: MapInfo, syscalls: Syscalls) {
    this.#fd = fd;
    this.#syscalls = syscalls;
    this.info = info;
    this.type = info.type;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.flags = info.flags;
    this.name = info.name;
    this.id = info.id;
    this.perCpu = isPerCpuMapType(info.type);
    this.valueBytes = this.perCpu ? perCpuValueSize(info.valueSize) : info.valueSize;
  }

  /** A handle owning `fd` (a map fd from elsewhere: a pin, an id, another library), with its info read from the kernel. */
  static fromFd(fd: number, options: { syscalls?: Syscalls } = {}): KernelMap {
    const syscalls = options.syscalls ?? nativeSyscalls();
    return new KernelMap(fd, mapInfo(fd, { syscalls }), syscalls);
  }

  /** The file descriptor; throws once the map is closed. */
  get fd(): number {
    if (this.#fd < 0) throw new EbpfError(`map ${this.#label()} is closed`);
    return this.#fd;
  }

  /** True until {@link close}. */
  get open(): boolean {
    return this.#fd >= 0;
  }

  get syscalls(): Syscalls {
    return this.#syscalls;
  }

  /** The map's current info from the kernel (BPF_OBJ_GET_INFO_BY_FD). */
  refreshInfo(): MapInfo {
    return mapInfo(this.fd, { syscalls: this.#syscalls });
  }

  /**
   * The value at `key`, or undefined when there is none. `flags` may be `UpdateFlag.F_LOCK`
   * (copy under the value's spin lock). For queues and stacks (no key) this is a peek.
   */
  lookup(key?: Uint8Array, flags = 0): Uint8Array | undefined {
    const k = this.#key(key, 'look up');
    const { ret, value } = this.#elem(Command.MAP_LOOKUP_ELEM, k, undefined, flags);
    if (ret === -Errno.ENOENT) return undefined;
    if (ret < 0) throw this.#error('look up in', -ret);
    return value;
  }

  /** The value at `key` of a per-CPU map as one `valueSize`-byte array per possible CPU. */
  lookupPerCpu(key: Uint8Array, flags = 0): Uint8Array[] | undefined {
    if (!this.perCpu) throw new TypeError(`map ${this.#label()} is not per-CPU`);
    const whole = this.lookup(key, flags);
    return whole && splitPerCpu(whole, this.valueSize);
  }

  /** Whether `key` is in the map. */
  has(key: Uint8Array): boolean {
    return this.lookup(key) !== undefined;
  }

  /**
   * Sets `key` to `value` with `flags` (`UpdateFlag.ANY` by default; `NOEXIST` throws EEXIST
   * when the key exists, `EXIST` throws ENOENT when it does not). A per-CPU map takes the whole
   * per-CPU value or an array of one value per possible CPU. Queues and stacks take no key (push).
   */
  update(key: Uint8Array | undefined, value: Uint8Array | readonly Uint8Array[], flags: number = UpdateFlag.ANY): void {
    const k = this.#key(key, 'update');
    const v = this.#value(value, 'update');
    const { ret } = this.#elem(Command.MAP_UPDATE_ELEM, k, v, flags);
    if (ret < 0) throw this.#error('update', -ret);
  }

  /** Pushes `value` onto a queue or stack (BPF_MAP_UPDATE_ELEM without a key; `UpdateFlag.EXIST` overwrites the oldest when full). */
  push(value: Uint8Array, flags: number = UpdateFlag.ANY): void {
    this.update(undefined, value, flags);
  }

  /** Pops the next value of a queue or stack, or undefined when empty. */
  pop(): Uint8Array | undefined {
    return this.lookupAndDelete(undefined);
  }

  /** Deletes `key`; false when it was not there. */
  delete(key: Uint8Array): boolean {
    const k = this.#key(key, 'delete');
    const { ret } = this.#elem(Command.MAP_DELETE_ELEM, k, undefined, 0, false);
    if (ret === -Errno.ENOENT) return false;
    if (ret < 0) throw this.#error('delete from', -ret);
    return true;
  }

  /**
   * Looks up and deletes in one step (BPF_MAP_LOOKUP_AND_DELETE_ELEM): the value, or undefined
   * when there was none. Queues and stacks pop with no key; hash maps take a key (5.14+).
   */
  lookupAndDelete(key?: Uint8Array, flags = 0): Uint8Array | undefined {
    const k = this.#key(key, 'look up and delete');
    const { ret, value } = this.#elem(Command.MAP_LOOKUP_AND_DELETE_ELEM, k, undefined, flags);
    if (ret === -Errno.ENOENT) return undefined;
    if (ret < 0) throw this.#error('look up and delete in', -ret);
    return value;
  }

  /**
   * The key after `key` in the kernel's order (BPF_MAP_GET_NEXT_KEY), the first key without
   * one, or undefined at the end. A hash map whose `key` was deleted restarts from the first key.
   */
  nextKey(key?: Uint8Array): Uint8Array | undefined {
    const k = key === undefined ? undefined : this.#key(key, 'get next key');
    const syscalls = this.#syscalls;
    const { ret, next } = syscalls.withMemory((memory) => {
      const out = memory.output(this.keySize);
      const attr = new Attr(MAP_ELEM.SIZE)
        .u32(MAP_ELEM.map_fd, this.fd)
        .u64(MAP_ELEM.key, k ? memory.input(k) : 0n)
        .u64(MAP_ELEM.next_key, out.address);
      const r = syscalls.bpf(Command.MAP_GET_NEXT_KEY, attr.bytes);
      return { ret: r, next: r >= 0 ? out.read() : undefined };
    });
    if (ret === -Errno.ENOENT) return undefined;
    if (ret < 0) throw this.#error('get next key of', -ret);
    return next;
  }

  /**
   * Every key, in the kernel's order. Robust to concurrent deletion (as cilium/ebpf's
   * MapIterator): a hash map restarts from its first key when the cursor key is deleted, so keys
   * already given are skipped, and the walk gives up with {@link MapIterationError} after
   * several times `maxEntries` steps rather than loop forever under constant churn.
   */
  *keys(): Generator<Uint8Array, void, undefined> {
    const seen = new Set<string>();
    const limit = 4 * this.maxEntries + 16;
    let cursor: Uint8Array | undefined;
    for (let steps = 0; ; steps++) {
      if (steps > limit) throw new MapIterationError(`iterate map ${this.#label()}: gave up after ${limit} steps (keys deleted and added while iterating)`);
      const next = this.nextKey(cursor);
      if (next === undefined) return;
      cursor = next;
      const id = keyString(next);
      if (seen.has(id)) continue;
      seen.add(id);
      yield next;
    }
  }

  /** Every `[key, value]`; a key deleted between finding it and reading its value is skipped. */
  *entries(): Generator<[Uint8Array, Uint8Array], void, undefined> {
    for (const key of this.keys()) {
      const value = this.lookup(key);
      if (value !== undefined) yield [key, value];
    }
  }

  /** Every value (see {@link entries}). */
  *values(): Generator<Uint8Array, void, undefined> {
    for (const [, value] of this.entries()) yield value;
  }

  /** Up to `count` elements from `cursor` on in one call (BPF_MAP_LOOKUP_BATCH); see `map-batch.ts`. */
  lookupBatch(count: number, cursor?: BatchCursor, options?: BatchOptions): BatchLookupResult {
    return lookupBatch(this, count, cursor, options);
  }

  /** As {@link lookupBatch}, deleting what it returns (BPF_MAP_LOOKUP_AND_DELETE_BATCH). */
  lookupAndDeleteBatch(count: number, cursor?: BatchCursor, options?: BatchOptions): BatchLookupResult {
    return lookupAndDeleteBatch(this, count, cursor, options);
  }

  /** Sets `keys[i]` to `values[i]` in one call (BPF_MAP_UPDATE_BATCH); returns how many were written. */
  updateBatch(keys: readonly Uint8Array[], values: readonly Uint8Array[], options?: BatchOptions): number {
    return updateBatch(this, keys, values, options);
  }

  /** Deletes `keys` in one call (BPF_MAP_DELETE_BATCH); returns how many were deleted. */
  deleteBatch(keys: readonly Uint8Array[], options?: BatchOptions): number {
    return deleteBatch(this, keys, options);
  }

  /** Every `[key, value]`, a batch per call where the kernel can, else key by key. */
  batchEntries(options?: BatchEntriesOptions): Generator<[Uint8Array, Uint8Array], void, undefined> {
    return batchEntries(this, options);
  }

  /**
   * Map of maps or program array: stores the object behind `target` (a map, a program, or an
   * fd) at `key`. The kernel keeps a reference; closing `target` afterwards is fine.
   */
  setFd(key: Uint8Array, target: { readonly fd: number } | number, flags: number = UpdateFlag.ANY): void {
    const fd = typeof target === 'number' ? target : target.fd;
    const value = new Uint8Array(4);
    new DataView(value.buffer).setUint32(0, fd, hostLittleEndian);
    this.update(key, value, flags);
  }

  /** Map of maps or program array: the id of the map or program at `key`, or undefined. */
  getId(key: Uint8Array): number | undefined {
    const value = this.lookup(key);
    return value && new DataView(value.buffer, value.byteOffset, value.byteLength).getUint32(0, hostLittleEndian);
  }

  /**
   * Freezes the map (BPF_MAP_FREEZE): the syscall side can no longer change it; programs still
   * can unless it was created with `MapFlag.RDONLY_PROG`.
   */
  freeze(): void {
    const attr = new Attr(MAP_ELEM.SIZE).u32(MAP_ELEM.map_fd, this.fd);
    const ret = this.#syscalls.withMemory(() => this.#syscalls.bpf(Command.MAP_FREEZE, attr.bytes));
    if (ret < 0) throw this.#error('freeze', -ret);
  }

  /** Pins the map at `path` in a bpffs mount (BPF_OBJ_PIN). */
  pin(path: string): void {
    pinFd(this.#syscalls, this.fd, path, `map ${this.#label()}`);
  }

  /** Closes the fd; the kernel frees the map once nothing else (program, pin, fd) holds it. Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    const ret = this.#syscalls.close(fd);
    if (ret < 0) throw new KernelError(`close map ${this.#label()} (fd ${fd})`, -ret);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** `'name' (BPF_MAP_TYPE_HASH)`, for messages. */
  #label(): string {
    return `${this.name ? `'${this.name}' ` : ''}(${mapTypeName(this.type)})`;
  }

  #error(op: string, errno: number): KernelError {
    return new KernelError(`${op} map ${this.#label()}`, errno);
  }

  /** Checks a key's size; keyless maps take none. */
  #key(key: Uint8Array | undefined, op: string): Uint8Array | undefined {
    if (key === undefined || key.length === 0) {
      if (this.keySize === 0) return undefined;
      if (key === undefined) throw new MapSizeError(`${op} map ${this.#label()}`, 'key', this.keySize, 0);
    }
    if (key.length !== this.keySize) throw new MapSizeError(`${op} map ${this.#label()}`, 'key', this.keySize, key.length);
    return key;
  }

  /** Checks a value's size; per-CPU arrays are joined into the kernel's layout. */
  #value(value: Uint8Array | readonly Uint8Array[], op: string): Uint8Array {
    const context = `${op} map ${this.#label()}`;
    if (!(value instanceof Uint8Array)) {
      if (!this.perCpu) throw new TypeError(`${context}: an array of per-CPU values for a map that is not per-CPU`);
      if (value.length !== possibleCpuCount()) {
        throw new RangeError(`${context}: ${value.length} per-CPU values for ${possibleCpuCount()} possible CPUs`);
      }
      for (const v of value) if (v.length !== this.valueSize) throw new MapSizeError(context, 'value', this.valueSize, v.length);
      return joinPerCpu(value, this.valueSize);
    }
    if (value.length !== this.valueBytes) throw new MapSizeError(context, 'value', this.valueBytes, value.length);
    return value;
  }

  /** One BPF_MAP_*_ELEM call: the key in, the value in (update) or out (lookups). */
  #elem(cmd: number, key: Uint8Array | undefined, value: Uint8Array | undefined, flags: number, wantValue = true): { ret: number; value: Uint8Array | undefined } {
    const syscalls = this.#syscalls;
    const fd = this.fd;
    return syscalls.withMemory((memory) => {
      const out = value === undefined && wantValue ? memory.output(this.valueBytes) : undefined;
      const attr = new Attr(MAP_ELEM.SIZE)
        .u32(MAP_ELEM.map_fd, fd)
        .u64(MAP_ELEM.key, key ? memory.input(key) : 0n)
        .u64(MAP_ELEM.value, value ? memory.input(value) : (out?.address ?? 0n))
        .u64(MAP_ELEM.flags, BigInt(flags));
      const ret = syscalls.bpf(cmd, attr.bytes);
      return { ret, value: ret >= 0 && out ? out.read() : undefined };
    });
  }
}

/** Iteration over a map could not finish (keys kept changing under it). */
export class MapIterationError extends EbpfError {
  override name = 'MapIterationError';
}

const hostLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A key as a string, for the set of keys already seen. */
function keyString(key: Uint8Array): string {
  let s = '';
  for (let i = 0; i < key.length; i++) s += String.fromCharCode(key[i]!);
  return s;
}
