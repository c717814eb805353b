/**
 * BPF_MAP_TYPE_CGROUP_STORAGE and BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE (kernel/bpf/local_storage.c):
 * one value per (cgroup, attach type) a program using the map is attached to, which the
 * program reaches with bpf_get_local_storage. Keys are `struct bpf_cgroup_storage_key
 * { u64 cgroup_inode_id; u32 attach_type; }` (key_size 16: a storage per attach type) or a
 * `u64` cgroup id (key_size 8: one storage per cgroup, shared by its attach types).
 *
 * The kernel creates a storage when a program is attached to a cgroup; the host cannot create
 * or delete one (updates of a missing key are ENOENT, deletes EINVAL). In the VM {@link attach}
 * is that attach; bpf_get_local_storage also attaches on first use for the cgroup the VM runs
 * in (`VmHost.cgroup`). get_next_key walks the storages newest first, as the kernel's list.
 */
import type { Region } from '../memory.js';
import { Errno } from './errno.js';
import { BPF_ANY, BPF_EXIST, BPF_F_LOCK } from './flags.js';
import { BaseMap, type MapInfo, type MapValue, round8 } from './map.js';
import type { MapRegistry } from './registry.js';
import { tryAlloc } from './slots.js';

/** sizeof(struct bpf_cgroup_storage_key). */
export const CGROUP_STORAGE_KEY_SIZE = 16;

/** One storage: its key fields and its value(s) in linear memory. */
export interface CgroupStorage {
  readonly cgroupId: bigint;
  readonly attachType: number;
  /** The value; per-CPU maps: `round_up(value_size, 8)` per CPU. */
  readonly region: Region;
}

/** The key bytes of a storage, as get_next_key writes them. */
export function cgroupStorageKey(cgroupId: bigint, attachType: number, keySize: number): Uint8Array {
  const key = new Uint8Array(keySize);
  const v = new DataView(key.buffer);
  v.setBigUint64(0, BigInt.asUintN(64, cgroupId), true);
  if (keySize === CGROUP_STORAGE_KEY_SIZE) v.setUint32(8, attachType >>> 0, true);
  return key;
}

/** Both cgroup storage types. */
export class CgroupStorageMap extends BaseMap {
  /** Storages, newest first (the kernel's list_add at the head). */
  readonly #list: CgroupStorage[] = [];
  readonly #stride: number;

  constructor(registry: MapRegistry, info: Omit<MapInfo, 'id'>, perCpu: boolean) {
    super(registry, info);
    this.perCpu = perCpu;
    this.#stride = round8(info.valueSize);
  }

  override readonly perCpu: boolean;

  /** Whether keys carry the attach type (attach_type_isolated). */
  get isolated(): boolean {
    return this.keySize === CGROUP_STORAGE_KEY_SIZE;
  }

  /** cgroup_storage_lookup: by cgroup id, and by attach type when isolated. */
  find(cgroupId: bigint, attachType: number): CgroupStorage | undefined {
    return this.#list.find((s) => s.cgroupId === cgroupId && (!this.isolated || s.attachType === attachType >>> 0));
  }

  #findKey(key: Uint8Array): CgroupStorage | undefined {
    const v = new DataView(key.buffer, key.byteOffset, key.byteLength);
    return this.find(v.getBigUint64(0, true), this.isolated ? v.getUint32(8, true) : 0);
  }

  /**
   * What attaching a program that uses this map to cgroup `cgroupId` with `attachType` does
   * (bpf_cgroup_storages_alloc + link): the storage for that key, made zeroed if there is none.
   * Throws RangeError when the memory cannot hold it.
   */
  attach(cgroupId: bigint, attachType: number): CgroupStorage {
    this.checkOpen();
    const found = this.find(cgroupId, attachType);
    if (found !== undefined) return found;
    const size = this.#stride * (this.perCpu ? this.registry.cpus : 1);
    const region = tryAlloc(this.registry.memory, size, {
      kind: 'map_value', name: `map '${this.name}' cgroup ${cgroupId}`, writable: (this.flags & 0x80) === 0,
    });
    if (region === undefined) throw new RangeError(`no memory for the cgroup storage of map '${this.name}'`);
    const storage = { cgroupId, attachType: attachType >>> 0, region };
    this.#list.unshift(storage);
    return storage;
  }

  /** What detaching the last program of that cgroup does: the storage goes. */
  detach(cgroupId: bigint, attachType: number): boolean {
    const s = this.find(cgroupId, attachType);
    if (s === undefined) return false;
    this.#list.splice(this.#list.indexOf(s), 1);
    this.registry.memory.release(s.region);
    return true;
  }

  /** Address of `storage`'s value on `cpu` (bpf_get_local_storage's result). */
  valueAddress(storage: CgroupStorage, cpu = this.registry.cpu): number {
    return storage.region.start + (this.perCpu ? cpu * this.#stride : 0);
  }

  protected sysLookup(key: Uint8Array | undefined): MapValue | number {
    const s = this.#findKey(key!);
    if (s === undefined) return -Errno.ENOENT;
    const bytes = this.registry.memory.bytes;
    if (!this.perCpu) return bytes.slice(s.region.start, s.region.start + this.valueSize);
    return Array.from({ length: this.registry.cpus }, (_, cpu) => {
      const at = this.valueAddress(s, cpu);
      return bytes.slice(at, at + this.valueSize);
    });
  }

  /** cgroup_storage_update_elem / bpf_percpu_cgroup_storage_update. */
  protected sysUpdate(key: Uint8Array | undefined, value: MapValue, flags: bigint): number {
    if (this.perCpu ? flags !== BPF_ANY && flags !== BPF_EXIST : (flags & ~(BPF_F_LOCK | BPF_EXIST)) !== 0n) return -Errno.EINVAL;
    const s = this.#findKey(key!);
    if (s === undefined) return -Errno.ENOENT;
    const bytes = this.registry.memory.bytes;
    if (!this.perCpu) {
      bytes.set(value as Uint8Array, s.region.start);
      return 0;
    }
    (value as Uint8Array[]).forEach((v, cpu) => {
      const at = this.valueAddress(s, cpu);
      bytes.set(v, at);
      bytes.fill(0, at + v.length, at + this.#stride);
    });
    return 0;
  }

  /** cgroup_storage_delete_elem. */
  protected sysDelete(): number {
    return -Errno.EINVAL;
  }

  /** cgroup_storage_get_next_key: a key that is not there ends the walk (ENOENT), unlike hashes. */
  protected sysNextKey(key: Uint8Array | undefined): Uint8Array | number {
    if (this.#list.length === 0) return -Errno.ENOENT;
    let next: CgroupStorage | undefined;
    if (key === undefined) {
      next = this.#list[0];
    } else {
      const s = this.#findKey(key);
      if (s === undefined) return -Errno.ENOENT;
      next = this.#list[this.#list.indexOf(s) + 1];
    }
    return next === undefined ? -Errno.ENOENT : cgroupStorageKey(next.cgroupId, next.attachType, this.keySize);
  }

  protected release(): void {
    for (const s of this.#list) this.registry.memory.release(s.region);
    this.#list.length = 0;
  }
}
