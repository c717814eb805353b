/**
 * Maps of plain JavaScript values: a {@link KernelMap} seen through a codec that turns keys and
 * values into the kernel's bytes and back. With BTF the codec comes from the map's key and value
 * types (`src/btf` codec); any object with the four functions works.
 */
import { createMap, type CreateMapOptions, type KernelMap } from './map.js';
import { joinPerCpu, splitPerCpu } from './map-percpu.js';
import { mapTypeName, UpdateFlag } from './map-types.js';

/** Bytes ⇄ values for one map's keys and (one CPU's) values. */
export interface MapCodec<K, V> {
  encodeKey(key: K): Uint8Array;
  decodeKey(bytes: Uint8Array): K;
  encodeValue(value: V): Uint8Array;
  decodeValue(bytes: Uint8Array): V;
}

/**
 * A map whose keys and values are JavaScript values (`get/set/delete/keys/entries`, like a
 * `Map`). For per-CPU maps (from {@link perCpuTypedMap}) a value is an array with one element
 * per possible CPU.
 */
export class TypedMap<K, V> implements Disposable, Iterable<[K, V]> {
  readonly map: KernelMap;
  readonly #codec: MapCodec<K, V>;
  readonly #owns: boolean;

  /** `codec` here converts whole values (per-CPU arrays included); see {@link typedMap}. */
  constructor(map: KernelMap, codec: MapCodec<K, V>, options: { owns?: boolean } = {}) {
    this.map = map;
    this.#codec = codec;
    this.#owns = options.owns ?? false;
  }

  /** The value at `key`, or undefined. */
  get(key: K): V | undefined {
    const bytes = this.map.lookup(this.#codec.encodeKey(key));
    return bytes && this.#codec.decodeValue(bytes);
  }

  /** Whether `key` is in the map. */
  has(key: K): boolean {
    return this.map.lookup(this.#codec.encodeKey(key)) !== undefined;
  }

  /** Sets `key` to `value` (`flags`: `UpdateFlag.*`, ANY by default). Returns this, as `Map.set`. */
  set(key: K, value: V, flags: number = UpdateFlag.ANY): this {
    this.map.update(this.#codec.encodeKey(key), this.#codec.encodeValue(value), flags);
    return this;
  }

  /** Deletes `key`; false when it was not there. */
  delete(key: K): boolean {
    return this.map.delete(this.#codec.encodeKey(key));
  }

  *keys(): Generator<K, void, undefined> {
    for (const key of this.map.keys()) yield this.#codec.decodeKey(key);
  }

  *values(): Generator<V, void, undefined> {
    for (const [, value] of this.map.entries()) yield this.#codec.decodeValue(value);
  }

  /** Every `[key, value]`, batch by batch where the kernel can. */
  *entries(): Generator<[K, V], void, undefined> {
    for (const [key, value] of this.map.batchEntries()) yield [this.#codec.decodeKey(key), this.#codec.decodeValue(value)];
  }

  [Symbol.iterator](): Iterator<[K, V]> {
    return this.entries();
  }

  /** Closes the underlying map if this view owns it (from {@link createTypedMap}). */
  close(): void {
    if (this.#owns) this.map.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** `map` (not per-CPU) through `codec`. */
export function typedMap<K, V>(map: KernelMap, codec: MapCodec<K, V>): TypedMap<K, V> {
  if (map.perCpu) throw new TypeError(`map '${map.name}' (${mapTypeName(map.type)}) is per-CPU: use perCpuTypedMap`);
  return new TypedMap(map, codec);
}

/** A per-CPU `map` through `codec` (which converts one CPU's value): values are arrays, one element per possible CPU. */
export function perCpuTypedMap<K, V>(map: KernelMap, codec: MapCodec<K, V>): TypedMap<K, V[]> {
  if (!map.perCpu) throw new TypeError(`map '${map.name}' (${mapTypeName(map.type)}) is not per-CPU: use typedMap`);
  return new TypedMap<K, V[]>(map, perCpuCodec(codec, map.valueSize));
}

/** An element codec lifted to whole per-CPU values. */
export function perCpuCodec<K, V>(codec: MapCodec<K, V>, valueSize: number): MapCodec<K, V[]> {
  return {
    encodeKey: (key) => codec.encodeKey(key),
    decodeKey: (bytes) => codec.decodeKey(bytes),
    encodeValue: (values) => joinPerCpu(values.map((v) => codec.encodeValue(v)), valueSize),
    decodeValue: (bytes) => splitPerCpu(bytes, valueSize).map((b) => codec.decodeValue(b)),
  };
}

/**
 * Creates a map and returns it as a {@link TypedMap} that owns it (closing the view closes the
 * map). Per-CPU types give arrays of values.
 *
 * @example
 * using counts = createTypedMap({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 64, codec: u32u64 });
 * counts.set(7, 1n);
 */
export function createTypedMap<K, V>(options: CreateMapOptions & { codec: MapCodec<K, V> }): TypedMap<K, V> {
  const map = createMap(options);
  if (map.perCpu) {
    map.close();
    throw new TypeError(`createTypedMap: ${mapTypeName(options.type)} is per-CPU: use createPerCpuTypedMap`);
  }
  return new TypedMap(map, options.codec, { owns: true });
}

/** As {@link createTypedMap} for per-CPU map types: values are arrays, one element per possible CPU. */
export function createPerCpuTypedMap<K, V>(options: CreateMapOptions & { codec: MapCodec<K, V> }): TypedMap<K, V[]> {
  const map = createMap(options);
  if (!map.perCpu) {
    map.close();
    throw new TypeError(`createPerCpuTypedMap: ${mapTypeName(options.type)} is not per-CPU`);
  }
  return new TypedMap<K, V[]>(map, perCpuCodec(options.codec, map.valueSize), { owns: true });
}
