/**
 * Reading a BPF ring buffer (BPF_MAP_TYPE_RINGBUF) from user space, after the kernel's
 * protocol (kernel/bpf/ringbuf.c; libbpf's ringbuf.c is the reference consumer):
 *
 * - the map fd is mmapped twice: the consumer page (read-write, offset 0) holding
 *   `consumer_pos`, and from offset one page the producer page (read-only) holding
 *   `producer_pos`, followed by the data pages mapped twice in a row, so a record that wraps
 *   past the end of the ring reads as contiguous bytes;
 * - each record is an 8-byte header (`u32 len` with BUSY bit 31 while the producer still
 *   writes it and DISCARD bit 30 when it was thrown away; `u32 pg_off`) and `len` bytes,
 *   padded to a multiple of 8;
 * - the consumer reads `producer_pos` and each header with acquire semantics, skips discarded
 *   records, stops at a busy one, and publishes its new `consumer_pos` with release semantics.
 *
 * Atomics.load/store on typed arrays over the mapped pages give those orderings (they compile to
 * plain loads/stores on x86 and to ldar/stlr on arm64). Committed records are copied out in one
 * block per batch and the consumer position moves on straight away, so the producer has the room
 * back before JavaScript looks at the records; callbacks get views into that copy.
 */
import type { Btf } from '../btf/btf.js';
import type { BtfValue } from '../btf/codec.js';
import { EbpfError } from '../errors.js';
import type { KernelBtf } from './btf-load.js';
import { mapInfo } from './info.js';
import type { KernelMap } from './map.js';
import { MapType, mapTypeName } from './map-types.js';
import { MappedRegion, pageSizeOf } from './mmap.js';
import { nativeSyscalls } from './native.js';
import { pollerFor, type Poller } from './poller.js';
import { recordDecoder, type RecordDecoder } from './record-decoder.js';
import { Prot, type Syscalls } from './syscalls.js';

/** `BPF_RINGBUF_BUSY_BIT`: the producer has reserved the record and not yet committed it. */
export const RINGBUF_BUSY_BIT = 1 << 31;
/** `BPF_RINGBUF_DISCARD_BIT`: the record was discarded; skip it. */
export const RINGBUF_DISCARD_BIT = 1 << 30;
/** `BPF_RINGBUF_HDR_SZ`. */
export const RINGBUF_HEADER_SIZE = 8;

/** Largest block copied out of the ring at once: small enough to stay in cache, and it bounds the scratch memory of a huge ring. */
const MAX_BATCH_BYTES = 64 << 10;

/** Options of {@link openRingBuffer}. */
export interface RingBufferOptions {
  syscalls?: Syscalls;
  /**
   * Decode each record as this C type of the object's BTF — `'struct event'`, a bare name, or
   * a type id — into a plain object (see record-decoder.ts). The BTF is `btf`, else the map's
   * own when the map is a loaded object's map (`obj.maps.events`).
   */
  type?: string | number;
  /** The BTF `type` is in: parsed (`obj.spec.btf`) or as the kernel holds it (`obj.btf`). */
  btf?: Btf | KernelBtf;
}

/** Options of {@link openRingBuffer} with a decoder function of one's own. */
export interface DecodingRingBufferOptions<T> extends Omit<RingBufferOptions, 'type' | 'btf'> {
  /** Turns each record's bytes (a view valid during the call) into the value the reader gives. */
  decode: RecordDecoder<T>;
}

/** A map a ring buffer can be opened on: a kernel map, a loaded object's map (with its BTF), or an fd. */
export type RingBufferSource = KernelMap | { readonly map: KernelMap; readonly btf?: Btf | undefined } | number;

/**
 * A consumer of one BPF ring buffer. Does not own the map (close the map separately); does own
 * its mappings: `close()` it, or bind it with `using`.
 *
 * Forms: {@link consume} (synchronous, views valid during the callback), {@link drain}
 * (synchronous, records to keep), {@link read} and `for await` (asynchronous, waiting for data
 * without blocking the event loop), {@link onRecord} (push: calls back until unsubscribed).
 *
 * @example
 * using reader = openRingBuffer(events);
 * for await (const record of reader) handle(record);
 */
