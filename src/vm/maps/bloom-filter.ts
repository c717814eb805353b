/**
 * BPF_MAP_TYPE_BLOOM_FILTER (kernel/bpf/bloom_filter.c): keyless; push sets
 * `nr_hash_funcs` bits of a power-of-two bit array, peek tests them. The bit array size and
 * the hashes (jhash/jhash2 with seed + i) are the kernel's, so with the same seed (the VM
 * uses 0, the kernel too with BPF_F_ZERO_SEED) false positives are the kernel's.
 */
import { Errno } from './errno.js';
import { mapHash } from './jhash.js';
import { BaseMap, type MapInfo, type MapValue } from './map.js';
import type { MapRegistry } from './registry.js';

/** bloom_map_alloc's sizing: the bit mask (bits - 1) for `maxEntries` and `hashes`. */
export function bloomBitsetMask(maxEntries: number, hashes: number): number {
  // nr_bits = max_entries * nr_hash_funcs / ln(2), with 7/5 for 1/ln(2), in u32 arithmetic.
  const product = maxEntries * hashes;
  const bits = product > 0xffffffff ? Infinity : Math.floor(product / 5) * 7;
  if (bits > 0xffffffff || bits > 2 ** 31) return 0xffffffff;
  if (bits <= 64) return 63;
  return 2 ** (32 - Math.clz32(bits - 1)) - 1;
}

/** BPF_MAP_TYPE_BLOOM_FILTER: {@link add} values, test them with {@link has}. */
export class BloomFilterMap extends BaseMap {
  readonly hashes: number;
  readonly seed = 0;
  /** bitset_mask: the number of bits - 1. */
  readonly bitsetMask: number;
  readonly #bits: Uint8Array;

  /** Throws RangeError when the bit array cannot be allocated (the caller answers ENOMEM). */
  constructor(registry: MapRegistry, info: Omit<MapInfo, 'id'>) {
    super(registry, info);
    this.hashes = Number(info.mapExtra & 0xfn) || 5;
    this.bitsetMask = bloomBitsetMask(info.maxEntries, this.hashes);
    this.#bits = this.allocating(() => new Uint8Array(Math.ceil((this.bitsetMask + 1) / 64) * 8));
  }

  #hash(value: Uint8Array, i: number): number {
    return (mapHash(value, this.valueSize, (this.seed + i) | 0) & this.bitsetMask) >>> 0;
  }

  /** bloom_map_peek_elem: 0 when every bit is set ("maybe present"), else -ENOENT. */
  #peek(value: Uint8Array): number {
    for (let i = 0; i < this.hashes; i++) {
      const h = this.#hash(value, i);
      if (!(this.#bits[h >>> 3]! & (1 << (h & 7)))) return -Errno.ENOENT;
    }
    return 0;
  }

  /** bloom_map_push_elem. */
  #push(value: Uint8Array, flags: bigint): number {
    if (flags !== 0n) return -Errno.EINVAL;
    for (let i = 0; i < this.hashes; i++) {
      const h = this.#hash(value, i);
      this.#bits[h >>> 3]! |= 1 << (h & 7);
    }
    return 0;
  }

  /** Adds `value`. */
  add(value: Uint8Array): void {
    this.update(undefined, value);
  }

  /** Whether `value` may have been added (false means certainly not). */
  has(value: Uint8Array): boolean {
    this.checkOpen();
    if (value.length !== this.valueSize) throw new RangeError(`${this.label}: value of ${value.length} bytes, the map's values have ${this.valueSize}`);
    return this.#peek(value) === 0;
  }

  override programPush(value: Uint8Array, flags: bigint): number {
    return this.#push(value, flags);
  }

  override programPeek(value: Uint8Array): number {
    return this.#peek(value);
  }

  override programPop(): number {
    return -Errno.EOPNOTSUPP;
  }

  /** A host lookup needs the value, not a key: use {@link has}. */
  protected sysLookup(): MapValue | number {
    return -Errno.EINVAL;
  }

  protected sysUpdate(_key: Uint8Array | undefined, value: MapValue, flags: bigint): number {
    return this.#push(value as Uint8Array, flags);
  }

  protected sysDelete(): number {
    return -Errno.EOPNOTSUPP;
  }

  protected sysNextKey(): Uint8Array | number {
    return -Errno.EOPNOTSUPP;
  }

  protected release(): void {}
}
