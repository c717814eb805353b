/**
 * The ring-buffer consumer protocol without a kernel: a fake syscall layer maps plain
 * ArrayBuffers, and the test plays the producer the way kernel/bpf/ringbuf.c does — reserve
 * (BUSY header, producer_pos advanced), commit or discard (header rewritten), data pages mirrored
 * after the ring — to cover what a real program cannot be stopped in the middle of.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  RINGBUF_BUSY_BIT, RINGBUF_DISCARD_BIT, RingBufferReader, type Mapping, type Syscalls,
} from '../../src/kernel/index.js';

const PAGE = 4096;

class FakeKernelRing {
  readonly consumer = new ArrayBuffer(PAGE);
  readonly producer: ArrayBuffer;
  readonly size: number;
  readonly #data: Uint8Array;
  readonly #view: DataView;
  #prod = 0;

  constructor(size: number) {
    this.size = size;
    this.producer = new ArrayBuffer(PAGE + 2 * size);
    this.#data = new Uint8Array(this.producer, PAGE);
    this.#view = new DataView(this.producer);
  }

  get consumerPos(): number {
    return Number(new BigInt64Array(this.consumer)[0]);
  }

  /** Writes `bytes` at ring position `pos`, and again in the mirror after the ring. */
  #write(pos: number, bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) {
      const at = (pos + i) % this.size;
      this.#data[at] = bytes[i]!;
      this.#data[at + this.size] = bytes[i]!;
    }
  }

  #header(pos: number, word: number): void {
    const h = new Uint8Array(8);
    new DataView(h.buffer).setUint32(0, word >>> 0, true);
    this.#write(pos, h);
  }

  /** bpf_ringbuf_reserve: a BUSY header, producer_pos moved past the record. */
  reserve(len: number): number | undefined {
    const total = (len + 8 + 7) & ~7;
    if (this.#prod + total - this.consumerPos > this.size) return undefined;
    const pos = this.#prod;
    this.#header(pos, (len | RINGBUF_BUSY_BIT) >>> 0);
    this.#prod += total;
    this.#view.setBigUint64(0, BigInt(this.#prod), true);
    return pos;
  }

  /** bpf_ringbuf_submit / _discard. */
  commit(pos: number, data: Uint8Array, discard = false): void {
    this.#write(pos + 8, data);
    this.#header(pos, (data.length | (discard ? RINGBUF_DISCARD_BIT : 0)) >>> 0);
  }

  output(data: Uint8Array): boolean {
    const pos = this.reserve(data.length);
    if (pos === undefined) return false;
    this.commit(pos, data);
    return true;
  }
}

function fakeSyscalls(ring: FakeKernelRing): Syscalls {
  return {
    bpf: () => -38,
    close: () => 0,
    withMemory: (use) => use({ input: () => 0n, output: (size) => ({ address: 0n, size, read: () => new Uint8Array(size) }) }),
    pageSize: () => PAGE,
    mmap: (_fd, length, _prot, offset): Mapping => {
      const buffer = offset === 0 ? ring.consumer : ring.producer;
      assert.equal(length, buffer.byteLength);
      return { address: BigInt(offset), length, buffer };
    },
    munmap: () => 0,
  };
}

const record = (n: number, len: number): Uint8Array => new Uint8Array(len).fill(n);

describe('ring buffer consumer protocol', () => {
  it('stops at a reserved record until it is committed, and publishes the consumer position', () => {
    const ring = new FakeKernelRing(4096);
    using reader = new RingBufferReader(3, ring.size, "'fake'", fakeSyscalls(ring));
    ring.output(record(1, 10));
    const busy = ring.reserve(20)!;
    ring.output(record(3, 5)); // committed, but behind the busy one
    assert.deepEqual(reader.drain(), [record(1, 10)]);
    assert.equal(ring.consumerPos, 24);
    assert.deepEqual(reader.drain(), []);
    ring.commit(busy, record(2, 20));
    assert.deepEqual(reader.drain(), [record(2, 20), record(3, 5)]);
    assert.equal(ring.consumerPos, 24 + 32 + 16);
    assert.equal(reader.available, 0);
  });

  it('skips discarded records but moves past them', () => {
    const ring = new FakeKernelRing(4096);
    using reader = new RingBufferReader(3, ring.size, "'fake'", fakeSyscalls(ring));
    const a = ring.reserve(8)!;
    const b = ring.reserve(8)!;
    ring.commit(b, record(2, 8));
    ring.commit(a, record(1, 8), true);
    const seen: Uint8Array[] = [];
    assert.equal(reader.consume((r) => seen.push(r.slice())), 1);
    assert.deepEqual(seen, [record(2, 8)]);
    assert.equal(ring.consumerPos, 32);
  });

  it('reads records that wrap past the end whole, over many laps, honouring limits', () => {
    const ring = new FakeKernelRing(4096);
    using reader = new RingBufferReader(3, ring.size, "'fake'", fakeSyscalls(ring));
    let next = 0;
    let read = 0;
    for (let lap = 0; lap < 200; lap++) {
      while (ring.output(record(next % 251, 1 + (next % 97)))) next++;
      const got = reader.drain(lap % 3 === 0 ? 7 : Infinity);
      for (const r of got) {
        assert.deepEqual(r, record(read % 251, 1 + (read % 97)));
        read++;
      }
    }
    read += reader.drain().length;
    assert.equal(read, next);
    assert.ok(ring.consumerPos > 100 * 4096);
  });

  it('lets a consume() callback consume again without corrupting the records it holds', () => {
    const ring = new FakeKernelRing(4096);
    using reader = new RingBufferReader(3, ring.size, "'fake'", fakeSyscalls(ring));
    ring.output(record(1, 16));
    ring.output(record(2, 16));
    const outer: Uint8Array[] = [];
    const inner: Uint8Array[] = [];
    reader.consume((r) => {
      ring.output(record(9, 16));
      reader.consume((x) => inner.push(x.slice()));
      outer.push(r.slice());
    }, 1);
    assert.deepEqual(outer, [record(1, 16)]);
    assert.deepEqual(inner, [record(2, 16), record(9, 16)]);
  });

  it('waits out a reserved record without blocking the event loop', async () => {
    const ring = new FakeKernelRing(4096);
    using reader = new RingBufferReader(3, ring.size, "'fake'", fakeSyscalls(ring));
    const busy = ring.reserve(8)!;
    let timerRan = false;
    setTimeout(() => {
      timerRan = true;
      ring.commit(busy, record(7, 8));
    }, 10);
    assert.deepEqual(await reader.read(), record(7, 8));
    assert.equal(timerRan, true);
  });

  it('refuses use after close', () => {
    const ring = new FakeKernelRing(4096);
    const reader = new RingBufferReader(3, ring.size, "'fake'", fakeSyscalls(ring));
    reader.close();
    reader.close();
    assert.throws(() => reader.drain(), /ring buffer 'fake' is closed/);
  });
});
