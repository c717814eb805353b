/**
 * BPF_MAP_TYPE_QUEUE and BPF_MAP_TYPE_STACK (kernel/bpf/queue_stack_maps.c): keyless maps of
 * `max_entries` values in a ring of `max_entries + 1` slots. Values are copied in and out,
 * never addressed by programs, so they live outside linear memory.
 *
 * Push with BPF_EXIST on a full map overwrites the oldest element; without it a full map
 * answers E2BIG. Pop and peek on an empty map answer ENOENT and zero the output buffer.
 */
import { Errno } from './errno.js';
import { BPF_EXIST, BPF_NOEXIST, MapType } from './flags.js';
import { BaseMap, type MapInfo, type MapValue } from './map.js';
import type { MapRegistry } from './registry.js';

/** BPF_MAP_TYPE_QUEUE or BPF_MAP_TYPE_STACK (`lifo`). */
export class QueueStackMap extends BaseMap {
  /** True for a stack (last in, first out). */
  readonly lifo: boolean;
  readonly #elements: Uint8Array;
  readonly #size: number;
  #head = 0;
  #tail = 0;

  constructor(registry: MapRegistry, info: Omit<MapInfo, 'id'>) {
    super(registry, info);
    this.lifo = info.type === MapType.STACK;
    this.#size = info.maxEntries + 1;
    this.#elements = this.allocating(() => new Uint8Array(this.#size * info.valueSize));
  }

  /** Number of elements held. */
  get length(): number {
    return (this.#head - this.#tail + this.#size) % this.#size;
  }

  #empty(): boolean {
    return this.#head === this.#tail;
  }

  #full(): boolean {
    let head = this.#head + 1;
    if (head >= this.#size) head = 0;
    return head === this.#tail;
  }

  /** __queue_map_get / __stack_map_get: copies the next element into `out` (zeroed if there is none). */
  #get(out: Uint8Array, remove: boolean): number {
    const vs = this.valueSize;
    if (this.#empty()) {
      out.fill(0, 0, vs);
      return -Errno.ENOENT;
    }
    if (this.lifo) {
      let index = this.#head - 1;
      if (index < 0) index = this.#size - 1;
      out.set(this.#elements.subarray(index * vs, (index + 1) * vs));
      if (remove) this.#head = index;
    } else {
      out.set(this.#elements.subarray(this.#tail * vs, (this.#tail + 1) * vs));
      if (remove && ++this.#tail >= this.#size) this.#tail = 0;
    }
    return 0;
  }

  /** queue_stack_map_push_elem. */
  #push(value: Uint8Array, flags: bigint): number {
    if (flags & BPF_NOEXIST || flags > BPF_EXIST) return -Errno.EINVAL;
    if (this.#full()) {
      if (!(flags & BPF_EXIST)) return -Errno.E2BIG;
      // Make room by dropping the oldest element.
      if (++this.#tail >= this.#size) this.#tail = 0;
    }
    this.#elements.set(value.subarray(0, this.valueSize), this.#head * this.valueSize);
    if (++this.#head >= this.#size) this.#head = 0;
    return 0;
  }

  /** Pushes `value` (BPF_EXIST in `flags` overwrites the oldest when full). Throws MapError. */
  push(value: Uint8Array, flags = 0): void {
    this.update(undefined, value, flags);
  }

  /** Removes and returns the next value, or undefined when empty. */
  pop(): Uint8Array | undefined {
    return this.lookupAndDelete() as Uint8Array | undefined;
  }

  /** The next value without removing it, or undefined when empty. */
  peek(): Uint8Array | undefined {
    return this.lookup() as Uint8Array | undefined;
  }

  override programPush(value: Uint8Array, flags: bigint): number {
    return this.#push(value, flags);
  }

  override programPop(out: Uint8Array): number {
    return this.#get(out, true);
  }

  override programPeek(out: Uint8Array): number {
    return this.#get(out, false);
  }

  protected sysLookup(): MapValue | number {
    const out = new Uint8Array(this.valueSize);
    const r = this.#get(out, false);
    return r < 0 ? r : out;
  }

  protected sysUpdate(_key: Uint8Array | undefined, value: MapValue, flags: bigint): number {
    return this.#push(value as Uint8Array, flags);
  }

  protected override sysLookupAndDelete(_key: Uint8Array | undefined, flags: bigint): MapValue | number {
    if (flags !== 0n) return -Errno.EINVAL;
    const out = new Uint8Array(this.valueSize);
    const r = this.#get(out, true);
    return r < 0 ? r : out;
  }

  protected sysDelete(): number {
    return -Errno.EINVAL;
  }

  protected sysNextKey(): Uint8Array | number {
    return -Errno.EINVAL;
  }

  protected release(): void {}
}
