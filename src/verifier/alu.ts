/**
 * ALU instructions on abstract registers (kernel: verifier.c check_alu_op,
 * adjust_reg_min_max_vals, adjust_ptr_min_max_vals): scalar arithmetic is in scalar-alu.ts;
 * this file holds moves, operand checks and pointer arithmetic.
 */
import type { AluInstruction } from '../isa/index.js';
import { BPF_MAX_VAR_OFF, type Env, reject } from './env.js';
import {
  Reg, S64_MAX, S64_MIN, boundsSync, coerceSubregToSizeSx, coerceToSizeSx, markKnown, markUnbounded32,
  markUnknown, u32, zext32to64, regWidth,
} from './reg.js';
import { scalarAlu } from './scalar-alu.js';
import { typeName } from './mem.js';
import { checkPointerAluOp, sanitizeCheckBounds, sanitizeCommit, sanitizePtrAlu, sanitizeValAlu } from './unpriv.js';
import type { VerifierState } from './state.js';
import { U64_MAX, tnumAdd, tnumIsConst, tnumSub } from './tnum.js';

const ALU_STR: Record<string, string> = {
  add: '+=', sub: '-=', mul: '*=', div: '/=', sdiv: '/=', or: '|=', and: '&=', lsh: '<<=', rsh: '>>=', neg: 'neg',
  mod: '%=', smod: '%=', xor: '^=', mov: '=', movsx: '=', arsh: 's>>=',
};

/** kernel: check_reg_arg(SRC_OP). */
export function checkReadable(env: Env, state: VerifierState, regno: number): Reg {
  const r = state.cur.reg(regno);
  if (r.type === 'not_init') reject(env, `R${regno} !read_ok`);
  return r;
}

/** kernel: check_reg_arg(DST_OP): r10 is read-only. */
export function checkWritable(env: Env, regno: number): void {
  if (regno === 10) reject(env, 'frame pointer is read only');
}

/** Gives a scalar an id before it is copied, so that the copies learn bounds together (kernel: assign_scalar_id_before_mov). */
function assignIdBeforeMov(env: Env, src: Reg): void {
  if (src.type === 'scalar' && src.id === 0 && !tnumIsConst(src.varOff)) src.id = ++env.idGen;
}

/** kernel: check_reg_sane_offset. */
function checkSaneOffset(env: Env, reg: Reg, ptrType: string): void {
  const known = tnumIsConst(reg.varOff);
  const val = BigInt.asIntN(64, reg.varOff.value);
  const limit = BigInt(BPF_MAX_VAR_OFF);
  if (known && (val >= limit || val <= -limit)) reject(env, `math between ${ptrType} pointer and ${val} is not allowed`);
  if (reg.off >= BPF_MAX_VAR_OFF || reg.off <= -BPF_MAX_VAR_OFF) reject(env, `${ptrType} pointer offset ${reg.off} is not allowed`);
  if (reg.smin === S64_MIN) reject(env, `math between ${ptrType} pointer and register with unbounded min value is not allowed`);
  if (reg.smin >= limit || reg.smin <= -limit) reject(env, `value ${reg.smin} makes ${ptrType} pointer be out of bounds`);
}

const fitsS32 = (v: bigint): boolean => v === BigInt.asIntN(32, v);

