/**
 * BPF_MAP_TYPE_PERF_EVENT_ARRAY: slots that hold perf events for bpf_perf_event_output. In
 * the kernel the host opens a BPF_OUTPUT software event per CPU, puts its fd in the slot and
 * reads samples from the event's mmap'ed ring; in the VM {@link PerfEventArrayMap.openChannel} puts
 * a channel in a slot — an event "on" one CPU — and samples queue there (or go to its
 * callback). The kernel's rules hold: an empty slot answers ENOENT, a slot whose event is on
 * another CPU than the program's answers EOPNOTSUPP, and a full buffer loses the sample
 * (ENOSPC, counted in `lost`).
 *
 * A sample is the bytes the program passed; the kernel's raw record also pads them so that
 * size + 4 is a multiple of 8, which libbpf hands to its callback as part of the sample.
 */
import { Errno } from './errno.js';
import { BPF_F_CURRENT_CPU, BPF_F_INDEX_MASK } from './flags.js';
import { arrayNextKey } from './array.js';
import { BaseMap, type MapInfo, type MapValue, u32 } from './map.js';
import type { MapRegistry } from './registry.js';

/** One sample of a perf event channel. */
export interface PerfSample {
  /** CPU the program ran on. */
  readonly cpu: number;
  /** Slot index of the channel. */
  readonly index: number;
  readonly data: Uint8Array;
}

/** Options of {@link PerfEventArrayMap.openChannel}. */
export interface PerfChannelOptions {
  /** CPU the event is on; default: the slot index (libbpf opens slot i on CPU i). */
  cpu?: number;
  /** Bytes of samples the channel buffers before it loses them; default unlimited. */
  capacity?: number;
  /** Receives each sample instead of the queue. */
  onSample?: (sample: PerfSample) => void;
  /**
   * The size of the kernel's ring for this event, in bytes: each queued sample takes what it
   * takes there (an 8-byte perf_event_header, the u32 size, the data padded so that size + 4
   * is a multiple of 8), and a sample that does not fit is lost. Instead of `capacity`.
   */
  ringBytes?: number;
  /** Called after each sample is queued (a reader waiting for data wakes). */
  notify?: () => void;
}

/** Bytes a sample of `length` data bytes takes in a perf ring (PERF_RECORD_SAMPLE with PERF_SAMPLE_RAW). */
export function perfRecordBytes(length: number): number {
  return 8 + Math.ceil((length + 4) / 8) * 8;
}

/** A perf event in a slot: its samples, and how many were lost. */
export class PerfChannel {
  readonly cpu: number;
  readonly index: number;
  readonly capacity: number;
  readonly onSample: ((sample: PerfSample) => void) | undefined;
  readonly samples: PerfSample[] = [];
  lost = 0;
  #buffered = 0;
  readonly #ring: boolean;
  readonly #notify: (() => void) | undefined;

  constructor(index: number, options: PerfChannelOptions) {
    this.index = index;
    this.cpu = options.cpu ?? index;
    this.#ring = options.ringBytes !== undefined;
    this.capacity = options.ringBytes ?? options.capacity ?? Infinity;
    this.onSample = options.onSample;
    this.#notify = options.notify;
  }

  /** What a sample of `length` bytes counts against the capacity. */
  #cost(length: number): number {
    return this.#ring ? perfRecordBytes(length) : length;
  }

  /** perf_event_output: 0, or -ENOSPC when the buffer is full. */
  output(cpu: number, data: Uint8Array): number {
    const sample: PerfSample = { cpu, index: this.index, data };
    if (this.onSample) {
      this.onSample(sample);
      return 0;
    }
    const cost = this.#cost(data.length);
    // The kernel's ring keeps one byte free (CIRC_SPACE): it holds at most size - 1 bytes.
    const room = this.#ring ? this.capacity - 1 : this.capacity;
    if (this.#buffered + cost > room) {
      this.lost++;
      return -Errno.ENOSPC;
    }
    this.#buffered += cost;
    this.samples.push(sample);
    this.#notify?.();
    return 0;
  }

  /** The queued samples, removed from the channel. */
  drain(): PerfSample[] {
    this.#buffered = 0;
    return this.samples.splice(0);
  }

  /** The oldest queued sample, removed (undefined when none). */
  shift(): PerfSample | undefined {
    const sample = this.samples.shift();
    if (sample !== undefined) this.#buffered -= this.#cost(sample.data.length);
    return sample;
  }
}