export class RingBufferReader<T = Uint8Array> implements Disposable, AsyncIterable<T> {
  /** The ring buffer map's fd (what the poller waits on). */
  readonly fd: number;
  /** Data size in bytes (the map's max_entries, a power of 2). */
  readonly size: number;
  readonly #pageSize: number;
  readonly #consumerPage: MappedRegion;
  readonly #producerPages: MappedRegion;
  readonly #consumerPos: BigInt64Array;
  readonly #producerPos: BigInt64Array;
  readonly #data32: Int32Array;
  readonly #data8: Uint8Array;
  readonly #poller: Poller;
  readonly #name: string;
  /** Our copy of consumer_pos: we are its only writer. A Number stays exact to 2^53 bytes. */
  #cons: number;
  #scratch = new Uint8Array(0);
  #closed = false;
  #pending: Uint8Array[] = [];
  /** A consume() callback is running: a nested consume must not reuse the scratch block. */
  #inCallback = false;
  readonly #decode: RecordDecoder<T> | undefined;

  /** Built by {@link openRingBuffer}; `decode` turns records into values (default: the bytes). */
  constructor(fd: number, size: number, name: string, syscalls: Syscalls, decode?: RecordDecoder<T>) {
    this.#decode = decode;
    this.fd = fd;
    this.size = size;
    this.#name = name;
    this.#pageSize = pageSizeOf(syscalls);
    const what = `ring buffer ${name}`;
    this.#consumerPage = MappedRegion.map(syscalls, fd, this.#pageSize, Prot.READ | Prot.WRITE, 0, `${what} consumer page`);
    try {
      this.#producerPages = MappedRegion.map(syscalls, fd, this.#pageSize + 2 * size, Prot.READ, this.#pageSize, `${what} data pages`);
    } catch (err) {
      this.#consumerPage.unmap();
      throw err;
    }
    this.#consumerPos = new BigInt64Array(this.#consumerPage.buffer, 0, 1);
    this.#producerPos = new BigInt64Array(this.#producerPages.buffer, 0, 1);
    this.#data32 = new Int32Array(this.#producerPages.buffer, this.#pageSize, (2 * size) / 4);
    this.#data8 = new Uint8Array(this.#producerPages.buffer, this.#pageSize, 2 * size);
    this.#cons = Number(Atomics.load(this.#consumerPos, 0));
    this.#poller = pollerFor(syscalls);
  }

