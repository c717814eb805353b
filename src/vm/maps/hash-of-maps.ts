/**
 * BPF_MAP_TYPE_HASH_OF_MAPS: a hash (same buckets, flags and errors as HASH) whose 4-byte
 * values are inner map ids on the host side (the kernel's fds in, ids out); a program's
 * lookup returns the inner map's pointer.
 */
import { Errno } from './errno.js';
import { resolveInner } from './fd-array.js';
import { HashMap } from './hash.js';
import { type MapInfo, type MapValue, type VmMap, u32, u32Bytes } from './map.js';
import type { MapRegistry } from './registry.js';

export class HashOfMapsMap extends HashMap {
  readonly innerMeta: VmMap;

  constructor(registry: MapRegistry, info: Omit<MapInfo, 'id'>, innerMeta: VmMap) {
    super(registry, info);
    this.innerMeta = innerMeta;
  }

  /** bpf_fd_htab_map_update_elem: resolve the id first (EBADF, EINVAL), then a hash update. */
  protected override sysUpdate(key: Uint8Array | undefined, value: MapValue, flags: bigint): number {
    const inner = resolveInner(this.registry, this.innerMeta, u32(value as Uint8Array));
    if (typeof inner === 'number') return inner;
    return this.updateElem(key!, u32Bytes(inner.id), flags);
  }

  /** Stores `inner` under `key`; throws MapError as an update would. */
  set(key: Uint8Array, inner: VmMap, flags = 0): void {
    this.update(key, u32Bytes(inner.id), flags);
  }

  /** The inner map under `key`. */
  inner(key: Uint8Array): VmMap | undefined {
    const at = this.valueAddress(key);
    return at === 0 ? undefined : this.registry.byId(this.registry.memory.view.getUint32(at, true));
  }

  override programLookup(key: Uint8Array): number {
    const inner = this.inner(key);
    return inner?.open ? inner.address : 0;
  }

  /** Programs may only look up a map-of-maps (the verifier refuses the rest). */
  override programUpdate(): number {
    return -Errno.EINVAL;
  }

  override programDelete(): number {
    return -Errno.EINVAL;
  }
}
