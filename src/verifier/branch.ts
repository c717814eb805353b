/**
 * Conditional jumps (kernel: verifier.c check_cond_jmp_op): whether a branch is decided by
 * what is known (is_branch_taken), what each branch learns about its operands
 * (reg_set_min_max / regs_refine_cond_op), NULL checks of nullable pointers
 * (mark_ptr_or_null_regs) and packet bounds from comparisons with pkt_end
 * (try_match_pkt_pointers / find_good_pkt_pointers).
 */
import type { JmpOp } from '../isa/index.js';
import { MapType } from '../object/uapi-types.js';
import { MAX_PACKET_OFF } from './env.js';
import { Reg, boundsInvalid, boundsSync, constValue, isConst, isNullScalar, s32, markKnown } from './reg.js';
import type { VerifierState } from './state.js';
import {
  U32_MAX, tnumAnd, tnumConst, tnumIntersect, tnumIsConst, tnumOr, tnumSubreg, tnumWithSubreg,
} from './tnum.js';

/** Operators with a register on each side swapped (kernel: flip_opcode). */
export function flipOp(op: JmpOp): JmpOp {
  switch (op) {
    case 'jgt': return 'jlt';
    case 'jge': return 'jle';
    case 'jlt': return 'jgt';
    case 'jle': return 'jge';
    case 'jsgt': return 'jslt';
    case 'jsge': return 'jsle';
    case 'jslt': return 'jsgt';
    case 'jsle': return 'jsge';
    default: return op;
  }
}

/** The negated condition (kernel: rev_opcode); `jset` negates to "no common bit" ('jnset'). */
type CondOp = JmpOp | 'jnset';
function revOp(op: CondOp): CondOp {
  switch (op) {
    case 'jeq': return 'jne';
    case 'jne': return 'jeq';
    case 'jset': return 'jnset';
    case 'jnset': return 'jset';
    case 'jgt': return 'jle';
    case 'jge': return 'jlt';
    case 'jlt': return 'jge';
    case 'jle': return 'jgt';
    case 'jsgt': return 'jsle';
    case 'jsge': return 'jslt';
    case 'jslt': return 'jsge';
    case 'jsle': return 'jsgt';
  }
}

/** Whether a pointer is known not to be NULL (kernel: reg_not_null). */
function notNull(r: Reg): boolean {
  if (r.maybeNull) return false;
  return r.type === 'sock' || r.type === 'tcp_sock' || r.type === 'map_value' || r.type === 'map_key'
    || r.type === 'sock_common' || r.type === 'mem' || r.type === 'ringbuf_mem' || r.type === 'map_ptr';
}

interface Ranges { umin: bigint; umax: bigint; smin: bigint; smax: bigint }

function ranges(r: Reg, jmp32: boolean): Ranges {
  return jmp32
    ? { umin: r.u32min, umax: r.u32max, smin: r.s32min, smax: r.s32max }
    : { umin: r.umin, umax: r.umax, smin: r.smin, smax: r.smax };
}

/** kernel: is_scalar_branch_taken: 1 taken, 0 not taken, -1 unknown. */
function scalarBranchTaken(r1: Reg, r2: Reg, op: JmpOp, jmp32: boolean): number {
  const t1 = jmp32 ? tnumSubreg(r1.varOff) : r1.varOff;
  const t2 = jmp32 ? tnumSubreg(r2.varOff) : r2.varOff;
  const a = ranges(r1, jmp32);
  const b = ranges(r2, jmp32);
  switch (op) {
    case 'jeq':
    case 'jne': {
      const eq = op === 'jeq';
      if (tnumIsConst(t1) && tnumIsConst(t2)) return (t1.value === t2.value) === eq ? 1 : 0;
      const disjoint = a.umin > b.umax || a.umax < b.umin || a.smin > b.smax || a.smax < b.smin
        || (!jmp32 && (r1.u32min > r2.u32max || r1.u32max < r2.u32min || r1.s32min > r2.s32max || r1.s32max < r2.s32min));
      if (disjoint) return eq ? 0 : 1;
      return -1;
    }
    case 'jset': {
      let x = t1;
      let y = t2;
      if (!isConst(r2, jmp32)) { x = t2; y = t1; if (!isConst(r1, jmp32)) return -1; }
      if (((~x.mask) & x.value & y.value) !== 0n) return 1;
      if (((x.mask | x.value) & y.value) === 0n) return 0;
      return -1;
    }
    case 'jgt': return a.umin > b.umax ? 1 : a.umax <= b.umin ? 0 : -1;
    case 'jsgt': return a.smin > b.smax ? 1 : a.smax <= b.smin ? 0 : -1;
    case 'jlt': return a.umax < b.umin ? 1 : a.umin >= b.umax ? 0 : -1;
    case 'jslt': return a.smax < b.smin ? 1 : a.smin >= b.smax ? 0 : -1;
    case 'jge': return a.umin >= b.umax ? 1 : a.umax < b.umin ? 0 : -1;
    case 'jsge': return a.smin >= b.smax ? 1 : a.smax < b.smin ? 0 : -1;
    case 'jle': return a.umax <= b.umin ? 1 : a.umin > b.umax ? 0 : -1;
    case 'jsle': return a.smax <= b.smin ? 1 : a.smin > b.smax ? 0 : -1;
  }
}

