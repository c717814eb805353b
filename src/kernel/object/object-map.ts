/**
 * {@link ObjectMap}: a map of a loaded object (or one opened by id or pin) with JavaScript keys
 * and values — `get/set/delete/has/keys/values/entries` — decoded through its BTF types
 * (see map-codec.ts). Per-CPU values are arrays with one element per possible CPU.
 */
import type { Btf } from '../../btf/btf.js';
import type { MapSpec } from '../../object/spec.js';
import type { MapInfo } from '../info.js';
import type { KernelMap } from '../map.js';
import { perCpuCodec, TypedMap, type MapCodec } from '../map-typed.js';
import { UpdateFlag } from '../map-types.js';
import { mapCodec, type MapShape } from './map-codec.js';

/** How an {@link ObjectMap} came to be. */
export interface ObjectMapOptions {
  /** The name to know it by (the spec's name; the kernel keeps only 15 characters). */
  readonly name: string;
  readonly spec?: MapSpec;
  /** The BTF its key and value type ids refer to. */
  readonly btf?: Btf;
  /** Key and value BTF type ids the map was created with (0: none). */
  readonly keyTypeId: number;
  readonly valueTypeId: number;
  /** Close the kernel map when this handle closes (standalone handles); objects close their own. */
  readonly owns: boolean;
  /** The loaded object it belongs to: kept alive while the handle is reachable. */
  readonly owner?: object;
  /** Where it is pinned, when it is. */
  readonly pinnedPath?: string;
  /** Whether it was an existing pinned map, reused rather than created. */
  readonly reused?: boolean;
}

/**
 * A map of plain JavaScript values. Keys and values follow the map's BTF (objects for structs,
 * numbers and bigints for integers, strings for char arrays, enumerator names); array-like
 * maps take number indexes; program arrays and maps of maps take a program or map (or fd) and
 * give back its id; maps without BTF take and give Uint8Arrays. `.map` is the raw
 * {@link KernelMap} for byte-level and batch access.
 *
 * @example
 * const counts = obj.maps.counters;        // BPF_MAP_TYPE_ARRAY of __u64
 * counts.set(1, 5n);
 * counts.get(1);                           // 5n
 * obj.maps['.rodata'].get(0);              // { target_pid: 0, enabled: true, … }
 */
export class ObjectMap extends TypedMap<unknown, unknown> {
  readonly name: string;
  readonly spec: MapSpec | undefined;
  readonly btf: Btf | undefined;
  readonly keyTypeId: number;
  readonly valueTypeId: number;
  /** Whether an existing pinned map was reused. */
  readonly reused: boolean;
  readonly owner: object | undefined;
  #pinnedPath: string | undefined;
  readonly #codec: MapCodec<unknown, unknown>;

  constructor(map: KernelMap, options: ObjectMapOptions) {
    const shape: MapShape = {
      type: map.type, keySize: map.keySize, valueSize: map.valueSize, keyTypeId: options.keyTypeId, valueTypeId: options.valueTypeId,
    };
    const element = mapCodec(shape, options.btf);
    const codec = map.perCpu ? perCpuCodec(element, map.valueSize) : element;
    super(map, codec, { owns: options.owns });
    this.#codec = codec;
    this.name = options.name;
    this.spec = options.spec;
    this.btf = options.btf;
    this.keyTypeId = options.keyTypeId;
    this.valueTypeId = options.valueTypeId;
    this.reused = options.reused ?? false;
    this.owner = options.owner;
    this.#pinnedPath = options.pinnedPath;
  }

  get fd(): number {
    return this.map.fd;
  }

  /** The kernel's id of the map. */
  get id(): number {
    return this.map.id;
  }

  /** `MapType.*`. */
  get type(): number {
    return this.map.type;
  }

  /** Where the map is pinned (by its `pinning` attribute or {@link pin}), if anywhere. */
  get pinnedPath(): string | undefined {
    return this.#pinnedPath;
  }

  /** The kernel's current info about the map. */
  info(): MapInfo {
    return this.map.refreshInfo();
  }

  /** Pins the map at `path` in a bpffs mount. */
  pin(path: string): void {
    this.map.pin(path);
    this.#pinnedPath = path;
  }

  /** Freezes the map: the syscall side can no longer change it. */
  freeze(): void {
    this.map.freeze();
  }

  /** Queues and stacks: pushes `value` (`UpdateFlag.EXIST` overwrites the oldest when full). */
  push(value: unknown, flags: number = UpdateFlag.ANY): void {
    this.set(undefined, value, flags);
  }

  /** Queues and stacks: removes and returns the next value, or undefined when empty. */
  pop(): unknown {
    const bytes = this.map.pop();
    return bytes && this.#codec.decodeValue(bytes);
  }

  /** Queues and stacks: the next value without removing it. */
  peek(): unknown {
    return this.get(undefined);
  }

  /** The codec between this map's bytes and JavaScript values. */
  get codec(): MapCodec<unknown, unknown> {
    return this.#codec;
  }
}
