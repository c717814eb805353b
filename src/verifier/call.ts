/**
 * Calls: helpers against their prototypes (kernel: verifier.c check_helper_call,
 * check_func_arg, check_mem_size_reg, check_map_func_compatibility, reference acquire and
 * release), and bpf-to-bpf calls with their frames (check_func_call, prepare_func_exit).
 */
import type { CallInstruction } from '../isa/index.js';
import { MapFlag, MapType, ProgramType } from '../object/uapi-types.js';
import { checkReadable } from './alu.js';
import { BPF_MAX_VAR_SIZ, type Env, VerifierReject, reject, subprogOf } from './env.js';
import { type ArgType, BPF_FUNC_MAX_ID, MAP_TYPE_HELPERS, helperIsGplOnly, helperName, helperProto } from './helpers.js';
import { checkMemRegion, helperMemAccess, typeName } from './mem.js';
import type { GlobalSignature } from './global-func.js';
import { sameMap } from './prune.js';
import { BtfFlag, btfEnv, markBtfPointer } from './btf-ptr.js';
import { isSockType } from './sock.js';
import { type MapInfo, Reg, boundsSync, isNullScalar, markNotInit, markPointer, markUnknown } from './reg.js';
import { BPF_REG_SIZE, Frame, MAX_BPF_STACK, STACK_SPILL, STACK_ZERO, VerifierState } from './state.js';
import { formatTnum, tnumIsConst } from './tnum.js';
import { checkLeak, unprivHelperAllowed } from './unpriv.js';

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

/** kernel: bpf_loop, bpf_for_each_map_elem: the helpers that call a callback synchronously. */
export const CALLBACK_HELPERS: ReadonlySet<number> = new Set([164, 181]);
const BPF_FUNC_LOOP = 181;
const BPF_FUNC_MAP_LOOKUP_ELEM = 1;
const BPF_FUNC_SPIN_LOCK = 93;
const BPF_FUNC_SPIN_UNLOCK = 94;
const BPF_FUNC_TIMER_INIT = 169;
const BPF_FUNC_TIMER_SET_CALLBACK = 170;
const BPF_FUNC_KPTR_XCHG = 194;

/** kernel: is_acquire_function: bpf_sk_lookup_tcp, bpf_sk_lookup_udp, bpf_skc_lookup_tcp. */
const SOCK_ACQUIRE: ReadonlySet<number> = new Set([84, 85, 99]);
/** kernel: is_ptr_cast_function (the socket ones modelled): bpf_sk_fullsock, bpf_tcp_sock. */
const SOCK_CAST: ReadonlySet<number> = new Set([95, 96]);
/** kernel: sock_types, as compatible_reg_types prints them. */
const SOCK_COMMON_TYPES = 'sock_common, sock, tcp_sock, xdp_sock';

/** kernel: can_elide_value_nullness. */
const canElideValueNullness = (type: number): boolean => type === MapType.ARRAY || type === MapType.PERCPU_ARRAY;

/**
 * kernel: get_constant_map_key: the key on the stack is `keySize` STACK_ZERO bytes (0), or a
 * spilled constant scalar of exactly `keySize` bytes (its value); otherwise -1.
 */
function constantMapKey(state: VerifierState, key: Reg, keySize: number): bigint {
  if (key.type !== 'fp' || !tnumIsConst(key.varOff)) return -1n;
  const frame = state.frames[key.frameno];
  if (frame === undefined) return -1n;
  const stackOff = key.off + Number(BigInt.asIntN(64, key.varOff.value));
  const slot = -stackOff - 1;
  if (slot < 0 || slot >= MAX_BPF_STACK) return -1n;
  const spi = slot >> 3;
  const off = slot % BPF_REG_SIZE;
  const stype = (i: number): number => frame.stack[spi * BPF_REG_SIZE + i]!;
  let zeroSize = 0;
  for (let i = off; i >= 0 && stype(i) === STACK_ZERO; i--) zeroSize++;
  if (zeroSize >= keySize) return 0n;
  const spilled = frame.spills[spi];
  if (stype(BPF_REG_SIZE - 1) !== STACK_SPILL || spilled?.type !== 'scalar') return -1n;
  let spillSize = 0;
  for (let i = off; i >= 0 && stype(i) === STACK_SPILL; i--) spillSize++;
  if (spillSize !== keySize || !tnumIsConst(spilled.varOff)) return -1n;
  return spilled.varOff.value;
}

