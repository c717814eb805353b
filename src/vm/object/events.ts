/**
 * Event readers of the VM: ring buffers and perf event arrays read the way the kernel
 * backend's readers read theirs (src/kernel/ringbuf.ts, perf-buffer.ts) — `consume`, `drain`,
 * `read`, `for await`, `onRecord`, records decoded through BTF — so code that reads events
 * runs on either backend. A reader wakes when a program's submit or output would have woken
 * an epoll waiter in the kernel (ring-buffer notifications follow BPF_RB_NO_WAKEUP and
 * BPF_RB_FORCE_WAKEUP). Platform-neutral.
 */
import type { Btf } from '../../btf/btf.js';
import type { BtfValue } from '../../btf/codec.js';
import { btfRecordDecoder, type RecordDecoder } from '../../btf/record.js';
import { EbpfError } from '../../errors.js';
import { MapType } from '../maps/flags.js';
import { u32Bytes, type VmMap } from '../maps/map.js';
import { PerfEventArrayMap, type PerfChannel } from '../maps/perf-event-array.js';
import { RingbufMap } from '../maps/ringbuf.js';
import { VmObjectMap } from './map.js';

/** A map readers can be opened on: an object's map (with its BTF) or a VM map. */
export type VmEventSource = VmObjectMap | VmMap;

/** Options of {@link openRingBuffer}. */
export interface VmRingBufferOptions {
  /** Decode each record as this C type (`'struct event'`, a bare name or a type id) of `btf`, else of the object's BTF. */
  type?: string | number;
  btf?: Btf;
}

/** Options of {@link openRingBuffer} with a decoder of one's own. */
export interface VmDecodingRingBufferOptions<T> {
  /** Turns each record's bytes into the value the reader gives. */
  decode: RecordDecoder<T>;
}

/** Waiters for "something to read", resolved by a wakeup or by close/abort. */
class Waiters {
  readonly #waiting = new Set<(ready: boolean) => void>();

