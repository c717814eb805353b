/**
 * BPF_MAP_TYPE_RINGBUF (kernel/bpf/ringbuf.c): a multi-record ring of `max_entries` bytes
 * (a power of two, page aligned) with 64-bit producer/consumer positions. A record is an
 * 8-byte header — `u32 len` with BUSY (bit 31) while reserved and DISCARD (bit 30), and
 * `u32 pg_off` — then the data, padded to 8 bytes. Programs reserve records and write them
 * in place, then submit or discard them; the host drains committed records in order
 * ({@link RingbufMap.consume}), as libbpf's ring_buffer__consume does.
 *
 * The kernel maps the data pages twice so a record that wraps is contiguous; the VM gives
 * the ring a region of twice its size, so a wrapping record's tail runs on past the end and
 * both the program and the reader see it contiguous. Programs could write anywhere in that
 * region (the verifier keeps a real program inside its record).
 */
import type { Region } from '../memory.js';
import { Errno } from './errno.js';
import { RingbufFlag, RingbufQuery } from './flags.js';
import { BaseMap, type MapInfo, type MapValue } from './map.js';
import type { MapRegistry } from './registry.js';
import { tryAlloc } from './slots.js';

export const BPF_RINGBUF_BUSY_BIT = 0x80000000;
export const BPF_RINGBUF_DISCARD_BIT = 0x40000000;
export const BPF_RINGBUF_HDR_SZ = 8;
/** RINGBUF_MAX_RECORD_SZ: UINT_MAX / 4. */
const MAX_RECORD_SZ = Math.floor(0xffffffff / 4);
const PAGE_SHIFT = 12;
/** Pages of `struct bpf_ringbuf` before its data (meta, consumer, producer pages). */
const DATA_PAGE = 3;

/** A record handed to {@link RingbufMap.consume}'s callback: a copy of its data. */
export type RingbufSample = Uint8Array;

/** BPF_MAP_TYPE_RINGBUF; see the module comment. */
export class RingbufMap extends BaseMap {
  /** The ring's data: `2 * size` bytes, see the module comment. */
  readonly region: Region;
  readonly size: number;
  readonly #mask: number;
  #consumer = 0;
  #producer = 0;
  #pending = 0;
  /** Notifications the kernel would have sent to a waiting consumer (irq_work). */
  wakeups = 0;
  /** Called for each notification; a reader can drain from here. */
  onWakeup: (() => void) | undefined;
  readonly #listeners = new Set<() => void>();

  /** Throws RangeError when the memory cannot hold the ring (the caller answers ENOMEM). */
  constructor(registry: MapRegistry, info: Omit<MapInfo, 'id'>) {
    super(registry, info);
    this.size = info.maxEntries;
    this.#mask = info.maxEntries - 1;
    const region = tryAlloc(registry.memory, 2 * info.maxEntries, { kind: 'ringbuf', name: `ringbuf '${info.name}'` });
    if (region === undefined) {
      this.close();
      throw new RangeError(`no memory for a ring of ${info.maxEntries} bytes`);
    }
    this.region = region;
  }

  /** Consumer position (bytes consumed since creation). */
  get consumerPosition(): number {
    return this.#consumer;
  }

  /** Producer position (bytes reserved since creation). */
  get producerPosition(): number {
    return this.#producer;
  }

  /** Bytes reserved but not yet consumed (BPF_RB_AVAIL_DATA). */
  get availableData(): number {
    return this.#producer - this.#consumer;
  }

  /** Whether `address` is the data of a record in this ring (how submit/discard find their ring). */
  holdsRecord(address: number): boolean {
    const off = address - BPF_RINGBUF_HDR_SZ - this.region.start;
    return off >= 0 && off < this.size && off % 8 === 0;
  }

