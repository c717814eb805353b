/**
 * Ring-buffer reader throughput: records per second delivered into a JavaScript callback while
 * a producer fills the ring from another thread — the hook `npm run bench` reports.
 *
 * The producer is a socket filter run with BPF_PROG_TEST_RUN (fast to repeat; an XDP test run
 * with repeat > 1 swaps the XDP dispatcher, ~20 ms of RCU waits per call) in a worker thread,
 * so the kernel writes records on one CPU while the event loop reads them on another. Each run
 * emits `perRun` records with bpf_ringbuf_output; every record starts with a sequence number,
 * and an array map counts the records the full ring refused.
 */
import { Worker } from 'node:worker_threads';
import { assemble, encodeProgram } from '../isa/index.js';
import { createMap, type KernelMap } from './map.js';
import { MapType } from './map-types.js';
import { loadProgram, type Program } from './program.js';
import { openRingBuffer } from './ringbuf.js';
import { testRun } from './test-run.js';
import { ProgramType } from './types.js';

/** What a producer did: records it tried to emit, and how many of those the ring refused. */
export interface ProducerCounts {
  readonly emitted: number;
  readonly dropped: number;
}

/** Fills a ring buffer concurrently with the reader. */
export interface RingBufferProducer {
  /**
   * Emits `records` records (about: whole runs) off the main thread; resolves with the counts.
   * With `rate`, paces itself to about that many records per second.
   */
  run(records: number, options?: { rate?: number }): Promise<ProducerCounts>;
  /** Emits `records` records synchronously on this thread (to measure the reader alone afterwards). */
  runSync(records: number): ProducerCounts;
  /** The counts so far (they only grow). */
  counts(): ProducerCounts;
}

/** Options of {@link testRunProducer}. */
export interface TestRunProducerOptions {
  /** Bytes per record, a multiple of 8 up to 256 (default 64). */
  recordSize?: number;
  /** Records per program run, 1 to 256 (default 64). */
  perRun?: number;
}

const PACKET = new Uint8Array(64);
const u32 = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);

/**
 * A socket filter emitting `perRun` records of `size` bytes per run: it looks up `counter[0]`
 * (a 16-byte array value: next sequence number, records refused), then `perRun` times takes a
 * sequence number, writes a record starting with it from the stack with bpf_ringbuf_output, and
 * counts a refusal. The loop is a bounded loop the verifier walks through (bpf_loop would need a
 * callback, and callbacks need BTF func_info).
 */
function producerProgram(ringFd: number, counterFd: number, size: number, perRun: number): Program {
  const words = Array.from({ length: size / 8 }, (_, i) => `*(u64 *)(r10 - ${size - 8 * i}) = r7`).join('\n');
  const text = `
    r1 = 0
    *(u32 *)(r10 - ${size + 4}) = r1
    r2 = r10
    r2 += -${size + 4}
    ld_pseudo r1, 1, ${counterFd}
    call 1
    if r0 == 0 goto out
    r9 = r0
    r8 = 0
  loop:
    r7 = *(u64 *)(r9 + 0)
    r1 = r7
    r1 += 1
    *(u64 *)(r9 + 0) = r1
    ${words}
    ld_pseudo r1, 1, ${ringFd}
    r2 = r10
    r2 += -${size}
    r3 = ${size}
    r4 = 0
    call 130
    if r0 == 0 goto next
    r1 = *(u64 *)(r9 + 8)
    r1 += 1
    *(u64 *)(r9 + 8) = r1
  next:
    r8 += 1
    if r8 < ${perRun} goto loop
  out:
    r0 = 0
    exit`;
  return loadProgram({ type: ProgramType.SOCKET_FILTER, license: 'GPL', name: 'rb_bench', instructions: encodeProgram(assemble(text)) });
}

/**
 * A {@link RingBufferProducer} writing into `ring` from a test-run program; close it (or
 * `using`) to unload the program and its counter map.
 */
export function testRunProducer(ring: KernelMap, options: TestRunProducerOptions = {}): RingBufferProducer & Disposable {
  const size = options.recordSize ?? 64;
  const perRun = options.perRun ?? 64;
  if (size % 8 !== 0 || size <= 0 || size > 256) throw new RangeError(`record size ${size}: a multiple of 8 up to 256`);
  if (!Number.isInteger(perRun) || perRun < 1 || perRun > 256) throw new RangeError(`${perRun} records per run: 1 to 256`);
  const counter = createMap({ type: MapType.ARRAY, keySize: 4, valueSize: 16, maxEntries: 1, name: 'rb_bench_cnt', syscalls: ring.syscalls });
  let program: Program;
  try {
    program = producerProgram(ring.fd, counter.fd, size, perRun);
  } catch (err) {
    counter.close();
    throw err;
  }
  const counts = (): ProducerCounts => {
    const value = counter.lookup(u32(0))!;
    const view = new DataView(value.buffer, value.byteOffset);
    return { emitted: Number(view.getBigUint64(0, true)), dropped: Number(view.getBigUint64(8, true)) };
  };
  const runs = (records: number): number => Math.max(1, Math.ceil(records / perRun));
  return {
    async run(records, runOptions = {}) {
      const total = runs(records);
      const rate = runOptions.rate;
      // Paced: one chunk per millisecond or so; unpaced: big chunks.
      const chunk = rate === undefined ? Math.ceil(4096 / perRun) : Math.ceil(rate / 1000 / perRun);
      // The worker gets the program's fd number: fds belong to the process, not the thread.
      const worker = new Worker(new URL('./ringbuf-bench-worker.js', import.meta.url), {
        workerData: { programFd: program.fd, runs: total, chunk: Math.max(1, Math.min(total, chunk)), runsPerSecond: rate === undefined ? 0 : rate / perRun },
      });
      await new Promise<void>((resolve, reject) => {
        worker.once('message', (message: { error?: string }) => (message.error ? reject(new Error(message.error)) : resolve()));
        worker.once('error', reject);
      });
      await worker.terminate();
      return counts();
    },
    runSync(records) {
      testRun(program, { data: PACKET, repeat: runs(records) });
      return counts();
    },
    counts,
    [Symbol.dispose]() {
      program.close();
      counter.close();
    },
  };
}