  wait(signal: AbortSignal | undefined): Promise<boolean> {
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (ready: boolean): void => {
        this.#waiting.delete(done);
        signal?.removeEventListener('abort', onAbort);
        resolve(ready);
      };
      const onAbort = (): void => done(false);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.add(done);
    });
  }

  wake(ready: boolean): void {
    for (const done of [...this.#waiting]) done(ready);
  }
}

function underlying(source: VmEventSource): { map: VmMap; btf: Btf | undefined; name: string } {
  return source instanceof VmObjectMap ? { map: source.map, btf: source.btf, name: source.name } : { map: source, btf: undefined, name: source.name };
}

/**
 * What both VM readers share: `drain`, `wait`, `read` and `for await` over a reader's own
 * `consume` and its test for a record that can be consumed now; `close` ends waiting reads.
 */
abstract class VmEventReader<T> implements Disposable, AsyncIterable<T> {
  protected readonly waiters = new Waiters();
  #closed = false;

  get closed(): boolean {
    return this.#closed;
  }

  /** Calls `onRecord` with each record that can be read now, up to `limit`; returns how many. */
  abstract consume(onRecord: (record: T) => void, limit?: number): number;
  /** Whether a record can be consumed now. */
  protected abstract ready(): boolean;
  /** Lets go of what the reader holds (listeners, map slots); called once, by `close`. */
  protected abstract detach(): void;

  /** The records that can be read now, consumed (at most `limit`). */
  drain(limit = Infinity): T[] {
    const out: T[] = [];
    this.consume((r) => out.push(r), limit);
    return out;
  }

  /** Resolves true once a record can be consumed (at once if one can), false when closed or aborted. */
  async wait(signal?: AbortSignal): Promise<boolean> {
    while (!this.#closed) {
      if (this.ready()) return true;
      if (!(await this.waiters.wait(signal))) return false;
    }
    return false;
  }

  /** The next record, waiting for one; undefined once closed or aborted. */
  async read(signal?: AbortSignal): Promise<T | undefined> {
    while (!this.#closed) {
      const [record] = this.drain(1);
      if (record !== undefined) return record;
      if (!(await this.wait(signal))) return undefined;
    }
    return undefined;
  }

  /** Every record, as programs send them, until the reader is closed. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      const record = await this.read();
      if (record === undefined) return;
      yield record;
    }
  }

  /** Stops the reader: waiting reads resolve undefined. Idempotent. The map stays open. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.detach();
    this.waiters.wake(false);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * A consumer of one VM ring buffer (BPF_MAP_TYPE_RINGBUF). Does not own the map. The
 * synchronous forms (`consume`, `drain`) read what programs have committed so far; `read` and
 * `for await` wait for the next record.
 *
 * @example
 * using reader = openRingBuffer(obj.maps.events, { type: 'struct event' });
 * obj.programs.handler.testRun({ data: packet });
 * reader.drain();   // [{ pid: 1, len: 60 }]
 */
export class VmRingBufferReader<T = Uint8Array> extends VmEventReader<T> {
  readonly map: RingbufMap;
  /** Data size in bytes (the map's max_entries). */
  readonly size: number;
  readonly #decode: RecordDecoder<T> | undefined;
  readonly #unlisten: () => void;
  readonly #subscriptions = new Set<() => void>();

  constructor(map: RingbufMap, decode?: RecordDecoder<T>) {
    super();
    this.map = map;
    this.size = map.size;
    this.#decode = decode;
    this.#unlisten = map.addWakeupListener(() => {
      this.waiters.wake(true);
      for (const deliver of [...this.#subscriptions]) deliver();
    });
  }

  /** Bytes the programs have committed or reserved beyond what was consumed. */
  get available(): number {
    this.#checkOpen();
    return this.map.availableData;
  }

  /** Calls `onRecord` with each committed record, in order, up to `limit`; returns how many. */
  consume(onRecord: (record: T) => void, limit = Infinity): number {
    this.#checkOpen();
    if (limit <= 0) return 0;
    let count = 0;
    this.map.consume((bytes) => {
      count++;
      onRecord(this.#decode ? this.#decode(bytes) : (bytes as unknown as T));
      return count < limit;
    });
    return count;
  }

  protected ready(): boolean {
    return this.map.headCommitted;
  }

  /**
   * Calls `callback` with every record from now on, as soon as a notification comes (records
   * already committed are delivered first); returns the function that stops it.
   */
  onRecord(callback: (record: T) => void, options: { onError?: (err: unknown) => void } = {}): () => void {
    this.#checkOpen();
    const deliver = (): void => {
      try {
        this.consume(callback);
      } catch (err) {
        if (options.onError) options.onError(err);
        else throw err;
      }
    };
    this.#subscriptions.add(deliver);
    deliver();
    return () => this.#subscriptions.delete(deliver);
  }

  protected detach(): void {
    this.#unlisten();
    this.#subscriptions.clear();
  }

  #checkOpen(): void {
    if (this.closed) throw new EbpfError(`ring buffer '${this.map.name}': the reader is closed`);
    if (!this.map.open) throw new EbpfError(`ring buffer '${this.map.name}': the map is closed`);
  }
}

/**
 * A reader of a ring buffer map of the VM, as the kernel backend's `openRingBuffer`: raw
 * records, records decoded as a BTF type (`{ type: 'struct event' }`, from the object's BTF
 * or `btf`), or records through a decoder of one's own.
 */
export function openRingBuffer(source: VmEventSource, options?: VmRingBufferOptions & { type?: undefined }): VmRingBufferReader<Uint8Array>;
export function openRingBuffer<T = BtfValue>(source: VmEventSource, options: VmRingBufferOptions & { type: string | number }): VmRingBufferReader<T>;
export function openRingBuffer<T>(source: VmEventSource, options: VmDecodingRingBufferOptions<T>): VmRingBufferReader<T>;
export function openRingBuffer<T>(source: VmEventSource, options: VmRingBufferOptions | VmDecodingRingBufferOptions<T> = {}): VmRingBufferReader<T> {
  const { map, btf, name } = underlying(source);
  if (!(map instanceof RingbufMap)) throw new EbpfError(`map '${name}' is not a ring buffer (type ${map.type}, not ${MapType.RINGBUF})`);
  return new VmRingBufferReader<T>(map, decoderFor<T>(options, btf, name));
}

function decoderFor<T>(options: VmRingBufferOptions | VmDecodingRingBufferOptions<T>, btf: Btf | undefined, name: string): RecordDecoder<T> | undefined {
  if ('decode' in options) return options.decode;
  if (options.type === undefined) return undefined;
  const types = options.btf ?? btf;
  if (types === undefined) throw new EbpfError(`map '${name}': decoding records as '${options.type}' needs BTF (give btf)`);
  return btfRecordDecoder<T>(types, options.type, true);
}

/** A record from a perf buffer: a sample a program sent, or a count of samples lost to a full ring. */
export type VmPerfRecord =
  | { readonly type: 'sample'; readonly cpu: number; readonly data: Uint8Array }
  | { readonly type: 'lost'; readonly cpu: number; readonly lost: number };

/** Options of {@link openPerfBuffer}. */
export interface VmPerfBufferOptions {
  /** Data pages per CPU, a power of 2 (default 8: 32 KiB): samples that do not fit are lost, as in the kernel's ring. */
  pagesPerCpu?: number;
  /** CPUs to read (default every CPU of the VM). */
  cpus?: readonly number[];
}

const PAGE_SIZE = 4096;

/**
 * A reader of a perf event array of the VM: opens a channel per CPU in the map (the VM's
 * perf events, slot i on CPU i as libbpf does) with a ring of the kernel's size, and empties
 * those slots on close.
 *
 * @example
 * using reader = openPerfBuffer(obj.maps.events);
 * for await (const r of reader) if (r.type === 'sample') handle(r.cpu, r.data);
 */
export class VmPerfBufferReader extends VmEventReader<VmPerfRecord> {
  readonly map: PerfEventArrayMap;
  readonly #channels: PerfChannel[];
  readonly #reportedLost: number[];

  constructor(map: PerfEventArrayMap, options: VmPerfBufferOptions = {}) {
    super();
    const pages = options.pagesPerCpu ?? 8;
    if (!Number.isInteger(pages) || pages <= 0 || (pages & (pages - 1)) !== 0) {
      throw new RangeError(`perf buffer '${map.name}': pagesPerCpu ${pages} is not a power of 2`);
    }
    const cpus = options.cpus ?? Array.from({ length: Math.min(map.maxEntries, map.registry.cpus) }, (_, i) => i);
    this.map = map;
    this.#channels = cpus.map((cpu) => {
      if (!Number.isInteger(cpu) || cpu < 0 || cpu >= map.maxEntries) throw new RangeError(`perf buffer '${map.name}': no slot for CPU ${cpu}`);
      return map.openChannel(cpu, { cpu, ringBytes: pages * PAGE_SIZE, notify: () => this.waiters.wake(true) });
    });
    this.#reportedLost = this.#channels.map(() => 0);
  }

  /** Samples lost to full rings so far. */
  get lost(): number {
    return this.#channels.reduce((n, c) => n + c.lost, 0);
  }

  /** Samples waiting to be read. */
  get available(): number {
    return this.#channels.reduce((n, c) => n + c.samples.length, 0);
  }

  /** Calls `onRecord` with each waiting record (a CPU's losses first, then its samples), up to `limit`. */
  consume(onRecord: (record: VmPerfRecord) => void, limit = Infinity): number {
    if (this.closed) throw new EbpfError(`perf buffer '${this.map.name}': the reader is closed`);
    let count = 0;
    this.#channels.forEach((channel, i) => {
      if (count >= limit) return;
      const lost = channel.lost - this.#reportedLost[i]!;
      if (lost > 0) {
        this.#reportedLost[i] = channel.lost;
        onRecord({ type: 'lost', cpu: channel.cpu, lost });
        count++;
      }
      while (count < limit) {
        const sample = channel.shift();
        if (sample === undefined) break;
        onRecord({ type: 'sample', cpu: sample.cpu, data: padRaw(sample.data) });
        count++;
      }
    });
    return count;
  }

  protected ready(): boolean {
    return this.available > 0 || this.#channels.some((c, i) => c.lost > this.#reportedLost[i]!);
  }

  /** Empties the map slots it opened. */
  protected detach(): void {
    if (!this.map.open) return;
    for (const channel of this.#channels) {
      if (this.map.channel(channel.index) === channel) this.map.delete(u32Bytes(channel.index));
    }
  }
}

/** The sample as the kernel's PERF_SAMPLE_RAW carries it: zero-padded so that its size + 4 is a multiple of 8. */
function padRaw(data: Uint8Array): Uint8Array {
  const size = Math.ceil((data.length + 4) / 8) * 8 - 4;
  if (size === data.length) return data;
  const out = new Uint8Array(size);
  out.set(data);
  return out;
}

/** A reader of a perf event array of the VM, as the kernel backend's `openPerfBuffer`. */
export function openPerfBuffer(source: VmEventSource, options: VmPerfBufferOptions = {}): VmPerfBufferReader {
  const { map, name } = underlying(source);
  if (!(map instanceof PerfEventArrayMap)) throw new EbpfError(`map '${name}' is not a perf event array (type ${map.type}, not ${MapType.PERF_EVENT_ARRAY})`);
  return new VmPerfBufferReader(map, options);
}
