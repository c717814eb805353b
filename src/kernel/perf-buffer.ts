/**
 * Reading what BPF programs send with bpf_perf_event_output() through a
 * BPF_MAP_TYPE_PERF_EVENT_ARRAY: one PERF_COUNT_SW_BPF_OUTPUT event per CPU, its fd stored at
 * the CPU's index of the map, and its ring mmapped (a metadata page, `struct
 * perf_event_mmap_page`, then 2^n data pages). The kernel advances `data_head` (read with
 * acquire), the reader `data_tail` (written with release); records are `struct
 * perf_event_header` {u32 type; u16 misc; u16 size} and a body, 8-byte aligned, and unlike a BPF
 * ring buffer they may wrap around the end of the data pages (mapped once).
 *
 * Samples carry the program's bytes padded by the kernel so that `u32 size` + data is a multiple
 * of 8: a sample's data can be up to 7 bytes longer than what the program sent.
 */
import { EbpfError } from '../errors.js';
import { mapInfo } from './info.js';
import type { KernelMap } from './map.js';
import { MapType, mapTypeName } from './map-types.js';
import { possibleCpus } from './map-percpu.js';
import { MappedRegion, pageSizeOf } from './mmap.js';
import { nativeSyscalls } from './native.js';
import { Errno } from './errno.js';
import { KernelError } from './error.js';
import { openBpfOutputEvent, PerfRecordType } from './perf-event.js';
import { pollerFor, type Poller } from './poller.js';
import { Prot, type Syscalls } from './syscalls.js';
import { Attr, MAP_ELEM } from './attr.js';
import { Command } from './types.js';

/** Offsets in `struct perf_event_mmap_page`. */
const MMAP_PAGE = { data_head: 1024, data_tail: 1032, data_offset: 1040, data_size: 1048 } as const;
const HEADER_SIZE = 8;

/** A record from a perf buffer: a sample the program sent, or a count of samples lost to a full ring. */
export type PerfRecord =
  | { readonly type: 'sample'; readonly cpu: number; readonly data: Uint8Array }
  | { readonly type: 'lost'; readonly cpu: number; readonly lost: number };

/** Options of {@link openPerfBuffer}. */
export interface PerfBufferOptions {
  /** Data pages per CPU, a power of 2 (default 8: 32 KiB with 4 KiB pages). */
  pagesPerCpu?: number;
  /** Wake the reader every n samples (default 1). */
  wakeupEvents?: number;
  /** Or wake it once n bytes are waiting (throughput over latency). */
  watermark?: number;
  /** CPUs to read (default: every possible CPU that is online; offline ones are skipped). */
  cpus?: readonly number[];
  syscalls?: Syscalls;
}

/** One CPU's event and ring. */
class CpuRing {
  readonly cpu: number;
  readonly fd: number;
  readonly region: MappedRegion;
  readonly meta: BigInt64Array;
  readonly data: Uint8Array;
  readonly view: DataView;
  readonly size: number;
  tail: number;

  constructor(cpu: number, fd: number, region: MappedRegion, pageSize: number) {
    this.cpu = cpu;
    this.fd = fd;
    this.region = region;
    this.meta = new BigInt64Array(region.buffer, 0, pageSize / 8);
    const view = new DataView(region.buffer);
    // data_offset/data_size exist since 4.1; before, data starts at the second page.
    const offset = Number(view.getBigUint64(MMAP_PAGE.data_offset, LITTLE_ENDIAN)) || pageSize;
    const size = Number(view.getBigUint64(MMAP_PAGE.data_size, LITTLE_ENDIAN)) || region.length - pageSize;
    this.data = new Uint8Array(region.buffer, offset, size);
    this.view = new DataView(region.buffer, offset, size);
    this.size = size;
    this.tail = Number(Atomics.load(this.meta, MMAP_PAGE.data_tail / 8));
  }

