/**
 * The VM's maps: what every map type offers the host (the bpf() map commands on `Uint8Array`
 * keys and values, with the kernel's errno semantics) and the program (the map helpers, on
 * addresses in the VM's linear memory).
 *
 * A map lives in one {@link MapRegistry} (one per `Memory`). It owns a small read-only "map
 * object" region; that region's address is the map pointer a program holds after
 * `lddw r1, map`, and helpers find the map by it. Values that programs address directly —
 * hash and array values, ring-buffer records — live in regions of the same linear memory, so
 * a lookup returns the address of the value itself, as in the kernel.
 */
import type { Region } from '../memory.js';
import { Errno } from './errno.js';
import { MapError } from './errors.js';
import { MapFlag, mapTypeName } from './flags.js';
import type { MapRegistry } from './registry.js';
import { zeroFields, type ValueFields } from './value-fields.js';

/** The fields of BPF_MAP_CREATE a VM map is made from. */
export interface MapOptions {
  /** `MapType.*` (UAPI number). */
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** `MapFlag.*` bits (`map_flags`). */
  flags?: number;
  /** `map_extra`: a bloom filter's number of hash functions (low 4 bits; 0 means 5). */
  mapExtra?: bigint | number;
  /** The template inner map of ARRAY_OF_MAPS / HASH_OF_MAPS (the kernel's `inner_map_fd`). */
  innerMap?: VmMap;
  /** Name for messages (the kernel keeps 15 bytes of it). */
  name?: string;
  /** Offsets of the value's `bpf_spin_lock` / `bpf_timer` (the kernel finds them in the value's BTF). */
  fields?: ValueFields;
}

/** A value on the host side: bytes, or one `Uint8Array` per CPU for per-CPU maps. */
export type MapValue = Uint8Array | Uint8Array[];

/** The parameters of a created map, as `bpf_map_info` reports them. */
export interface MapInfo {
  /** Registry-unique id (1, 2, …), the VM's counterpart of a map id or fd. */
  readonly id: number;
  readonly type: number;
  readonly name: string;
  readonly keySize: number;
  readonly valueSize: number;
  /** As the kernel stores it (LRU maps with BPF_F_NO_COMMON_LRU round it to a multiple of the CPUs). */
  readonly maxEntries: number;
  readonly flags: number;
  readonly mapExtra: bigint;
  /** The value's special fields (`bpf_spin_lock`, `bpf_timer`), when it has any. */
  readonly fields?: ValueFields | undefined;
}

/**
 * A map in the VM. Host methods mirror the bpf() commands and throw {@link MapError} with the
 * errno the kernel would return; `lookup` returns undefined and `delete` false for ENOENT.
 * The `program*` methods are what the helpers call: they take key/value bytes copied from the
 * program's memory and return an address (0 for NULL) or 0/-errno, as the kernel's helpers do.
 */
export interface VmMap extends MapInfo, Disposable {
  readonly registry: MapRegistry;
  /** Address of the map object: the value a program's `lddw rX, map` loads. */
  readonly address: number;
  /** Whether values are per CPU (host values are then arrays with one entry per CPU). */
  readonly perCpu: boolean;
  /** True until {@link close}. */
  readonly open: boolean;

  /** BPF_MAP_LOOKUP_ELEM. Queues and stacks peek (no key). Undefined for ENOENT. */
  lookup(key?: Uint8Array, flags?: number): MapValue | undefined;
  /** BPF_MAP_UPDATE_ELEM with `UpdateFlag.*`. Queues, stacks and bloom filters push (no key). */
  update(key: Uint8Array | undefined, value: MapValue, flags?: number): void;
  /** BPF_MAP_DELETE_ELEM. False for ENOENT. */
  delete(key: Uint8Array): boolean;
  /** BPF_MAP_LOOKUP_AND_DELETE_ELEM: hashes remove the element, queues and stacks pop. */
  lookupAndDelete(key?: Uint8Array, flags?: number): MapValue | undefined;
  /** BPF_MAP_GET_NEXT_KEY: the key after `key` (the first with none), undefined at the end. */
  nextKey(key?: Uint8Array): Uint8Array | undefined;
  /** All keys, in the kernel's get_next_key order. */
  keys(): IterableIterator<Uint8Array>;
  /** All elements, in the kernel's get_next_key order. */
  entries(): IterableIterator<[Uint8Array, MapValue]>;
  /** BPF_MAP_FREEZE: the host may no longer write the map. */
  freeze(): void;
  /** Releases the map's memory; its address stops being a map. Idempotent. */
  close(): void;

