/**
 * BPF_MAP_TYPE_DEVMAP and BPF_MAP_TYPE_DEVMAP_HASH (kernel/bpf/devmap.c): network devices for
 * bpf_redirect_map. A value is `struct bpf_devmap_val` — `u32 ifindex` (value_size 4) or
 * `{ u32 ifindex; int bpf_prog.fd }` (value_size 8, a BPF_XDP_DEVMAP program to run on the
 * frames sent there; reads give the program's id instead). Devices are the ifindexes of the
 * registry's {@link MapEnvironment} (the kernel resolves them in the caller's network
 * namespace); programs are ids of `MapRegistry.registerProgram`.
 *
 * DEVMAP is an array (updates with BPF_NOEXIST fail, ifindex 0 empties a slot, deletes always
 * succeed); DEVMAP_HASH hashes the key itself (no jhash: bucket = key & (n_buckets - 1)) with
 * new elements at the head of their bucket. Programs may only look entries up (a read-only
 * `struct bpf_devmap_val`; the kernel adds BPF_F_RDONLY_PROG at creation) and redirect to them.
 */
import type { Region } from '../memory.js';
import { mapEnvironment, findDevice, type VmDevice } from './environment.js';
import { Errno } from './errno.js';
import { BPF_EXIST, BPF_NOEXIST } from './flags.js';
import { arrayNextKey } from './array.js';
import { roundUpPow2 } from './hash-table.js';
import { BaseMap, type MapInfo, type MapValue, u32, u32Bytes } from './map.js';
import type { MapRegistry } from './registry.js';

/** sizeof(struct bpf_devmap_val) and sizeof(struct bpf_cpumap_val): the value a program's lookup points to. */
export const REDIRECT_VAL_SIZE = 8;

/** One element: the device, its program, and the read-only copy of its value programs see. */
export interface DevmapEntry {
  readonly key: number;
  readonly device: VmDevice;
  /** Registered program id (0 for none) and the handle. */
  readonly programId: number;
  readonly program: unknown;
  readonly region: Region;
}

/**
 * The program a `bpf_prog.fd` value names, or -EINVAL when it names none (kernel:
 * bpf_prog_get_type_dev fails, or the program is not XDP with `expectedAttachType`). Handles
 * that say their type (`{ type, spec: { expectedAttachType } }`) are checked; others are taken.
 */
export function resolveRedirectProgram(registry: MapRegistry, fd: number, expectedAttachType: number): { id: number; program: unknown } | number {
  const program = registry.program(fd);
  if (program === undefined) return -Errno.EINVAL;
  const p = program as { type?: unknown; spec?: { expectedAttachType?: unknown } };
  const XDP = 6;
  if (typeof p.type === 'number' && p.type !== XDP) return -Errno.EINVAL;
  if (typeof p.spec?.expectedAttachType === 'number' && p.spec.expectedAttachType !== expectedAttachType) return -Errno.EINVAL;
  return { id: fd, program };
}

/** What both devmap types share: entries with a read-only value region each. */
abstract class DevmapBase extends BaseMap {
  /** BPF_XDP_DEVMAP (enum bpf_attach_type). */
  static readonly ATTACH_TYPE = 33;

  /** dev_map_lookup_elem's target: the entry of `key`, if any. */
  abstract entry(key: number): DevmapEntry | undefined;
  /** The entries in the order a broadcast visits them (dev_map_enqueue_multi). */
  abstract entriesInOrder(): DevmapEntry[];

  /** __dev_map_alloc_node: the entry for `value`, or -EINVAL (no such device, bad program). */
  protected makeEntry(key: number, value: Uint8Array): DevmapEntry | number {
    const ifindex = u32(value);
    const fd = this.valueSize >= 8 ? u32(value, 4) | 0 : 0;
    const device = findDevice(mapEnvironment(this.registry), ifindex);
    if (device === undefined) return -Errno.EINVAL;
    let programId = 0;
    let program: unknown;
    if (fd > 0) {
      const p = resolveRedirectProgram(this.registry, fd, DevmapBase.ATTACH_TYPE);
      if (typeof p === 'number') return p;
      ({ id: programId, program } = p);
    }
    const init = new Uint8Array(REDIRECT_VAL_SIZE);
    init.set(u32Bytes(ifindex), 0);
    init.set(u32Bytes(programId), 4);
    const region = this.registry.memory.alloc(REDIRECT_VAL_SIZE, { kind: 'map_value', name: `map '${this.name}' device ${ifindex}`, writable: false, init });
    return { key, device, programId, program, region };
  }

  protected freeEntry(entry: DevmapEntry | undefined): void {
    if (entry !== undefined) this.registry.memory.release(entry.region);
  }

  /** The host's copy of an entry's value: ifindex, then the program id for 8-byte values. */
  protected hostValue(entry: DevmapEntry): Uint8Array {
    const bytes = this.registry.memory.bytes;
    return bytes.slice(entry.region.start, entry.region.start + this.valueSize);
  }

  protected sysLookup(key: Uint8Array | undefined): MapValue | number {
    const entry = this.entry(u32(key!));
    return entry === undefined ? -Errno.ENOENT : this.hostValue(entry);
  }

  override programLookup(key: Uint8Array): number {
    return this.entry(u32(key))?.region.start ?? 0;
  }
}

/** BPF_MAP_TYPE_DEVMAP. */
export class DevMap extends DevmapBase {
  readonly #slots = new Map<number, DevmapEntry>();