  /** __bpf_ringbuf_reserve: the address of `size` bytes of record data, or 0 when there is no room. */
  reserve(size: number): number {
    if (size > MAX_RECORD_SZ) return 0;
    const len = Math.ceil((size + BPF_RINGBUF_HDR_SZ) / 8) * 8;
    if (len > this.size) return 0;
    const view = this.registry.memory.view;
    const base = this.region.start;
    // Skip over records committed since the last reservation.
    let pend = this.#pending;
    while (pend < this.#producer) {
      const hdrLen = view.getUint32(base + (pend % this.size), true);
      if (hdrLen & BPF_RINGBUF_BUSY_BIT) break;
      pend += Math.ceil(((hdrLen & ~BPF_RINGBUF_DISCARD_BIT) + BPF_RINGBUF_HDR_SZ) / 8) * 8;
    }
    this.#pending = pend;
    const prod = this.#producer;
    const next = prod + len;
    // No more than size-1 bytes ahead of the consumer, nor of the oldest uncommitted record.
    // (Positions are u64 in the kernel; here exact integers below 2^53, so `%` not `&`.)
    if (next - this.#consumer > this.#mask || next - pend > this.#mask) return 0;
    const hdr = base + (prod % this.size);
    view.setUint32(hdr, (size | BPF_RINGBUF_BUSY_BIT) >>> 0, true);
    view.setUint32(hdr + 4, DATA_PAGE + ((prod % this.size) >>> PAGE_SHIFT), true);
    this.#producer = next;
    return hdr + BPF_RINGBUF_HDR_SZ;
  }

  /** bpf_ringbuf_commit: clears BUSY (sets DISCARD), and notifies as the kernel would. */
  commit(sample: number, flags: bigint, discard: boolean): void {
    const view = this.registry.memory.view;
    const hdr = sample - BPF_RINGBUF_HDR_SZ;
    let len = (view.getUint32(hdr, true) ^ BPF_RINGBUF_BUSY_BIT) >>> 0;
    if (discard) len = (len | BPF_RINGBUF_DISCARD_BIT) >>> 0;
    view.setUint32(hdr, len, true);
    const recPos = hdr - this.region.start;
    const consPos = this.#consumer % this.size;
    if (flags & BigInt(RingbufFlag.FORCE_WAKEUP)) this.#wake();
    else if (consPos === recPos && !(flags & BigInt(RingbufFlag.NO_WAKEUP))) this.#wake();
  }

  /** bpf_ringbuf_output: 0, -EINVAL for unknown flags, -EAGAIN when there is no room. */
  output(data: Uint8Array, flags: bigint): number {
    if (flags & ~BigInt(RingbufFlag.NO_WAKEUP | RingbufFlag.FORCE_WAKEUP)) return -Errno.EINVAL;
    const at = this.reserve(data.length);
    if (at === 0) return -Errno.EAGAIN;
    this.registry.memory.bytes.set(data, at);
    this.commit(at, flags, false);
    return 0;
  }

  /** bpf_ringbuf_query. */
  query(flags: bigint): number {
    switch (flags) {
      case BigInt(RingbufQuery.AVAIL_DATA): return this.#producer - this.#consumer;
      case BigInt(RingbufQuery.RING_SIZE): return this.size;
      case BigInt(RingbufQuery.CONS_POS): return this.#consumer;
      case BigInt(RingbufQuery.PROD_POS): return this.#producer;
      default: return 0;
    }
  }

  #wake(): void {
    this.wakeups++;
    this.onWakeup?.();
    for (const listener of [...this.#listeners]) listener();
  }

  /** Calls `listener` on each notification (as epoll would wake a reader) until the returned function is called. */
  addWakeupListener(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Whether the oldest unconsumed record is committed (submitted or discarded): a consumer can take it now. */
  get headCommitted(): boolean {
    if (!this.open || this.#consumer >= this.#producer) return false;
    return (this.registry.memory.view.getUint32(this.region.start + (this.#consumer % this.size), true) & BPF_RINGBUF_BUSY_BIT) === 0;
  }

  /**
   * Reads committed records in order, calling `onSample` with a copy of each non-discarded
   * one, and stops at the first record still reserved; advances the consumer position past
   * what it read. Returns the number of samples delivered. A callback returning `false` stops
   * after that record.
   */
  consume(onSample: (sample: RingbufSample) => boolean | void): number {
    this.checkOpen();
    const view = this.registry.memory.view;
    const base = this.region.start;
    let count = 0;
    while (this.#consumer < this.#producer) {
      const at = base + (this.#consumer % this.size);
      const len = view.getUint32(at, true);
      if (len & BPF_RINGBUF_BUSY_BIT) break;
      this.#consumer += Math.ceil(((len & ~BPF_RINGBUF_DISCARD_BIT) + BPF_RINGBUF_HDR_SZ) / 8) * 8;
      if (len & BPF_RINGBUF_DISCARD_BIT) continue;
      count++;
      const data = this.registry.memory.bytes.slice(at + BPF_RINGBUF_HDR_SZ, at + BPF_RINGBUF_HDR_SZ + len);
      if (onSample(data) === false) break;
    }
    return count;
  }

  /** All committed samples now available, consumed. */
  drain(): RingbufSample[] {
    const out: RingbufSample[] = [];
    this.consume((s) => {
      out.push(s);
    });
    return out;
  }

  protected sysLookup(): MapValue | number {
    return -Errno.ENOTSUPP;
  }
  protected sysUpdate(): number {
    return -Errno.ENOTSUPP;
  }
  protected sysDelete(): number {
    return -Errno.ENOTSUPP;
  }
  protected sysNextKey(): Uint8Array | number {
    return -Errno.ENOTSUPP;
  }

  protected release(): void {
    if (this.region !== undefined) this.registry.memory.release(this.region);
  }
}