  /** bpf_map_lookup_elem: address of the value (this CPU's for per-CPU maps), or 0. */
  programLookup(key: Uint8Array): number;
  /** bpf_map_update_elem: 0 or -errno. Per-CPU maps set this CPU's value only. */
  programUpdate(key: Uint8Array, value: Uint8Array, flags: bigint): number;
  /** bpf_map_delete_elem: 0 or -errno. */
  programDelete(key: Uint8Array): number;
  /** bpf_map_push_elem: 0 or -errno. */
  programPush(value: Uint8Array, flags: bigint): number;
  /** bpf_map_pop_elem into `out` (a view of the program's buffer): 0 or -errno. */
  programPop(out: Uint8Array): number;
  /** bpf_map_peek_elem: queues/stacks write `out`; bloom filters test it. 0 or -errno. */
  programPeek(out: Uint8Array): number;
  /** bpf_map_lookup_percpu_elem: address of `cpu`'s value, or 0. */
  programLookupPercpu(key: Uint8Array, cpu: number): number;
}

/** Size of the map object region: a few `struct bpf_map`-like u32 fields (type, sizes, flags, id). */
export const MAP_OBJECT_SIZE = 32;

/** `round_up(n, 8)`. */
export function round8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/**
 * Common code of the map types: the map object region, the host API's argument checks and
 * access rules (BPF_F_RDONLY/WRONLY, freeze, BPF_F_LOCK), and the kernel's answers for
 * commands a type does not implement. Subclasses implement the `sys*` methods (returning
 * -errno on failure) and the `program*` ones they support.
 */
export abstract class BaseMap implements VmMap {
  readonly registry: MapRegistry;
  readonly id: number;
  readonly type: number;
  readonly name: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly mapExtra: bigint;
  readonly fields: ValueFields | undefined;
  readonly perCpu: boolean = false;
  readonly address: number;
  readonly #object: Region;
  #open = true;
  #frozen = false;

  constructor(registry: MapRegistry, info: Omit<MapInfo, 'id'>) {
    this.registry = registry;
    this.id = registry.nextId();
    this.type = info.type;
    this.name = info.name;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.flags = info.flags;
    this.mapExtra = info.mapExtra;
    this.fields = info.fields;
    const init = new Uint8Array(MAP_OBJECT_SIZE);
    const v = new DataView(init.buffer);
    [info.type, info.keySize, info.valueSize, info.maxEntries, info.flags, this.id].forEach((x, i) => v.setUint32(i * 4, x, true));
    this.#object = registry.memory.alloc(MAP_OBJECT_SIZE, { kind: 'memory', name: `map '${this.name}'`, writable: false, init });
    this.address = this.#object.start;
  }

  get open(): boolean {
    return this.#open;
  }

  /** `map 'name'` for messages. */
  protected get label(): string {
    return `map '${this.name}' (${mapTypeName(this.type)})`;
  }

  // ---- host API ----

  lookup(key?: Uint8Array, flags = 0): MapValue | undefined {
    this.checkOpen();
    this.checkCommonFlags('lookup', flags, false);
    if (this.flags & MapFlag.WRONLY) throw new MapError(`lookup ${this.label}`, Errno.EPERM);
    const r = this.sysLookup(this.checkKey('lookup', key), BigInt(flags));
    if (typeof r === 'number') {
      if (r === -Errno.ENOENT) return undefined;
      throw new MapError(`lookup ${this.label}`, -r);
    }
    // bpf_map_copy_value: special fields read as zeros (check_and_init_map_value).
    if (r instanceof Uint8Array) zeroFields(this.fields, r);
    return r;
  }

