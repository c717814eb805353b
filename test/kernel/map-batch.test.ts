/**
 * Batch operations and codec-typed maps against the running kernel.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  KernelError, MapSizeError, MapType, UpdateFlag, createMap, createPerCpuTypedMap, createTypedMap, perCpuTypedMap,
  possibleCpuCount, typedMap, type BatchCursor, type MapCodec,
} from '../../src/kernel/index.js';
import { kernelSkip } from '../support/kernel.js';

const u32 = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);
const readU32 = (b: Uint8Array): number => new DataView(b.buffer, b.byteOffset).getUint32(0, true);

/** The trivial codec: u32 keys as numbers, u64 values as bigints (little-endian hosts). */
const u32u64: MapCodec<number, bigint> = {
  encodeKey: (key) => u32(key),
  decodeKey: (bytes) => readU32(bytes),
  encodeValue: (value) => new Uint8Array(new BigUint64Array([value]).buffer),
  decodeValue: (bytes) => new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true),
};

describe('kernel map batches', { skip: kernelSkip() }, () => {
  it('updates, pages through, and deletes a hash map in batches', () => {
    using map = createMap({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 2048, name: 'batch' });
    const keys = Array.from({ length: 1000 }, (_, i) => u32(i));
    const values = Array.from({ length: 1000 }, (_, i) => u32(i * 2));
    assert.equal(map.updateBatch(keys, values), 1000);

    const got = new Map<number, number>();
    let cursor: BatchCursor | undefined;
    let calls = 0;
    do {
      const batch = map.lookupBatch(128, cursor);
      calls++;
      batch.keys.forEach((k, i) => got.set(readU32(k), readU32(batch.values[i]!)));
      cursor = batch.next;
    } while (cursor && calls < 100);
    assert.equal(got.size, 1000);
    for (const [k, v] of got) assert.equal(v, k * 2);
    assert.ok(calls >= 8, `${calls} calls`);

    assert.equal([...map.batchEntries({ batchSize: 7 })].length, 1000);
    assert.equal(map.deleteBatch(keys.slice(0, 400)), 400);
    assert.equal([...map.keys()].length, 600);

    const popped = map.lookupAndDeleteBatch(1000);
    assert.equal(popped.keys.length, 600);
    assert.equal(popped.next, undefined);
    assert.equal([...map.keys()].length, 0);
  });

  it('reports a failure part-way with the count done, and checks sizes first', () => {
    using map = createMap({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 2 });
    const keys = [1, 2, 3, 4].map(u32);
    const err = (() => {
      try {
        map.updateBatch(keys, keys);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof KernelError && err.code === 'E2BIG', String(err));
    assert.match(err.message, /after 2 of 4 elements/);
    // Per-element flags of a batch update may only be F_LOCK.
    assert.throws(() => map.updateBatch(keys, keys, { elemFlags: UpdateFlag.NOEXIST }), /EINVAL/);
    assert.throws(() => map.updateBatch([new Uint8Array(2)], [u32(1)]), MapSizeError);
    assert.throws(() => map.updateBatch([u32(1)], []), RangeError);
  });

  it('batches arrays and per-CPU arrays', () => {
    using array = createMap({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 10 });
    array.updateBatch([0, 5, 9].map(u32), [10, 15, 19].map(u32));
    const all = [...array.batchEntries({ batchSize: 3 })].map(([k, v]) => [readU32(k), readU32(v)]);
    assert.equal(all.length, 10);
    assert.deepEqual(all.filter(([, v]) => v !== 0), [[0, 10], [5, 15], [9, 19]]);

    const cpus = possibleCpuCount();
    using percpu = createMap({ type: MapType.PERCPU_HASH, keySize: 4, valueSize: 4, maxEntries: 8 });
    const whole = (base: number): Uint8Array => {
      const out = new Uint8Array(8 * cpus);
      for (let c = 0; c < cpus; c++) out.set(u32(base + c), c * 8);
      return out;
    };
    percpu.updateBatch([u32(1), u32(2)], [whole(100), whole(200)]);
    const batch = percpu.lookupBatch(8);
    assert.equal(batch.keys.length, 2);
    for (let i = 0; i < 2; i++) assert.deepEqual(batch.values[i], whole(readU32(batch.keys[i]!) * 100));
  });

  it('falls back to key-by-key iteration where a map type has no batch lookup', () => {
    // Device maps have no batch operations (ENOTSUPP); their empty slots are skipped.
    using devices = createMap({ type: MapType.DEVMAP, keySize: 4, valueSize: 4, maxEntries: 8 });
    devices.update(u32(3), u32(1)); // ifindex 1: lo
    assert.throws(() => devices.lookupBatch(4), (err: unknown) => err instanceof KernelError && err.code === 'ENOTSUPP');
    assert.deepEqual([...devices.batchEntries()].map(([k, v]) => [readU32(k), readU32(v)]), [[3, 1]]);
  });
});

describe('kernel maps through a codec', { skip: kernelSkip() }, () => {
  it('gets, sets, deletes and iterates plain values', () => {
    using counts = createTypedMap({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 64, name: 'typed', codec: u32u64 });
    counts.set(7, 1n).set(8, 2n ** 63n);
    assert.equal(counts.get(7), 1n);
    assert.equal(counts.get(8), 2n ** 63n);
    assert.equal(counts.get(9), undefined);
    assert.equal(counts.has(8), true);
    assert.deepEqual(new Map(counts), new Map([[7, 1n], [8, 2n ** 63n]]));
    assert.deepEqual([...counts.keys()].sort(), [7, 8]);
    assert.equal(counts.delete(7), true);
    assert.deepEqual([...counts.values()], [2n ** 63n]);
    assert.throws(() => counts.set(8, 3n, UpdateFlag.NOEXIST), KernelError);
    const fd = counts.map.fd;
    counts.close();
    assert.equal(counts.map.open, false, `fd ${fd} still open`);
  });

  it('gives per-CPU values as arrays', () => {
    const cpus = possibleCpuCount();
    using perCpu = createPerCpuTypedMap({ type: MapType.PERCPU_HASH, keySize: 4, valueSize: 8, maxEntries: 4, codec: u32u64 });
    const values = Array.from({ length: cpus }, (_, i) => BigInt(i + 1));
    perCpu.set(1, values);
    assert.deepEqual(perCpu.get(1), values);
    assert.deepEqual([...perCpu.entries()], [[1, values]]);
    assert.throws(() => typedMap(perCpu.map, u32u64), TypeError);
    assert.throws(() => createPerCpuTypedMap({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 1, codec: u32u64 }), TypeError);
    using plain = createMap({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 1 });
    assert.throws(() => perCpuTypedMap(plain, u32u64), TypeError);
  });
});