/** Options of {@link measureRingBufferThroughput}. */
export interface RingBufferBenchOptions {
  /** Records the producer emits (default 1 000 000). */
  records?: number;
  /** The JavaScript callback records are delivered into (default: reads the record's first byte). */
  onRecord?: (record: Uint8Array) => void;
  /** Pace the producer to about this many records per second (default: as fast as it goes). */
  rate?: number;
}

/** What {@link measureRingBufferThroughput} measured. */
export interface RingBufferBenchResult {
  /** Records the producer tried to emit. */
  readonly emitted: number;
  /** Records the ring refused (full): the reader fell behind. */
  readonly dropped: number;
  /** Records the callback received (= emitted − dropped when nothing was lost in between). */
  readonly delivered: number;
  readonly seconds: number;
  /** Delivered records per second, producer running concurrently. */
  readonly recordsPerSecond: number;
}

/**
 * Runs `producer` for `records` records while reading `ring` through `onRecord` on this thread;
 * the clock runs from the producer's start until the last record was delivered.
 */
export async function measureRingBufferThroughput(ring: KernelMap, producer: RingBufferProducer, options: RingBufferBenchOptions = {}): Promise<RingBufferBenchResult> {
  const records = options.records ?? 1_000_000;
  let sink = 0;
  const onRecord = options.onRecord ?? ((record: Uint8Array) => { sink += record[0]!; });
  using reader = openRingBuffer(ring);
  reader.drain();
  let delivered = 0;
  const count = (record: Uint8Array): void => {
    delivered++;
    onRecord(record);
  };
  const start = process.hrtime.bigint();
  const stop = reader.onRecord(count);
  const before = producerBaseline(producer);
  let counts: ProducerCounts;
  try {
    counts = await producer.run(records, { rate: options.rate });
  } finally {
    stop();
  }
  reader.consume(count); // what arrived after the last wake-up
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  void sink;
  const emitted = counts.emitted - before.emitted;
  const dropped = counts.dropped - before.dropped;
  return { emitted, dropped, delivered, seconds, recordsPerSecond: delivered / seconds };
}

/** The reader alone: the ring filled first, then drained through the callback; records per second of the drain. */
export function measureRingBufferDrain(ring: KernelMap, producer: RingBufferProducer, options: RingBufferBenchOptions & { rounds?: number } = {}): RingBufferBenchResult {
  const records = options.records ?? 10_000;
  let sink = 0;
  const onRecord = options.onRecord ?? ((record: Uint8Array) => { sink += record[0]!; });
  using reader = openRingBuffer(ring);
  reader.drain();
  const before = producerBaseline(producer);
  let delivered = 0;
  let ns = 0n;
  let last: ProducerCounts = before;
  for (let round = 0; round < (options.rounds ?? 20); round++) {
    last = producer.runSync(records);
    const t0 = process.hrtime.bigint();
    delivered += reader.consume((record) => onRecord(record));
    ns += process.hrtime.bigint() - t0;
  }
  void sink;
  const seconds = Number(ns) / 1e9;
  return {
    emitted: last.emitted - before.emitted,
    dropped: last.dropped - before.dropped,
    delivered,
    seconds,
    recordsPerSecond: delivered / seconds,
  };
}

function producerBaseline(producer: RingBufferProducer): ProducerCounts {
  return producer.counts();
}

/**
 * The benchmark `npm run bench` reports: a 16 MiB ring, 64-byte records, the producer in a
 * worker (`perRun` records per test run), delivered into a JS callback; then the reader alone on
 * a pre-filled ring.
 */
export async function benchRingBuffer(options: { records?: number; perRun?: number; ringSize?: number; pacedRate?: number; pacedRecords?: number } = {}): Promise<{ concurrent: RingBufferBenchResult; drain: RingBufferBenchResult; paced: RingBufferBenchResult }> {
  using ring = createMap({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: options.ringSize ?? 16 << 20, name: 'rb_bench' });
  using producer = testRunProducer(ring, { recordSize: 64, perRun: options.perRun ?? 64 });
  const concurrent = await measureRingBufferThroughput(ring, producer, { records: options.records ?? 2_000_000 });
  const drain = measureRingBufferDrain(ring, producer, { records: Math.floor((options.ringSize ?? 16 << 20) / 72 / 2) });
  // A steady producer at a given rate into a 1 MiB ring (about 15 ms of records at 1M/s): the
  // reader must keep up with no record refused.
  using small = createMap({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 1 << 20, name: 'rb_paced' });
  using pacedProducer = testRunProducer(small, { recordSize: 64, perRun: 1 });
  const paced = await measureRingBufferThroughput(small, pacedProducer, { records: options.pacedRecords ?? 1_000_000, rate: options.pacedRate ?? 500_000 });
  return { concurrent, drain, paced };
}
