/**
 * BPF_MAP_TYPE_ARRAY and BPF_MAP_TYPE_PERCPU_ARRAY (kernel/bpf/arraymap.c): `max_entries`
 * preallocated, zeroed values `round_up(value_size, 8)` apart in one region, indexed by a
 * u32 key. Every index always exists: there is nothing to delete (EINVAL) and nothing to
 * create (BPF_NOEXIST fails with EEXIST).
 */
import type { Region } from '../memory.js';
import { Errno } from './errno.js';
import { BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, MapFlag } from './flags.js';
import { copyMapValue, freeFields } from './value-fields.js';
import { BaseMap, type MapInfo, type MapValue, round8, u32, u32Bytes } from './map.js';
import type { MapRegistry } from './registry.js';
import { tryAlloc } from './slots.js';

/** array_map_get_next_key, shared by every array-like map: undefined/out-of-range keys restart at 0. */
export function arrayNextKey(key: Uint8Array | undefined, maxEntries: number): Uint8Array | number {
  const index = key === undefined ? 0xffffffff : u32(key);
  if (index >= maxEntries) return u32Bytes(0);
  if (index === maxEntries - 1) return -Errno.ENOENT;
  return u32Bytes(index + 1);
}

/** Allocates an array's region, or returns undefined when the memory cannot hold it. */
function allocValues(registry: MapRegistry, size: number, info: Omit<MapInfo, 'id'>): Region | undefined {
  return tryAlloc(registry.memory, size, { kind: 'map_value', name: `map '${info.name}' values`, writable: (info.flags & MapFlag.RDONLY_PROG) === 0 });
}

/** BPF_MAP_TYPE_ARRAY. */
export class ArrayMap extends BaseMap {
  /** The values: index i at `region.start + i * elemSize`. */
  readonly region: Region;
  readonly elemSize: number;

  /** Throws RangeError when the memory cannot hold the array (the caller answers ENOMEM). */
  constructor(registry: MapRegistry, info: Omit<MapInfo, 'id'>) {
    super(registry, info);
    this.elemSize = round8(info.valueSize);
    const region = allocValues(registry, info.maxEntries * this.elemSize, info);
    if (region === undefined) {
      this.close();
      throw new RangeError(`no memory for ${info.maxEntries} values of ${this.elemSize} bytes`);
    }
    this.region = region;
  }

  /** Address of value `index` (what a program's lookup returns), or 0 out of range. */
  valueAddress(index: number): number {
    return index >>> 0 < this.maxEntries ? this.region.start + (index >>> 0) * this.elemSize : 0;
  }

  override programLookup(key: Uint8Array): number {
    return this.valueAddress(u32(key));
  }

  override programUpdate(key: Uint8Array, value: Uint8Array, flags: bigint): number {
    return this.updateElem(key, value, flags);
  }

  override programDelete(): number {
    return -Errno.EINVAL;
  }

  protected sysLookup(key: Uint8Array | undefined): MapValue | number {
    const at = this.valueAddress(u32(key!));
    return at === 0 ? -Errno.ENOENT : this.registry.memory.bytes.slice(at, at + this.valueSize);
  }

  protected sysUpdate(key: Uint8Array | undefined, value: MapValue, flags: bigint): number {
    return this.updateElem(key!, value as Uint8Array, flags);
  }

  /** array_map_update_elem. */
  protected updateElem(key: Uint8Array, value: Uint8Array, flags: bigint): number {
    if ((flags & ~BPF_F_LOCK) > BPF_EXIST) return -Errno.EINVAL;
    const index = u32(key);
    if (index >= this.maxEntries) return -Errno.E2BIG;
    if (flags & BPF_NOEXIST) return -Errno.EEXIST;
    if (flags & BPF_F_LOCK && this.fields?.spinLock === undefined) return -Errno.EINVAL; // no bpf_spin_lock in the value
    // copy_map_value(_locked) leaves the value's bpf_spin_lock and bpf_timer alone, then
    // bpf_obj_free_fields frees the old value's timer: an update cancels it.
    const at = this.region.start + index * this.elemSize;
    copyMapValue(this.fields, this.registry.memory.bytes, at, value, this.valueSize);
    freeFields(this.fields, this.registry.memory.bytes, at);
    return 0;
  }