  update(key: Uint8Array | undefined, value: MapValue, flags = 0): void {
    this.checkOpen();
    this.checkWritable('update');
    this.checkCommonFlags('update', flags, true);
    const r = this.sysUpdate(this.checkKey('update', key), this.checkValue(value), BigInt(flags));
    if (r < 0) throw new MapError(`update ${this.label}`, -r);
  }

  delete(key: Uint8Array): boolean {
    this.checkOpen();
    this.checkWritable('delete');
    const r = this.sysDelete(this.checkKey('delete', key));
    if (r === -Errno.ENOENT) return false;
    if (r < 0) throw new MapError(`delete ${this.label}`, -r);
    return true;
  }

  lookupAndDelete(key?: Uint8Array, flags = 0): MapValue | undefined {
    this.checkOpen();
    this.checkWritable('lookup and delete');
    if (this.flags & MapFlag.WRONLY) throw new MapError(`lookup and delete ${this.label}`, Errno.EPERM);
    this.checkCommonFlags('lookup and delete', flags, false);
    const r = this.sysLookupAndDelete(this.checkKey('lookup and delete', key), BigInt(flags));
    if (typeof r === 'number') {
      if (r === -Errno.ENOENT) return undefined;
      throw new MapError(`lookup and delete ${this.label}`, -r);
    }
    if (r instanceof Uint8Array) zeroFields(this.fields, r);
    return r;
  }

  nextKey(key?: Uint8Array): Uint8Array | undefined {
    this.checkOpen();
    if (this.flags & MapFlag.WRONLY) throw new MapError(`get next key of ${this.label}`, Errno.EPERM);
    const r = this.sysNextKey(key === undefined ? undefined : this.checkKey('get next key of', key));
    if (typeof r === 'number') {
      if (r === -Errno.ENOENT) return undefined;
      throw new MapError(`get next key of ${this.label}`, -r);
    }
    return r;
  }

  *keys(): IterableIterator<Uint8Array> {
    for (let key = this.nextKey(); key !== undefined; key = this.nextKey(key)) yield key;
  }

  *entries(): IterableIterator<[Uint8Array, MapValue]> {
    for (const key of this.keys()) {
      const value = this.lookup(key);
      if (value !== undefined) yield [key, value];
    }
  }

  freeze(): void {
    this.checkOpen();
    this.#frozen = true;
  }

