/**
 * The perf buffer reader against the running kernel: a tc program run with BPF_PROG_TEST_RUN
 * sends {seq, seq + 100, seq + 200} with bpf_perf_event_output(BPF_F_CURRENT_CPU) and counts in
 * an array map the samples the full ring refused. A test run may migrate to another CPU between
 * runs (the kernel reschedules inside a long repeat), so order is checked per CPU.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { assemble, encodeProgram } from '../../src/isa/index.js';
import {
  MapType, ProgramType, createMap, loadProgram, openPerfBuffer, openRingBuffer, pollerFor, possibleCpus, testRun,
  type KernelMap, type PerfRecord, type Program,
} from '../../src/kernel/index.js';
import { kernelSkip } from '../support/kernel.js';

const openFds = (): number => readdirSync('/proc/self/fd').length;
const u32 = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);
const u64At = (b: Uint8Array, at: number): bigint => new DataView(b.buffer, b.byteOffset).getBigUint64(at, true);

function perfProgram(eventsFd: number, counterFd: number): Program {
  const text = `
    r6 = r1
    r1 = 0
    *(u32 *)(r10 - 4) = r1
    r2 = r10
    r2 += -4
    ld_pseudo r1, 1, ${counterFd}
    call 1
    if r0 == 0 goto out
    r9 = r0
    r7 = *(u64 *)(r9 + 0)
    r1 = r7
    r1 += 1
    *(u64 *)(r9 + 0) = r1
    *(u64 *)(r10 - 24) = r7
    r1 = r7
    r1 += 100
    *(u64 *)(r10 - 16) = r1
    r1 += 100
    *(u64 *)(r10 - 8) = r1
    r1 = r6
    ld_pseudo r2, 1, ${eventsFd}
    r3 = 0xffffffff ll
    r4 = r10
    r4 += -24
    r5 = 24
    call 25
    if r0 == 0 goto out
    r1 = *(u64 *)(r9 + 8)
    r1 += 1
    *(u64 *)(r9 + 8) = r1
  out:
    r0 = 0
    exit`;
  return loadProgram({ type: ProgramType.SCHED_CLS, license: 'GPL', name: 'perf_out', instructions: encodeProgram(assemble(text)) });
}

interface Fixture extends Disposable {
  events: KernelMap;
  emit(n: number): void;
  counts(): [bigint, bigint];
}

function fixture(): Fixture {
  const cpus = possibleCpus();
  const events = createMap({ type: MapType.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: cpus[cpus.length - 1]! + 1, name: 'events' });
  const counter = createMap({ type: MapType.ARRAY, keySize: 4, valueSize: 16, maxEntries: 1 });
  const program = perfProgram(events.fd, counter.fd);
  return {
    events,
    emit: (n) => void testRun(program, { data: new Uint8Array(64), repeat: n }),
    counts: () => {
      const v = counter.lookup(u32(0))!;
      return [u64At(v, 0), u64At(v, 8)];
    },
    [Symbol.dispose]: () => {
      program.close();
      counter.close();
      events.close();
    },
  };
}

/** The samples carry `from` … `from + count - 1`, each CPU's in increasing order. */
function assertInOrderPerCpu(got: Extract<PerfRecord, { type: 'sample' }>[], from: bigint, count: number): void {
  const last = new Map<number, bigint>();
  for (const r of got) {
    const seq = u64At(r.data, 0);
    assert.ok(seq > (last.get(r.cpu) ?? -1n), `CPU ${r.cpu}: ${seq} after ${last.get(r.cpu)}`);
    last.set(r.cpu, seq);
  }
  const seqs = got.map((r) => u64At(r.data, 0)).sort((a, b) => (a < b ? -1 : 1));
  assert.deepEqual(seqs, Array.from({ length: count }, (_, i) => from + BigInt(i)));
}