/** Packet-pointer ranges that mean "at or beyond pkt_end" (kernel: AT_PKT_END, BEYOND_PKT_END). */
export const AT_PKT_END = -1;
export const BEYOND_PKT_END = -2;

/** kernel: is_pkt_ptr_branch_taken: a pointer known to be at or past pkt_end decides some comparisons. */
function pktBranchTaken(dst: Reg, src: Reg, op: JmpOp): number {
  let pkt: Reg;
  let o = op;
  if (src.type === 'pkt_end') pkt = dst;
  else if (dst.type === 'pkt_end') { pkt = src; o = flipOp(op); }
  else return -1;
  if (pkt.range >= 0) return -1;
  switch (o) {
    case 'jle': case 'jgt':
      if (pkt.range === BEYOND_PKT_END) return o === 'jgt' ? 1 : 0;
      break;
    case 'jlt': case 'jge':
      if (pkt.range === BEYOND_PKT_END || pkt.range === AT_PKT_END) return o === 'jge' ? 1 : 0;
      break;
    default:
      break;
  }
  return -1;
}

/** kernel: is_branch_taken. Pointers decide only `== 0` / `!= 0` when known non-NULL. */
export function branchTaken(r1: Reg, r2: Reg, op: JmpOp, jmp32: boolean): number {
  const pktAny = (r: Reg): boolean => r.isPkt || r.type === 'pkt_end';
  if (pktAny(r1) && pktAny(r2) && !jmp32) return pktBranchTaken(r1, r2, op);
  if (r1.isPointer || r2.isPointer) {
    let p = r1;
    let c = r2;
    let o = op;
    if (!isConst(c, jmp32)) { o = flipOp(op); p = r2; c = r1; }
    if (!isConst(c, jmp32)) return -1;
    if (!p.isPointer || !notNull(p)) return -1;
    if (constValue(c, jmp32) !== 0n) return -1;
    if (o === 'jeq') return 0;
    if (o === 'jne') return 1;
    return -1;
  }
  if (r1.type !== 'scalar' || r2.type !== 'scalar') return -1;
  return scalarBranchTaken(r1, r2, op, jmp32);
}

