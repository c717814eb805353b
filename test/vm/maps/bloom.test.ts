/**
 * Bloom filters against the kernel's: with the same seed (BPF_F_ZERO_SEED there, always in the
 * VM) the same bits are set, so the same values test positive — false positives included.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BloomFilterMap, MapError, MapFlag, MapRegistry, MapType, Memory, bloomBitsetMask } from '../../../src/vm/index.js';
import { kernelSkip } from '../../support/kernel.js';
import { KernelMap, prng } from './kernel-maps.js';

describe('bloom filter', () => {
  it('sizes its bit array as the kernel does', () => {
    assert.equal(bloomBitsetMask(1, 5), 63);
    assert.equal(bloomBitsetMask(100, 5), 1023); // 700 bits → 1024
    assert.equal(bloomBitsetMask(2 ** 31, 5), 0xffffffff);
  });

  it('has the kernel\'s positives and false positives', { skip: kernelSkip() }, (t) => {
    let tested = 0;
    let falsePositives = 0;
    for (const [valueSize, maxEntries, hashes, seed] of [[4, 100, 0, 1], [5, 100, 3, 2], [12, 40, 1, 3], [3, 1000, 15, 4]] as const) {
      const options = { type: MapType.BLOOM_FILTER, keySize: 0, valueSize, maxEntries, flags: MapFlag.ZERO_SEED, mapExtra: BigInt(hashes) };
      const k = KernelMap.create(options);
      assert.ok(typeof k !== 'number', `kernel bloom filter: errno ${String(k)}`);
      using kernel = k;
      const registry = new MapRegistry(new Memory());
      using vm = registry.create(options) as BloomFilterMap;
      const rand = prng(seed);
      const value = (): Uint8Array => Uint8Array.from({ length: valueSize }, () => Math.floor(rand() * 256));
      const added: Uint8Array[] = [];
      for (let i = 0; i < maxEntries; i++) {
        const v = value();
        added.push(v);
        assert.equal(kernel.update(undefined, v), 0);
        vm.add(v);
      }
      // Flags other than BPF_ANY are refused by both.
      assert.equal(kernel.update(undefined, value(), 2n), 22);
      assert.throws(() => vm.update(undefined, value(), 2), (e: unknown) => e instanceof MapError && e.code === 'EINVAL');
      for (const v of added) {
        assert.equal(kernel.lookupValue(v), 0);
        assert.equal(vm.has(v), true);
      }
      for (let i = 0; i < 3000; i++) {
        const v = value();
        const want = kernel.lookupValue(v) === 0;
        assert.equal(vm.has(v), want, `value ${Buffer.from(v).toString('hex')}`);
        tested++;
        if (want) falsePositives++;
      }
    }
    t.diagnostic(`${tested} absent values tested, ${falsePositives} false positives, all as the kernel's`);
  });
});