/** kernel: adjust_ptr_min_max_vals: `dst = ptr OP off` where `off` is a scalar. */
function pointerArith(env: Env, insn: AluInstruction, dst: Reg, ptr: Reg, offReg: Reg): void {
  const op = insn.op;
  const regno = insn.dst;
  const smin = offReg.smin;
  const smax = offReg.smax;
  const umin = offReg.umin;
  const umax = offReg.umax;
  const known = tnumIsConst(offReg.varOff);
  if ((known && (smin !== smax || umin !== umax)) || smin > smax || umin > umax) {
    markUnknown(dst);
    return;
  }
  if (!insn.alu64) {
    if (op === 'sub' && env.privileged) { markUnknown(dst); return; }
    reject(env, `R${regno} 32-bit pointer arithmetic prohibited`);
  }
  if (ptr.maybeNull) reject(env, `R${regno} pointer arithmetic on ${typeName(ptr)} prohibited, null-check it first`);
  switch (ptr.type) {
    case 'ctx': case 'map_value': case 'map_key': case 'fp': case 'pkt_meta': case 'pkt': case 'mem': case 'ringbuf_mem':
      break;
    case 'btf_id': case 'tp_buffer': // tracing (btf-ptr.ts): loads check the resulting offset
      break;
    case 'flow_keys':
      if (known) break;
      reject(env, `R${regno} pointer arithmetic on ${typeName(ptr)} prohibited`);
      break;
    case 'map_ptr':
      if (known && smin === 0n && op === 'add') break;
      reject(env, `R${regno} pointer arithmetic on ${typeName(ptr)} prohibited`);
      break;
    default:
      reject(env, `R${regno} pointer arithmetic on ${typeName(ptr)} prohibited`);
  }
  const ptrCopy = ptr.clone();
  checkSaneOffset(env, offReg, ptr.type);
  checkSaneOffset(env, ptrCopy, ptr.type);
  // unpriv.ts: Spectre v1 masking needs a bounded offset and a stack or map value pointer.
  const offIsDst = dst === offReg;
  const sanitize = (op === 'add' || op === 'sub') ? sanitizePtrAlu(env, insn, ptrCopy, offReg, offIsDst) : undefined;
  const out = ptrCopy.clone();
  markUnbounded32(out);
  switch (op) {
    case 'add': {
      if (known && fitsS32(BigInt(ptrCopy.off) + smin)) {
        out.off = ptrCopy.off + Number(smin);
        break;
      }
      const [a, b] = [ptrCopy.smin + smin, ptrCopy.smax + smax];
      if (a < S64_MIN || b > S64_MAX || a > S64_MAX || b < S64_MIN) { out.smin = S64_MIN; out.smax = S64_MAX; }
      else { out.smin = a; out.smax = b; }
      if (ptrCopy.umin + umin > U64_MAX || ptrCopy.umax + umax > U64_MAX) { out.umin = 0n; out.umax = U64_MAX; }
      else { out.umin = ptrCopy.umin + umin; out.umax = ptrCopy.umax + umax; }
      out.varOff = tnumAdd(ptrCopy.varOff, offReg.varOff);
      if (ptrCopy.isPkt) { out.id = ++env.idGen; out.range = 0; }
      break;
    }
    case 'sub': {
      if (dst === offReg) reject(env, `R${regno} tried to subtract pointer from scalar`);
      if (ptrCopy.type === 'fp') reject(env, `R${regno} subtraction from stack pointer prohibited`);
      if (known && fitsS32(BigInt(ptrCopy.off) - smin)) {
        out.off = ptrCopy.off - Number(smin);
        break;
      }
      const [a, b] = [ptrCopy.smin - smax, ptrCopy.smax - smin];
      if (a < S64_MIN || b > S64_MAX || a > S64_MAX || b < S64_MIN) { out.smin = S64_MIN; out.smax = S64_MAX; }
      else { out.smin = a; out.smax = b; }
      if (ptrCopy.umin < umax) { out.umin = 0n; out.umax = U64_MAX; }
      else { out.umin = ptrCopy.umin - umax; out.umax = ptrCopy.umax - umin; }
      out.varOff = tnumSub(ptrCopy.varOff, offReg.varOff);
      if (ptrCopy.isPkt) { out.id = ++env.idGen; if (smin < 0n) out.range = 0; }
      break;
    }
    case 'and': case 'or': case 'xor':
      reject(env, `R${regno} bitwise operator ${ALU_STR[op]} on pointer prohibited`);
      break;
    default:
      reject(env, `R${regno} pointer arithmetic with ${ALU_STR[op]} operator prohibited`);
  }
  checkSaneOffset(env, out, ptr.type);
  boundsSync(out);
  sanitizeCheckBounds(env, regno, out);
  sanitizeCommit(env, insn, sanitize, out, offIsDst);
  dst.assign(out);
}

