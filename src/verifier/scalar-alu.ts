/**
 * Bounds of a scalar after an ALU operation with another scalar, as the kernel computes them
 * (kernel: verifier.c adjust_scalar_min_max_vals and the scalar{32,}_min_max_* functions).
 * Where the kernel learns nothing (division, modulo, shifts by a non-constant), neither do we:
 * knowing more than the kernel would accept programs it rejects.
 */
import type { AluOp } from '../isa/index.js';
import {
  U32_MAX, U64_MAX, tnumAdd, tnumAnd, tnumArshift, tnumIsConst, tnumLshift, tnumMul, tnumNeg, tnumOr,
  tnumRshift, tnumSub, tnumSubreg, tnumXor,
} from './tnum.js';
import {
  Reg, S32_MAX, S32_MIN, S64_MAX, S64_MIN, bmax, bmin, boundsSync, markKnown, markKnown32,
  markUnbounded32, markUnbounded64, markUnknown, s32, s64, updateBounds, zext32to64,
} from './reg.js';

const U16_MAX = 0xffffn;

const addOverflows = (a: bigint, b: bigint, min: bigint, max: bigint): boolean => a + b < min || a + b > max;
const subOverflows = (a: bigint, b: bigint, min: bigint, max: bigint): boolean => a - b < min || a - b > max;

function add32(dst: Reg, src: Reg): void {
  if (addOverflows(dst.s32min, src.s32min, S32_MIN, S32_MAX) || addOverflows(dst.s32max, src.s32max, S32_MIN, S32_MAX)) {
    dst.s32min = S32_MIN; dst.s32max = S32_MAX;
  } else {
    dst.s32min += src.s32min; dst.s32max += src.s32max;
  }
  if (dst.u32min + src.u32min > U32_MAX || dst.u32max + src.u32max > U32_MAX) {
    dst.u32min = 0n; dst.u32max = U32_MAX;
  } else {
    dst.u32min += src.u32min; dst.u32max += src.u32max;
  }
}

function add64(dst: Reg, src: Reg): void {
  if (addOverflows(dst.smin, src.smin, S64_MIN, S64_MAX) || addOverflows(dst.smax, src.smax, S64_MIN, S64_MAX)) {
    dst.smin = S64_MIN; dst.smax = S64_MAX;
  } else {
    dst.smin += src.smin; dst.smax += src.smax;
  }
  if (dst.umin + src.umin > U64_MAX || dst.umax + src.umax > U64_MAX) {
    dst.umin = 0n; dst.umax = U64_MAX;
  } else {
    dst.umin += src.umin; dst.umax += src.umax;
  }
}

function sub32(dst: Reg, src: Reg): void {
  if (subOverflows(dst.s32min, src.s32max, S32_MIN, S32_MAX) || subOverflows(dst.s32max, src.s32min, S32_MIN, S32_MAX)) {
    dst.s32min = S32_MIN; dst.s32max = S32_MAX;
  } else {
    const lo = dst.s32min - src.s32max;
    dst.s32max = dst.s32max - src.s32min;
    dst.s32min = lo;
  }
  if (dst.u32min < src.u32max) {
    dst.u32min = 0n; dst.u32max = U32_MAX;
  } else {
    const lo = dst.u32min - src.u32max;
    dst.u32max = dst.u32max - src.u32min;
    dst.u32min = lo;
  }
}

function sub64(dst: Reg, src: Reg): void {
  if (subOverflows(dst.smin, src.smax, S64_MIN, S64_MAX) || subOverflows(dst.smax, src.smin, S64_MIN, S64_MAX)) {
    dst.smin = S64_MIN; dst.smax = S64_MAX;
  } else {
    const lo = dst.smin - src.smax;
    dst.smax = dst.smax - src.smin;
    dst.smin = lo;
  }
  if (dst.umin < src.umax) {
    dst.umin = 0n; dst.umax = U64_MAX;
  } else {
    const lo = dst.umin - src.umax;
    dst.umax = dst.umax - src.umin;
    dst.umin = lo;
  }
}

function mul32(dst: Reg, src: Reg): void {
  if (src.s32min < 0n || dst.s32min < 0n || src.u32max > U16_MAX || dst.u32max > U16_MAX) {
    markUnbounded32(dst);
    return;
  }
  dst.u32min *= src.u32min;
  dst.u32max *= src.u32max;
  if (dst.u32max > S32_MAX) {
    dst.s32min = S32_MIN; dst.s32max = S32_MAX;
  } else {
    dst.s32min = dst.u32min; dst.s32max = dst.u32max;
  }
}

