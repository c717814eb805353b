/**
 * A small raw bpf() map client for the differential tests: BPF_MAP_CREATE and the element
 * commands, returning the kernel's errno instead of throwing, so a test can compare every
 * answer with the VM's. (src/kernel's own map API may replace it later.)
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { Attr } from '../../../src/kernel/attr.js';
import { Command, nativeSyscalls, type Syscalls } from '../../../src/kernel/index.js';

/** `union bpf_attr` for BPF_MAP_CREATE. */
const MAP_CREATE = {
  map_type: 0, key_size: 4, value_size: 8, max_entries: 12, map_flags: 16, inner_map_fd: 20, numa_node: 24,
  map_name: 28, map_extra: 64, SIZE: 80,
} as const;
/** `union bpf_attr` for BPF_MAP_*_ELEM. */
const MAP_ELEM = { map_fd: 0, key: 8, value: 16, flags: 24, SIZE: 32 } as const;

export interface KernelMapOptions {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags?: number;
  mapExtra?: bigint;
  innerMapFd?: number;
  name?: string;
}

/** errno (0 for success) and the bytes read back. */
export interface Reply {
  errno: number;
  bytes?: Uint8Array;
}

const PERCPU_TYPES = new Set([5, 6, 10, 21]);
const FD_TYPES = new Set([3, 4, 8, 12, 13]);

/** Number of possible CPUs (per-CPU values from bpf() have one slot per possible CPU). */
export function possibleCpus(): number {
  const text = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
  let n = 0;
  for (const part of text.split(',')) {
    const [a, b] = part.split('-').map(Number);
    n += b === undefined ? 1 : b - a! + 1;
  }
  return n;
}

let setaffinity: ((pid: number, size: number, mask: Uint8Array) => number) | undefined;

/**
 * Pins this thread to `cpu`, so that every bpf() call and test run happens on the CPU the VM
 * models: LRU lists and per-CPU values depend on the caller's CPU.
 */
export function pinToCpu(cpu: number): void {
  if (setaffinity === undefined) {
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    const libc = koffi.load('libc.so.6');
    setaffinity = libc.func('int sched_setaffinity(int pid, size_t size, const uint8_t *mask)') as unknown as typeof setaffinity;
  }
  const mask = new Uint8Array(128);
  mask[cpu >> 3] = 1 << (cpu & 7);
  if (setaffinity!(0, mask.length, mask) !== 0) throw new Error(`sched_setaffinity(CPU ${cpu}) failed`);
}

/** {@link pinToCpu}(0). */
export function pinToCpu0(): void {
  pinToCpu(0);
}

export class KernelMap implements Disposable {
  readonly fd: number;
  readonly options: KernelMapOptions;
  readonly #sys: Syscalls;

  private constructor(fd: number, options: KernelMapOptions, sys: Syscalls) {
    this.fd = fd;
    this.options = options;
    this.#sys = sys;
  }

  /** BPF_MAP_CREATE: the map, or the errno. */
  static create(options: KernelMapOptions): KernelMap | number {
    const sys = nativeSyscalls();
    const attr = new Attr(MAP_CREATE.SIZE)
      .u32(MAP_CREATE.map_type, options.type)
      .u32(MAP_CREATE.key_size, options.keySize)
      .u32(MAP_CREATE.value_size, options.valueSize)
      .u32(MAP_CREATE.max_entries, options.maxEntries)
      .u32(MAP_CREATE.map_flags, options.flags ?? 0)
      .u32(MAP_CREATE.inner_map_fd, options.innerMapFd ?? 0)
      .u64(MAP_CREATE.map_extra, options.mapExtra ?? 0n);
    if (options.name) attr.cstring(MAP_CREATE.map_name, options.name, 16);
    const r = sys.bpf(Command.MAP_CREATE, attr.bytes);
    return r < 0 ? -r : new KernelMap(r, options, sys);
  }

  /** Bytes of the value buffer bpf() reads and writes (per-CPU: one rounded value per possible CPU). */
  get valueBufferSize(): number {
    const { type, valueSize } = this.options;
    if (PERCPU_TYPES.has(type)) return Math.ceil(valueSize / 8) * 8 * possibleCpus();
    if (FD_TYPES.has(type)) return 4;
    return valueSize;
  }