const samples = (records: PerfRecord[]): Extract<PerfRecord, { type: 'sample' }>[] =>
  records.filter((r): r is Extract<PerfRecord, { type: 'sample' }> => r.type === 'sample');

describe('kernel perf buffer reader', { skip: kernelSkip() }, () => {
  it('reads the samples of the CPUs the program ran on, in order per CPU', () => {
    using f = fixture();
    using reader = openPerfBuffer(f.events);
    assert.ok(reader.cpus.length >= 1);
    f.emit(100);
    const got = samples(reader.drain());
    assert.equal(got.length, 100);
    assertInOrderPerCpu(got, 0n, 100);
    for (const r of got) {
      // 24 bytes sent; the kernel pads u32 size + data to a multiple of 8: 28 bytes of data.
      assert.equal(r.data.length, 28);
      const seq = u64At(r.data, 0);
      assert.equal(u64At(r.data, 8), seq + 100n);
      assert.equal(u64At(r.data, 16), seq + 200n);
    }
    assert.equal(reader.lost, 0);
    assert.deepEqual(f.counts(), [100n, 0n]);
  });

  it('reports samples lost to a full ring, and they add up to what the program sent', async () => {
    using f = fixture();
    using reader = openPerfBuffer(f.events, { pagesPerCpu: 1 });
    f.emit(500); // 40 bytes a record into one page: most do not fit
    const all = reader.drain();
    // The kernel writes a LOST record before the next sample that fits on that CPU: send until
    // every refusal is reported (one emit is enough unless the test run moved to another CPU).
    for (let i = 0; i < 50 && BigInt(reader.lost) < f.counts()[1]; i++) {
      f.emit(1);
      all.push(...reader.drain());
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const [sent, refused] = f.counts();
    assert.ok(refused > 0n);
    assert.equal(reader.lost, Number(refused));
    assert.ok(all.some((r) => r.type === 'lost'));
    assert.equal(BigInt(samples(all).length) + BigInt(reader.lost), sent);
  });

  it('wraps around the ring: records split at its end read whole', () => {
    using f = fixture();
    using reader = openPerfBuffer(f.events, { pagesPerCpu: 1 });
    let next = 0n;
    for (let round = 0; round < 100; round++) {
      f.emit(37); // 40-byte records in a 4096-byte ring: some straddle its end
      const got = samples(reader.drain());
      assert.equal(got.length, 37);
      assertInOrderPerCpu(got, next, 37);
      for (const r of got) {
        const seq = u64At(r.data, 0);
        assert.equal(u64At(r.data, 8), seq + 100n);
        assert.equal(u64At(r.data, 16), seq + 200n);
      }
      next += 37n;
    }
    assert.equal(reader.lost, 0);
  });

  it('waits for samples off the event loop: for await', async () => {
    using f = fixture();
    using reader = openPerfBuffer(f.events);
    setTimeout(() => f.emit(3), 20);
    const got: bigint[] = [];
    for await (const record of reader) {
      if (record.type === 'sample') got.push(u64At(record.data, 0));
      if (got.length === 3) break;
    }
    assert.deepEqual(got, [0n, 1n, 2n]);
  });

  it('ends a pending read on close, refuses other map types, and leaks no fds', async () => {
    const syscalls = (() => {
      using m = createMap({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
      return m.syscalls;
    })();
    await pollerFor(syscalls).idle();
    const before = openFds();
    {
      using f = fixture();
      const reader = openPerfBuffer(f.events, { pagesPerCpu: 2 });
      const pending = reader.read();
      setTimeout(() => reader.close(), 10);
      assert.equal(await pending, undefined);
      assert.throws(() => reader.available, /closed/);
      assert.throws(() => openRingBuffer(f.events), /not a BPF_MAP_TYPE_RINGBUF/);
      assert.throws(() => openPerfBuffer(f.events, { pagesPerCpu: 3 }), RangeError);
    }
    await pollerFor(syscalls).idle();
    assert.equal(openFds(), before);
  });
});
