/**
 * The ring-buffer benchmark hook, small: the producer runs in a worker thread while the reader
 * delivers into a callback, and every record emitted is either delivered or counted as dropped.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  MapType, benchRingBuffer, createMap, measureRingBufferDrain, measureRingBufferThroughput, testRunProducer,
} from '../../src/kernel/index.js';
import { kernelSkip } from '../support/kernel.js';

describe('ring buffer benchmark hook', { skip: kernelSkip() }, () => {
  it('delivers or counts as dropped every record of a concurrent producer, in order', async () => {
    using ring = createMap({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 1 << 20 });
    using producer = testRunProducer(ring, { perRun: 16 });
    let last = -1n;
    let ordered = true;
    const result = await measureRingBufferThroughput(ring, producer, {
      records: 50_000,
      onRecord: (record) => {
        assert.equal(record.length, 64);
        const seq = new DataView(record.buffer, record.byteOffset).getBigUint64(0, true);
        if (seq <= last) ordered = false;
        last = seq;
      },
    });
    assert.equal(result.emitted, 50_000);
    assert.equal(result.delivered + result.dropped, result.emitted);
    assert.ok(ordered, 'sequence numbers went backwards');
    assert.ok(result.recordsPerSecond > 0);
  });

  it('measures the reader alone on a filled ring, and the whole benchmark runs', async () => {
    using ring = createMap({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 1 << 20 });
    using producer = testRunProducer(ring, { perRun: 1 });
    const drain = measureRingBufferDrain(ring, producer, { records: 1000, rounds: 3 });
    assert.equal(drain.delivered, 3000);
    assert.equal(drain.dropped, 0);
    const { concurrent } = await benchRingBuffer({ records: 20_000, ringSize: 1 << 20 });
    assert.equal(concurrent.delivered + concurrent.dropped, concurrent.emitted);
    assert.throws(() => testRunProducer(ring, { recordSize: 12 }), RangeError);
  });
});
