/**
 * The kernel's "fd arrays" — arrays whose values are references to other objects, set from
 * the host by fd and never written by programs (kernel/bpf/arraymap.c fd_array_*):
 * BPF_MAP_TYPE_PROG_ARRAY (programs, for tail calls) and BPF_MAP_TYPE_ARRAY_OF_MAPS (inner
 * maps). In the VM a host value is the u32 id of a program registered with
 * `MapRegistry.registerProgram` or of a map, standing in for the fd on update and the id
 * the kernel returns on lookup.
 */
import { Errno } from './errno.js';
import { MapType } from './flags.js';
import { arrayNextKey } from './array.js';
import { BaseMap, type MapInfo, type MapValue, type VmMap, u32, u32Bytes } from './map.js';
import type { MapRegistry } from './registry.js';

/** What BPF_MAP_UPDATE_ELEM on an fd array does with a value, by map type. */
export abstract class FdArrayMap<T> extends BaseMap {
  protected readonly slots: Array<T | undefined>;

  constructor(registry: MapRegistry, info: Omit<MapInfo, 'id'>) {
    super(registry, info);
    this.slots = new Array<T | undefined>(info.maxEntries);
  }

  /** The object for a host value id, or -errno (EBADF unknown, EINVAL incompatible). */
  protected abstract resolve(id: number): T | number;
  /** The id a host lookup returns for an object. */
  protected abstract idOf(entry: T): number;

  /** bpf_fd_array_map_update_elem. */
  protected sysUpdate(key: Uint8Array | undefined, value: MapValue, flags: bigint): number {
    if (flags !== 0n) return -Errno.EINVAL;
    const index = u32(key!);
    if (index >= this.maxEntries) return -Errno.E2BIG;
    const entry = this.resolve(u32(value as Uint8Array));
    if (typeof entry === 'number') return entry;
    this.slots[index] = entry;
    return 0;
  }

  /** bpf_fd_array_map_lookup_elem. */
  protected sysLookup(key: Uint8Array | undefined): MapValue | number {
    const index = u32(key!);
    const entry = index < this.maxEntries ? this.slots[index] : undefined;
    return entry === undefined ? -Errno.ENOENT : u32Bytes(this.idOf(entry));
  }

  /** fd_array_map_delete_elem. */
  protected sysDelete(key: Uint8Array | undefined): number {
    const index = u32(key!);
    if (index >= this.maxEntries) return -Errno.E2BIG;
    if (this.slots[index] === undefined) return -Errno.ENOENT;
    this.slots[index] = undefined;
    return 0;
  }

  protected sysNextKey(key: Uint8Array | undefined): Uint8Array | number {
    return arrayNextKey(key, this.maxEntries);
  }

  protected override get hostValueSize(): number {
    return 4;
  }

  protected release(): void {
    this.slots.fill(undefined);
  }
}

/** BPF_MAP_TYPE_PROG_ARRAY: program handles for bpf_tail_call. */
export class ProgArrayMap extends FdArrayMap<{ id: number; program: unknown }> {
  constructor(registry: MapRegistry, info: Omit<MapInfo, 'id'>) {
    super(registry, info);
  }

  protected resolve(id: number): { id: number; program: unknown } | number {
    const program = this.registry.program(id);
    return program === undefined ? -Errno.EBADF : { id, program };
  }

  protected idOf(entry: { id: number }): number {
    return entry.id;
  }

  /** Puts `program` at `index` (registering it); throws MapError as an update would. */
  set(index: number, program: unknown): void {
    this.update(u32Bytes(index), u32Bytes(this.registry.registerProgram(program)));
  }

  /** The program at `index`, or undefined (what a tail call jumps to). */
  program(index: number): unknown {
    return index >>> 0 < this.maxEntries ? this.slots[index >>> 0]?.program : undefined;
  }
}

/**
 * Whether `inner` may be stored in a map-of-maps made with template `meta`
 * (bpf_map_meta_equal; arrays also need equal max_entries unless BPF_F_INNER_MAP).
 */
export function innerMapCompatible(meta: VmMap, inner: VmMap): boolean {
  if (meta.type !== inner.type || meta.keySize !== inner.keySize || meta.valueSize !== inner.valueSize || meta.flags !== inner.flags) return false;
  const array = meta.type === MapType.ARRAY || meta.type === MapType.PERCPU_ARRAY;
  return !array || (meta.flags & 4096) !== 0 || meta.maxEntries === inner.maxEntries;
}

/** Resolves a host value id to an inner map for a map-of-maps with template `meta`. */
export function resolveInner(registry: MapRegistry, meta: VmMap, id: number): VmMap | number {
  const inner = registry.byId(id);
  if (inner === undefined) return -Errno.EBADF;
  return innerMapCompatible(meta, inner) ? inner : -Errno.EINVAL;
}

/** BPF_MAP_TYPE_ARRAY_OF_MAPS: a program's lookup returns the inner map's pointer. */
export class ArrayOfMapsMap extends FdArrayMap<VmMap> {
  readonly innerMeta: VmMap;

  constructor(registry: MapRegistry, info: Omit<MapInfo, 'id'>, innerMeta: VmMap) {
    super(registry, info);
    this.innerMeta = innerMeta;
  }

  protected resolve(id: number): VmMap | number {
    return resolveInner(this.registry, this.innerMeta, id);
  }

  protected idOf(entry: VmMap): number {
    return entry.id;
  }

  /** Puts `inner` at `index`; throws MapError as an update would (EINVAL if incompatible). */
  set(index: number, inner: VmMap): void {
    this.update(u32Bytes(index), u32Bytes(inner.id));
  }

  /** The inner map at `index`. */
  inner(index: number): VmMap | undefined {
    return index >>> 0 < this.maxEntries ? this.slots[index >>> 0] : undefined;
  }

  override programLookup(key: Uint8Array): number {
    const inner = this.inner(u32(key));
    return inner?.open ? inner.address : 0;
  }
}
