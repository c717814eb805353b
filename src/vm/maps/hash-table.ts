/**
 * The bucket structure of the kernel's hash maps (kernel/bpf/hashtab.c): `n_buckets` =
 * max_entries rounded up to a power of two, a bucket picked by the low bits of the key's
 * jhash, and each bucket a list with new elements at its head. get_next_key walks the
 * buckets in order and each list from its head, so with the same seed the VM iterates in
 * exactly the kernel's order.
 *
 * Elements are slots of a {@link SlotStore}; the lists are intrusive (index arrays that grow
 * with the highest slot used, so a large `max_entries` costs only its bucket heads).
 */
import { mapHash } from './jhash.js';
import type { SlotStore } from './slots.js';

/** The buckets of one hash map; see the module comment. */
export class HashTable {
  readonly nBuckets: number;
  readonly seed: number;
  readonly store: SlotStore;
  readonly keySize: number;
  /** Number of linked elements. */
  count = 0;
  readonly #head: Int32Array;
  #next: Int32Array;
  #prev: Int32Array;
  #hash: Uint32Array;
  #linked: Uint8Array;

  constructor(store: SlotStore, keySize: number, maxEntries: number, seed: number) {
    this.store = store;
    this.keySize = keySize;
    this.seed = seed;
    this.nBuckets = roundUpPow2(maxEntries);
    this.#head = new Int32Array(this.nBuckets).fill(-1);
    const n = Math.min(store.capacity, 64);
    this.#next = new Int32Array(n);
    this.#prev = new Int32Array(n);
    this.#hash = new Uint32Array(n);
    this.#linked = new Uint8Array(n);
  }

  /** Grows the per-slot arrays to hold `slot`. */
  #reserve(slot: number): void {
    if (slot < this.#next.length) return;
    const n = Math.min(this.store.capacity, Math.max(slot + 1, this.#next.length * 2));
    const grow = <T extends Int32Array | Uint32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.#next = grow(this.#next, (k) => new Int32Array(k));
    this.#prev = grow(this.#prev, (k) => new Int32Array(k));
    this.#hash = grow(this.#hash, (k) => new Uint32Array(k));
    this.#linked = grow(this.#linked, (k) => new Uint8Array(k));
  }

  /** htab_map_hash. */
  hashOf(key: Uint8Array): number {
    return mapHash(key, this.keySize, this.seed);
  }

  /** The linked slot holding `key`, or -1 (lookup_elem_raw). */
  find(key: Uint8Array, hash: number): number {
    for (let s = this.#head[hash & (this.nBuckets - 1)]!; s >= 0; s = this.#next[s]!) {
      if (this.#hash[s] === hash && this.store.keyEquals(s, key)) return s;
    }
    return -1;
  }

  /** Links `slot` (its key already written) at the head of its bucket (hlist_nulls_add_head_rcu). */
  addHead(slot: number, hash: number): void {
    this.#reserve(slot);
    const b = hash & (this.nBuckets - 1);
    const first = this.#head[b]!;
    this.#hash[slot] = hash;
    this.#next[slot] = first;
    this.#prev[slot] = -1;
    if (first >= 0) this.#prev[first] = slot;
    this.#head[b] = slot;
    this.#linked[slot] = 1;
    this.count++;
  }

  /** Unlinks `slot` (hlist_nulls_del_rcu). */
  remove(slot: number): void {
    const p = this.#prev[slot]!;
    const n = this.#next[slot]!;
    if (p >= 0) this.#next[p] = n;
    else this.#head[this.#hash[slot]! & (this.nBuckets - 1)] = n;
    if (n >= 0) this.#prev[n] = p;
    this.#next[slot] = this.#prev[slot] = -1;
    this.#linked[slot] = 0;
    this.count--;
  }

  /** Whether `slot` is linked into a bucket. */
  linked(slot: number): boolean {
    return slot < this.#linked.length && this.#linked[slot] === 1;
  }

  /** htab_map_get_next_key: the slot after `key`'s, the first slot if `key` is absent or undefined, -1 at the end. */
  nextSlot(key: Uint8Array | undefined): number {
    let bucket = 0;
    if (key !== undefined) {
      const hash = this.hashOf(key);
      const s = this.find(key, hash);
      if (s >= 0) {
        const n = this.#next[s]!;
        if (n >= 0) return n;
        bucket = (hash & (this.nBuckets - 1)) + 1;
      }
    }
    for (; bucket < this.nBuckets; bucket++) {
      const first = this.#head[bucket]!;
      if (first >= 0) return first;
    }
    return -1;
  }
}

/** roundup_pow_of_two for 1 ≤ n ≤ 2^31. */
export function roundUpPow2(n: number): number {
  return n <= 1 ? 1 : 2 ** (32 - Math.clz32(n - 1));
}
