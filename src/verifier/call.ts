/**
 * Calls: helpers against their prototypes (kernel: verifier.c check_helper_call,
 * check_func_arg, check_mem_size_reg, check_map_func_compatibility, reference acquire and
 * release), and bpf-to-bpf calls with their frames (check_func_call, prepare_func_exit).
 */
import type { CallInstruction } from '../isa/index.js';
import { MapType } from '../object/uapi-types.js';
import { checkReadable } from './alu.js';
import { BPF_MAX_VAR_SIZ, type Env, reject, subprogOf } from './env.js';
import { type ArgType, BPF_FUNC_MAX_ID, MAP_TYPE_HELPERS, helperName, helperProto } from './helpers.js';
import { helperMemAccess, typeName } from './mem.js';
import { type MapInfo, Reg, boundsSync, isNullScalar, markNotInit, markPointer, markUnknown } from './reg.js';
import { Frame, type VerifierState } from './state.js';
import { formatTnum, tnumIsConst } from './tnum.js';

const MAX_CALL_FRAMES = 8;
const MAX_ERRNO = 4095n;
/** Helpers whose int result is at most their size argument (kernel: do_refine_retval_range). */
const REFINED_RETVAL = new Set([45, 67, 114, 115, 141]);

const MEM_TYPES = 'fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_';

/** kernel: check_func_arg_reg_off for pointers that must be unmodified (ctx, release arguments). */
function checkPtrOffZero(env: Env, reg: Reg, regno: number, what: string): void {
  if (reg.off < 0) reject(env, `negative offset ${what} ptr R${regno} off=${reg.off} disallowed`);
  if (reg.off !== 0) reject(env, `dereference of modified ${what} ptr R${regno} off=${reg.off} disallowed`);
  if (!tnumIsConst(reg.varOff) || reg.varOff.value !== 0n) reject(env, `variable ${what} access var_off=${formatTnum(reg.varOff)} disallowed`);
}

const MEM_OK = new Set(['fp', 'pkt', 'pkt_meta', 'map_key', 'map_value', 'mem', 'ringbuf_mem']);

