/**
 * BPF_MAP_TYPE_HASH and BPF_MAP_TYPE_PERCPU_HASH (kernel/bpf/hashtab.c).
 *
 * Like the kernel's preallocated hash, an update of an existing key in a HASH map writes a
 * new element (the CPU's spare "extra" element) at the head of the bucket and makes the old
 * one the spare: the value's address changes, and a program still holding the old pointer
 * reads the old value. PERCPU_HASH updates values in place.
 */
import { Errno } from './errno.js';
import { BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, MapFlag } from './flags.js';
import { HashTable } from './hash-table.js';
import { BaseMap, type MapInfo, type MapValue, round8 } from './map.js';
import type { MapRegistry } from './registry.js';
import { SlotAllocator, SlotStore } from './slots.js';
import { copyMapValue, zeroFields } from './value-fields.js';

/** check_flags of hashtab.c; `flags` without BPF_F_LOCK. */
export function checkUpdateFlags(exists: boolean, flags: bigint): number {
  if (exists && flags === BPF_NOEXIST) return -Errno.EEXIST;
  if (!exists && flags === BPF_EXIST) return -Errno.ENOENT;
  return 0;
}

/** The hash seed: the kernel's is random unless BPF_F_ZERO_SEED; the VM's is always 0, so its order is the kernel's with BPF_F_ZERO_SEED. */
export const HASH_SEED = 0;

/** What HASH-like maps share: the bucket table over slots of linear memory and a free list. */
export abstract class HtabMap extends BaseMap {
  protected readonly store: SlotStore;
  protected readonly table: HashTable;
  /** Free element slots (the kernel's preallocated free list); the first `maxEntries` slots. */
  protected readonly free: SlotAllocator;

  constructor(registry: MapRegistry, info: Omit<MapInfo, 'id'>, capacity: number, valueBytes: number) {
    super(registry, info);
    this.store = new SlotStore(registry.memory, {
      capacity,
      keySize: info.keySize,
      valueBytes,
      name: `map '${info.name}'`,
      writable: (info.flags & MapFlag.RDONLY_PROG) === 0,
    });
    this.table = this.allocating(() => new HashTable(this.store, info.keySize, info.maxEntries, HASH_SEED));
    this.free = new SlotAllocator(info.maxEntries);
  }

  protected sysNextKey(key: Uint8Array | undefined): Uint8Array | number {
    const s = this.table.nextSlot(key);
    return s < 0 ? -Errno.ENOENT : this.store.key(s);
  }

  protected sysDelete(key: Uint8Array | undefined): number {
    return this.deleteElem(key!);
  }

  override programDelete(key: Uint8Array): number {
    return this.deleteElem(key);
  }

  protected deleteElem(key: Uint8Array): number {
    const s = this.table.find(key, this.table.hashOf(key));
    if (s < 0) return -Errno.ENOENT;
    this.table.remove(s);
    this.dropFields(s);
    this.freeSlot(s);
    return 0;
  }

  /** bpf_obj_free_fields of an element leaving the map: its bpf_timer (and lock) become zeros. */
  protected dropFields(slot: number): void {
    if (this.fields !== undefined) zeroFields(this.fields, this.registry.memory.bytes, this.store.valueAddress(slot));
  }

  protected override sysLookupAndDelete(key: Uint8Array | undefined): MapValue | number {
    const s = this.table.find(key!, this.table.hashOf(key!));
    if (s < 0) return -Errno.ENOENT;
    const value = this.readValue(s);
    this.table.remove(s);
    this.dropFields(s);
    this.freeSlot(s);
    return value;
  }

  protected sysLookup(key: Uint8Array | undefined): MapValue | number {
    const s = this.table.find(key!, this.table.hashOf(key!));
    return s < 0 ? -Errno.ENOENT : this.readValue(s);
  }

  /** A free slot with memory, or -errno (E2BIG when none is left, ENOMEM when memory cannot grow). */
  protected allocSlot(): number {
    const s = this.free.take();
    if (s < 0) return -Errno.E2BIG;
    if (!this.store.ensure(s)) {
      this.free.give(s);
      return -Errno.ENOMEM;
    }
    return s;
  }

  protected freeSlot(slot: number): void {
    this.free.give(slot);
  }

  /** The host's copy of the value of `slot`. */
  protected abstract readValue(slot: number): MapValue;

  protected release(): void {
    this.store.release();
  }
}

/** BPF_MAP_TYPE_HASH. */
export class HashMap extends HtabMap {
  /** Per-CPU spare elements (htab->extra_elems). */
  readonly #extra: number[] = [];

  constructor(registry: MapRegistry, info: Omit<MapInfo, 'id'>) {
    const cpus = registry.cpus;
    super(registry, info, info.maxEntries + cpus, info.valueSize);
    for (let cpu = 0; cpu < cpus; cpu++) this.#extra.push(info.maxEntries + cpu);
  }

  /** Address of the value of `key`, or 0 (what bpf_map_lookup_elem returns). */
  valueAddress(key: Uint8Array): number {
    const s = this.table.find(key, this.table.hashOf(key));
    return s < 0 ? 0 : this.store.valueAddress(s);
  }

  override programLookup(key: Uint8Array): number {
    return this.valueAddress(key);
  }

  override programUpdate(key: Uint8Array, value: Uint8Array, flags: bigint): number {
    return this.updateElem(key, value, flags);
  }