  head(): number {
    return Number(Atomics.load(this.meta, MMAP_PAGE.data_head / 8));
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A reader of a perf event array: owns one perf event and ring per CPU and the map entries
 * pointing at them (removed on close; the map itself stays open). `close()` it, or bind it with
 * `using`.
 *
 * @example
 * using reader = openPerfBuffer(events);
 * for await (const record of reader) if (record.type === 'sample') handle(record.cpu, record.data);
 */
export class PerfBufferReader implements Disposable, AsyncIterable<PerfRecord> {
  /** The CPUs with a ring. */
  readonly cpus: readonly number[];
  readonly #rings: CpuRing[];
  readonly #map: { fd: number; name: string };
  readonly #syscalls: Syscalls;
  readonly #poller: Poller;
  #pending: PerfRecord[] = [];
  #lost = 0;
  #closed = false;

  constructor(mapFd: number, mapName: string, rings: CpuRing[], syscalls: Syscalls) {
    this.#map = { fd: mapFd, name: mapName };
    this.#rings = rings;
    this.cpus = rings.map((r) => r.cpu);
    this.#syscalls = syscalls;
    this.#poller = pollerFor(syscalls);
  }

  /** Samples lost to full rings so far (from the LOST records read). */
  get lost(): number {
    return this.#lost;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The perf event fds, one per CPU in {@link cpus} (for an event loop of one's own). */
  get fds(): readonly number[] {
    return this.#rings.map((r) => r.fd);
  }

  /** Bytes waiting, over all CPUs. */
  get available(): number {
    this.#checkOpen();
    let total = 0;
    for (const ring of this.#rings) total += ring.head() - ring.tail;
    return total;
  }

  /**
   * Calls `onRecord` for each record now in the rings (CPU by CPU), up to `limit`; returns how
   * many. Sample data are copies, safe to keep.
   */
  consume(onRecord: (record: PerfRecord) => void, limit = Infinity): number {
    let count = 0;
    while (this.#pending.length > 0 && count < limit) {
      onRecord(this.#pending.shift()!);
      count++;
    }
    for (const ring of this.#rings) {
      if (count >= limit) break;
      count += this.#readRing(ring, limit - count, onRecord);
    }
    return count;
  }

  /** The records now in the rings (at most `limit`). */
  drain(limit = Infinity): PerfRecord[] {
    const out: PerfRecord[] = [];
    this.consume((record) => out.push(record), limit);
    return out;
  }

  /** Resolves true when some CPU's ring has data, false if the reader was closed or `signal` aborted first. */
  async wait(signal?: AbortSignal): Promise<boolean> {
    for (;;) {
      if (this.#closed || signal?.aborted) return false;
      if (this.#pending.length > 0 || this.available > 0) return true;
      // One wait per CPU; the first to fire ends the others.
      const race = new AbortController();
      const forward = (): void => race.abort();
      signal?.addEventListener('abort', forward, { once: true });
      try {
        await Promise.race(this.fds.map((fd) => this.#poller.waitReadable(fd, race.signal)));
      } finally {
        race.abort();
        signal?.removeEventListener('abort', forward);
      }
    }
  }

  /** The next record, waiting for one; undefined once the reader is closed. */
  async read(): Promise<PerfRecord | undefined> {
    for (;;) {
      if (this.#closed) return undefined;
      if (this.#pending.length === 0) this.#pending = this.drain(4096);
      const next = this.#pending.shift();
      if (next) return next;
      if (!(await this.wait())) return undefined;
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<PerfRecord, void, undefined> {
    for (;;) {
      const record = await this.read();
      if (record === undefined) return;
      yield record;
    }
  }

  /** Removes the map entries, unmaps the rings and closes the events. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending = [];
    for (const ring of this.#rings) {
      this.#poller.cancel(ring.fd);
      deleteEntry(this.#syscalls, this.#map.fd, ring.cpu);
      ring.region.unmap();
      this.#syscalls.close(ring.fd);
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw new EbpfError(`perf buffer ${this.#map.name} is closed`);
  }

  /** Copies [tail, head) out of one ring (two pieces when it wraps), releases it, then parses. */
  #readRing(ring: CpuRing, limit: number, onRecord: (record: PerfRecord) => void): number {
    this.#checkOpen();
    const head = ring.head();
    const tail = ring.tail;
    if (head === tail) return 0;
    // Take whole records up to `limit`: walk the headers in place first.
    let end = tail;
    let records = 0;
    while (end < head && records < limit) {
      const at = end % ring.size;
      // Records are 8-byte aligned, so a header never wraps; bodies may.
      const size = ring.view.getUint16(at + 6, LITTLE_ENDIAN);
      if (size < HEADER_SIZE) throw new EbpfError(`perf buffer ${this.#map.name}: CPU ${ring.cpu}: record of ${size} bytes`);
      end += size;
      records++;
    }
    const bytes = end - tail;
    const block = new Uint8Array(bytes);
    const from = tail % ring.size;
    const first = Math.min(bytes, ring.size - from);
    block.set(ring.data.subarray(from, from + first));
    if (first < bytes) block.set(ring.data.subarray(0, bytes - first), first);
    ring.tail = end;
    Atomics.store(ring.meta, MMAP_PAGE.data_tail / 8, BigInt(end));

    const view = new DataView(block.buffer);
    let at = 0;
    let count = 0;
    while (at < bytes) {
      const type = view.getUint32(at, LITTLE_ENDIAN);
      const size = view.getUint16(at + 6, LITTLE_ENDIAN);
      if (type === PerfRecordType.SAMPLE) {
        const length = view.getUint32(at + HEADER_SIZE, LITTLE_ENDIAN);
        const start = at + HEADER_SIZE + 4;
        onRecord({ type: 'sample', cpu: ring.cpu, data: block.subarray(start, Math.min(start + length, at + size)) });
        count++;
      } else if (type === PerfRecordType.LOST) {
        const lost = Number(view.getBigUint64(at + HEADER_SIZE + 8, LITTLE_ENDIAN));
        this.#lost += lost;
        onRecord({ type: 'lost', cpu: ring.cpu, lost });
        count++;
      }
      at += size;
    }
    return count;
  }
}

function deleteEntry(syscalls: Syscalls, mapFd: number, cpu: number): void {
  const key = new Uint8Array(4);
  new DataView(key.buffer).setUint32(0, cpu, LITTLE_ENDIAN);
  syscalls.withMemory((memory) => {
    const attr = new Attr(MAP_ELEM.SIZE).u32(MAP_ELEM.map_fd, mapFd).u64(MAP_ELEM.key, memory.input(key));
    return syscalls.bpf(Command.MAP_DELETE_ELEM, attr.bytes);
  });
}

/**
 * Opens a reader on a perf event array (a {@link KernelMap} or a map fd, which must stay open
 * as long as the reader): an output event and ring per CPU, stored into the map. CPUs at or past
 * the map's `maxEntries` or offline are skipped.
 */
export function openPerfBuffer(map: KernelMap | number, options: PerfBufferOptions = {}): PerfBufferReader {
  const syscalls = typeof map === 'number' ? (options.syscalls ?? nativeSyscalls()) : map.syscalls;
  const fd = typeof map === 'number' ? map : map.fd;
  const info = typeof map === 'number' ? mapInfo(fd, { syscalls }) : map.info;
  const name = info.name ? `'${info.name}'` : `fd ${fd}`;
  if (info.type !== MapType.PERF_EVENT_ARRAY) {
    throw new EbpfError(`open perf buffer ${name}: the map is a ${mapTypeName(info.type)}, not a BPF_MAP_TYPE_PERF_EVENT_ARRAY`);
  }
  const pages = options.pagesPerCpu ?? 8;
  if (!Number.isInteger(pages) || pages <= 0 || (pages & (pages - 1)) !== 0) {
    throw new RangeError(`open perf buffer ${name}: ${pages} pages per CPU is not a power of 2`);
  }
  const pageSize = pageSizeOf(syscalls);
  const rings: CpuRing[] = [];
  const cleanup = (): void => {
    for (const ring of rings) {
      deleteEntry(syscalls, fd, ring.cpu);
      ring.region.unmap();
      syscalls.close(ring.fd);
    }
  };
  try {
    for (const cpu of options.cpus ?? possibleCpus()) {
      if (cpu >= info.maxEntries) continue;
      let eventFd: number;
      try {
        eventFd = openBpfOutputEvent(cpu, {
          syscalls,
          ...(options.watermark ? { watermark: options.watermark } : { wakeupEvents: options.wakeupEvents ?? 1 }),
        });
      } catch (err) {
        // A possible CPU that is offline (ENODEV) has no ring, as in cilium/ebpf's reader.
        if (err instanceof KernelError && err.errno === Errno.ENODEV && options.cpus === undefined) continue;
        throw err;
      }
      let region: MappedRegion;
      try {
        region = MappedRegion.map(syscalls, eventFd, pageSize * (pages + 1), Prot.READ | Prot.WRITE, 0, `perf buffer ${name} CPU ${cpu}`);
      } catch (err) {
        syscalls.close(eventFd);
        throw err;
      }
      rings.push(new CpuRing(cpu, eventFd, region, pageSize));
      storeEntry(syscalls, fd, cpu, eventFd, name);
    }
  } catch (err) {
    cleanup();
    throw err;
  }
  if (rings.length === 0) {
    throw new EbpfError(`open perf buffer ${name}: no CPU to read (max_entries ${info.maxEntries})`);
  }
  return new PerfBufferReader(fd, name, rings, syscalls);
}

function storeEntry(syscalls: Syscalls, mapFd: number, cpu: number, eventFd: number, name: string): void {
  const key = new Uint8Array(4);
  const value = new Uint8Array(4);
  new DataView(key.buffer).setUint32(0, cpu, LITTLE_ENDIAN);
  new DataView(value.buffer).setUint32(0, eventFd, LITTLE_ENDIAN);
  const ret = syscalls.withMemory((memory) => {
    const attr = new Attr(MAP_ELEM.SIZE)
      .u32(MAP_ELEM.map_fd, mapFd)
      .u64(MAP_ELEM.key, memory.input(key))
      .u64(MAP_ELEM.value, memory.input(value));
    return syscalls.bpf(Command.MAP_UPDATE_ELEM, attr.bytes);
  });
  if (ret < 0) throw new KernelError(`store the perf event of CPU ${cpu} in map ${name}`, -ret);
}