/** BPF_MAP_TYPE_PERF_EVENT_ARRAY; see the module comment. */
export class PerfEventArrayMap extends BaseMap {
  readonly #slots: Array<PerfChannel | undefined>;

  constructor(registry: MapRegistry, info: Omit<MapInfo, 'id'>) {
    super(registry, info);
    this.#slots = new Array<PerfChannel | undefined>(info.maxEntries);
  }

  /** Puts a new channel in slot `index` (replacing any), like opening an event and storing its fd. */
  openChannel(index: number, options: PerfChannelOptions = {}): PerfChannel {
    this.checkOpen();
    if (!Number.isInteger(index) || index < 0 || index >= this.maxEntries) throw new RangeError(`slot ${index} is not in 0..${this.maxEntries - 1}`);
    const channel = new PerfChannel(index, options);
    this.#slots[index] = channel;
    return channel;
  }

  /** Opens a channel in every slot, slot i on CPU i (as libbpf's perf_buffer does for CPUs that exist). */
  openChannels(options: Omit<PerfChannelOptions, 'cpu'> = {}): PerfChannel[] {
    const out: PerfChannel[] = [];
    for (let i = 0; i < Math.min(this.maxEntries, this.registry.cpus); i++) out.push(this.openChannel(i, options));
    return out;
  }

  /** The channel in slot `index`. */
  channel(index: number): PerfChannel | undefined {
    return this.#slots[index];
  }

  /** Every queued sample of every channel, removed, in slot order. */
  drain(): PerfSample[] {
    return this.#slots.flatMap((c) => c?.drain() ?? []);
  }

  /**
   * __bpf_perf_event_output: `flags` selects the slot (BPF_F_CURRENT_CPU: this CPU's);
   * 0 or -errno. `extraFlags` are bits the caller's helper accepts beyond the index
   * (BPF_F_CTXLEN_MASK for skb programs), already handled by it.
   */
  output(flags: bigint, data: Uint8Array, extraFlags = 0n): number {
    if (flags & ~(BPF_F_INDEX_MASK | extraFlags)) return -Errno.EINVAL;
    const cpu = this.registry.cpu;
    let index = flags & BPF_F_INDEX_MASK;
    if (index === BPF_F_CURRENT_CPU) index = BigInt(cpu);
    if (index >= BigInt(this.maxEntries)) return -Errno.E2BIG;
    const channel = this.#slots[Number(index)];
    if (channel === undefined) return -Errno.ENOENT;
    if (channel.cpu !== cpu) return -Errno.EOPNOTSUPP;
    return channel.output(cpu, data);
  }

  /** The slots hold events, not values: a host lookup answers ENOTSUPP (no map_fd_sys_lookup_elem). */
  protected sysLookup(): MapValue | number {
    return -Errno.ENOTSUPP;
  }

  /** A host value would be a perf event fd, which the VM has none of: use {@link openChannel}. */
  protected sysUpdate(key: Uint8Array | undefined, _value: MapValue, flags: bigint): number {
    if (flags !== 0n) return -Errno.EINVAL;
    if (u32(key!) >= this.maxEntries) return -Errno.E2BIG;
    return -Errno.EBADF;
  }

  protected sysDelete(key: Uint8Array | undefined): number {
    const index = u32(key!);
    if (index >= this.maxEntries) return -Errno.E2BIG;
    if (this.#slots[index] === undefined) return -Errno.ENOENT;
    this.#slots[index] = undefined;
    return 0;
  }

  protected sysNextKey(key: Uint8Array | undefined): Uint8Array | number {
    return arrayNextKey(key, this.maxEntries);
  }

  protected override get hostValueSize(): number {
    return 4;
  }

  protected release(): void {
    this.#slots.fill(undefined);
  }
}
