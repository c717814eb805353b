/**
 * 64-bit integer arithmetic on pairs of int32 halves (lo, hi), so the interpreter's hot loop
 * never allocates a BigInt. Results are written back into a register file `R`
 * (an Int32Array where register n is R[2n] = low half, R[2n+1] = high half).
 * Semantics follow RFC 9669 and the kernel (kernel/bpf/core.c ___bpf_prog_run).
 */

const TWO32 = 4294967296;

/** R[d] = R[d] * (bl, bh) mod 2^64. */
export function mul64(R: Int32Array, d: number, bl: number, bh: number): void {
  const al = R[d]!;
  const ah = R[d + 1]!;
  // Full 64-bit product of the low halves via 16-bit limbs, then the cross terms.
  const a0 = al & 0xffff, a1 = al >>> 16, b0 = bl & 0xffff, b1 = bl >>> 16;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const hiLow = p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
  R[d] = Math.imul(al, bl);
  R[d + 1] = (hiLow + Math.imul(al, bh) + Math.imul(ah, bl)) | 0;
}

/** Unsigned 64-bit value of (lo, hi) as bigint. */
export function toU64(lo: number, hi: number): bigint {
  if (hi === 0) return lo >= 0 && lo < SMALL.length ? SMALL[lo]! : BigInt(lo >>> 0);
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** Preallocated bigints for small results (verdicts, counts), so returning r0 rarely allocates. */
const SMALL: readonly bigint[] = Array.from({ length: 1024 }, (_, i) => BigInt(i));

/** Signed 64-bit value of (lo, hi) as bigint. */
export function toS64(lo: number, hi: number): bigint {
  return (BigInt(hi | 0) << 32n) | BigInt(lo >>> 0);
}

/** Writes a bigint (taken mod 2^64) into register slot `d`. */
export function setBig(R: Int32Array, d: number, v: bigint): void {
  R[d] = Number(BigInt.asIntN(32, v));
  R[d + 1] = Number(BigInt.asIntN(32, v >> 32n));
}

/** Writes a JS number (a safe integer, negative values sign-extended) into slot `d`. */
export function setNumber(R: Int32Array, d: number, v: number): void {
  if (v >= 0 && v < TWO32) {
    R[d] = v | 0;
    R[d + 1] = 0;
  } else if (v < 0 && v >= -2147483648) {
    R[d] = v;
    R[d + 1] = -1;
  } else {
    setBig(R, d, BigInt(v));
  }
}

/** Exact unsigned value as a double when it is below 2^53, else -1. */
function small(lo: number, hi: number): number {
  const h = hi >>> 0;
  return h < 0x200000 ? h * TWO32 + (lo >>> 0) : -1;
}

/** R[d] = R[d] / (bl, bh) unsigned; division by zero gives 0. */
export function udiv64(R: Int32Array, d: number, bl: number, bh: number): void {
  if ((bl | bh) === 0) { R[d] = 0; R[d + 1] = 0; return; }
  const a = small(R[d]!, R[d + 1]!);
  const b = small(bl, bh);
  if (a >= 0 && b >= 0) { setNumber(R, d, Math.floor(a / b)); return; }
  setBig(R, d, toU64(R[d]!, R[d + 1]!) / toU64(bl, bh));
}

/** R[d] = R[d] % (bl, bh) unsigned; modulo by zero leaves R[d] unchanged. */
export function umod64(R: Int32Array, d: number, bl: number, bh: number): void {
  if ((bl | bh) === 0) return;
  const a = small(R[d]!, R[d + 1]!);
  const b = small(bl, bh);
  if (a >= 0 && b >= 0) { setNumber(R, d, a % b); return; }
  setBig(R, d, toU64(R[d]!, R[d + 1]!) % toU64(bl, bh));
}

/** Signed division truncating toward zero; /0 gives 0; INT64_MIN / -1 overflows to INT64_MIN. */
export function sdiv64(R: Int32Array, d: number, bl: number, bh: number): void {
  if ((bl | bh) === 0) { R[d] = 0; R[d + 1] = 0; return; }
  if (bl === -1 && bh === -1) { neg64(R, d); return; }
  setBig(R, d, BigInt.asIntN(64, toS64(R[d]!, R[d + 1]!) / toS64(bl, bh)));
}

/** Signed modulo with the sign of the dividend; %0 leaves R[d]; x % -1 is 0. */
export function smod64(R: Int32Array, d: number, bl: number, bh: number): void {
  if ((bl | bh) === 0) return;
  if (bl === -1 && bh === -1) { R[d] = 0; R[d + 1] = 0; return; }
  setBig(R, d, toS64(R[d]!, R[d + 1]!) % toS64(bl, bh));
}

/** R[d] = -R[d]. */
export function neg64(R: Int32Array, d: number): void {
  const lo = R[d]!;
  R[d] = -lo | 0;
  R[d + 1] = (~R[d + 1]! + (lo === 0 ? 1 : 0)) | 0;
}

/** R[d] <<= n & 63. */
export function lsh64(R: Int32Array, d: number, n: number): void {
  n &= 63;
  if (n === 0) return;
  const lo = R[d]!;
  if (n < 32) {
    R[d + 1] = (R[d + 1]! << n) | (lo >>> (32 - n));
    R[d] = lo << n;
  } else {
    R[d + 1] = lo << (n - 32);
    R[d] = 0;
  }
}

/** R[d] >>= n & 63 (logical). */
export function rsh64(R: Int32Array, d: number, n: number): void {
  n &= 63;
  if (n === 0) return;
  const hi = R[d + 1]!;
  if (n < 32) {
    R[d] = (R[d]! >>> n) | (hi << (32 - n));
    R[d + 1] = hi >>> n;
  } else {
    R[d] = hi >>> (n - 32);
    R[d + 1] = 0;
  }
}

/** R[d] s>>= n & 63 (arithmetic). */
export function arsh64(R: Int32Array, d: number, n: number): void {
  n &= 63;
  if (n === 0) return;
  const hi = R[d + 1]!;
  if (n < 32) {
    R[d] = (R[d]! >>> n) | (hi << (32 - n));
    R[d + 1] = hi >> n;
  } else {
    R[d] = hi >> (n - 32);
    R[d + 1] = hi >> 31;
  }
}

/** Byte-swaps the low 32 bits. */
export function bswap32(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

/** Byte-swaps the low 16 bits, zero-extended. */
export function bswap16(x: number): number {
  return ((x & 0xff) << 8) | ((x >>> 8) & 0xff);
}

/** Unsigned 64-bit comparison: -1, 0 or 1. */
export function ucmp64(al: number, ah: number, bl: number, bh: number): number {
  if (ah !== bh) return (ah >>> 0) < (bh >>> 0) ? -1 : 1;
  if (al !== bl) return (al >>> 0) < (bl >>> 0) ? -1 : 1;
  return 0;
}

/** Signed 64-bit comparison: -1, 0 or 1. */
export function scmp64(al: number, ah: number, bl: number, bh: number): number {
  if (ah !== bh) return ah < bh ? -1 : 1;
  if (al !== bl) return (al >>> 0) < (bl >>> 0) ? -1 : 1;
  return 0;
}