/** kernel: the map value argument of ARG_PTR_TO_SPIN_LOCK / ARG_PTR_TO_TIMER (compatible_reg_types). */
function mapValueArg(env: Env, reg: Reg, regno: number, expected: string): MapInfo {
  if (reg.type !== 'map_value' || reg.maybeNull || reg.map === undefined) reject(env, `R${regno} type=${typeName(reg)} expected=${expected}`);
  return reg.map;
}

/** kernel: process_spin_lock: the lock at its offset; one held at a time, unlocked through the same pointer. */
function processSpinLock(env: Env, state: VerifierState, reg: Reg, regno: number, isLock: boolean): void {
  const map = mapValueArg(env, reg, regno, 'map_value, ptr_');
  if (!tnumIsConst(reg.varOff)) reject(env, `R${regno} doesn't have constant offset. bpf_spin_lock has to be at the constant offset`);
  if (map.spinLockOff === undefined) reject(env, `map '${MAP_NAME}' has no valid bpf_spin_lock`);
  const off = BigInt.asIntN(64, reg.varOff.value) + BigInt(reg.off);
  if (off !== BigInt(map.spinLockOff)) reject(env, `off ${off} doesn't point to 'struct bpf_spin_lock' that is at ${map.spinLockOff}`);
  if (isLock) {
    if (state.activeLock !== undefined) reject(env, 'Locking two bpf_spin_locks are not allowed');
    state.activeLock = { map, id: reg.id, insn: env.insnIdx };
    return;
  }
  const held = state.activeLock;
  if (held === undefined) reject(env, 'bpf_spin_unlock without taking a lock');
  if (!sameMap(held.map, map) || held.id !== reg.id) reject(env, 'bpf_spin_unlock of different lock');
  state.activeLock = undefined;
}

/** kernel: process_timer_func: the timer at its offset; its map becomes the call's map. */
function processTimer(env: Env, reg: Reg, regno: number): MapInfo {
  const map = mapValueArg(env, reg, regno, 'map_value');
  if (!tnumIsConst(reg.varOff)) reject(env, `R${regno} doesn't have constant offset. bpf_timer has to be at the constant offset`);
  if (map.timerOff === undefined) reject(env, `map '${MAP_NAME}' has no valid bpf_timer`);
  const off = BigInt.asIntN(64, reg.varOff.value) + BigInt(reg.off);
  if (off !== BigInt(map.timerOff)) reject(env, `off ${off} doesn't point to 'struct bpf_timer' that is at ${map.timerOff}`);
  return map;
}

/** Maps carry no name here; the kernel's messages name the map. */
const MAP_NAME = 'map';
const BPF_FUNC_SNPRINTF = 165;

/**
 * A callback the helper call schedules: the caller queues a copy of the state (taken before the
 * call clobbers R1-R5) at the callback's first instruction, and `setup` makes its frame there.
 */
export type ScheduleCallback = (target: number, setup: (callbackState: VerifierState) => void) => void;

const isPrint = (c: number): boolean => c >= 0x20 && c <= 0x7e;
const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);
const isPunct = (c: number): boolean => (c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) || (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e);
const ch = (s: string): number => s.charCodeAt(0);

/**
 * kernel: bpf_bprintf_prepare without data, as check_bpf_snprintf_call runs it: the format's
 * characters and conversions, at most `numArgs` of them. `fmt` is the string without its NUL.
 */
