/**
 * The VM's allocator: freed blocks merge with their neighbours and give back the top, so a
 * region allocated and freed over and over (a context per test run) reuses the same bytes,
 * and lookups still find exactly the live regions.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Memory } from '../../src/vm/memory.js';

/** A deterministic shuffle (xorshift), so the test is the same on every run. */
function shuffled<T>(items: T[], seed: number): T[] {
  const out = items.slice();
  let x = seed;
  for (let i = out.length - 1; i > 0; i--) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    const j = (x >>> 0) % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('VM memory allocator', () => {
  it('merges freed blocks whatever the order, and gives the space back', () => {
    const m = new Memory();
    const first = m.alloc(24).start;
    m.release(m.find(first, 1)!);
    const sizes = Array.from({ length: 500 }, (_, i) => 1 + ((i * 37) % 300));
    const regions = sizes.map((n, i) => m.alloc(n, { align: i % 3 === 0 ? 64 : 8 }));
    for (const r of shuffled(regions, 12345)) {
      m.release(r);
      assert.equal(m.find(r.start, 1), undefined, 'a released region is gone');
    }
    assert.equal(m.freeBytes, 0, 'every freed block merged into the top');
    assert.equal(m.alloc(24).start, first, 'the next allocation starts where the first did');
  });

  it('reuses the bytes of a region freed and allocated again, without growing', () => {
    const m = new Memory();
    const keep = m.alloc(100);
    let start: number | undefined;
    for (let i = 0; i < 10_000; i++) {
      const parts = m.allocAdjacent([{ size: 160, writable: false }, { size: 32, writable: true }], { guard: 16 });
      start ??= parts[0]!.start;
      assert.equal(parts[0]!.start, start);
      for (const p of parts) m.release(p);
    }
    assert.equal(m.wasm.buffer.byteLength, 65536);
    assert.ok(m.find(keep.start, 100) === keep);
  });

  it('finds live regions between freed ones, and fills holes first-fit', () => {
    const m = new Memory();
    const rs = Array.from({ length: 10 }, () => m.alloc(64));
    for (let i = 0; i < 10; i += 2) m.release(rs[i]!);
    for (let i = 1; i < 10; i += 2) assert.equal(m.find(rs[i]!.start + 63, 1), rs[i]);
    assert.equal(m.freeBytes, 5 * 64);
    const again = m.alloc(64);
    assert.equal(again.start, rs[0]!.start, 'the lowest hole first');
    const big = m.alloc(128);
    assert.ok(big.start > rs[9]!.start, 'no hole of 128 bytes: it goes on top');
  });
});