  protected sysDelete(): number {
    return -Errno.EINVAL;
  }

  protected sysNextKey(key: Uint8Array | undefined): Uint8Array | number {
    return arrayNextKey(key, this.maxEntries);
  }

  protected release(): void {
    if (this.region !== undefined) this.registry.memory.release(this.region);
  }
}

/** BPF_MAP_TYPE_PERCPU_ARRAY: value `index` of `cpu` at `region.start + (index * cpus + cpu) * elemSize`. */
export class PercpuArrayMap extends BaseMap {
  override readonly perCpu = true;
  readonly region: Region;
  readonly elemSize: number;

  constructor(registry: MapRegistry, info: Omit<MapInfo, 'id'>) {
    super(registry, info);
    this.elemSize = round8(info.valueSize);
    const region = allocValues(registry, info.maxEntries * this.elemSize * registry.cpus, info);
    if (region === undefined) {
      this.close();
      throw new RangeError(`no memory for ${info.maxEntries} per-CPU values of ${this.elemSize} bytes`);
    }
    this.region = region;
  }

  /** Address of `cpu`'s value `index`, or 0 out of range. */
  valueAddress(index: number, cpu = this.registry.cpu): number {
    if (index >>> 0 >= this.maxEntries || cpu >= this.registry.cpus) return 0;
    return this.region.start + ((index >>> 0) * this.registry.cpus + cpu) * this.elemSize;
  }

  override programLookup(key: Uint8Array): number {
    return this.valueAddress(u32(key));
  }

  override programLookupPercpu(key: Uint8Array, cpu: number): number {
    return this.valueAddress(u32(key), cpu);
  }

  /** array_map_update_elem on a per-CPU array: this CPU's value only. */
  override programUpdate(key: Uint8Array, value: Uint8Array, flags: bigint): number {
    if ((flags & ~BPF_F_LOCK) > BPF_EXIST) return -Errno.EINVAL;
    const index = u32(key);
    if (index >= this.maxEntries) return -Errno.E2BIG;
    if (flags & BPF_NOEXIST) return -Errno.EEXIST;
    if (flags & BPF_F_LOCK) return -Errno.EINVAL;
    this.registry.memory.bytes.set(value.subarray(0, this.valueSize), this.valueAddress(index));
    return 0;
  }

  protected sysLookup(key: Uint8Array | undefined): MapValue | number {
    const index = u32(key!);
    if (index >= this.maxEntries) return -Errno.ENOENT;
    const bytes = this.registry.memory.bytes;
    const out: Uint8Array[] = [];
    for (let cpu = 0; cpu < this.registry.cpus; cpu++) {
      const at = this.valueAddress(index, cpu);
      out.push(bytes.slice(at, at + this.valueSize));
    }
    return out;
  }

  /** bpf_percpu_array_update: every CPU's value. */
  protected sysUpdate(key: Uint8Array | undefined, value: MapValue, flags: bigint): number {
    if (flags > BPF_EXIST) return -Errno.EINVAL;
    const index = u32(key!);
    if (index >= this.maxEntries) return -Errno.E2BIG;
    if (flags === BPF_NOEXIST) return -Errno.EEXIST;
    const bytes = this.registry.memory.bytes;
    (value as Uint8Array[]).forEach((v, cpu) => {
      const at = this.valueAddress(index, cpu);
      bytes.set(v, at);
      bytes.fill(0, at + v.length, at + this.elemSize);
    });
    return 0;
  }

  protected sysDelete(): number {
    return -Errno.EINVAL;
  }

  protected sysNextKey(key: Uint8Array | undefined): Uint8Array | number {
    return arrayNextKey(key, this.maxEntries);
  }

  protected release(): void {
    if (this.region !== undefined) this.registry.memory.release(this.region);
  }
}