/** kernel: regs_refine_cond_op. */
function refine(reg1: Reg, reg2: Reg, op: CondOp, jmp32: boolean): void {
  switch (op) {
    case 'jeq':
      if (jmp32) {
        reg1.u32min = reg1.u32min > reg2.u32min ? reg1.u32min : reg2.u32min;
        reg1.u32max = reg1.u32max < reg2.u32max ? reg1.u32max : reg2.u32max;
        reg1.s32min = reg1.s32min > reg2.s32min ? reg1.s32min : reg2.s32min;
        reg1.s32max = reg1.s32max < reg2.s32max ? reg1.s32max : reg2.s32max;
        reg2.u32min = reg1.u32min; reg2.u32max = reg1.u32max; reg2.s32min = reg1.s32min; reg2.s32max = reg1.s32max;
        const t = tnumIntersect(tnumSubreg(reg1.varOff), tnumSubreg(reg2.varOff));
        reg1.varOff = tnumWithSubreg(reg1.varOff, t);
        reg2.varOff = tnumWithSubreg(reg2.varOff, t);
      } else {
        reg1.umin = reg1.umin > reg2.umin ? reg1.umin : reg2.umin;
        reg1.umax = reg1.umax < reg2.umax ? reg1.umax : reg2.umax;
        reg1.smin = reg1.smin > reg2.smin ? reg1.smin : reg2.smin;
        reg1.smax = reg1.smax < reg2.smax ? reg1.smax : reg2.smax;
        reg2.umin = reg1.umin; reg2.umax = reg1.umax; reg2.smin = reg1.smin; reg2.smax = reg1.smax;
        reg1.varOff = tnumIntersect(reg1.varOff, reg2.varOff);
        reg2.varOff = reg1.varOff;
      }
      return;
    case 'jne': {
      let a = reg1;
      let b = reg2;
      if (!isConst(b, jmp32)) { a = reg2; b = reg1; }
      if (!isConst(b, jmp32)) return;
      const val = constValue(b, jmp32);
      if (jmp32) {
        if (a.u32min === val) a.u32min++;
        if (a.u32max === val) a.u32max--;
        if (a.s32min === s32(val)) a.s32min++;
        if (a.s32max === s32(val)) a.s32max--;
      } else {
        if (a.umin === val) a.umin++;
        if (a.umax === val) a.umax--;
        if (a.smin === BigInt.asIntN(64, val)) a.smin++;
        if (a.smax === BigInt.asIntN(64, val)) a.smax--;
      }
      return;
    }
    case 'jset':
    case 'jnset': {
      let a = reg1;
      let b = reg2;
      if (!isConst(b, jmp32)) { a = reg2; b = reg1; }
      if (!isConst(b, jmp32)) return;
      const val = constValue(b, jmp32);
      if (op === 'jset') {
        if (val === 0n || (val & (val - 1n)) !== 0n) return;
        if (jmp32) a.varOff = tnumWithSubreg(a.varOff, tnumOr(tnumSubreg(a.varOff), tnumConst(val)));
        else a.varOff = tnumOr(a.varOff, tnumConst(val));
      } else if (jmp32) {
        a.varOff = tnumWithSubreg(a.varOff, tnumAnd(tnumSubreg(a.varOff), tnumConst(~val & U32_MAX)));
      } else {
        a.varOff = tnumAnd(a.varOff, tnumConst(BigInt.asUintN(64, ~val)));
      }
      return;
    }
    case 'jle':
      if (jmp32) {
        if (reg2.u32max < reg1.u32max) reg1.u32max = reg2.u32max;
        if (reg1.u32min > reg2.u32min) reg2.u32min = reg1.u32min;
      } else {
        if (reg2.umax < reg1.umax) reg1.umax = reg2.umax;
        if (reg1.umin > reg2.umin) reg2.umin = reg1.umin;
      }
      return;
    case 'jlt':
      if (jmp32) {
        if (reg2.u32max - 1n < reg1.u32max) reg1.u32max = reg2.u32max - 1n;
        if (reg1.u32min + 1n > reg2.u32min) reg2.u32min = reg1.u32min + 1n;
      } else {
        if (reg2.umax - 1n < reg1.umax) reg1.umax = reg2.umax - 1n;
        if (reg1.umin + 1n > reg2.umin) reg2.umin = reg1.umin + 1n;
      }
      return;
    case 'jsle':
      if (jmp32) {
        if (reg2.s32max < reg1.s32max) reg1.s32max = reg2.s32max;
        if (reg1.s32min > reg2.s32min) reg2.s32min = reg1.s32min;
      } else {
        if (reg2.smax < reg1.smax) reg1.smax = reg2.smax;
        if (reg1.smin > reg2.smin) reg2.smin = reg1.smin;
      }
      return;
    case 'jslt':
      if (jmp32) {
        if (reg2.s32max - 1n < reg1.s32max) reg1.s32max = reg2.s32max - 1n;
        if (reg1.s32min + 1n > reg2.s32min) reg2.s32min = reg1.s32min + 1n;
      } else {
        if (reg2.smax - 1n < reg1.smax) reg1.smax = reg2.smax - 1n;
        if (reg1.smin + 1n > reg2.smin) reg2.smin = reg1.smin + 1n;
      }
      return;
    case 'jge': case 'jgt': case 'jsge': case 'jsgt':
      refine(reg2, reg1, flipOp(op), jmp32);
      return;
  }
}

/**
 * kernel: reg_set_min_max. Refines the operands in the taken branch (`t1`, `t2`) and in the
 * fall-through (`f1`, `f2`). Returns false when a branch's bounds contradict themselves.
 */
export function setMinMax(t1: Reg, t2: Reg, f1: Reg, f2: Reg, op: JmpOp, jmp32: boolean): boolean {
  if (f1.type !== 'scalar' || f2.type !== 'scalar') return true;
  refine(f1, f2, revOp(op), jmp32);
  boundsSync(f1); boundsSync(f2);
  refine(t1, t2, op, jmp32);
  boundsSync(t1); boundsSync(t2);
  return !(boundsInvalid(t1) || boundsInvalid(t2) || boundsInvalid(f1) || boundsInvalid(f2));
}