/** kernel: check_helper_call. */
export function checkHelperCall(env: Env, state: VerifierState, insn: CallInstruction): void {
  const id = insn.imm;
  if (id < 0 || id >= BPF_FUNC_MAX_ID) reject(env, `invalid func ${helperName(id)}#${id}`);
  const proto = helperProto(env.progType, id);
  if (proto === undefined) reject(env, `program of this type cannot use helper ${helperName(id)}#${id}`);
  if (id === 12 && env.subprogs.length > 1) reject(env, 'tail_call in a program with bpf-to-bpf calls: not modelled by this verifier');
  const regs = state.cur.regs;
  let map: MapInfo | undefined;
  let allocSize = 0;
  let releaseRef = 0;
  let refArgs = 0;
  const args = proto.args;
  const pktAccess = proto.pktAccess === true;
  for (let i = 0; i < args.length; i++) {
    const regno = i + 1;
    const t: ArgType = args[i]!;
    const reg = checkReadable(env, state, regno);
    if (t === 'anything') continue;
    if (reg.refObjId !== 0) {
      if (refArgs !== 0) reject(env, `more than one arg with ref_obj_id R${regno} ${refArgs} ${reg.refObjId}`);
      refArgs = reg.refObjId;
    }
    switch (t) {
      case 'map_ptr':
        if (reg.type !== 'map_ptr' || reg.maybeNull) reject(env, `R${regno} type=${typeName(reg)} expected=map_ptr`);
        map = reg.map;
        break;
      case 'ctx_or_null':
        if (isNullScalar(reg)) break;
        if (reg.type !== 'ctx') reject(env, `R${regno} type=${typeName(reg)} expected=ctx`);
        checkPtrOffZero(env, reg, regno, 'ctx');
        break;
      case 'ctx':
        if (reg.type !== 'ctx') reject(env, `R${regno} type=${typeName(reg)} expected=ctx`);
        checkPtrOffZero(env, reg, regno, 'ctx');
        break;
      case 'map_key':
      case 'map_value': {
        if (!(reg.type === 'fp' || reg.isPkt || reg.type === 'map_key' || reg.type === 'map_value') || reg.maybeNull) {
          reject(env, `R${regno} type=${typeName(reg)} expected=fp, pkt, pkt_meta, map_key, map_value`);
        }
        if (map === undefined) reject(env, `invalid map_ptr to access map->${t === 'map_key' ? 'key' : 'value'}`);
        helperMemAccess(env, state, regno, t === 'map_key' ? map.keySize : map.valueSize, false, false, pktAccess);
        break;
      }
      case 'mem':
      case 'mem_or_null':
      case 'uninit_mem': {
        const sizeOk = t === 'mem_or_null' && isNullScalar(reg);
        if (!sizeOk && (!MEM_OK.has(reg.type) || reg.maybeNull)) reject(env, `R${regno} type=${typeName(reg)} expected=${MEM_TYPES}`);
        break;
      }
      case 'size':
      case 'size_or_zero': {
        if (reg.type !== 'scalar') reject(env, `R${regno} type=${typeName(reg)} expected=scalar`);
        const zeroOk = t === 'size_or_zero';
        const memArg = args[i - 1];
        if (reg.smin < 0n) reject(env, `R${regno} min value is negative, either use unsigned or 'var &= const'`);
        if (reg.umin === 0n && !zeroOk) reject(env, `R${regno} invalid zero-sized read: u64=[${reg.umin},${reg.umax}]`);
        if (reg.umax >= BigInt(BPF_MAX_VAR_SIZ)) reject(env, `R${regno} unbounded memory access, use 'var &= const' or 'if (var < const)'`);
        const memReg = regs[regno - 1]!;
        if (memArg === 'mem_or_null' && isNullScalar(memReg)) {
          if (reg.umax !== 0n) reject(env, `R${regno - 1} type=scalar expected=${MEM_TYPES}`);
          break;
        }
        const write = memArg === 'uninit_mem';
        helperMemAccess(env, state, regno - 1, Number(reg.umax), write, zeroOk, pktAccess);
        break;
      }
      case 'alloc_size_or_zero':
        if (reg.type !== 'scalar') reject(env, `R${regno} type=${typeName(reg)} expected=scalar`);
        if (!tnumIsConst(reg.varOff)) reject(env, `R${regno} is not a known constant'`);
        allocSize = Number(reg.varOff.value);
        break;
      case 'ringbuf_release':
        if (reg.type !== 'ringbuf_mem' || reg.maybeNull) reject(env, `R${regno} type=${typeName(reg)} expected=ringbuf_mem`);
        if (reg.refObjId === 0) reject(env, `R${regno} must be referenced when passed to release function`);
        if (reg.off !== 0 || !tnumIsConst(reg.varOff) || reg.varOff.value !== 0n) reject(env, `R${regno} must have zero offset when passed to release func`);
        releaseRef = reg.refObjId;
        break;
    }
  }

  // check_map_func_compatibility, both directions.
  if (proto.mapTypes !== undefined) {
    if (map === undefined || !proto.mapTypes.includes(map.type)) {
      reject(env, `cannot pass map_type ${map?.type ?? 0} into func ${helperName(id)}#${id}`);
    }
  }
  if (map !== undefined) {
    const only = MAP_TYPE_HELPERS.get(map.type);
    if (only !== undefined && !only.includes(id)) reject(env, `cannot pass map_type ${map.type} into func ${helperName(id)}#${id}`);
    if (map.hasSpecialFields) reject(env, 'map with BTF-described special fields: not modelled by this verifier');
  }
  if (id === 131 && (allocSize <= 0 || allocSize >= BPF_MAX_VAR_SIZ)) {
    // The kernel accepts a zero size at verification; the record is then useless. Stay strict.
    if (allocSize < 0) reject(env, 'R2 is not a known constant\'');
  }

  if (releaseRef !== 0) {
    if (!state.refs.some((r) => r.id === releaseRef)) reject(env, `R1 must be referenced when passed to release function`);
    state.refs = state.refs.filter((r) => r.id !== releaseRef);
    state.forEachReg((r) => { if (r.refObjId === releaseRef) markUnknown(r); });
  }
  if (id === 12 && state.refs.length > 0) reject(env, 'tail_call would lead to reference leak');

  const sizeMax = proto.args.includes('size_or_zero') || proto.args.includes('size')
    ? regs[proto.args.findIndex((a) => a === 'size_or_zero' || a === 'size') + 1]!.umax : 0n;
  for (let r = 1; r <= 5; r++) markNotInit(regs[r]!);
  const r0 = regs[0]!;
  switch (proto.ret) {
    case 'integer':
      markUnknown(r0);
      if (REFINED_RETVAL.has(id)) {
        // kernel: do_refine_retval_range: at most the buffer size, or a negative errno.
        r0.smin = -MAX_ERRNO; r0.s32min = -MAX_ERRNO;
        r0.smax = sizeMax; r0.s32max = sizeMax;
        boundsSync(r0);
      }
      break;
    case 'void':
      markNotInit(r0);
      break;
    case 'map_value_or_null': {
      if (map === undefined) reject(env, 'kernel subsystem misconfigured verifier');
      if (map.type === MapType.ARRAY_OF_MAPS || map.type === MapType.HASH_OF_MAPS) {
        if (map.inner === undefined) reject(env, 'map-in-map without an inner map description');
        markPointer(r0, 'map_ptr');
        r0.map = map.inner;
      } else {
        markPointer(r0, 'map_value');
        r0.map = map;
      }
      r0.maybeNull = true;
      r0.id = ++env.idGen;
      break;
    }
    case 'ringbuf_mem_or_null': {
      markPointer(r0, 'ringbuf_mem');
      r0.memSize = allocSize;
      r0.maybeNull = true;
      // kernel: check_helper_call gives a maybe-NULL R0 an id, then acquire_reference a new one for both.
      env.idGen++;
      const ref = ++env.idGen;
      r0.id = ref;
      r0.refObjId = ref;
      state.refs = [...state.refs, { id: ref, insn: env.insnIdx }];
      break;
    }
  }
  if (proto.changesPktData) {
    state.forEachReg((r) => { if (r.isPkt || r.type === 'pkt_end') markUnknown(r); });
  }
  if (id === 12) {
    // A tail call that fails falls through; one that succeeds never returns.
  }
}