function mul64(dst: Reg, src: Reg): void {
  if (src.smin < 0n || dst.smin < 0n || src.umax > U32_MAX || dst.umax > U32_MAX) {
    markUnbounded64(dst);
    return;
  }
  dst.umin *= src.umin;
  dst.umax *= src.umax;
  if (dst.umax > S64_MAX) {
    dst.smin = S64_MIN; dst.smax = S64_MAX;
  } else {
    dst.smin = dst.umin; dst.smax = dst.umax;
  }
}

const subregConst = (r: Reg): boolean => tnumIsConst(tnumSubreg(r.varOff));

function and32(dst: Reg, src: Reg): void {
  const v = tnumSubreg(dst.varOff);
  if (subregConst(src) && subregConst(dst)) { markKnown32(dst, v.value); return; }
  dst.u32min = v.value;
  dst.u32max = bmin(dst.u32max, src.u32max);
  if (dst.s32min < 0n || src.s32min < 0n) { dst.s32min = S32_MIN; dst.s32max = S32_MAX; }
  else { dst.s32min = dst.u32min; dst.s32max = dst.u32max; }
}

function and64(dst: Reg, src: Reg): void {
  if (tnumIsConst(src.varOff) && tnumIsConst(dst.varOff)) { markKnown(dst, dst.varOff.value); return; }
  dst.umin = dst.varOff.value;
  dst.umax = bmin(dst.umax, src.umax);
  if (dst.smin < 0n || src.smin < 0n) { dst.smin = S64_MIN; dst.smax = S64_MAX; }
  else { dst.smin = dst.umin; dst.smax = dst.umax; }
  updateBounds(dst);
}

function or32(dst: Reg, src: Reg): void {
  const v = tnumSubreg(dst.varOff);
  if (subregConst(src) && subregConst(dst)) { markKnown32(dst, v.value); return; }
  dst.u32min = bmax(dst.u32min, src.u32min);
  dst.u32max = v.value | v.mask;
  if (dst.s32min < 0n || src.s32min < 0n) { dst.s32min = S32_MIN; dst.s32max = S32_MAX; }
  else { dst.s32min = dst.u32min; dst.s32max = dst.u32max; }
}

function or64(dst: Reg, src: Reg): void {
  if (tnumIsConst(src.varOff) && tnumIsConst(dst.varOff)) { markKnown(dst, dst.varOff.value); return; }
  dst.umin = bmax(dst.umin, src.umin);
  dst.umax = dst.varOff.value | dst.varOff.mask;
  if (dst.smin < 0n || src.smin < 0n) { dst.smin = S64_MIN; dst.smax = S64_MAX; }
  else { dst.smin = dst.umin; dst.smax = dst.umax; }
  updateBounds(dst);
}

function xor32(dst: Reg, src: Reg): void {
  const v = tnumSubreg(dst.varOff);
  if (subregConst(src) && subregConst(dst)) { markKnown32(dst, v.value); return; }
  dst.u32min = v.value;
  dst.u32max = v.value | v.mask;
  if (dst.s32min >= 0n && src.s32min >= 0n) { dst.s32min = dst.u32min; dst.s32max = dst.u32max; }
  else { dst.s32min = S32_MIN; dst.s32max = S32_MAX; }
}

function xor64(dst: Reg, src: Reg): void {
  if (tnumIsConst(src.varOff) && tnumIsConst(dst.varOff)) { markKnown(dst, dst.varOff.value); return; }
  dst.umin = dst.varOff.value;
  dst.umax = dst.varOff.value | dst.varOff.mask;
  if (dst.smin >= 0n && src.smin >= 0n) { dst.smin = dst.umin; dst.smax = dst.umax; }
  else { dst.smin = S64_MIN; dst.smax = S64_MAX; }
  updateBounds(dst);
}

function lsh32Bounds(dst: Reg, uminVal: bigint, umaxVal: bigint): void {
  dst.s32min = S32_MIN; dst.s32max = S32_MAX;
  if (umaxVal > 31n || dst.u32max > (1n << (31n - umaxVal))) {
    dst.u32min = 0n; dst.u32max = U32_MAX;
  } else {
    dst.u32min <<= uminVal;
    dst.u32max <<= umaxVal;
  }
}

function lsh32(dst: Reg, src: Reg): void {
  const sub = tnumSubreg(dst.varOff);
  lsh32Bounds(dst, src.u32min, src.u32max);
  dst.varOff = tnumSubreg(tnumLshift(sub, Number(src.u32min)));
  markUnbounded64(dst);
  updateBounds(dst);
}