/** Copies what was learned about `reg` to every scalar with the same id (kernel: sync_linked_regs). */
export function syncLinked(state: VerifierState, reg: Reg): void {
  if (reg.type !== 'scalar' || reg.id === 0) return;
  const id = reg.id;
  state.forEachReg((r) => {
    if (r !== reg && r.type === 'scalar' && r.id === id) r.assign(reg);
  });
}

/** kernel: mark_ptr_or_null_regs: after `if (rX == 0)`, every copy of the pointer is NULL or not. */
export function markPtrOrNull(state: VerifierState, reg: Reg, isNull: boolean): void {
  const id = reg.id;
  const refId = reg.refObjId;
  if (id === 0) return;
  if (refId !== 0 && refId === id && isNull) state.refs = state.refs.filter((r) => r.id !== id);
  state.forEachReg((r) => {
    if (!r.maybeNull || r.id !== id) return;
    if (isNull) {
      markKnown(r, 0n);
      return;
    }
    r.maybeNull = false;
    if (r.type === 'map_ptr' && r.map?.inner !== undefined) r.map = r.map.inner;
    // kernel: mark_ptr_or_null_reg: a lookup in a sockmap or sockhash is a socket once checked.
    if (r.type === 'map_value' && (r.map?.type === MapType.SOCKMAP || r.map?.type === MapType.SOCKHASH)) {
      r.type = 'sock';
      r.map = undefined;
    } else if (r.type === 'map_value' && r.map?.type === MapType.XSKMAP) {
      r.type = 'xdp_sock';
      r.map = undefined;
    }
    // kernel: reg_may_point_to_spin_lock: a map value holding a lock keeps its id (the lock's identity).
    if (!(r.type === 'map_value' && r.map?.spinLockOff !== undefined)) r.id = 0;
  });
}

/** kernel: find_good_pkt_pointers: pointers with `reg`'s id get `range` = its offset (+1 when strict). */
function goodPktPointers(state: VerifierState, reg: Reg, rightOpen: boolean): void {
  if (reg.off < 0 || (reg.off === 0 && rightOpen)) return;
  if (reg.umax > BigInt(MAX_PACKET_OFF) || reg.umax + BigInt(reg.off) > BigInt(MAX_PACKET_OFF)) return;
  const range = reg.off + (rightOpen ? 1 : 0);
  const { type, id } = reg;
  state.forEachReg((r) => {
    if (r.type === type && r.id === id && r.range < range) r.range = range;
  });
}

/**
 * kernel: try_match_pkt_pointers. `taken`/`fall` are the states of the two branches and
 * `dst`/`src` the operands in the fall-through state (`tdst`/`tsrc` in the taken one).
 * Returns whether the comparison was a packet-bounds check.
 */
export function matchPktPointers(op: JmpOp, jmp32: boolean, fall: VerifierState, taken: VerifierState,
  dst: Reg, src: Reg, tdst: Reg, tsrc: Reg): boolean {
  if (jmp32) return false;
  const dataVsEnd = (a: Reg, b: Reg): boolean => (a.type === 'pkt' && b.type === 'pkt_end')
    || (a.type === 'pkt_meta' && b.type === 'pkt' && b.off === 0 && tnumIsConst(b.varOff) && b.varOff.value === 0n);
  // Normalise to "pkt' OP end".
  let o: JmpOp;
  let inFall: Reg;
  let inTaken: Reg;
  if (dataVsEnd(dst, src)) { o = op; inFall = dst; inTaken = tdst; }
  else if (dataVsEnd(src, dst)) { o = flipOp(op); inFall = src; inTaken = tsrc; }
  else return false;
  // kernel: mark_pkt_end: in the branch where pkt' is at or past pkt_end, remember it.
  const markEnd = (r: Reg, beyond: boolean): void => { if (r.type === 'pkt') r.range = beyond ? BEYOND_PKT_END : AT_PKT_END; };
  switch (o) {
    case 'jgt': goodPktPointers(fall, inFall, false); markEnd(inTaken, true); return true; // fall: pkt' <= end
    case 'jge': goodPktPointers(fall, inFall, true); markEnd(inTaken, false); return true; // fall: pkt' < end
    case 'jlt': goodPktPointers(taken, inTaken, true); markEnd(inFall, false); return true; // taken: pkt' < end
    case 'jle': goodPktPointers(taken, inTaken, false); markEnd(inFall, true); return true; // taken: pkt' <= end
    default: return false;
  }
}

export { isNullScalar };