/** kernel: check_alu_op for one ALU instruction (class ALU or ALU64, not BPF_END). */
export function checkAlu(env: Env, state: VerifierState, insn: AluInstruction): void {
  const regs = state.cur.regs;
  const op = insn.op;
  if (op === 'neg') {
    const dst = checkReadable(env, state, insn.dst);
    checkPointerAluOp(env, dst, insn.dst, 'arithmetic');
    checkWritable(env, insn.dst);
    if (dst.type === 'scalar') scalarAlu('neg', insn.alu64, dst, dst);
    else markUnknown(dst);
    return;
  }
  if (op === 'mov' || op === 'movsx') {
    const src = insn.useReg ? checkReadable(env, state, insn.src) : undefined;
    checkWritable(env, insn.dst);
    const dst = regs[insn.dst]!;
    if (src !== undefined && (!insn.alu64 || op === 'movsx')) checkPointerAluOp(env, src, insn.src, insn.alu64 ? 'sign-extension' : 'partial copy');
    if (src === undefined) {
      markKnown(dst, insn.alu64 ? BigInt(insn.imm) : BigInt(insn.imm >>> 0));
      return;
    }
    if (insn.alu64) {
      if (op === 'mov') {
        assignIdBeforeMov(env, src);
        dst.assign(src);
        return;
      }
      if (src.type !== 'scalar') { markUnknown(dst); return; }
      const noSext = src.umax < (1n << BigInt(insn.off - 1));
      if (noSext) assignIdBeforeMov(env, src);
      dst.assign(src);
      if (!noSext) dst.id = 0;
      coerceToSizeSx(dst, insn.off >> 3);
      return;
    }
    if (src.type !== 'scalar') {
      markUnknown(dst);
    } else if (op === 'mov') {
      const fits = regWidth(src) <= 32;
      if (fits) assignIdBeforeMov(env, src);
      dst.assign(src);
      if (!fits) dst.id = 0;
    } else {
      const noSext = src.umax < (1n << BigInt(insn.off - 1));
      if (noSext) assignIdBeforeMov(env, src);
      dst.assign(src);
      if (!noSext) dst.id = 0;
      coerceSubregToSizeSx(dst, insn.off >> 3);
    }
    zext32to64(dst);
    boundsSync(dst);
    return;
  }

  // All other operations read both operands.
  const srcReg = insn.useReg ? checkReadable(env, state, insn.src) : undefined;
  const dst = checkReadable(env, state, insn.dst);
  checkWritable(env, insn.dst);
  if ((op === 'div' || op === 'mod' || op === 'sdiv' || op === 'smod') && !insn.useReg && insn.imm === 0) reject(env, 'div by zero');
  if ((op === 'lsh' || op === 'rsh' || op === 'arsh') && !insn.useReg) {
    const size = insn.alu64 ? 64 : 32;
    if (insn.imm < 0 || insn.imm >= size) reject(env, `invalid shift ${insn.imm}`);
  }
  let src: Reg;
  if (srcReg !== undefined) {
    src = srcReg;
  } else {
    src = new Reg();
    markKnown(src, BigInt(insn.imm));
  }
  if (src.type !== 'scalar') {
    if (dst.type !== 'scalar') {
      if (op === 'sub' && env.privileged) { markUnknown(dst); dst.id = 0; return; }
      reject(env, `R${insn.dst} pointer ${ALU_STR[op]} pointer prohibited`);
    }
    pointerArith(env, insn, dst, src, dst);
    return;
  }
  if (dst.type !== 'scalar') {
    pointerArith(env, insn, dst, dst, src);
    return;
  }
  sanitizeValAlu(env, insn); // unpriv.ts
  scalarAlu(op, insn.alu64, dst, src);
  dst.id = 0;
}

/** Byte swaps: the result is an unknown scalar (the kernel learns nothing either). */
export function checkEndian(env: Env, state: VerifierState, dstno: number): void {
  const dst = checkReadable(env, state, dstno);
  checkPointerAluOp(env, dst, dstno, 'arithmetic');
  checkWritable(env, dstno);
  markUnknown(dst);
}

export { u32 };
