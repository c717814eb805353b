/**
 * BPF_MAP_TYPE_LRU_HASH and BPF_MAP_TYPE_LRU_PERCPU_HASH (kernel/bpf/hashtab.c over
 * bpf_lru_list.c, see ./lru-list.ts): a full map makes room by evicting the least recently
 * used elements instead of failing.
 *
 * The kernel's order of steps is kept because it is observable: an update takes a free node
 * (possibly evicting) *before* it looks at the flags, so even an update that then fails with
 * EEXIST, or one that replaces an existing key, can evict another element. A program's
 * lookup sets the element's ref bit; a host lookup does not (lookup_elem_sys_only).
 */
import { Errno } from './errno.js';
import { BPF_EXIST, MapFlag } from './flags.js';
import { checkUpdateFlags, HtabMap } from './hash.js';
import { BpfLru } from './lru-list.js';
import { type MapInfo, type MapValue, round8 } from './map.js';
import type { MapRegistry } from './registry.js';

/** htab_map_alloc: with BPF_F_NO_COMMON_LRU, max_entries becomes a multiple of the CPUs. */
export function lruMaxEntries(maxEntries: number, flags: number, cpus: number): number {
  if (!(flags & MapFlag.NO_COMMON_LRU)) return maxEntries;
  const up = Math.ceil(maxEntries / cpus) * cpus;
  return up > 0xffffffff ? Math.floor(maxEntries / cpus) * cpus : up;
}

abstract class LruHtab extends HtabMap {
  protected readonly lru: BpfLru;

  constructor(registry: MapRegistry, info: Omit<MapInfo, 'id'>, valueBytes: number) {
    super(registry, info, info.maxEntries, valueBytes);
    this.lru = new BpfLru(info.maxEntries, registry.cpus, (info.flags & MapFlag.NO_COMMON_LRU) !== 0, (node) => {
      // htab_lru_map_delete_node: unlink the victim if it is still in the table.
      if (!this.table.linked(node)) return false;
      this.table.remove(node);
      this.dropFields(node);
      return true;
    });
  }

  /** prealloc_lru_pop: a node for `key` with memory, or -1 (ENOMEM). */
  protected popNode(key: Uint8Array): number {
    const node = this.lru.popFree(this.registry.cpu);
    if (node < 0) return -1;
    if (!this.store.ensure(node)) {
      this.lru.pushFree(node);
      return -1;
    }
    this.store.setKey(node, key);
    return node;
  }

  protected override freeSlot(slot: number): void {
    this.lru.pushFree(slot);
  }

  /** The element of `key`, marking it used when a program looks it up. */
  protected findElem(key: Uint8Array, mark: boolean): number {
    const s = this.table.find(key, this.table.hashOf(key));
    if (s >= 0 && mark) this.lru.setRef(s);
    return s;
  }
}

/** BPF_MAP_TYPE_LRU_HASH. */
export class LruHashMap extends LruHtab {
  constructor(registry: MapRegistry, info: Omit<MapInfo, 'id'>) {
    super(registry, info, info.valueSize);
  }

  /** Address of the value of `key`, or 0, without marking the element used (for the VM's own bookkeeping). */
  valueAddress(key: Uint8Array): number {
    const s = this.findElem(key, false);
    return s < 0 ? 0 : this.store.valueAddress(s);
  }

  override programLookup(key: Uint8Array): number {
    const s = this.findElem(key, true);
    return s < 0 ? 0 : this.store.valueAddress(s);
  }

  override programUpdate(key: Uint8Array, value: Uint8Array, flags: bigint): number {
    return this.updateElem(key, value, flags);
  }

  protected sysUpdate(key: Uint8Array | undefined, value: MapValue, flags: bigint): number {
    return this.updateElem(key!, value as Uint8Array, flags);
  }

  /** htab_lru_map_update_elem. */
  protected updateElem(key: Uint8Array, value: Uint8Array, flags: bigint): number {
    if (flags > BPF_EXIST) return -Errno.EINVAL;
    const hash = this.table.hashOf(key);
    const node = this.popNode(key);
    if (node < 0) return -Errno.ENOMEM;
    this.registry.memory.bytes.set(value.subarray(0, this.valueSize), this.store.valueAddress(node));
    this.dropFields(node);
    const old = this.table.find(key, hash);
    const err = checkUpdateFlags(old >= 0, flags);
    if (err) {
      this.lru.pushFree(node);
      return err;
    }
    this.table.addHead(node, hash);
    if (old >= 0) {
      this.lru.setRef(node);
      this.table.remove(old);
      this.dropFields(old);
      this.lru.pushFree(old);
    }
    return 0;
  }

  protected readValue(slot: number): MapValue {
    const at = this.store.valueAddress(slot);
    return this.registry.memory.bytes.slice(at, at + this.valueSize);
  }
}

/** BPF_MAP_TYPE_LRU_PERCPU_HASH. */
export class LruPercpuHashMap extends LruHtab {
  override readonly perCpu = true;
  protected readonly stride: number;

  constructor(registry: MapRegistry, info: Omit<MapInfo, 'id'>) {
    super(registry, info, round8(info.valueSize) * registry.cpus);
    this.stride = round8(info.valueSize);
  }

  /** Address of this CPU's value of `key`, or 0, without marking the element used. */
  valueAddress(key: Uint8Array): number {
    const s = this.findElem(key, false);
    return s < 0 ? 0 : this.store.valueAddress(s) + this.registry.cpu * this.stride;
  }

  override programLookup(key: Uint8Array): number {
    const s = this.findElem(key, true);
    return s < 0 ? 0 : this.store.valueAddress(s) + this.registry.cpu * this.stride;
  }

  override programLookupPercpu(key: Uint8Array, cpu: number): number {
    if (cpu >= this.registry.cpus) return 0;
    const s = this.findElem(key, true);
    return s < 0 ? 0 : this.store.valueAddress(s) + cpu * this.stride;
  }

  override programUpdate(key: Uint8Array, value: Uint8Array, flags: bigint): number {
    return this.updateElem(key, value, flags);
  }

  protected sysUpdate(key: Uint8Array | undefined, value: MapValue, flags: bigint): number {
    return this.updateElem(key!, value, flags);
  }

  /** __htab_lru_percpu_map_update_elem: updates in place; only BPF_EXIST skips taking a node. */
  protected updateElem(key: Uint8Array, value: MapValue, flags: bigint): number {
    if (flags > BPF_EXIST) return -Errno.EINVAL;
    const hash = this.table.hashOf(key);
    let node = -1;
    if (flags !== BPF_EXIST) {
      node = this.popNode(key);
      if (node < 0) return -Errno.ENOMEM;
    }
    const old = this.table.find(key, hash);
    const err = checkUpdateFlags(old >= 0, flags);
    if (!err) {
      if (old >= 0) {
        this.lru.setRef(old);
        this.copyValue(old, value, false);
      } else {
        this.copyValue(node, value, true);
        this.table.addHead(node, hash);
        node = -1;
      }
    }
    if (node >= 0) this.lru.pushFree(node);
    return err;
  }

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
    if (init) bytes.fill(0, base, base + this.registry.cpus * this.stride);
    bytes.set(value.subarray(0, this.valueSize), base + this.registry.cpu * this.stride);
  }

  protected readValue(slot: number): MapValue {
    const bytes = this.registry.memory.bytes;
    const base = this.store.valueAddress(slot);
    const out: Uint8Array[] = [];
    for (let cpu = 0; cpu < this.registry.cpus; cpu++) out.push(bytes.slice(base + cpu * this.stride, base + cpu * this.stride + this.valueSize));
    return out;
  }
}
