/**
 * BPF_MAP_TYPE_LPM_TRIE (kernel/bpf/lpm_trie.c, Linux 6.13+ semantics): longest-prefix match
 * over keys `{ u32 prefixlen; u8 data[] }`, with data compared most significant bit first.
 *
 * The trie has the kernel's shape — real nodes and intermediate nodes (`IM`, two children,
 * no value) — so get_next_key returns the kernel's post-order (more specific prefixes before
 * less specific ones) and each node keeps the data bytes it was inserted with, bits past the
 * prefix included. A node's value sits in linear memory; an update replaces the node, so the
 * value address changes as it does in the kernel.
 */
import { Errno } from './errno.js';
import { BPF_EXIST, BPF_NOEXIST, MapFlag } from './flags.js';
import { BaseMap, type MapInfo, type MapValue, u32 } from './map.js';
import type { MapRegistry } from './registry.js';
import { SlotAllocator, SlotStore } from './slots.js';

interface TrieNode {
  prefixlen: number;
  /** The data bytes as inserted. */
  readonly data: Uint8Array;
  /** Intermediate node: holds no value. */
  im: boolean;
  /** Value slot, -1 for intermediate nodes. */
  readonly slot: number;
  child: [TrieNode | undefined, TrieNode | undefined];
}

/** extract_bit: bit `index` of `data`, most significant first. */
function bit(data: Uint8Array, index: number): 0 | 1 {
  return ((data[index >> 3]! >> (7 - (index & 7))) & 1) as 0 | 1;
}

/** BPF_MAP_TYPE_LPM_TRIE; see the module comment. */
export class LpmTrieMap extends BaseMap {
  readonly dataSize: number;
  readonly maxPrefixlen: number;
  #root: TrieNode | undefined;
  #entries = 0;
  readonly #store: SlotStore;
  readonly #free: SlotAllocator;