export function bprintfFormatOk(fmt: Uint8Array, numArgs: number): boolean {
  const at = (i: number): number => fmt[i] ?? 0;
  let spec = 0;
  for (let i = 0; i < fmt.length; i++) {
    const c = at(i);
    if (!(isPrint(c) || isSpace(c))) return false;
    if (c !== ch('%')) continue;
    if (at(i + 1) === ch('%')) { i++; continue; }
    if (spec >= numArgs) return false;
    i++;
    while (at(i) === ch('0') || at(i) === ch('+') || at(i) === ch('-') || at(i) === ch(' ')) i++;
    if (at(i) >= ch('1') && at(i) <= ch('9')) {
      i++;
      while (at(i) >= ch('0') && at(i) <= ch('9')) i++;
    }
    const f = at(i);
    if (f === ch('p')) {
      const n = at(i + 1);
      if (n === 0 || isSpace(n) || isPunct(n)) { spec++; continue; }
      if ((n === ch('k') || n === ch('u')) && at(i + 2) === ch('s')) {
        i += 2;
        const after = at(i + 1);
        if (after !== 0 && !isSpace(after) && !isPunct(after)) return false;
        spec++;
        continue;
      }
      if (n === ch('K') || n === ch('x') || n === ch('s') || n === ch('S') || n === ch('B')) { i++; spec++; continue; }
      if ((n !== ch('i') && n !== ch('I')) || (at(i + 2) !== ch('4') && at(i + 2) !== ch('6'))) return false;
      i += 2;
      spec++;
      continue;
    }
    if (f === ch('s')) {
      const after = at(i + 1);
      if (after !== 0 && !isSpace(after) && !isPunct(after)) return false;
      spec++;
      continue;
    }
    if (f === ch('c')) { spec++; continue; }
    if (at(i) === ch('l')) i++;
    if (at(i) === ch('l')) i++;
    const conv = at(i);
    if (conv !== ch('i') && conv !== ch('d') && conv !== ch('u') && conv !== ch('x') && conv !== ch('X')) return false;
    spec++;
  }
  return true;
}

/**
 * kernel: check_reg_const_str: a constant offset into a frozen read-only map whose bytes from
 * there hold a NUL. Returns the string's bytes (without the NUL).
 */
function constString(env: Env, reg: Reg, regno: number): Uint8Array {
  if (reg.type !== 'map_value' || reg.maybeNull) reject(env, `R${regno} type=${typeName(reg)} expected=map_value`);
  const map = reg.map!;
  if ((map.flags & MapFlag.RDONLY_PROG) === 0 || map.frozen !== true) reject(env, `R${regno} does not point to a readonly map'`);
  if (!tnumIsConst(reg.varOff)) reject(env, `R${regno} is not a constant address'`);
  if (map.type !== MapType.ARRAY || map.data === undefined) reject(env, 'the contents of this read-only map are not known to this verifier');
  const off = reg.off + Number(reg.varOff.value);
  checkMemRegion(env, regno, reg, reg.off, map.valueSize - reg.off, map.valueSize, false, 'map value');
  const bytes = map.data.subarray(off, map.valueSize);
  const nul = bytes.indexOf(0);
  if (nul < 0) reject(env, 'string is not zero-terminated');
  return bytes.subarray(0, nul);
}

/**
 * kernel: check_helper_call. `schedule` queues the verification of a callback (bpf_loop,
 * bpf_for_each_map_elem); without it such helpers are refused.
 */
/** BPF_FUNC_get_local_storage. */
const BPF_FUNC_GET_LOCAL_STORAGE = 81;

