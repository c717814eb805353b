/**
 * Tristate numbers (kernel/bpf/tnum.c): exact results the kernel's functions give, and
 * soundness — every concrete result of an operation on members is a member of the result.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  TNUM_UNKNOWN, U64_MAX, tnum, tnumAdd, tnumAnd, tnumArshift, tnumConst, tnumIn, tnumIntersect, tnumLshift, tnumMul,
  tnumOr, tnumRange, tnumRshift, tnumSub, tnumXor, formatTnum, type Tnum,
} from '../../src/verifier/index.js';

const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);

/** A deterministic pseudo-random generator (xorshift64*). */
function rng(seed: bigint): () => bigint {
  let s = seed;
  return () => {
    s ^= s >> 12n; s = u64(s ^ (s << 25n)); s ^= s >> 27n;
    return u64(s * 0x2545f4914f6cdd1dn);
  };
}

/** A random tnum and a random member of it. */
function sample(next: () => bigint): [Tnum, bigint] {
  const shape = next() % 4n;
  const mask = shape === 0n ? 0n : shape === 1n ? next() & 0xffn : shape === 2n ? next() : next() & next();
  const t = tnum(next() & ~mask, mask);
  return [t, t.value | (next() & t.mask)];
}

const member = (t: Tnum, x: bigint): boolean => tnumIn(t, tnumConst(x));

describe('tnum', () => {
  it('gives the kernel\'s results on known inputs', () => {
    assert.equal(formatTnum(tnumRange(0n, 255n)), '(0x0; 0xff)');
    assert.equal(formatTnum(tnumRange(16n, 31n)), '(0x10; 0xf)');
    assert.deepEqual(tnumRange(0n, U64_MAX), TNUM_UNKNOWN);
    assert.equal(formatTnum(tnumAdd(tnum(0n, 0xffn), tnumConst(1n))), '(0x0; 0x1ff)');
    assert.equal(formatTnum(tnumAnd(TNUM_UNKNOWN, tnumConst(0xf0n))), '(0x0; 0xf0)');
    assert.equal(formatTnum(tnumOr(tnum(0n, 0xfn), tnumConst(0x100n))), '(0x100; 0xf)');
    assert.equal(formatTnum(tnumLshift(tnum(0n, 0xffn), 8)), '(0x0; 0xff00)');
    assert.equal(formatTnum(tnumRshift(tnum(0x100n, 0xffn), 4)), '(0x10; 0xf)');
    assert.equal(formatTnum(tnumArshift(tnumConst(0x8000_0000n), 4, 32)), '(0xf8000000; 0x0)');
    assert.equal(formatTnum(tnumMul(tnumConst(3n), tnum(0n, 3n))), '(0x0; 0xf)');
    assert.equal(formatTnum(tnumSub(tnumConst(0n), tnumConst(7n))), '(0xfffffffffffffff9; 0x0)');
  });

  it('is sound for add, sub, mul, and, or, xor, shifts and intersect', () => {
    const next = rng(0x1234_5678_9abc_def0n);
    for (let i = 0; i < 3000; i++) {
      const [a, x] = sample(next);
      const [b, y] = sample(next);
      assert.ok(member(tnumAdd(a, b), u64(x + y)), `add ${formatTnum(a)} ${formatTnum(b)}`);
      assert.ok(member(tnumSub(a, b), u64(x - y)), `sub ${formatTnum(a)} ${formatTnum(b)}`);
      assert.ok(member(tnumMul(a, b), u64(x * y)), `mul ${formatTnum(a)} ${formatTnum(b)}`);
      assert.ok(member(tnumAnd(a, b), x & y));
      assert.ok(member(tnumOr(a, b), x | y));
      assert.ok(member(tnumXor(a, b), x ^ y));
      const s = Number(next() % 64n);
      assert.ok(member(tnumLshift(a, s), u64(x << BigInt(s))));
      assert.ok(member(tnumRshift(a, s), x >> BigInt(s)));
      assert.ok(member(tnumArshift(a, s, 64), u64(BigInt.asIntN(64, x) >> BigInt(s))));
      const lo = x < y ? x : y;
      const hi = x < y ? y : x;
      const r = tnumRange(lo, hi);
      assert.ok(member(r, lo) && member(r, hi) && member(r, (lo + hi) / 2n));
      assert.ok(member(tnumIntersect(a, tnumConst(x)), x));
    }
  });
});