  constructor(registry: MapRegistry, info: Omit<MapInfo, 'id'>) {
    super(registry, info);
  }

  entry(key: number): DevmapEntry | undefined {
    return key >>> 0 < this.maxEntries ? this.#slots.get(key >>> 0) : undefined;
  }

  entriesInOrder(): DevmapEntry[] {
    return [...this.#slots.values()].sort((a, b) => a.key - b.key);
  }

  /** __dev_map_update_elem. */
  protected sysUpdate(key: Uint8Array | undefined, value: MapValue, flags: bigint): number {
    const index = u32(key!);
    const v = value as Uint8Array;
    if (flags > BPF_EXIST) return -Errno.EINVAL;
    if (index >= this.maxEntries) return -Errno.E2BIG;
    if (flags === BPF_NOEXIST) return -Errno.EEXIST;
    let entry: DevmapEntry | undefined;
    if (u32(v) === 0) {
      // No device: the slot is emptied; a program fd with it is refused.
      if (this.valueSize >= 8 && (u32(v, 4) | 0) > 0) return -Errno.EINVAL;
    } else {
      const made = this.makeEntry(index, v);
      if (typeof made === 'number') return made;
      entry = made;
    }
    this.freeEntry(this.#slots.get(index));
    if (entry === undefined) this.#slots.delete(index);
    else this.#slots.set(index, entry);
    return 0;
  }

  /** dev_map_delete_elem: any index in range, present or not. */
  protected sysDelete(key: Uint8Array | undefined): number {
    const index = u32(key!);
    if (index >= this.maxEntries) return -Errno.EINVAL;
    this.freeEntry(this.#slots.get(index));
    this.#slots.delete(index);
    return 0;
  }

  protected sysNextKey(key: Uint8Array | undefined): Uint8Array | number {
    return arrayNextKey(key, this.maxEntries);
  }

  protected release(): void {
    for (const e of this.#slots.values()) this.freeEntry(e);
    this.#slots.clear();
  }
}

/** BPF_MAP_TYPE_DEVMAP_HASH. */
export class DevMapHash extends DevmapBase {
  readonly nBuckets: number;
  /** Bucket → its entries, head first. */
  readonly #buckets = new Map<number, DevmapEntry[]>();
  #items = 0;

  constructor(registry: MapRegistry, info: Omit<MapInfo, 'id'>) {
    super(registry, info);
    this.nBuckets = roundUpPow2(info.maxEntries);
  }

  #bucket(key: number): number {
    return (key >>> 0) & (this.nBuckets - 1);
  }

  entry(key: number): DevmapEntry | undefined {
    return this.#buckets.get(this.#bucket(key))?.find((e) => e.key === key >>> 0);
  }

  entriesInOrder(): DevmapEntry[] {
    return [...this.#buckets.keys()].sort((a, b) => a - b).flatMap((b) => this.#buckets.get(b)!);
  }

  #unlink(entry: DevmapEntry): void {
    const b = this.#bucket(entry.key);
    const list = this.#buckets.get(b)!;
    list.splice(list.indexOf(entry), 1);
    if (list.length === 0) this.#buckets.delete(b);
    this.freeEntry(entry);
  }

  /** __dev_map_hash_update_elem: BPF_EXIST does not require the key (the kernel does not check it). */
  protected sysUpdate(key: Uint8Array | undefined, value: MapValue, flags: bigint): number {
    const index = u32(key!);
    const v = value as Uint8Array;
    if (flags > BPF_EXIST || u32(v) === 0) return -Errno.EINVAL;
    const old = this.entry(index);
    if (old !== undefined && flags & BPF_NOEXIST) return -Errno.EEXIST;
    const made = this.makeEntry(index, v);
    if (typeof made === 'number') return made;
    if (old !== undefined) {
      this.#unlink(old);
    } else {
      if (this.#items >= this.maxEntries) {
        this.freeEntry(made);
        return -Errno.E2BIG;
      }
      this.#items++;
    }
    const b = this.#bucket(index);
    const list = this.#buckets.get(b);
    if (list === undefined) this.#buckets.set(b, [made]);
    else list.unshift(made);
    return 0;
  }

  protected sysDelete(key: Uint8Array | undefined): number {
    const old = this.entry(u32(key!));
    if (old === undefined) return -Errno.ENOENT;
    this.#unlink(old);
    this.#items--;
    return 0;
  }

  /** dev_map_hash_get_next_key: the next entry of the key's bucket, else the first of the following buckets. */
  protected sysNextKey(key: Uint8Array | undefined): Uint8Array | number {
    let from = 0;
    if (key !== undefined) {
      const index = u32(key);
      const e = this.entry(index);
      if (e !== undefined) {
        const list = this.#buckets.get(this.#bucket(index))!;
        const next = list[list.indexOf(e) + 1];
        if (next !== undefined) return u32Bytes(next.key);
        from = this.#bucket(index) + 1;
      }
    }
    let best = -1;
    for (const b of this.#buckets.keys()) if (b >= from && (best < 0 || b < best)) best = b;
    return best < 0 ? -Errno.ENOENT : u32Bytes(this.#buckets.get(best)![0]!.key);
  }

  protected release(): void {
    for (const list of this.#buckets.values()) for (const e of list) this.freeEntry(e);
    this.#buckets.clear();
    this.#items = 0;
  }
}
