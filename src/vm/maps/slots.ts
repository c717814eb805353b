/**
 * Element storage in linear memory for maps whose elements a program addresses: each slot
 * has a key (read-only to programs) and a value area. Slots are numbered 0..capacity-1 and
 * memory for them is allocated on first use, in chunks that double in size, so a large
 * `max_entries` costs nothing until it is filled and the region table stays short.
 *
 * The kernel preallocates hash elements (unless BPF_F_NO_PREALLOC); allocating lazily only
 * changes when memory runs out (an update fails with ENOMEM instead of the create).
 */
import type { Memory, Region } from '../memory.js';

/** Layout of a {@link SlotStore}. */
export interface SlotStoreOptions {
  /** Number of slots. */
  capacity: number;
  /** Bytes of a key; 0 stores no keys. */
  keySize: number;
  /** Bytes of the value area of one slot (per-CPU maps: all CPUs' values). */
  valueBytes: number;
  /** Name for the regions. */
  name: string;
  /** Whether programs may write values (not with BPF_F_RDONLY_PROG). */
  writable: boolean;
}

interface Chunk {
  readonly keys: Region | undefined;
  readonly values: Region;
}

const FIRST_CHUNK = 64;
/** The most a WebAssembly memory can hold (65536 pages of 64 KiB). */
const MAX_LINEAR_MEMORY = 2 ** 32;

/**
 * Allocates a region, or returns undefined when linear memory cannot hold `size` more bytes.
 * Sizes that could never fit are refused before asking the memory to grow.
 */
export function tryAlloc(memory: Memory, size: number, options: Parameters<Memory['alloc']>[1]): Region | undefined {
  if (size > MAX_LINEAR_MEMORY - memory.bytes.length) return undefined;
  try {
    return memory.alloc(size, options);
  } catch (err) {
    if (err instanceof RangeError) return undefined; // WebAssembly.Memory.grow failed
    throw err;
  }
}

/**
 * Free slot numbers 0..capacity-1: freed ones first (last freed, first reused), then ones
 * never used, in order — without materialising a list of all of them.
 */
export class SlotAllocator {
  readonly capacity: number;
  readonly #freed: number[] = [];
  #next = 0;

  constructor(capacity: number, first = 0) {
    this.capacity = capacity;
    this.#next = first;
  }

  /** A free slot, or -1. */
  take(): number {
    const s = this.#freed.pop();
    if (s !== undefined) return s;
    return this.#next < this.capacity ? this.#next++ : -1;
  }

  /** Returns `slot` to the pool. */
  give(slot: number): void {
    this.#freed.push(slot);
  }
}

/** Lazily allocated key/value slots; see the module comment. */
export class SlotStore {
  readonly capacity: number;
  readonly keyStride: number;
  readonly valueStride: number;
  readonly #memory: Memory;
  readonly #options: SlotStoreOptions;
  readonly #chunks: Array<Chunk | undefined> = [];
  readonly #base: number;

  constructor(memory: Memory, options: SlotStoreOptions) {
    this.#memory = memory;
    this.#options = options;
    this.capacity = options.capacity;
    this.keyStride = Math.ceil(options.keySize / 8) * 8;
    this.valueStride = Math.ceil(options.valueBytes / 8) * 8;
    this.#base = Math.min(FIRST_CHUNK, Math.max(1, options.capacity));
  }

  /** Chunk index and first slot of `slot`: chunk 0 holds [0, B), chunk k ≥ 1 holds [B·2^(k-1), B·2^k). */
  #chunkOf(slot: number): [index: number, first: number] {
    const q = Math.floor(slot / this.#base);
    if (q === 0) return [0, 0];
    const k = 32 - Math.clz32(q);
    return [k, this.#base * 2 ** (k - 1)];
  }

  /** Makes sure `slot` has memory; false when the memory cannot grow (the caller answers ENOMEM). */
  ensure(slot: number): boolean {
    const [k, first] = this.#chunkOf(slot);
    if (this.#chunks[k] !== undefined) return true;
    const size = Math.min(k === 0 ? this.#base : first, this.capacity - first);
    const o = this.#options;
    let keys: Region | undefined;
    if (this.keyStride > 0) {
      keys = tryAlloc(this.#memory, size * this.keyStride, { kind: 'map_key', name: `${o.name} keys`, writable: false });
      if (keys === undefined) return false;
    }
    const values = tryAlloc(this.#memory, size * this.valueStride, { kind: 'map_value', name: `${o.name} values`, writable: o.writable });
    if (values === undefined) {
      if (keys) this.#memory.release(keys);
      return false;
    }
    this.#chunks[k] = { keys, values };
    return true;
  }

  /** Address of the value area of `slot` (which must have been ensured). */
  valueAddress(slot: number): number {
    const [k, first] = this.#chunkOf(slot);
    return this.#chunks[k]!.values.start + (slot - first) * this.valueStride;
  }

  /** Address of the key of `slot`. */
  keyAddress(slot: number): number {
    const [k, first] = this.#chunkOf(slot);
    return this.#chunks[k]!.keys!.start + (slot - first) * this.keyStride;
  }

  /** Writes `key` as the key of `slot`. */
  setKey(slot: number, key: Uint8Array): void {
    this.#memory.bytes.set(key, this.keyAddress(slot));
  }

  /** Whether the key of `slot` equals `key`. */
  keyEquals(slot: number, key: Uint8Array): boolean {
    const bytes = this.#memory.bytes;
    const at = this.keyAddress(slot);
    for (let i = 0; i < key.length; i++) if (bytes[at + i] !== key[i]) return false;
    return true;
  }

  /** A copy of the key of `slot`. */
  key(slot: number): Uint8Array {
    const at = this.keyAddress(slot);
    return this.#memory.bytes.slice(at, at + this.#options.keySize);
  }

  /** Frees all chunks. */
  release(): void {
    for (const c of this.#chunks) {
      if (c === undefined) continue;
      if (c.keys) this.#memory.release(c.keys);
      this.#memory.release(c.values);
    }
    this.#chunks.length = 0;
  }
}
