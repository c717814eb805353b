/**
 * The ring buffer reader against the running kernel. Socket filters run with BPF_PROG_TEST_RUN
 * (not XDP: an XDP test run with repeat > 1 swaps the XDP dispatcher, ~20 ms of RCU waits)
 * emit the records: each takes a sequence number from an array map (whose second u64 counts
 * records the ring had no room for) and writes it into the record, so order, contents and
 * count can be checked exactly.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { assemble, encodeProgram } from '../../src/isa/index.js';
import {
  MapType, ProgramType, createMap, loadProgram, openRingBuffer, pollerFor, testRun,
  type KernelMap, type Program,
} from '../../src/kernel/index.js';
import { kernelSkip } from '../support/kernel.js';

const openFds = (): number => readdirSync('/proc/self/fd').length;
const PACKET = new Uint8Array(64);
const u32 = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);
const u64At = (b: Uint8Array, at: number): bigint => new DataView(b.buffer, b.byteOffset).getBigUint64(at, true);

/** r9 = &counter[0] (a 16-byte value: next sequence number, drops); r7 = sequence number; counter += 1. */
const TAKE_SEQUENCE = (counterFd: number): string => `
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
    *(u64 *)(r9 + 0) = r1`;

/** Counts a record the ring refused (r0 != 0 after the helper) in counter[1]. */
const COUNT_DROP = `
    if r0 == 0 goto out
    r1 = *(u64 *)(r9 + 8)
    r1 += 1
    *(u64 *)(r9 + 8) = r1`;

/**
 * bpf_ringbuf_output of a record of 8 × (1 + seq % 8) bytes whose u64 words are seq, seq+1, …
 * from the stack.
 */
function outputProgram(ringFd: number, counterFd: number): Program {
  const words = Array.from({ length: 8 }, (_, i) => `
    r1 = r7
    r1 += ${i}
    *(u64 *)(r10 - ${64 - 8 * i}) = r1`).join('');
  const text = `${TAKE_SEQUENCE(counterFd)}
    ${words}
    r3 = r7
    r3 &= 7
    r3 += 1
    r3 <<= 3
    ld_pseudo r1, 1, ${ringFd}
    r2 = r10
    r2 += -64
    r4 = 0
    call 130
    ${COUNT_DROP}
  out:
    r0 = 0
    exit`;
  return loadProgram({ type: ProgramType.SOCKET_FILTER, license: 'GPL', name: 'rb_output', instructions: encodeProgram(assemble(text)) });
}

/** bpf_ringbuf_reserve of 16 bytes {seq, ~seq}, discarded when seq % 3 == 0, else submitted. */
function reserveProgram(ringFd: number, counterFd: number): Program {
  const text = `${TAKE_SEQUENCE(counterFd)}
    ld_pseudo r1, 1, ${ringFd}
    r2 = 16
    r3 = 0
    call 131
    if r0 != 0 goto reserved
    r0 = 1
    ${COUNT_DROP}
    goto out
  reserved:
    r6 = r0
    *(u64 *)(r6 + 0) = r7
    r1 = r7
    r1 ^= -1
    *(u64 *)(r6 + 8) = r1
    r1 = r7
    r1 %= 3
    if r1 == 0 goto discard
    r1 = r6
    r2 = 0
    call 132
    goto out
  discard:
    r1 = r6
    r2 = 0
    call 133
  out:
    r0 = 0
    exit`;
  return loadProgram({ type: ProgramType.SOCKET_FILTER, license: 'GPL', name: 'rb_reserve', instructions: encodeProgram(assemble(text)) });
}

interface Fixture extends Disposable {
  ring: KernelMap;
  counter: KernelMap;
  program: Program;
  /** Runs the program `n` times. */
  emit(n: number): void;
  /** [sequence numbers handed out, records dropped]. */
  counts(): [bigint, bigint];
}

function fixture(kind: 'output' | 'reserve', ringSize = 4096): Fixture {
  const ring = createMap({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: ringSize, name: 'events' });
  const counter = createMap({ type: MapType.ARRAY, keySize: 4, valueSize: 16, maxEntries: 1, name: 'counter' });
  const program = kind === 'output' ? outputProgram(ring.fd, counter.fd) : reserveProgram(ring.fd, counter.fd);
  return {
    ring,
    counter,
    program,
    emit: (n) => void testRun(program, { data: PACKET, repeat: n }),
    counts: () => {
      const value = counter.lookup(u32(0))!;
      return [u64At(value, 0), u64At(value, 8)];
    },
    [Symbol.dispose]: () => {
      program.close();
      counter.close();
      ring.close();
    },
  };
}

/** Checks one record of the output program: 8 × (1 + seq % 8) bytes of seq, seq+1, … */
function checkOutput(record: Uint8Array, seq: bigint): void {
  assert.equal(record.length, 8 * (1 + Number(seq % 8n)), `record ${seq}: length ${record.length}`);
  for (let i = 0; i < record.length / 8; i++) assert.equal(u64At(record, 8 * i), seq + BigInt(i), `record ${seq} word ${i}`);
}