  /** Whether {@link freeze} was called. */
  get frozen(): boolean {
    return this.#frozen;
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.release();
    this.registry.memory.release(this.#object);
    this.registry.forget(this);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  // ---- program API: by default what a map type without the operation answers ----

  programLookup(_key: Uint8Array): number {
    return 0;
  }
  programUpdate(_key: Uint8Array, _value: Uint8Array, _flags: bigint): number {
    return -Errno.EINVAL;
  }
  programDelete(_key: Uint8Array): number {
    return -Errno.EINVAL;
  }
  programPush(_value: Uint8Array, _flags: bigint): number {
    return -Errno.EINVAL;
  }
  programPop(_out: Uint8Array): number {
    return -Errno.EINVAL;
  }
  programPeek(_out: Uint8Array): number {
    return -Errno.EINVAL;
  }
  programLookupPercpu(_key: Uint8Array, _cpu: number): number {
    return 0;
  }

  // ---- what subclasses implement ----

  protected abstract sysLookup(key: Uint8Array | undefined, flags: bigint): MapValue | number;
  protected abstract sysUpdate(key: Uint8Array | undefined, value: MapValue, flags: bigint): number;
  protected abstract sysDelete(key: Uint8Array | undefined): number;
  protected abstract sysNextKey(key: Uint8Array | undefined): Uint8Array | number;
  /** Kernel: only hashes, queues and stacks implement it; the rest answer ENOTSUPP. */
  protected sysLookupAndDelete(_key: Uint8Array | undefined, _flags: bigint): MapValue | number {
    return -Errno.ENOTSUPP;
  }
  /** Frees the map's regions. */
  protected abstract release(): void;

  // ---- argument checks ----

  /** Runs a subclass constructor's allocation; if it throws, the map object is freed first. */
  protected allocating<T>(make: () => T): T {
    try {
      return make();
    } catch (err) {
      this.close();
      throw err;
    }
  }

  protected checkOpen(): void {
    if (!this.#open) throw new Error(`${this.label} is closed`);
  }

  private checkWritable(op: string): void {
    if (this.#frozen || this.flags & MapFlag.RDONLY) throw new MapError(`${op} ${this.label}`, Errno.EPERM);
  }

  /** syscall.c: only BPF_F_LOCK is known, and only for values with a bpf_spin_lock. */
  private checkCommonFlags(op: string, flags: number, update: boolean): void {
    if (!Number.isSafeInteger(flags) || flags < 0) throw new RangeError(`flags ${flags} is not a u64`);
    const f = BigInt(flags);
    if (!update && (f & ~4n) !== 0n) throw new MapError(`${op} ${this.label}`, Errno.EINVAL);
    if (f & 4n && this.fields?.spinLock === undefined) throw new MapError(`${op} ${this.label}`, Errno.EINVAL, { detail: 'BPF_F_LOCK needs a bpf_spin_lock in the value' });
  }

  private checkKey(op: string, key: Uint8Array | undefined): Uint8Array | undefined {
    if (this.keySize === 0) {
      // Keyless maps: the kernel refuses a key pointer (__bpf_copy_key) with EINVAL.
      if (key !== undefined && key.length !== 0) throw new MapError(`${op} ${this.label}`, Errno.EINVAL, { detail: 'the map has no keys' });
      return undefined;
    }
    if (key === undefined) throw new MapError(`${op} ${this.label}`, Errno.EINVAL, { detail: 'a key is required' });
    if (!(key instanceof Uint8Array)) throw new TypeError(`${op} ${this.label}: the key must be a Uint8Array`);
    if (key.length !== this.keySize) throw new RangeError(`${op} ${this.label}: key of ${key.length} bytes, the map's keys have ${this.keySize}`);
    return key;
  }

  /** Checks a host value's shape: `valueSize` bytes, or one such per CPU for per-CPU maps. */
  protected checkValue(value: MapValue): MapValue {
    const size = this.hostValueSize;
    if (this.perCpu) {
      const cpus = this.registry.cpus;
      if (!Array.isArray(value) || value.length !== cpus) {
        throw new TypeError(`update ${this.label}: a per-CPU value is an array of ${cpus} Uint8Array (one per CPU)`);
      }
      for (const v of value) if (!(v instanceof Uint8Array) || v.length !== size) throw new RangeError(`update ${this.label}: each per-CPU value must have ${size} bytes`);
      return value;
    }
    if (!(value instanceof Uint8Array)) throw new TypeError(`update ${this.label}: the value must be a Uint8Array`);
    if (value.length !== size) throw new RangeError(`update ${this.label}: value of ${value.length} bytes, the map's values have ${size}`);
    return value;
  }

  /** Bytes of a host value (kernel: bpf_map_value_size — fd maps take a u32 id). */
  protected get hostValueSize(): number {
    return this.valueSize;
  }
}

/** Reads a little-endian u32 from `bytes`. */
export function u32(bytes: Uint8Array, offset = 0): number {
  return (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24)) >>> 0;
}

/** A little-endian u32 as 4 bytes. */
export function u32Bytes(value: number): Uint8Array {
  return Uint8Array.of(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff);
}