function lsh64(dst: Reg, src: Reg): void {
  const uminVal = src.umin;
  const umaxVal = src.umax;
  const smax = uminVal === 32n && umaxVal === 32n && dst.s32max >= 0n ? dst.s32max << 32n : S64_MAX;
  const smin = uminVal === 32n && umaxVal === 32n && dst.s32min >= 0n ? dst.s32min << 32n : S64_MIN;
  dst.smax = smax; dst.smin = smin;
  if (dst.umax > (1n << (63n - umaxVal))) {
    dst.umin = 0n; dst.umax = U64_MAX;
  } else {
    dst.umin = BigInt.asUintN(64, dst.umin << uminVal);
    dst.umax = BigInt.asUintN(64, dst.umax << umaxVal);
  }
  lsh32Bounds(dst, uminVal, umaxVal);
  dst.varOff = tnumLshift(dst.varOff, Number(uminVal));
  updateBounds(dst);
}

function rsh32(dst: Reg, src: Reg): void {
  const sub = tnumSubreg(dst.varOff);
  dst.s32min = S32_MIN; dst.s32max = S32_MAX;
  dst.varOff = tnumRshift(sub, Number(src.u32min));
  dst.u32min >>= src.u32max;
  dst.u32max >>= src.u32min;
  markUnbounded64(dst);
  updateBounds(dst);
}

function rsh64(dst: Reg, src: Reg): void {
  dst.smin = S64_MIN; dst.smax = S64_MAX;
  dst.varOff = tnumRshift(dst.varOff, Number(src.umin));
  dst.umin >>= src.umax;
  dst.umax >>= src.umin;
  markUnbounded32(dst);
  updateBounds(dst);
}

function arsh32(dst: Reg, src: Reg): void {
  const n = src.u32min;
  dst.s32min = s32(dst.s32min) >> n;
  dst.s32max = s32(dst.s32max) >> n;
  dst.varOff = tnumArshift(tnumSubreg(dst.varOff), Number(n), 32);
  dst.u32min = 0n; dst.u32max = U32_MAX;
  markUnbounded64(dst);
  updateBounds(dst);
}

function arsh64(dst: Reg, src: Reg): void {
  const n = src.umin;
  dst.smin = s64(dst.smin) >> n;
  dst.smax = s64(dst.smax) >> n;
  dst.varOff = tnumArshift(dst.varOff, Number(n), 64);
  dst.umin = 0n; dst.umax = U64_MAX;
  markUnbounded32(dst);
  updateBounds(dst);
}

/** kernel: is_safe_to_compute_dst_reg_range. */
function safeToCompute(op: AluOp, alu64: boolean, src: Reg): boolean {
  switch (op) {
    case 'add': case 'sub': case 'neg': case 'and': case 'or': case 'xor': case 'mul':
      return true;
    case 'lsh': case 'rsh': case 'arsh': {
      const bits = alu64 ? 64n : 32n;
      const isConst = alu64
        ? tnumIsConst(src.varOff) && src.smin === src.smax && src.umin === src.umax
        : subregConst(src) && src.s32min === src.s32max && src.u32min === src.u32max;
      return isConst && src.umax < bits;
    }
    default:
      return false;
  }
}

/**
 * `dst = dst OP src` on two scalars (kernel: adjust_scalar_min_max_vals). For 32-bit
 * operations the result is zero-extended. `src` is not modified.
 */
export function scalarAlu(op: AluOp, alu64: boolean, dst: Reg, srcIn: Reg): void {
  if (!safeToCompute(op, alu64, srcIn)) {
    markUnknown(dst);
    return;
  }
  const src = srcIn.clone();
  switch (op) {
    case 'add':
      add32(dst, src); add64(dst, src);
      dst.varOff = tnumAdd(dst.varOff, src.varOff);
      break;
    case 'sub':
      sub32(dst, src); sub64(dst, src);
      dst.varOff = tnumSub(dst.varOff, src.varOff);
      break;
    case 'neg': {
      const old = dst.clone();
      markKnown(dst, 0n);
      sub32(dst, old); sub64(dst, old);
      dst.varOff = tnumNeg(old.varOff);
      break;
    }
    case 'mul':
      dst.varOff = tnumMul(dst.varOff, src.varOff);
      mul32(dst, src); mul64(dst, src);
      break;
    case 'and':
      dst.varOff = tnumAnd(dst.varOff, src.varOff);
      and32(dst, src); and64(dst, src);
      break;
    case 'or':
      dst.varOff = tnumOr(dst.varOff, src.varOff);
      or32(dst, src); or64(dst, src);
      break;
    case 'xor':
      dst.varOff = tnumXor(dst.varOff, src.varOff);
      xor32(dst, src); xor64(dst, src);
      break;
    case 'lsh':
      if (alu64) lsh64(dst, src); else lsh32(dst, src);
      break;
    case 'rsh':
      if (alu64) rsh64(dst, src); else rsh32(dst, src);
      break;
    case 'arsh':
      if (alu64) arsh64(dst, src); else arsh32(dst, src);
      break;
    default:
      break;
  }
  if (!alu64) zext32to64(dst);
  boundsSync(dst);
}