describe('kernel ring buffer reader', { skip: kernelSkip() }, () => {
  it('reads the records in order, with their contents and sizes', () => {
    using f = fixture('output');
    using reader = openRingBuffer(f.ring);
    assert.equal(reader.size, 4096);
    assert.equal(reader.available, 0);
    f.emit(50);
    assert.ok(reader.available > 0);
    const seen: bigint[] = [];
    const n = reader.consume((record) => {
      checkOutput(record, BigInt(seen.length));
      seen.push(u64At(record, 0));
    });
    assert.equal(n, 50);
    assert.deepEqual(seen, Array.from({ length: 50 }, (_, i) => BigInt(i)));
    assert.equal(reader.available, 0);
    assert.deepEqual(f.counts(), [50n, 0n]);
  });

  it('wraps around the ring many times over without losing or reordering a record', () => {
    using f = fixture('output');
    using reader = openRingBuffer(f.ring);
    let next = 0n;
    let bytes = 0;
    for (let round = 0; round < 250; round++) {
      f.emit(40); // at most 40 × 72 bytes: always fits in 4096
      const records = round % 2 === 0 ? reader.drain() : (() => {
        const out: Uint8Array[] = [];
        reader.consume((r) => out.push(r.slice()));
        return out;
      })();
      assert.equal(records.length, 40);
      for (const record of records) {
        checkOutput(record, next++);
        bytes += (record.length + 8 + 7) & ~7;
      }
    }
    assert.deepEqual(f.counts(), [10_000n, 0n]);
    assert.ok(bytes > 100 * 4096, `only ${bytes} bytes went round`);
  });

  it('skips discarded records', () => {
    using f = fixture('reserve');
    using reader = openRingBuffer(f.ring);
    f.emit(30);
    const records = reader.drain();
    const expected = Array.from({ length: 30 }, (_, i) => BigInt(i)).filter((seq) => seq % 3n !== 0n);
    assert.deepEqual(records.map((r) => u64At(r, 0)), expected);
    for (const r of records) {
      assert.equal(r.length, 16);
      assert.equal(u64At(r, 8), ~u64At(r, 0) & 0xffff_ffff_ffff_ffffn);
    }
    assert.deepEqual(f.counts(), [30n, 0n]);
  });

  it('counts exactly what the program emitted when the ring overflows', () => {
    using f = fixture('output');
    using reader = openRingBuffer(f.ring);
    f.emit(500); // ~22 KB into 4 KiB: most are refused, and counted by the program
    const records = reader.drain(100);
    const rest = reader.drain();
    const [emitted, dropped] = f.counts();
    assert.equal(emitted, 500n);
    assert.ok(dropped > 0n);
    assert.equal(BigInt(records.length + rest.length) + dropped, emitted);
    records.concat(rest).forEach((record, i) => checkOutput(record, BigInt(i))); // the first ones fit
  });

  it('waits for data without blocking the event loop: read() and for await', async () => {
    using f = fixture('output');
    using reader = openRingBuffer(f.ring);
    // Timers keep firing while the read waits: the wait is off the event loop.
    const fired: number[] = [];
    for (let i = 1; i <= 3; i++) setTimeout(() => fired.push(i), 5 * i);
    setTimeout(() => f.emit(5), 40);
    const first = await reader.read();
    assert.ok(first);
    checkOutput(first, 0n);
    assert.deepEqual(fired, [1, 2, 3]);
    setTimeout(() => f.emit(3), 10);
    const got: bigint[] = [];
    for await (const record of reader) {
      got.push(u64At(record, 0));
      if (got.length === 7) break;
    }
    assert.deepEqual(got, [1n, 2n, 3n, 4n, 5n, 6n, 7n]);
  });

  it('calls back onRecord as records arrive until unsubscribed', async () => {
    using f = fixture('reserve');
    using reader = openRingBuffer(f.ring);
    const got: bigint[] = [];
    let done!: () => void;
    const all = new Promise<void>((resolve) => { done = resolve; });
    const stop = reader.onRecord((record) => {
      got.push(u64At(record, 0));
      if (got.length === 40) done();
    });
    for (let i = 0; i < 6; i++) setTimeout(() => f.emit(10), 5 * i);
    await all;
    stop();
    assert.deepEqual(got, Array.from({ length: 60 }, (_, i) => BigInt(i)).filter((s) => s % 3n !== 0n));
  });

  it('ends a pending read when closed, refuses other map types, and leaks no fds', async () => {
    await pollerFor(openRingBufferSyscalls()).idle();
    const before = openFds();
    {
      using f = fixture('output');
      const reader = openRingBuffer(f.ring);
      const pending = reader.read();
      setTimeout(() => reader.close(), 10);
      assert.equal(await pending, undefined);
      assert.equal(reader.closed, true);
      assert.throws(() => reader.available, /closed/);
      using array = createMap({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, name: 'not_ring' });
      assert.throws(() => openRingBuffer(array), /'not_ring': the map is a BPF_MAP_TYPE_ARRAY, not a BPF_MAP_TYPE_RINGBUF/);
    }
    await pollerFor(openRingBufferSyscalls()).idle();
    assert.equal(openFds(), before);
  });
});

/** The native syscalls the readers in these tests use (their poller is shared). */
function openRingBufferSyscalls(): ReturnType<typeof createMap>['syscalls'] {
  using probe = createMap({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
  return probe.syscalls;
}