  /** Bytes the producers have committed or reserved beyond what was consumed. */
  get available(): number {
    this.#checkOpen();
    return Number(Atomics.load(this.#producerPos, 0)) - this.#cons;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Calls `onRecord` for each committed record now in the ring, up to `limit` records, and
   * returns how many. Undecoded, the view is valid until `onRecord` returns (copy it with
   * `slice()` to keep it). Records the iterator form has taken but not yet yielded come first.
   */
  consume(onRecord: (record: T) => void, limit = Infinity): number {
    let count = 0;
    const deliver = this.#deliver(onRecord);
    while (this.#pending.length > 0 && count < limit) {
      deliver(this.#pending.shift()!);
      count++;
    }
    const nested = this.#inCallback;
    this.#inCallback = true;
    try {
      while (count < limit) {
        const taken = this.#take(limit - count, nested, deliver);
        if (taken === 0) break;
        count += taken;
      }
    } finally {
      this.#inCallback = nested;
    }
    return count;
  }

  /** The committed records now in the ring (at most `limit`), as values (or arrays) safe to keep. */
  drain(limit = Infinity): T[] {
    const raw = this.#drainRaw(limit);
    const decode = this.#decode;
    return decode === undefined ? (raw as unknown as T[]) : raw.map((r) => decode(r));
  }

  /** Records copied out of the ring, pending ones first. */
  #drainRaw(limit: number): Uint8Array[] {
    const out = this.#pending.splice(0, limit);
    while (out.length < limit) {
      const before = out.length;
      this.#take(limit - out.length, true, (record) => out.push(record));
      if (out.length === before) break;
    }
    return out;
  }

  /** `onRecord` composed with the decoder. */
  #deliver(onRecord: (record: T) => void): (record: Uint8Array) => void {
    const decode = this.#decode;
    return decode === undefined ? (onRecord as unknown as (record: Uint8Array) => void) : (record) => onRecord(decode(record));
  }

  /**
   * Resolves true when the ring has data to read, false if the reader was closed or `signal`
   * aborted first. The wait runs off the event loop (see `poller.ts`).
   */
  async wait(signal?: AbortSignal): Promise<boolean> {
    for (;;) {
      if (this.#closed || signal?.aborted) return false;
      if (this.#pending.length > 0 || this.#headCommitted()) return true;
      if (this.available > 0) {
        // A producer has reserved the next record and not committed it yet. The fd polls
        // readable all the while (there is data), so look again after letting the event loop
        // run — libbpf's consumer spins here too, in its epoll loop.
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      await this.#poller.waitReadable(this.fd, signal);
    }
  }

  /** Whether the record at the consumer position is committed (or discarded): something to consume. */
  #headCommitted(): boolean {
    if (Number(Atomics.load(this.#producerPos, 0)) <= this.#cons) return false;
    return (Atomics.load(this.#data32, (this.#cons % this.size) >>> 2) & RINGBUF_BUSY_BIT) === 0;
  }

  /**
   * The next record, waiting for one; undefined once the reader is closed (or `signal`
   * aborted first).
   */
  async read(signal?: AbortSignal): Promise<T | undefined> {
    for (;;) {
      if (this.#closed || signal?.aborted) return undefined;
      if (this.#pending.length === 0) this.#pending = this.#drainRaw(4096);
      const next = this.#pending.shift();
      if (next) return this.#decode === undefined ? (next as unknown as T) : this.#decode(next);
      if (!(await this.wait(signal))) return undefined;
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      const record = await this.read();
      if (record === undefined) return;
      yield record;
    }
  }

  /**
   * Calls `callback` for every record from now on — as {@link consume} does, with views valid
   * during the call — until the returned function is called or the reader closes. An error
   * thrown by the callback stops the subscription and goes to `onError` (default: rethrown as
   * an uncaught exception).
   */
  onRecord(callback: (record: T) => void, options: { onError?: (err: unknown) => void } = {}): () => void {
    this.#checkOpen();
    const controller = new AbortController();
    const stop = (): void => controller.abort();
    const loop = async (): Promise<void> => {
      while (!controller.signal.aborted && !this.#closed) {
        this.consume(callback);
        if (controller.signal.aborted || !(await this.wait(controller.signal))) break;
      }
    };
    loop().catch((err: unknown) => {
      stop();
      if (options.onError) options.onError(err);
      else queueMicrotask(() => { throw err; });
    });
    return stop;
  }

  /** Unmaps the ring and ends pending waits and iterations. Idempotent; the map stays open. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending = [];
    this.#poller.cancel(this.fd);
    this.#producerPages.unmap();
    this.#consumerPage.unmap();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw new EbpfError(`ring buffer ${this.#name} is closed`);
  }

  /**
   * Copies the committed records from the consumer position on (at most `limit`) out of the
   * ring in one block, publishes the new consumer position, then hands out the records:
   * views into a fresh block when `keep`, into the reused scratch block otherwise.
   */
  #take(limit: number, keep: boolean, onRecord: (record: Uint8Array) => void): number {
    this.#checkOpen();
    const size = this.size;
    const start = this.#cons;
    const prod = Number(Atomics.load(this.#producerPos, 0));
    let end = start;
    let records = 0;
    while (end < prod && records < limit) {
      const header = Atomics.load(this.#data32, (end % size) >>> 2);
      if (header & RINGBUF_BUSY_BIT) break; // not committed yet: later records wait for it
      const len = header & ~(RINGBUF_BUSY_BIT | RINGBUF_DISCARD_BIT);
      const total = (len + RINGBUF_HEADER_SIZE + 7) & ~7;
      if (end + total - start > MAX_BATCH_BYTES && end > start) break;
      end += total;
      if (!(header & RINGBUF_DISCARD_BIT)) records++;
    }
    if (end === start) return 0;
    const bytes = end - start;
    let block: Uint8Array;
    if (keep) {
      block = new Uint8Array(bytes);
    } else {
      if (this.#scratch.length < bytes) this.#scratch = new Uint8Array(Math.max(bytes, Math.min(this.#scratch.length * 2, size)));
      block = this.#scratch;
    }
    // The data pages are mapped twice in a row: [start % size, + bytes) never runs off the view.
    const from = start % size;
    block.set(this.#data8.subarray(from, from + bytes));
    this.#cons = end;
    Atomics.store(this.#consumerPos, 0, BigInt(end));

    const view = new DataView(block.buffer, block.byteOffset, bytes);
    let at = 0;
    while (at < bytes) {
      const header = view.getUint32(at, LITTLE_ENDIAN);
      const len = header & ~(RINGBUF_BUSY_BIT | RINGBUF_DISCARD_BIT);
      if (!(header & RINGBUF_DISCARD_BIT)) onRecord(block.subarray(at + RINGBUF_HEADER_SIZE, at + RINGBUF_HEADER_SIZE + len));
      at += (len + RINGBUF_HEADER_SIZE + 7) & ~7;
    }
    return records;
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Opens a reader on a ring buffer map (a {@link KernelMap}, a loaded object's map, or a map
 * fd, which must stay open as long as the reader). Throws if the map is not a
 * BPF_MAP_TYPE_RINGBUF. The reader gives each record's bytes; with `type` it gives the record
 * decoded through BTF, with `decode` whatever that function makes of the bytes.
 *
 * @example
 * using reader = openRingBuffer(obj.maps.events, { type: 'struct event' });
 * for await (const event of reader) console.log(event.pid, event.comm);
 */
export function openRingBuffer(map: RingBufferSource, options?: RingBufferOptions & { type?: undefined }): RingBufferReader<Uint8Array>;
export function openRingBuffer<T = BtfValue>(map: RingBufferSource, options: RingBufferOptions & { type: string | number }): RingBufferReader<T>;
export function openRingBuffer<T>(map: RingBufferSource, options: DecodingRingBufferOptions<T>): RingBufferReader<T>;
export function openRingBuffer(map: RingBufferSource, options: RingBufferOptions & Partial<DecodingRingBufferOptions<unknown>> = {}): RingBufferReader<unknown> {
  const btf = options.btf ?? (typeof map === 'object' && 'btf' in map ? map.btf : undefined);
  const kernelMap = typeof map === 'object' && 'map' in map ? map.map : map;
  const syscalls = typeof kernelMap === 'number' ? (options.syscalls ?? nativeSyscalls()) : kernelMap.syscalls;
  const fd = typeof kernelMap === 'number' ? kernelMap : kernelMap.fd;
  const info = typeof kernelMap === 'number' ? mapInfo(fd, { syscalls }) : kernelMap.info;
  const name = info.name ? `'${info.name}'` : `fd ${fd}`;
  if (info.type !== MapType.RINGBUF) {
    throw new EbpfError(`open ring buffer ${name}: the map is a ${mapTypeName(info.type)}, not a BPF_MAP_TYPE_RINGBUF`);
  }
  if (info.maxEntries === 0 || (info.maxEntries & (info.maxEntries - 1)) !== 0) {
    throw new EbpfError(`open ring buffer ${name}: size ${info.maxEntries} is not a power of 2`);
  }
  let decode = options.decode;
  if (decode === undefined && options.type !== undefined) {
    if (btf === undefined) throw new EbpfError(`open ring buffer ${name}: records of type '${options.type}' need BTF (give the btf option)`);
    try {
      decode = recordDecoder(btf, options.type);
    } catch (err) {
      throw EbpfError.wrap(`open ring buffer ${name}`, err);
    }
  }
  return new RingBufferReader(fd, info.maxEntries, name, syscalls, decode);
}