  protected sysUpdate(key: Uint8Array | undefined, value: MapValue, flags: bigint): number {
    return this.updateElem(key!, value as Uint8Array, flags);
  }

  /** htab_map_update_elem. */
  protected updateElem(key: Uint8Array, value: Uint8Array, flags: bigint): number {
    if ((flags & ~BPF_F_LOCK) > BPF_EXIST) return -Errno.EINVAL;
    const hash = this.table.hashOf(key);
    const old = this.table.find(key, hash);
    if (flags & BPF_F_LOCK) {
      // Only a value with a bpf_spin_lock takes BPF_F_LOCK (btf_record_has_field); an existing
      // element is then updated in place under its lock, a missing one inserted as usual.
      if (this.fields?.spinLock === undefined) return -Errno.EINVAL;
      flags &= ~BPF_F_LOCK;
      const err = checkUpdateFlags(old >= 0, flags);
      if (err) return err;
      if (old >= 0) {
        copyMapValue(this.fields, this.registry.memory.bytes, this.store.valueAddress(old), value, this.valueSize);
        return 0;
      }
    }
    const err = checkUpdateFlags(old >= 0, flags);
    if (err) return err;
    let slot: number;
    if (old >= 0) {
      // alloc_htab_elem: replacing an element takes this CPU's spare and makes the old one the spare.
      const cpu = this.registry.cpu;
      slot = this.#extra[cpu]!;
      if (!this.store.ensure(slot)) return -Errno.ENOMEM;
      this.#extra[cpu] = old;
    } else {
      slot = this.allocSlot();
      if (slot < 0) return slot;
    }
    this.store.setKey(slot, key);
    this.registry.memory.bytes.set(value.subarray(0, this.valueSize), this.store.valueAddress(slot));
    // A new element's special fields start zeroed; the replaced one's are freed.
    this.dropFields(slot);
    this.table.addHead(slot, hash);
    if (old >= 0) {
      this.table.remove(old);
      this.dropFields(old);
    }
    return 0;
  }

  protected readValue(slot: number): MapValue {
    const at = this.store.valueAddress(slot);
    return this.registry.memory.bytes.slice(at, at + this.valueSize);
  }
}

/** BPF_MAP_TYPE_PERCPU_HASH: one value per CPU, `round_up(value_size, 8)` apart. */
export class PercpuHashMap extends HtabMap {
  override readonly perCpu = true;
  protected readonly stride: number;

  constructor(registry: MapRegistry, info: Omit<MapInfo, 'id'>) {
    super(registry, info, info.maxEntries, round8(info.valueSize) * registry.cpus);
    this.stride = round8(info.valueSize);
  }

  /** Address of `cpu`'s value of `key`, or 0. */
  valueAddress(key: Uint8Array, cpu = this.registry.cpu): number {
    const s = this.table.find(key, this.table.hashOf(key));
    return s < 0 ? 0 : this.store.valueAddress(s) + cpu * this.stride;
  }

  override programLookup(key: Uint8Array): number {
    return this.valueAddress(key);
  }

  override programLookupPercpu(key: Uint8Array, cpu: number): number {
    if (cpu >= this.registry.cpus) return 0;
    return this.valueAddress(key, cpu);
  }

  override programUpdate(key: Uint8Array, value: Uint8Array, flags: bigint): number {
    return this.updateElem(key, value, flags);
  }

  protected sysUpdate(key: Uint8Array | undefined, value: MapValue, flags: bigint): number {
    return this.updateElem(key!, value, flags);
  }

  /** __htab_percpu_map_update_elem: a host value sets every CPU, a program's only this CPU. */
  protected updateElem(key: Uint8Array, value: MapValue, flags: bigint): number {
    if (flags > BPF_EXIST) return -Errno.EINVAL;
    const hash = this.table.hashOf(key);
    const old = this.table.find(key, hash);
    const err = checkUpdateFlags(old >= 0, flags);
    if (err) return err;
    if (old >= 0) {
      this.copyValue(old, value, false);
      return 0;
    }
    const slot = this.allocSlot();
    if (slot < 0) return slot;
    this.store.setKey(slot, key);
    this.copyValue(slot, value, true);
    this.table.addHead(slot, hash);
    return 0;
  }

  /** pcpu_copy_value / pcpu_init_value: a single value goes to this CPU (and zeroes the others of a new element). */
  protected copyValue(slot: number, value: MapValue, init: boolean): void {
    const bytes = this.registry.memory.bytes;
    const base = this.store.valueAddress(slot);
    if (Array.isArray(value)) {
      value.forEach((v, cpu) => {
        bytes.set(v, base + cpu * this.stride);
        bytes.fill(0, base + cpu * this.stride + v.length, base + (cpu + 1) * this.stride);
      });
      return;
    }
    const cpu = this.registry.cpu;
    if (init) bytes.fill(0, base, base + this.registry.cpus * this.stride);
    bytes.set(value.subarray(0, this.valueSize), base + cpu * this.stride);
  }

  protected readValue(slot: number): MapValue {
    const bytes = this.registry.memory.bytes;
    const base = this.store.valueAddress(slot);
    const out: Uint8Array[] = [];
    for (let cpu = 0; cpu < this.registry.cpus; cpu++) out.push(bytes.slice(base + cpu * this.stride, base + cpu * this.stride + this.valueSize));
    return out;
  }
}