/** kernel: check_func_call: enter the subprogram at `target`. */
export function enterSubprog(env: Env, state: VerifierState, insn: CallInstruction, idx: number): number {
  if (state.frames.length >= MAX_CALL_FRAMES) reject(env, `the call stack of ${state.frames.length + 1} frames is too deep`);
  const target = idx + insn.imm + 1;
  const sub = subprogOf(env, target);
  env.calls[subprogOf(env, idx)]!.add(sub);
  const caller = state.cur;
  const callee = new Frame(state.frames.length, sub, idx);
  for (let r = 1; r <= 5; r++) callee.regs[r]!.assign(caller.regs[r]!);
  for (let r = 0; r <= 5; r++) markNotInit(caller.regs[r]!);
  state.frames.push(callee);
  return target;
}

/** kernel: prepare_func_exit: back to the caller with R0. Returns the caller's next instruction. */
export function exitSubprog(env: Env, state: VerifierState): number {
  const callee = state.cur;
  // R0 may be unset (a void function); the caller fails only if it reads it.
  const r0 = callee.reg(0);
  if (r0.type === 'fp') reject(env, 'cannot return stack pointer to the caller');
  state.frames.pop();
  const caller = state.cur;
  caller.regs[0]!.assign(r0);
  // Stack pointers into the frame that is gone are no longer valid.
  state.forEachReg((r) => { if (r.type === 'fp' && r.frameno >= state.frames.length) markUnknown(r); });
  return callee.callsite + 1;
}

export { Reg };