  #elem(cmd: number, key: Uint8Array | undefined, value: Uint8Array | undefined, outSize: number, flags: bigint): Reply {
    return this.#sys.withMemory((mem) => {
      const out = outSize > 0 ? mem.output(outSize) : undefined;
      const attr = new Attr(MAP_ELEM.SIZE)
        .u32(MAP_ELEM.map_fd, this.fd)
        .u64(MAP_ELEM.key, key ? mem.input(key) : 0n)
        .u64(MAP_ELEM.value, value ? mem.input(value) : out?.address ?? 0n)
        .u64(MAP_ELEM.flags, flags);
      const r = this.#sys.bpf(cmd, attr.bytes);
      if (r < 0) return { errno: -r };
      return out ? { errno: 0, bytes: out.read() } : { errno: 0 };
    });
  }

  lookup(key: Uint8Array | undefined, flags = 0n): Reply {
    return this.#elem(Command.MAP_LOOKUP_ELEM, key, undefined, this.valueBufferSize, flags);
  }

  /** BPF_MAP_LOOKUP_ELEM with an input value (bloom filters test `value`). */
  lookupValue(value: Uint8Array): number {
    return this.#elem(Command.MAP_LOOKUP_ELEM, undefined, value, 0, 0n).errno;
  }

  update(key: Uint8Array | undefined, value: Uint8Array, flags = 0n): number {
    return this.#elem(Command.MAP_UPDATE_ELEM, key, value, 0, flags).errno;
  }

  delete(key: Uint8Array | undefined): number {
    return this.#elem(Command.MAP_DELETE_ELEM, key, undefined, 0, 0n).errno;
  }

  lookupAndDelete(key: Uint8Array | undefined, flags = 0n): Reply {
    return this.#elem(Command.MAP_LOOKUP_AND_DELETE_ELEM, key, undefined, this.valueBufferSize, flags);
  }

  nextKey(key: Uint8Array | undefined): Reply {
    return this.#sys.withMemory((mem) => {
      const out = mem.output(Math.max(this.options.keySize, 1));
      const attr = new Attr(MAP_ELEM.SIZE)
        .u32(MAP_ELEM.map_fd, this.fd)
        .u64(MAP_ELEM.key, key ? mem.input(key) : 0n)
        .u64(MAP_ELEM.value, out.address);
      const r = this.#sys.bpf(Command.MAP_GET_NEXT_KEY, attr.bytes);
      return r < 0 ? { errno: -r } : { errno: 0, bytes: out.read().subarray(0, this.options.keySize) };
    });
  }

  /** All keys in get_next_key order. */
  keys(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let r = this.nextKey(undefined); r.errno === 0; r = this.nextKey(r.bytes)) {
      out.push(r.bytes!);
      if (out.length > 1_000_000) throw new Error('get_next_key does not end');
    }
    return out;
  }

  close(): void {
    this.#sys.close(this.fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Hex of bytes, for messages and set comparisons. */
export function hex(bytes: Uint8Array | undefined): string {
  return bytes === undefined ? '-' : Buffer.from(bytes).toString('hex');
}

/** A deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A record read from a kernel ring buffer: its header's length and flags, and its data. */
export interface RingRecord {
  len: number;
  discarded: boolean;
  data: Uint8Array;
}

/**
 * Reads a kernel BPF ring buffer the way libbpf does: the consumer page mapped read-write at
 * offset 0, the producer page and the (twice-mapped) data read-only after it.
 */
export class KernelRingbuf implements Disposable {
  readonly #consumer: DataView;
  readonly #producer: DataView;
  readonly #data: Uint8Array;
  readonly #size: number;
  readonly #unmap: () => void;

  constructor(fd: number, size: number) {
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    const libc = koffi.load('libc.so.6');
    const mmap = libc.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)');
    const munmap = libc.func('int munmap(void *addr, size_t len)');
    const PAGE = 4096, PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1;
    const cons = mmap(null, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const rest = mmap(null, PAGE + 2 * size, PROT_READ, MAP_SHARED, fd, PAGE);
    if (koffi.address(cons) === 0xffffffffffffffffn || koffi.address(rest) === 0xffffffffffffffffn) throw new Error('mmap of the ring buffer failed');
    this.#consumer = new DataView(koffi.view(cons, PAGE));
    const restView = koffi.view(rest, PAGE + 2 * size);
    this.#producer = new DataView(restView, 0, PAGE);
    this.#data = new Uint8Array(restView, PAGE, 2 * size);
    this.#size = size;
    this.#unmap = () => {
      munmap(cons, PAGE);
      munmap(rest, PAGE + 2 * size);
    };
  }

  get consumerPosition(): number {
    return Number(this.#consumer.getBigUint64(0, true));
  }

  get producerPosition(): number {
    return Number(this.#producer.getBigUint64(0, true));
  }

  /** Committed records from the consumer position on (discarded ones included), consumed. */
  consume(): RingRecord[] {
    const out: RingRecord[] = [];
    let cons = this.consumerPosition;
    const prod = this.producerPosition;
    const view = new DataView(this.#data.buffer, this.#data.byteOffset, this.#data.byteLength);
    while (cons < prod) {
      const at = cons % this.#size;
      const len = view.getUint32(at, true);
      if (len & 0x80000000) break;
      const size = len & 0x3fffffff;
      out.push({ len: size, discarded: (len & 0x40000000) !== 0, data: this.#data.slice(at + 8, at + 8 + size) });
      cons += Math.ceil((size + 8) / 8) * 8;
    }
    this.#consumer.setBigUint64(0, BigInt(cons), true);
    return out;
  }

  close(): void {
    this.#unmap();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
