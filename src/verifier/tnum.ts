/**
 * Tristate numbers: a 64-bit value whose bits are each 0, 1 or unknown, as the kernel's
 * verifier tracks them (kernel: kernel/bpf/tnum.c). `value` holds the known one bits, `mask`
 * the unknown bits; a bit is never set in both. Both are unsigned 64-bit bigints.
 */

export const U64_MAX = (1n << 64n) - 1n;
export const U32_MAX = 0xffff_ffffn;

/** A tristate number. */
export interface Tnum {
  readonly value: bigint;
  readonly mask: bigint;
}

const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);

export const tnum = (value: bigint, mask: bigint): Tnum => ({ value: u64(value), mask: u64(mask) });

/** Every bit unknown. */
export const TNUM_UNKNOWN: Tnum = { value: 0n, mask: U64_MAX };

/** A known constant. */
export const tnumConst = (value: bigint): Tnum => ({ value: u64(value), mask: 0n });

/** Highest set bit, 1-based (kernel fls64); 0 for 0. */
function fls64(x: bigint): number {
  return x === 0n ? 0 : x.toString(2).length;
}

/** The tnum of every value in [min, max] (unsigned). */
export function tnumRange(min: bigint, max: bigint): Tnum {
  const chi = min ^ max;
  const bits = fls64(chi);
  // special case, needed because 1 << 64 is undefined in C
  if (bits > 63) return TNUM_UNKNOWN;
  const delta = (1n << BigInt(bits)) - 1n;
  return tnum(min & ~delta, delta);
}

export const tnumLshift = (a: Tnum, shift: number): Tnum => tnum(a.value << BigInt(shift), a.mask << BigInt(shift));
export const tnumRshift = (a: Tnum, shift: number): Tnum => tnum(a.value >> BigInt(shift), a.mask >> BigInt(shift));

/** Arithmetic right shift of the low `bits` (32 or 64) bits. */
export function tnumArshift(a: Tnum, shift: number, bits: 32 | 64): Tnum {
  const s = BigInt(shift);
  if (bits === 32) {
    return tnum(BigInt.asUintN(32, BigInt.asIntN(32, a.value) >> s), BigInt.asUintN(32, BigInt.asIntN(32, a.mask) >> s));
  }
  return tnum(BigInt.asIntN(64, a.value) >> s, BigInt.asIntN(64, a.mask) >> s);
}

export function tnumAdd(a: Tnum, b: Tnum): Tnum {
  const sm = u64(a.mask + b.mask);
  const sv = u64(a.value + b.value);
  const sigma = u64(sm + sv);
  const chi = sigma ^ sv;
  const mu = chi | a.mask | b.mask;
  return tnum(sv & ~mu, mu);
}

export function tnumSub(a: Tnum, b: Tnum): Tnum {
  const dv = u64(a.value - b.value);
  const alpha = u64(dv + a.mask);
  const beta = u64(dv - b.mask);
  const chi = alpha ^ beta;
  const mu = chi | a.mask | b.mask;
  return tnum(dv & ~mu, mu);
}

export const tnumNeg = (a: Tnum): Tnum => tnumSub(tnumConst(0n), a);

export function tnumAnd(a: Tnum, b: Tnum): Tnum {
  const alpha = a.value | a.mask;
  const beta = b.value | b.mask;
  const v = a.value & b.value;
  return tnum(v, alpha & beta & ~v);
}

export function tnumOr(a: Tnum, b: Tnum): Tnum {
  const v = a.value | b.value;
  const mu = a.mask | b.mask;
  return tnum(v, mu & ~v);
}

export function tnumXor(a: Tnum, b: Tnum): Tnum {
  const v = a.value ^ b.value;
  const mu = a.mask | b.mask;
  return tnum(v & ~mu, mu);
}

/**
 * Multiplication, as the half-multiply-accumulate of kernel 5.x–6.x tnum_mul: sound, and no
 * more precise than the kernel's (a newer kernel may know more bits; never fewer).
 */
export function tnumMul(a: Tnum, b: Tnum): Tnum {
  const accV = u64(a.value * b.value);
  let accM = tnumConst(0n);
  while (a.value !== 0n || a.mask !== 0n) {
    if ((a.value & 1n) !== 0n) accM = tnumAdd(accM, tnum(0n, b.mask));
    else if ((a.mask & 1n) !== 0n) accM = tnumAdd(accM, tnum(0n, b.value | b.mask));
    a = tnumRshift(a, 1);
    b = tnumLshift(b, 1);
  }
  return tnumAdd(tnumConst(accV), accM);
}

/** Bits known in either (the values must be compatible). */
export function tnumIntersect(a: Tnum, b: Tnum): Tnum {
  const v = a.value | b.value;
  const mu = a.mask & b.mask;
  return tnum(v & ~mu, mu);
}

/** The low `size` bytes. */
export function tnumCast(a: Tnum, size: number): Tnum {
  const m = size >= 8 ? U64_MAX : (1n << BigInt(size * 8)) - 1n;
  return { value: a.value & m, mask: a.mask & m };
}

export const tnumIsConst = (a: Tnum): boolean => a.mask === 0n;
export const tnumIsUnknown = (a: Tnum): boolean => a.mask === U64_MAX;
export const tnumEquals = (a: Tnum, b: Tnum): boolean => a.value === b.value && a.mask === b.mask;

/** Whether every value of `a` is a multiple of `size`. */
export function tnumIsAligned(a: Tnum, size: number): boolean {
  if (size === 0) return true;
  return ((a.value | a.mask) & BigInt(size - 1)) === 0n;
}

/** Whether every value of `b` is a value of `a`. */
export function tnumIn(a: Tnum, b: Tnum): boolean {
  if ((b.mask & ~a.mask) !== 0n) return false;
  return a.value === (b.value & ~a.mask);
}

export const tnumSubreg = (a: Tnum): Tnum => tnumCast(a, 4);
export const tnumClearSubreg = (a: Tnum): Tnum => tnumLshift(tnumRshift(a, 32), 32);
export const tnumWithSubreg = (reg: Tnum, subreg: Tnum): Tnum => tnumOr(tnumClearSubreg(reg), tnumSubreg(subreg));
export const tnumConstSubreg = (a: Tnum, value: bigint): Tnum => tnumWithSubreg(a, tnumConst(value));

/** The kernel's `(value; mask)` spelling, both in hex. */
export const formatTnum = (a: Tnum): string => `(0x${a.value.toString(16)}; 0x${a.mask.toString(16)})`;
