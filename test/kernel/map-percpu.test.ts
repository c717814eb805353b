/**
 * Per-CPU value layout and CPU lists, without a kernel.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { joinPerCpu, parseCpuList, perCpuSlotSize, perCpuValueSize, splitPerCpu } from '../../src/kernel/index.js';

describe('per-CPU values', () => {
  it('parses kernel CPU lists', () => {
    assert.deepEqual(parseCpuList('0'), [0]);
    assert.deepEqual(parseCpuList('0-3\n'), [0, 1, 2, 3]);
    assert.deepEqual(parseCpuList('0-1,4,6-7'), [0, 1, 4, 6, 7]);
    assert.deepEqual(parseCpuList(''), []);
    assert.throws(() => parseCpuList('3-1'), SyntaxError);
    assert.throws(() => parseCpuList('a'), SyntaxError);
  });

  it('rounds each CPU slot up to 8 bytes and joins and splits values', () => {
    assert.equal(perCpuSlotSize(1), 8);
    assert.equal(perCpuSlotSize(8), 8);
    assert.equal(perCpuSlotSize(12), 16);
    assert.equal(perCpuValueSize(12, 3), 48);
    const values = [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5, 6])];
    const whole = joinPerCpu(values, 3, 2);
    assert.deepEqual(whole, new Uint8Array([1, 2, 3, 0, 0, 0, 0, 0, 4, 5, 6, 0, 0, 0, 0, 0]));
    assert.deepEqual(splitPerCpu(whole, 3, 2), values);
    assert.throws(() => joinPerCpu(values, 3, 3), RangeError);
    assert.throws(() => joinPerCpu([new Uint8Array(2), new Uint8Array(3)], 3, 2), RangeError);
    assert.throws(() => splitPerCpu(whole, 3, 3), RangeError);
  });
});
