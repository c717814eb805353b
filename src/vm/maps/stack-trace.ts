/**
 * BPF_MAP_TYPE_STACK_TRACE (kernel/bpf/stackmap.c): call stacks that bpf_get_stackid stores,
 * by stack id. The id is a bucket: `jhash2(ips, nr * 2, 0) & (n_buckets - 1)`, n_buckets being
 * max_entries rounded up to a power of two; a bucket holds one trace, so two different stacks
 * of the same bucket collide (-EEXIST, or replacement with BPF_F_REUSE_STACKID). At most
 * max_entries traces are stored at once (the kernel's preallocated free list): a new one past
 * that is -ENOMEM.
 *
 * Values are `u64 ips[value_size / 8]` (zero past the trace), or with BPF_F_STACK_BUILD_ID
 * `struct bpf_stack_build_id[value_size / 32]`. The host reads, deletes and walks ids; it
 * cannot update (EINVAL).
 */
import { Errno } from './errno.js';
import { jhash2 } from './jhash.js';
import { roundUpPow2 } from './hash-table.js';
import { BaseMap, type MapInfo, type MapValue, u32, u32Bytes } from './map.js';
import { MapFlag } from './flags.js';
import type { MapRegistry } from './registry.js';

/** sysctl kernel.perf_event_max_stack's default: the deepest trace the kernel collects. */
export const PERF_MAX_STACK_DEPTH = 127;
/** sizeof(struct bpf_stack_build_id). */
export const STACK_BUILD_ID_SIZE = 32;
/** `enum bpf_stack_build_id_status`: the entry holds an ip, not a build id + offset. */
export const BPF_STACK_BUILD_ID_IP = 2;

/** Flags of bpf_get_stackid / bpf_get_stack. */
export const StackFlag = {
  /** Low 8 bits: frames to skip. */
  SKIP_FIELD_MASK: 0xff,
  USER_STACK: 1 << 8,
  /** bpf_get_stackid: an equal hash is taken as the same stack. */
  FAST_STACK_CMP: 1 << 9,
  /** bpf_get_stackid: a colliding stack replaces the bucket's. */
  REUSE_STACKID: 1 << 10,
  /** bpf_get_stack: user frames as build id + offset. */
  USER_BUILD_ID: 1 << 11,
} as const;

interface Bucket {
  readonly hash: number;
  /** The entries, `entrySize` bytes each. */
  readonly data: Uint8Array;
  readonly nr: number;
}

/**
 * One frame as `struct bpf_stack_build_id` when no build id can be had for it (the VM knows
 * no file mappings): status BPF_STACK_BUILD_ID_IP and the address (kernel: stack_map_get_build_id_offset's fallback).
 */
export function buildIdEntry(ip: bigint): Uint8Array {
  const out = new Uint8Array(STACK_BUILD_ID_SIZE);
  const v = new DataView(out.buffer);
  v.setInt32(0, BPF_STACK_BUILD_ID_IP, true);
  v.setBigUint64(24, BigInt.asUintN(64, ip), true);
  return out;
}

/** The ips as the bytes of `u64 ips[]`. */
export function ipBytes(ips: readonly bigint[]): Uint8Array {
  const out = new Uint8Array(ips.length * 8);
  const v = new DataView(out.buffer);
  ips.forEach((ip, i) => v.setBigUint64(i * 8, BigInt.asUintN(64, ip), true));
  return out;
}

/** BPF_MAP_TYPE_STACK_TRACE. */
export class StackTraceMap extends BaseMap {
  readonly nBuckets: number;
  readonly #buckets = new Map<number, Bucket>();

  constructor(registry: MapRegistry, info: Omit<MapInfo, 'id'>) {
    super(registry, info);
    this.nBuckets = roundUpPow2(info.maxEntries);
  }

  /** Whether entries are build ids (BPF_F_STACK_BUILD_ID). */
  get buildId(): boolean {
    return (this.flags & MapFlag.STACK_BUILD_ID) !== 0;
  }

  /** stack_map_data_size: bytes of one entry. */
  get entrySize(): number {
    return this.buildId ? STACK_BUILD_ID_SIZE : 8;
  }

  /**
   * __bpf_get_stackid on a collected trace `ips` (innermost first, already cut to the depth the
   * helper asked for): the stack id, or -errno.
   */
  storeTrace(ips: readonly bigint[], flags: number): number {
    const skip = flags & StackFlag.SKIP_FIELD_MASK;
    if (ips.length <= skip) return -Errno.EFAULT; // skipping more than the usable trace
    const maxDepth = Math.floor(this.valueSize / this.entrySize);
    const used = ips.slice(skip, skip + maxDepth);
    // The hash is of the ips, also for build-id maps (their entries are made after it).
    const raw = ipBytes(used);
    const hash = jhash2(raw, used.length * 2, 0);
    const id = hash & (this.nBuckets - 1);
    const bucket = this.#buckets.get(id);
    const hashMatches = bucket !== undefined && bucket.hash === hash;
    if (hashMatches && flags & StackFlag.FAST_STACK_CMP) return id;
    // Build-id maps take a free element before comparing (the kernel pops it first).
    if (this.buildId && this.#buckets.size >= this.maxEntries) return -Errno.ENOMEM;
    const data = this.buildId ? concat(used.map(buildIdEntry)) : raw;
    if (hashMatches && bucket.nr === used.length && equalBytes(bucket.data, data)) return id;
    if (bucket !== undefined && !(flags & StackFlag.REUSE_STACKID)) return -Errno.EEXIST;
    // pcpu_freelist_pop: every preallocated element is in a bucket.
    if (this.#buckets.size >= this.maxEntries) return -Errno.ENOMEM;
    this.#buckets.set(id, { hash, data, nr: used.length });
    return id;
  }

  /** bpf_stackmap_copy: the trace, zero-filled to value_size. */
  protected sysLookup(key: Uint8Array | undefined): MapValue | number {
    const id = u32(key!);
    const bucket = id < this.nBuckets ? this.#buckets.get(id) : undefined;
    if (bucket === undefined) return -Errno.ENOENT;
    const out = new Uint8Array(this.valueSize);
    out.set(bucket.data.subarray(0, this.valueSize));
    return out;
  }

  protected override sysLookupAndDelete(key: Uint8Array | undefined): MapValue | number {
    const value = this.sysLookup(key);
    if (typeof value !== 'number') this.#buckets.delete(u32(key!));
    return value;
  }

  protected sysUpdate(): number {
    return -Errno.EINVAL;
  }

  /** stack_map_delete_elem. */
  protected sysDelete(key: Uint8Array | undefined): number {
    const id = u32(key!);
    if (id >= this.nBuckets) return -Errno.E2BIG;
    return this.#buckets.delete(id) ? 0 : -Errno.ENOENT;
  }

  override programDelete(key: Uint8Array): number {
    return this.sysDelete(key);
  }

  /** stack_map_get_next_key: a missing or out-of-range key restarts at the first id. */
  protected sysNextKey(key: Uint8Array | undefined): Uint8Array | number {
    let from = 0;
    if (key !== undefined) {
      const id = u32(key);
      from = id < this.nBuckets && this.#buckets.has(id) ? id + 1 : 0;
    }
    let best = -1;
    for (const id of this.#buckets.keys()) if (id >= from && (best < 0 || id < best)) best = id;
    return best < 0 ? -Errno.ENOENT : u32Bytes(best);
  }

  protected release(): void {
    this.#buckets.clear();
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