  constructor(registry: MapRegistry, info: Omit<MapInfo, 'id'>) {
    super(registry, info);
    this.dataSize = info.keySize - 4;
    this.maxPrefixlen = this.dataSize * 8;
    // One more value than entries: an update allocates the new node before freeing the old.
    const capacity = info.maxEntries + 1;
    this.#store = new SlotStore(registry.memory, {
      capacity, keySize: 0, valueBytes: info.valueSize, name: `map '${info.name}'`, writable: (info.flags & MapFlag.RDONLY_PROG) === 0,
    });
    this.#free = new SlotAllocator(capacity);
  }

  /** Number of (non-intermediate) entries. */
  get size(): number {
    return this.#entries;
  }

  /** longest_prefix_match: matching leading bits of node and key, at most min(node, key prefixlen). */
  #match(node: TrieNode, prefixlen: number, data: Uint8Array): number {
    const limit = Math.min(node.prefixlen, prefixlen);
    let n = 0;
    for (let i = 0; i < this.dataSize && n < limit; i++) {
      const diff = node.data[i]! ^ data[i]!;
      if (diff === 0) {
        n += 8;
        continue;
      }
      n += Math.clz32(diff) - 24;
      break;
    }
    return Math.min(n, limit);
  }

  /** trie_lookup_elem: the value slot of the longest matching prefix, or -1. */
  #lookup(key: Uint8Array): number {
    const prefixlen = u32(key);
    if (prefixlen > this.maxPrefixlen) return -1;
    const data = key.subarray(4);
    let found: TrieNode | undefined;
    for (let node = this.#root; node;) {
      const matchlen = this.#match(node, prefixlen, data);
      if (matchlen === this.maxPrefixlen) {
        found = node;
        break;
      }
      if (matchlen < node.prefixlen) break;
      if (!node.im) found = node;
      node = node.child[bit(data, node.prefixlen)];
    }
    return found ? found.slot : -1;
  }

  override programLookup(key: Uint8Array): number {
    const s = this.#lookup(key);
    return s < 0 ? 0 : this.#store.valueAddress(s);
  }

  protected sysLookup(key: Uint8Array | undefined): MapValue | number {
    const s = this.#lookup(key!);
    if (s < 0) return -Errno.ENOENT;
    const at = this.#store.valueAddress(s);
    return this.registry.memory.bytes.slice(at, at + this.valueSize);
  }

  override programUpdate(key: Uint8Array, value: Uint8Array, flags: bigint): number {
    return this.#update(key, value, flags);
  }

  protected sysUpdate(key: Uint8Array | undefined, value: MapValue, flags: bigint): number {
    return this.#update(key!, value as Uint8Array, flags);
  }

  /** trie_check_add_elem. */
  #checkAdd(flags: bigint): number {
    if (flags === BPF_EXIST) return -Errno.ENOENT;
    if (this.#entries === this.maxEntries) return -Errno.ENOSPC;
    this.#entries++;
    return 0;
  }

  /** trie_update_elem. */
  #update(key: Uint8Array, value: Uint8Array, flags: bigint): number {
    if (flags > BPF_EXIST) return -Errno.EINVAL;
    const prefixlen = u32(key);
    if (prefixlen > this.maxPrefixlen) return -Errno.EINVAL;
    const data = key.slice(4);
    const slot = this.#free.take();
    if (slot < 0 || !this.#store.ensure(slot)) {
      if (slot >= 0) this.#free.give(slot);
      return -Errno.ENOMEM;
    }
    this.registry.memory.bytes.set(value.subarray(0, this.valueSize), this.#store.valueAddress(slot));
    const fresh: TrieNode = { prefixlen, data, im: false, slot, child: [undefined, undefined] };
    const err = this.#insert(fresh, flags);
    if (err) this.#free.give(slot);
    return err;
  }

  #insert(fresh: TrieNode, flags: bigint): number {
    const { prefixlen, data } = fresh;
    // `slot` is where the walk stands: the root, or a child pointer of `parent`.
    let parent: TrieNode | undefined;
    let side: 0 | 1 = 0;
    let node = this.#root;
    let matchlen = 0;
    while (node) {
      matchlen = this.#match(node, prefixlen, data);
      if (node.prefixlen !== matchlen || node.prefixlen === prefixlen) break;
      parent = node;
      side = bit(data, node.prefixlen);
      node = node.child[side];
    }
    const set = (n: TrieNode): void => {
      if (parent) parent.child[side] = n;
      else this.#root = n;
    };
    if (!node) {
      const err = this.#checkAdd(flags);
      if (err) return err;
      set(fresh);
      return 0;
    }
    if (node.prefixlen === matchlen) {
      // Same prefix: the new node replaces it (a real node's value, or an intermediate one becomes real).
      if (!node.im) {
        if (flags === BPF_NOEXIST) return -Errno.EEXIST;
      } else {
        const err = this.#checkAdd(flags);
        if (err) return err;
      }
      fresh.child = node.child;
      set(fresh);
      if (!node.im) this.#free.give(node.slot);
      return 0;
    }
    const err = this.#checkAdd(flags);
    if (err) return err;
    if (matchlen === prefixlen) {
      // The new prefix covers the node: insert it above.
      fresh.child[bit(node.data, matchlen)] = node;
      set(fresh);
      return 0;
    }
    const im: TrieNode = { prefixlen: matchlen, data: node.data.slice(), im: true, slot: -1, child: [undefined, undefined] };
    if (bit(data, matchlen)) im.child = [node, fresh];
    else im.child = [fresh, node];
    set(im);
    return 0;
  }

  override programDelete(key: Uint8Array): number {
    return this.#delete(key);
  }

  protected sysDelete(key: Uint8Array | undefined): number {
    return this.#delete(key!);
  }

  /** trie_delete_elem. */
  #delete(key: Uint8Array): number {
    const prefixlen = u32(key);
    if (prefixlen > this.maxPrefixlen) return -Errno.EINVAL;
    const data = key.subarray(4);
    // trim: the pointer to `node`; trim2: the pointer to its parent.
    type Ptr = { owner: TrieNode | undefined; side: 0 | 1 };
    let trim: Ptr = { owner: undefined, side: 0 };
    let trim2: Ptr = trim;
    let parent: TrieNode | undefined;
    let node = this.#root;
    let matchlen = 0;
    while (node) {
      matchlen = this.#match(node, prefixlen, data);
      if (node.prefixlen !== matchlen || node.prefixlen === prefixlen) break;
      parent = node;
      trim2 = trim;
      const side = bit(data, node.prefixlen);
      trim = { owner: node, side };
      node = node.child[side];
    }
    if (!node || node.prefixlen !== prefixlen || node.prefixlen !== matchlen || node.im) return -Errno.ENOENT;
    const assign = (p: Ptr, n: TrieNode | undefined): void => {
      if (p.owner) p.owner.child[p.side] = n;
      else this.#root = n;
    };
    this.#entries--;
    if (node.child[0] && node.child[1]) {
      // Two children: it becomes an intermediate node.
      node.im = true;
      this.#free.give(node.slot);
      (node as { slot: number }).slot = -1;
      return 0;
    }
    if (parent && parent.im && !node.child[0] && !node.child[1]) {
      // A leaf under an intermediate node: the sibling takes the parent's place.
      assign(trim2, node === parent.child[0] ? parent.child[1] : parent.child[0]);
      this.#free.give(node.slot);
      return 0;
    }
    assign(trim, node.child[0] ?? node.child[1]);
    this.#free.give(node.slot);
    return 0;
  }

  /** trie_get_next_key: post-order, the leftmost node for a missing or invalid key. */
  protected sysNextKey(key: Uint8Array | undefined): Uint8Array | number {
    let searchRoot = this.#root;
    if (!searchRoot) return -Errno.ENOENT;
    const prefixlen = key === undefined ? 0 : u32(key);
    findExact: if (key !== undefined && prefixlen <= this.maxPrefixlen) {
      const data = key.subarray(4);
      const stack: TrieNode[] = [];
      let node: TrieNode | undefined = searchRoot;
      let matchlen = 0;
      while (node) {
        stack.push(node);
        matchlen = this.#match(node, prefixlen, data);
        if (node.prefixlen !== matchlen || node.prefixlen === prefixlen) break;
        node = node.child[bit(data, node.prefixlen)];
      }
      if (!node || node.prefixlen !== matchlen || node.im) break findExact;
      // Found: the next node in post-order.
      node = stack[stack.length - 1]!;
      for (let sp = stack.length - 1; sp > 0; sp--) {
        const up = stack[sp - 1]!;
        if (up.child[0] === node && up.child[1]) {
          searchRoot = up.child[1];
          return this.#keyOf(this.#leftmost(searchRoot));
        }
        if (!up.im) return this.#keyOf(up);
        node = up;
      }
      return -Errno.ENOENT;
    }
    return this.#keyOf(this.#leftmost(searchRoot));
  }

  /** The leftmost non-intermediate node under `root` (intermediate nodes always have two children). */
  #leftmost(root: TrieNode): TrieNode {
    let next = root;
    for (let node: TrieNode | undefined = root; node;) {
      if (node.im) node = node.child[0];
      else {
        next = node;
        node = node.child[0] ?? node.child[1];
      }
    }
    return next;
  }

  #keyOf(node: TrieNode): Uint8Array {
    const out = new Uint8Array(4 + this.dataSize);
    new DataView(out.buffer).setUint32(0, node.prefixlen, true);
    out.set(node.data, 4);
    return out;
  }

  protected release(): void {
    this.#store.release();
    this.#root = undefined;
  }
}
