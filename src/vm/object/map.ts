/**
 * {@link VmObjectMap}: a map of an object loaded into the VM, with JavaScript keys and values
 * (see map-codec.ts), over the VM map that programs use — what the kernel backend's
 * ObjectMap is over a kernel map.
 */
import type { Btf } from '../../btf/btf.js';
import type { LoadedMap } from '../../object/loaded.js';
import type { MapSpec } from '../../object/spec.js';
import type { MapValue, VmMap } from '../maps/map.js';
import type { VmMapCodec } from './map-codec.js';

/**
 * A map of plain JavaScript values. Keys and values follow the map's BTF (objects for structs,
 * numbers and bigints for integers, strings for char arrays, enumerator names); array-like maps
 * take number indexes; program arrays and maps of maps take a program or map of the object
 * (or its id) and give back its id; maps without BTF take and give Uint8Arrays. Per-CPU values
 * are arrays with one element per CPU. `.map` is the VM map itself, for byte-level access, ring
 * buffers and perf channels.
 *
 * @example
 * obj.maps.counters.set(1, 5n);
 * obj.maps['.data'].get(0);      // { packets: 100n, last_len: 7 }
 */
export class VmObjectMap implements LoadedMap<unknown, unknown> {
  readonly name: string;
  /** The VM map programs use. */
  readonly map: VmMap;
  readonly spec: MapSpec | undefined;
  /** The object's BTF, where the map's types (and its records' types) are. */
  readonly btf: Btf | undefined;
  readonly #codec: VmMapCodec;

  constructor(map: VmMap, codec: VmMapCodec, options: { name: string; spec?: MapSpec; btf?: Btf }) {
    this.map = map;
    this.#codec = codec;
    this.name = options.name;
    this.spec = options.spec;
    this.btf = options.btf;
  }

  /** `MapType.*`. */
  get type(): number {
    return this.map.type;
  }

  get(key: unknown): unknown {
    const value = this.map.lookup(this.#key(key));
    return value === undefined ? undefined : this.#decodeValue(value);
  }

  has(key: unknown): boolean {
    return this.map.lookup(this.#key(key)) !== undefined;
  }

  set(key: unknown, value: unknown, flags = 0): this {
    this.map.update(this.#key(key), this.#encodeValue(value), flags);
    return this;
  }

  delete(key: unknown): boolean {
    return this.map.delete(this.#key(key) ?? new Uint8Array(0));
  }

  *keys(): IterableIterator<unknown> {
    for (const key of this.map.keys()) yield this.#codec.key.decode(key);
  }

  *values(): IterableIterator<unknown> {
    for (const [, value] of this.map.entries()) yield this.#decodeValue(value);
  }

  *entries(): IterableIterator<[unknown, unknown]> {
    for (const [key, value] of this.map.entries()) yield [this.#codec.key.decode(key), this.#decodeValue(value)];
  }

  [Symbol.iterator](): IterableIterator<[unknown, unknown]> {
    return this.entries();
  }

  /** Queues and stacks: pushes `value` (`UpdateFlag.EXIST` overwrites the oldest when full). */
  push(value: unknown, flags = 0): void {
    this.set(undefined, value, flags);
  }

  /** Queues and stacks: removes and returns the next value, or undefined when empty. */
  pop(): unknown {
    const value = this.map.lookupAndDelete();
    return value === undefined ? undefined : this.#decodeValue(value);
  }

  /** Queues and stacks: the next value without removing it. */
  peek(): unknown {
    return this.get(undefined);
  }

  /** Freezes the map: the host can no longer change it (programs still can, unless read-only to them). */
  freeze(): void {
    this.map.freeze();
  }

  #key(key: unknown): Uint8Array | undefined {
    return this.map.keySize === 0 ? undefined : this.#codec.key.encode(key);
  }

  #encodeValue(value: unknown): MapValue {
    if (!this.map.perCpu) return this.#codec.value.encode(value);
    if (!Array.isArray(value)) throw new TypeError(`map '${this.name}' is per-CPU: its value is an array with one element per CPU`);
    return value.map((v) => this.#codec.value.encode(v));
  }

  #decodeValue(value: MapValue): unknown {
    return Array.isArray(value) ? value.map((v) => this.#codec.value.decode(v)) : this.#codec.value.decode(value);
  }
}