export function checkHelperCall(env: Env, state: VerifierState, insn: CallInstruction, schedule?: ScheduleCallback): void {
  const id = insn.imm;
  // kernel: do_check: while a bpf_spin_lock is held only bpf_spin_unlock (and bpf_kptr_xchg) may be called.
  if (state.activeLock !== undefined && id !== BPF_FUNC_SPIN_UNLOCK && id !== BPF_FUNC_KPTR_XCHG) {
    reject(env, 'function calls are not allowed while holding a lock');
  }
  if (id < 0 || id >= BPF_FUNC_MAX_ID) reject(env, `invalid func ${helperName(id)}#${id}`);
  const proto = helperProto(env.progType, id, env.attachType);
  if (proto === undefined || !unprivHelperAllowed(env, id)) reject(env, `program of this type cannot use helper ${helperName(id)}#${id}`);
  if (!env.gplCompatible && helperIsGplOnly(env.progType, id)) reject(env, 'cannot call GPL-restricted function from non-GPL compatible program');
  const regs = state.cur.regs;
  let map: MapInfo | undefined;
  let allocSize = 0;
  let releaseRef = 0;
  let refArgs = 0;
  let callbackStart: number | undefined;
  let constStr: Uint8Array | undefined;
  /** kernel: meta.const_map_key: the constant key a lookup in an array names, or -1. */
  let constMapKey = -1n;
  const args = proto.args;
  // kernel: may_access_direct_pkt_data with a helper's meta: cgroup/sockopt programs pass packet pointers to any helper.
  const pktAccess = proto.pktAccess === true || env.progType === ProgramType.CGROUP_SOCKOPT;
  for (let i = 0; i < args.length; i++) {
    const regno = i + 1;
    const t: ArgType = args[i]!;
    const reg = checkReadable(env, state, regno);
    if (t === 'anything') { checkLeak(env, reg, regno, 'helper function'); continue; } // unpriv.ts
    if (reg.refObjId !== 0) {
      if (refArgs !== 0) reject(env, `more than one arg with ref_obj_id R${regno} ${refArgs} ${reg.refObjId}`);
      refArgs = reg.refObjId;
    }
    switch (t) {
      case 'map_ptr':
        if (reg.type !== 'map_ptr' || reg.maybeNull) reject(env, `R${regno} type=${typeName(reg)} expected=map_ptr`);
        // kernel: check_func_arg for ARG_CONST_MAP_PTR: bpf_timer_init's map is the timer's own.
        if (map !== undefined && id === BPF_FUNC_TIMER_INIT && !sameMap(map, reg.map)) {
          reject(env, `timer pointer in R1 map_uid=0 doesn't match map pointer in R2 map_uid=0`);
        }
        map = reg.map;
        break;
      case 'spin_lock':
        processSpinLock(env, state, reg, regno, id === BPF_FUNC_SPIN_LOCK);
        break;
      case 'timer':
        map = processTimer(env, reg, regno);
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
      case 'map_value':
      case 'map_value_or_null':
      case 'map_value_uninit': {
        if (t === 'map_value_or_null' && isNullScalar(reg)) break;
        if (!(reg.type === 'fp' || reg.isPkt || reg.type === 'map_key' || reg.type === 'map_value') || reg.maybeNull) {
          reject(env, `R${regno} type=${typeName(reg)} expected=fp, pkt, pkt_meta, map_key, map_value`);
        }
        if (map === undefined) reject(env, `invalid map_ptr to access map->${t === 'map_key' ? 'key' : 'value'}`);
        helperMemAccess(env, state, regno, t === 'map_key' ? map.keySize : map.valueSize, t === 'map_value_uninit', false, pktAccess);
        // kernel: get_constant_map_key needs bpf_capable.
        if (t === 'map_key' && env.privileged && canElideValueNullness(map.type)) constMapKey = constantMapKey(state, reg, map.keySize);
        break;
      }
      case 'fixed_mem8_uninit': {
        if (!MEM_OK.has(reg.type) || reg.maybeNull || reg.isPkt) reject(env, `R${regno} type=${typeName(reg)} expected=${MEM_TYPES}`);
        // MEM_ALIGNED: the slot must be 8-byte aligned; only a constant offset is taken here.
        if (!tnumIsConst(reg.varOff) || (reg.off + Number(reg.varOff.value)) % 8 !== 0) {
          reject(env, `misaligned access off ${formatTnum(reg.varOff)}+${reg.off} size 8`);
        }
        helperMemAccess(env, state, regno, 8, true, false, pktAccess);
        break;
      }
      case 'const_str':
        constStr = constString(env, reg, regno);
        break;
      case 'func':
        if (reg.type !== 'func') reject(env, `R${regno} type=${typeName(reg)} expected=func`);
        callbackStart = reg.subprog;
        break;
      case 'stack_or_null':
        if (!isNullScalar(reg) && reg.type !== 'fp') reject(env, `R${regno} type=${typeName(reg)} expected=fp`);
        break;
      case 'mem':
      case 'mem_or_null':
      case 'mem_or_null_write':
      case 'uninit_mem': {
        const sizeOk = (t === 'mem_or_null' || t === 'mem_or_null_write') && isNullScalar(reg);
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
        if ((memArg === 'mem_or_null' || memArg === 'mem_or_null_write') && isNullScalar(memReg)) {
          if (reg.umax !== 0n) reject(env, `R${regno - 1} type=scalar expected=${MEM_TYPES}`);
          break;
        }
        const write = memArg === 'uninit_mem' || memArg === 'mem_or_null_write';
        helperMemAccess(env, state, regno - 1, Number(reg.umax), write, zeroOk, pktAccess);
        break;
      }
      case 'alloc_size_or_zero':
        if (reg.type !== 'scalar') reject(env, `R${regno} type=${typeName(reg)} expected=scalar`);
        if (!tnumIsConst(reg.varOff)) reject(env, `R${regno} is not a known constant'`);
        allocSize = Number(reg.varOff.value);
        break;
      case 'sock_common':
        if (!isSockType(reg.type) || reg.maybeNull) reject(env, `R${regno} type=${typeName(reg)} expected=${SOCK_COMMON_TYPES}`);
        break;
      case 'btf_sock_common':
      case 'sock_release':
        // PTR_TO_BTF_ID of a sock_common is compatible too: such pointers are not modelled here.
        if (!isSockType(reg.type) || reg.maybeNull) reject(env, `R${regno} type=${typeName(reg)} expected=${SOCK_COMMON_TYPES}, ptr_, trusted_ptr_`);
        if (t === 'sock_release') {
          if (reg.refObjId === 0) reject(env, `R${regno} must be referenced when passed to release function`);
          releaseRef = reg.refObjId;
        }
        break;
      case 'sock_or_null':
        if (isNullScalar(reg)) break;
        if (reg.type !== 'sock') reject(env, `R${regno} type=${typeName(reg)} expected=sock`);
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
    if (!state.refs.some((r) => r.id === releaseRef)) reject(env, `func ${helperName(id)}#${id} reference has not been acquired before`);
    state.refs = state.refs.filter((r) => r.id !== releaseRef);
    // kernel: mark_reg_invalid — unknown for a privileged loader, unreadable without allow_ptr_leaks.
    state.forEachReg((r) => { if (r.refObjId === releaseRef) { if (env.privileged) markUnknown(r); else markNotInit(r); } });
  }
  if (id === 12 && state.refs.length > 0) reject(env, 'tail_call would lead to reference leak');

  if (id === BPF_FUNC_SNPRINTF) {
    // kernel: check_bpf_snprintf_call: the format is checked against R5 / 8 arguments.
    const numArgs = Number(regs[5]!.varOff.value / 8n);
    if (constStr === undefined || !bprintfFormatOk(constStr, numArgs)) reject(env, 'Invalid format string');
  }

  if (callbackStart !== undefined) {
    // kernel: push_callback_call: the callback is verified from a copy of this state, its frame
    // set up as set_loop_callback_state / set_map_elem_callback_state do; the call itself goes on.
    if (schedule === undefined) reject(env, 'callbacks are not modelled here');
    if (id !== BPF_FUNC_TIMER_SET_CALLBACK && state.frames.length >= MAX_CALL_FRAMES) {
      reject(env, `the call stack of ${state.frames.length + 1} frames is too deep`);
    }
    const caller = state.cur;
    // bpf_loop: no further iteration once the callback ran R1's upper bound times on this path.
    if (id === BPF_FUNC_TIMER_SET_CALLBACK || id !== BPF_FUNC_LOOP || BigInt(caller.callbackDepth) < regs[1]!.umax) {
      const start = callbackStart;
      const sub = subprogOf(env, start);
      const callsite = env.insnIdx;
      const cbMap = map;
      schedule(start, (cb) => {
        const callerInCb = cb.cur;
        if (id === BPF_FUNC_TIMER_SET_CALLBACK) {
          // kernel: push_async_cb + set_timer_callback_state: the callback runs later, in a state
          // of its own (frame 0, no references, no lock) with the timer's map, key and value.
          const frame = new Frame(0, sub, -1);
          frame.asyncCallback = true;
          markPointer(frame.regs[1]!, 'map_ptr');
          frame.regs[1]!.map = cbMap;
          markPointer(frame.regs[2]!, 'map_key');
          frame.regs[2]!.map = cbMap;
          markPointer(frame.regs[3]!, 'map_value');
          frame.regs[3]!.map = cbMap;
          cb.frames = [frame];
          cb.refs = [];
          cb.activeLock = undefined;
          // A state of its own: no parent checkpoint waits for it (kernel: push_async_cb does not copy the caller's state).
          if (cb.parent !== undefined) cb.parent.pending--;
          cb.parent = undefined;
          return;
        }
        const callee = new Frame(cb.frames.length, sub, callsite);
        callee.callback = true;
        const cr = callerInCb.regs;
        if (id === BPF_FUNC_LOOP) {
          markUnknown(callee.regs[1]!);
          callee.regs[2]!.assign(cr[3]!);
        } else {
          markPointer(callee.regs[1]!, 'map_ptr');
          callee.regs[1]!.map = cbMap;
          markPointer(callee.regs[2]!, 'map_key');
          callee.regs[2]!.map = cbMap;
          markPointer(callee.regs[3]!, 'map_value');
          callee.regs[3]!.map = cbMap;
          callee.regs[4]!.assign(cr[3]!);
        }
        callerInCb.callbackDepth++;
        cb.frames.push(callee);
      });
    }
    caller.callbackDepth = 0;
  }

  // kernel: check_helper_call — get_local_storage cannot return an error, so its flags must be a known 0.
  if (id === BPF_FUNC_GET_LOCAL_STORAGE && !isNullScalar(regs[2]!)) reject(env, 'get_local_storage() doesn\'t support non-zero flags');
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
    case 'map_value':
      if (map === undefined) reject(env, 'kernel subsystem misconfigured verifier');
      markPointer(r0, 'map_value');
      r0.map = map;
      break;
    case 'map_value_or_null': {
      if (map === undefined) reject(env, 'kernel subsystem misconfigured verifier');
      if (map.type === MapType.ARRAY_OF_MAPS || map.type === MapType.HASH_OF_MAPS) {
        if (map.inner === undefined) reject(env, 'map-in-map without an inner map description');
        markPointer(r0, 'map_ptr');
        r0.map = map.inner;
        r0.maybeNull = true;
        r0.id = ++env.idGen;
      } else {
        markPointer(r0, 'map_value');
        r0.map = map;
        // kernel 6.13+: a lookup in an array with a constant key in range cannot fail.
        const elide = id === BPF_FUNC_MAP_LOOKUP_ELEM && canElideValueNullness(map.type) && constMapKey >= 0n && constMapKey < BigInt(map.maxEntries);
        r0.maybeNull = !elide;
        // A nullable pointer gets an id for its NULL check; a value holding a spin lock keeps one (the lock's identity).
        if (!elide || map.spinLockOff !== undefined) r0.id = ++env.idGen;
        if (id === BPF_FUNC_MAP_LOOKUP_ELEM && (map.type === MapType.SOCKMAP || map.type === MapType.SOCKHASH)) {
          // kernel: is_acquire_function: the socket found holds a reference (a sock once NULL-checked, see markPtrOrNull).
          const ref = ++env.idGen;
          r0.id = ref;
          r0.refObjId = ref;
          state.refs = [...state.refs, { id: ref, insn: env.insnIdx }];
        }
      }
      break;
    }
    case 'sock_or_null':
    case 'sock_common_or_null':
    case 'tcp_sock_or_null': {
      markPointer(r0, proto.ret === 'sock_or_null' ? 'sock' : proto.ret === 'sock_common_or_null' ? 'sock_common' : 'tcp_sock');
      r0.maybeNull = true;
      r0.id = ++env.idGen;
      if (SOCK_ACQUIRE.has(id)) {
        // kernel: is_acquire_function: a new reference, its id shared by the NULL check.
        const ref = ++env.idGen;
        r0.id = ref;
        r0.refObjId = ref;
        state.refs = [...state.refs, { id: ref, insn: env.insnIdx }];
      } else if (SOCK_CAST.has(id)) {
        // kernel: is_ptr_cast_function: the result holds the argument's reference.
        r0.refObjId = refArgs;
      }
      break;
    }
    case 'btf_id_trusted_task': {
      // Tracing (btf-ptr.ts): a trusted, non-NULL task_struct pointer; the helper is gpl_only.
      const be = btfEnv(env);
      if (be === undefined) reject(env, `${helperName(id)} returns a kernel BTF pointer: not modelled without the kernel BTF`);
      if (!be.gplCompatible) reject(env, 'cannot call GPL-restricted function from non-GPL compatible program');
      const task = be.btf.findByName('task_struct', 'struct')[0];
      if (task === undefined) reject(env, 'kernel BTF has no struct task_struct');
      markBtfPointer(env, r0, task, BtfFlag.TRUSTED, false);
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
}

/**
 * kernel: check_func_call for a global function: the arguments are checked against its BTF
 * signature (btf_check_func_arg_match), the function itself is verified on its own later
 * (`markCalled`), and the call returns an unknown scalar in R0.
 */
export function callGlobal(env: Env, state: VerifierState, sub: number, name: string, sig: GlobalSignature, changesPktData: boolean): void {
  const invalid = (): never => reject(env, `Caller passes invalid args into func#${sub} ('${name}')`);
  if (sig.globalError !== undefined || sig.params === undefined) invalid();
  const regs = state.cur.regs;
  sig.params!.forEach((param, i) => {
    const regno = i + 1;
    const reg = regs[regno]!;
    switch (param.kind) {
      case 'scalar':
        if (reg.type !== 'scalar') invalid();
        break;
      case 'ctx':
        if (reg.type !== 'ctx' || reg.off !== 0 || !tnumIsConst(reg.varOff) || reg.varOff.value !== 0n) invalid();
        break;
      case 'mem': {
        // kernel: check_mem_reg: NULL passes; otherwise the memory must be readable and writable (a maybe-NULL pointer checked as if not NULL).
        if (isNullScalar(reg)) break;
        if (!MEM_OK.has(reg.type)) invalid();
        const nullable = reg.maybeNull;
        reg.maybeNull = false;
        try {
          helperMemAccess(env, state, regno, param.size, false, true, true);
          helperMemAccess(env, state, regno, param.size, true, true, true);
        } catch (err) {
          if (err instanceof VerifierReject) invalid();
          throw err;
        } finally {
          reg.maybeNull = nullable;
        }
        break;
      }
    }
  });
  // kernel: the global function's changes_pkt_data invalidates the caller's packet pointers.
  if (changesPktData) state.forEachReg((r) => { if (r.isPkt || r.type === 'pkt_end') markUnknown(r); });
  for (let r = 1; r <= 5; r++) markNotInit(regs[r]!);
  markUnknown(regs[0]!);
}

/** kernel: do_check_common for a global subprogram: its frame with the arguments its BTF signature gives. */
export function globalEntryState(env: Env, sub: number, sig: GlobalSignature): VerifierState {
  const frame = new Frame(0, sub, -1);
  (sig.params ?? []).forEach((param, i) => {
    const reg = frame.regs[i + 1]!;
    switch (param.kind) {
      case 'scalar': markUnknown(reg); break;
      case 'ctx': markPointer(reg, 'ctx'); break;
      case 'mem':
        markPointer(reg, 'mem');
        reg.memSize = param.size;
        reg.maybeNull = true;
        reg.id = ++env.idGen;
        break;
    }
  });
  const state = new VerifierState([frame]);
  state.insnIdx = env.subprogs[sub]!;
  return state;
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
  if (callee.callback) {
    // kernel: prepare_func_exit for a callback: R0 in its return range, then back to the helper
    // call that scheduled it, which schedules it again (callbacks are verified as if called any
    // number of times, until the states at the call converge).
    if (r0.type === 'not_init') reject(env, 'R0 !read_ok');
    if (r0.type !== 'scalar') reject(env, 'R0 not a scalar value');
    if (r0.smin < 0n || r0.smax > 1n || r0.umax > 1n) {
      reject(env, `At callback return the register R0 has smin=${r0.smin} smax=${r0.smax} should have been in [0, 1]`);
    }
    if (state.refs.length > 0) reject(env, 'references held while a callback returns: not modelled by this verifier');
    state.frames.pop();
    state.forEachReg((r) => { if (r.type === 'fp' && r.frameno >= state.frames.length) markUnknown(r); });
    return callee.callsite;
  }
  state.frames.pop();
  const caller = state.cur;
  caller.regs[0]!.assign(r0);
  // Stack pointers into the frame that is gone are no longer valid.
  state.forEachReg((r) => { if (r.type === 'fp' && r.frameno >= state.frames.length) markUnknown(r); });
  return callee.callsite + 1;
}

export { Reg };
