/**
 * Loads and stores through a pointer (kernel: verifier.c check_mem_access and the functions it
 * calls: check_ptr_alignment, check_map_access, check_packet_access, check_ctx_access,
 * check_stack_read/write_{fixed,var}_off, check_stack_range_initialized). Privileged rules: a
 * root loader may read uninitialised stack and store pointers anywhere it may store.
 */
import { MapFlag } from '../object/uapi-types.js';
import { BPF_FLOW_KEYS_SIZE, checkContextAccess, directPacketAccess } from './ctx.js';
import { BPF_MAX_VAR_OFF, type Env, reject } from './env.js';
import { btfPointerAccess, markBtfPointer, tracingTarget } from './btf-ptr.js';
import { tracingCtxAccess } from './ctx-tracing.js';
import { sockFieldOk } from './sock.js';
import { checkLeak, isPointerValue, unprivCtxAccessOk } from './unpriv.js';
import {
  Reg, S64_MIN, coerceToSize, coerceToSizeSx, isNullScalar, markKnown, markPointer, markUnknown, regWidth,
} from './reg.js';
import {
  BPF_REG_SIZE, MAX_BPF_STACK, STACK_INVALID, STACK_MISC, STACK_SPILL, STACK_ZERO, type Frame, type VerifierState,
} from './state.js';
import { formatTnum, tnumAdd, tnumConst, tnumIsAligned, tnumIsConst } from './tnum.js';

/** What a store writes: a register, an immediate (BPF_ST), or unknown bytes (helpers, atomics). */
export type StoreValue = { reg: Reg } | { imm: number } | { unknown: true };

/** The kernel's name of a register's type in messages (`map_value_or_null`, `scalar`). */
export const typeName = (r: Reg): string => (r.type === 'not_init' ? '?' : r.type + (r.maybeNull ? '_or_null' : ''));

const POINTER_DESC: Partial<Record<string, string>> = {
  pkt: 'packet ', pkt_meta: 'packet ', map_value: 'value ', map_key: 'key ', ctx: 'context ', fp: 'stack ',
  sock: 'sock ', sock_common: 'sock_common ', tcp_sock: 'tcp_sock ', xdp_sock: 'xdp_sock ', flow_keys: 'flow keys ',
};

/** kernel: check_ptr_alignment. The stack is always checked; other pointers with BPF_F_STRICT_ALIGNMENT. */
function checkAlignment(env: Env, reg: Reg, off: number, size: number, strictOnce: boolean): void {
  const strict = reg.type === 'fp' || env.strictAlignment || strictOnce;
  if (!strict || size === 1) return;
  const ipAlign = reg.isPkt && env.strictAlignment ? 2 : 0; // NET_IP_ALIGN under strict alignment
  const regOff = tnumAdd(reg.varOff, tnumConst(BigInt(ipAlign + reg.off + off)));
  if (!tnumIsAligned(regOff, size)) {
    const desc = POINTER_DESC[reg.type] ?? '';
    if (reg.type === 'fp') reject(env, `misaligned stack access off ${formatTnum(reg.varOff)}+${reg.off}+${off} size ${size}`);
    reject(env, `misaligned ${desc}access off ${formatTnum(reg.varOff)}+${ipAlign}+${reg.off + off} size ${size}`);
  }
}

/** kernel: __check_mem_access + check_mem_region_access: [off, off+size) of a region of memSize bytes, over the register's range. */
export function checkMemRegion(env: Env, regno: number, reg: Reg, off: number, size: number, memSize: number, zeroOk: boolean, what: string): void {
  const fail = (o: bigint): never => {
    if (what === 'map value') reject(env, `invalid access to map value, value_size=${memSize} off=${o} size=${size}`);
    if (what === 'packet') reject(env, `invalid access to packet, off=${o} size=${size}, R${regno}(id=${reg.id},off=${reg.off},r=${reg.range})`);
    reject(env, `invalid access to ${what}, mem_size=${memSize} off=${o} size=${size}`);
  };
  const ok = (o: bigint): boolean => o >= 0n && (size > 0 || (size === 0 && zeroOk)) && o + BigInt(size) <= BigInt(memSize);
  if (reg.smin < 0n && (reg.smin === S64_MIN || reg.smin + BigInt(off) < 0n || reg.smin + BigInt(off) < -(1n << 31n))) {
    reject(env, `R${regno} min value is negative, either use unsigned index or do a if (index >=0) check.`);
  }
  if (!ok(reg.smin + BigInt(off))) {
    try { fail(reg.smin + BigInt(off)); } catch (e) { env.log((e as Error).message); }
    reject(env, `R${regno} min value is outside of the allowed memory range`);
  }
  if (reg.umax >= BigInt(BPF_MAX_VAR_OFF)) reject(env, `R${regno} unbounded memory access, make sure to bounds check any such access`);
  if (!ok(reg.umax + BigInt(off))) {
    try { fail(reg.umax + BigInt(off)); } catch (e) { env.log((e as Error).message); }
    reject(env, `R${regno} max value is outside of the allowed memory range`);
  }
}

/** kernel: check_packet_access. `off` includes the pointer's fixed offset. */
export function checkPacketAccess(env: Env, regno: number, reg: Reg, off: number, size: number, zeroOk: boolean): void {
  if (reg.smin < 0n) reject(env, `R${regno} min value is negative, either use unsigned index or do a if (index >=0) check.`);
  const ok = reg.range >= 0 && off >= 0 && (size > 0 || (size === 0 && zeroOk)) && off + size <= reg.range;
  if (!ok) {
    env.log(`invalid access to packet, off=${off} size=${size}, R${regno}(id=${reg.id},off=${reg.off},r=${reg.range})`);
    reject(env, `R${regno} offset is outside of the packet`);
  }
}

/** kernel: check_map_access_type. */
function checkMapAccessType(env: Env, reg: Reg, off: number, size: number, write: boolean): void {
  const flags = reg.map?.flags ?? 0;
  const vs = reg.map?.valueSize ?? 0;
  if (write && (flags & MapFlag.RDONLY_PROG) !== 0) reject(env, `write into map forbidden, value_size=${vs} off=${off} size=${size}`);
  if (!write && (flags & MapFlag.WRONLY_PROG) !== 0) reject(env, `read from map forbidden, value_size=${vs} off=${off} size=${size}`);
}

/** The stack frame a stack pointer points into. */
function stackFrame(state: VerifierState, reg: Reg): Frame {
  return state.frames[reg.frameno]!;
}

/** kernel: check_stack_access_within_bounds; returns [minOff, maxOff) of the bytes touched. */
function stackBounds(env: Env, regno: number, reg: Reg, off: number, size: number, kind: 'read from' | 'write to' | 'indirect access to',
  reading?: Frame): [number, number] {
  let min: bigint;
  let max: bigint;
  if (tnumIsConst(reg.varOff)) {
    min = BigInt.asIntN(64, reg.varOff.value) + BigInt(off);
    max = min + BigInt(size);
  } else {
    if (reg.smax >= BigInt(BPF_MAX_VAR_OFF) || reg.smin <= -BigInt(BPF_MAX_VAR_OFF)) {
      reject(env, `invalid unbounded variable-offset ${kind.split(' ')[0]} stack R${regno}`);
    }
    min = reg.smin + BigInt(off);
    max = reg.smax + BigInt(off) + BigInt(size);
  }
  if (min < -BigInt(MAX_BPF_STACK) || max > 0n || size < 0) {
    if (tnumIsConst(reg.varOff)) reject(env, `invalid ${kind} stack R${regno} off=${min} size=${size}`);
    reject(env, `invalid variable-offset ${kind} stack R${regno} var_off=${formatTnum(reg.varOff)} off=${off} size=${size}`);
  }
  // unpriv.ts: without allow_uninit_stack a read must stay within the stack grown so far
  // (kernel: check_stack_slot_within_bounds, allocated_stack rounded up to 8 bytes).
  if (reading !== undefined && !env.privileged && min < -BigInt(Math.ceil(reading.depth / BPF_REG_SIZE) * BPF_REG_SIZE)) {
    if (tnumIsConst(reg.varOff)) reject(env, `invalid read from stack R${regno} off=${min} size=${size}`);
    reject(env, `invalid variable-offset read from stack R${regno} var_off=${formatTnum(reg.varOff)} off=${off} size=${size}`);
  }
  return [Number(min), Number(max)];
}

/** Byte index in a frame's stack array of the byte at `fp + off` (off < 0). */
const byteIndex = (off: number): number => -off - 1;

function noteDepth(env: Env, frame: Frame, minOff: number): void {
  if (-minOff > frame.depth) frame.depth = -minOff;
  const s = frame.subprog;
  if (-minOff > (env.stackDepth[s] ?? 0)) env.stackDepth[s] = -minOff;
}

/** Turns every spilled byte of slot `spi` into STACK_MISC and forgets the spilled register. */
function scrubSlot(frame: Frame, spi: number): void {
  frame.spills[spi] = undefined;
  for (let j = 0; j < BPF_REG_SIZE; j++) {
    const b = spi * BPF_REG_SIZE + j;
    if (frame.stack[b] === STACK_SPILL) frame.stack[b] = STACK_MISC;
  }
}

/** kernel: check_stack_write_fixed_off / check_stack_write_var_off. */
export function stackWrite(env: Env, state: VerifierState, regno: number, reg: Reg, off: number, size: number, value: StoreValue): void {
  const frame = stackFrame(state, reg);
  const [minOff, maxOff] = stackBounds(env, regno, reg, off, size, 'write to');
  noteDepth(env, frame, minOff);
  const writingZero = ('reg' in value && isNullScalar(value.reg)) || ('imm' in value && value.imm === 0);
  if (!tnumIsConst(reg.varOff)) {
    for (let o = minOff; o < maxOff; o++) {
      const b = byteIndex(o);
      const spi = b >> 3;
      if (frame.spills[spi] !== undefined) scrubSlot(frame, spi);
      frame.stack[b] = writingZero && frame.stack[b] === STACK_ZERO ? STACK_ZERO : STACK_MISC;
    }
    return;
  }
  const spi = byteIndex(minOff) >> 3;
  const aligned = minOff % BPF_REG_SIZE === 0;
  const src = 'reg' in value ? value.reg : undefined;
  // unpriv.ts: without allow_ptr_leaks a spilled pointer may only be overwritten whole; without
  // bpf_capable scalars are not tracked through the stack (the bytes become misc or zero).
  const slotSpilled = frame.stack[spi * BPF_REG_SIZE + BPF_REG_SIZE - 1] === STACK_SPILL ? frame.spills[spi] : undefined;
  if (!env.privileged && slotSpilled !== undefined && slotSpilled.type !== 'scalar' && size !== BPF_REG_SIZE) {
    reject(env, 'attempt to corrupt spilled pointer on stack');
  }
  if (src !== undefined && aligned && src.type === 'scalar' && env.privileged) {
    saveRegister(frame, spi, src, size);
    if (regWidth(src) > size * 8) frame.spills[spi]!.id = 0;
    return;
  }
  if ('imm' in value && aligned && env.privileged) {
    const r = new Reg();
    markKnown(r, BigInt(value.imm));
    saveRegister(frame, spi, r, size);
    return;
  }
  if (src !== undefined && src.isPointer) {
    if (size !== BPF_REG_SIZE) reject(env, 'invalid size of register spill');
    if (src.type === 'fp' && frame !== state.cur) reject(env, 'cannot spill pointers to stack into stack frame of the caller');
    saveRegister(frame, spi, src, size);
    return;
  }
  if (frame.spills[spi] !== undefined) scrubSlot(frame, spi);
  const t = writingZero ? STACK_ZERO : STACK_MISC;
  for (let o = minOff; o < maxOff; o++) frame.stack[byteIndex(o)] = t;
}

/** kernel: save_register_state. The low `size` bytes of the slot hold the register. */
function saveRegister(frame: Frame, spi: number, reg: Reg, size: number): void {
  frame.spills[spi] = reg.clone();
  for (let j = 0; j < BPF_REG_SIZE; j++) {
    const b = spi * BPF_REG_SIZE + j;
    if (j >= BPF_REG_SIZE - size) frame.stack[b] = STACK_SPILL;
    else if (frame.stack[b] === STACK_SPILL) frame.stack[b] = STACK_MISC;
  }
}

/**
 * kernel: check_stack_read_fixed_off / check_stack_read_var_off. Writes the loaded value into
 * `dst` when given; without `dst` (a helper reading memory) only checks the bytes.
 */
export function stackRead(env: Env, state: VerifierState, regno: number, reg: Reg, off: number, size: number, dst: Reg | undefined): void {
  const frame = stackFrame(state, reg);
  const [minOff, maxOff] = stackBounds(env, regno, reg, off, size, 'read from', frame);
  noteDepth(env, frame, minOff);
  if (!tnumIsConst(reg.varOff)) {
    // Privileged: uninitialised bytes read as unknown; spilled pointers read as scalars.
    if (dst !== undefined) markUnknown(dst);
    return;
  }
  const b0 = byteIndex(minOff); // highest index = lowest address
  const spi = b0 >> 3;
  const slotTop = spi * BPF_REG_SIZE + BPF_REG_SIZE - 1;
  const spilled = frame.stack[slotTop] === STACK_SPILL ? frame.spills[spi] : undefined;
  if (spilled !== undefined) {
    let spillSize = 1;
    for (let j = BPF_REG_SIZE - 1; j > 0 && frame.stack[spi * BPF_REG_SIZE + j - 1] === STACK_SPILL; j--) spillSize++;
    if (size !== BPF_REG_SIZE || spillSize !== BPF_REG_SIZE) {
      if (spilled.type !== 'scalar') reject(env, 'invalid size of register fill');
      if (dst === undefined) return;
      if (!env.privileged) uninitStackRead(env, frame, minOff, maxOff, undefined);
      if (size <= spillSize && minOff % BPF_REG_SIZE === 0) {
        dst.assign(spilled);
        if (regWidth(spilled) > size * 8) dst.id = 0;
        return;
      }
      let spillCnt = 0;
      let zeroCnt = 0;
      for (let o = minOff; o < maxOff; o++) {
        const t = frame.stack[byteIndex(o)];
        if (t === STACK_SPILL) spillCnt++;
        else if (t === STACK_ZERO) zeroCnt++;
      }
      if ((spillCnt === size && isNullScalar(spilled)) || zeroCnt === size) markKnown(dst, 0n);
      else markUnknown(dst);
      return;
    }
    if (dst !== undefined) dst.assign(spilled);
    // kernel: check_stack_read_fixed_off with dst_regno -1 (an atomic's operand), unpriv.ts.
    else if (isPointerValue(env, spilled)) reject(env, `leaking pointer from stack off ${minOff}`);
    return;
  }
  if (!env.privileged) uninitStackRead(env, frame, minOff, maxOff, undefined);
  let zeros = 0;
  for (let o = minOff; o < maxOff; o++) {
    const t = frame.stack[byteIndex(o)];
    if (t === STACK_ZERO) zeros++;
    else if (t !== STACK_MISC && t !== STACK_INVALID) {
      if (dst !== undefined) { markUnknown(dst); return; }
    }
  }
  if (dst === undefined) return;
  if (zeros === size) markKnown(dst, 0n);
  else markUnknown(dst);
}

/**
 * Without allow_uninit_stack (unpriv.ts) every byte read must have been written; a helper (regno
 * given) may not read a spilled pointer either. kernel: check_stack_read_fixed_off and
 * check_stack_range_initialized.
 */
function uninitStackRead(env: Env, frame: Frame, minOff: number, maxOff: number, regno: number | undefined): void {
  for (let o = minOff; o < maxOff; o++) {
    const b = byteIndex(o);
    const t = frame.stack[b];
    if (t === STACK_MISC || t === STACK_ZERO) continue;
    if (t === STACK_SPILL && regno === undefined) continue;
    const spilled = frame.stack[(b >> 3) * BPF_REG_SIZE + BPF_REG_SIZE - 1] === STACK_SPILL ? frame.spills[b >> 3] : undefined;
    if (t === STACK_SPILL && spilled?.type === 'scalar') continue;
    if (regno !== undefined) reject(env, `invalid read from stack R${regno} off ${minOff}+${o - minOff} size ${maxOff - minOff}`);
    reject(env, `invalid read from stack off ${minOff}+${o - minOff} size ${maxOff - minOff}`);
  }
}

/** sizeof(struct bpf_spin_lock), sizeof(struct bpf_timer). */
export const BPF_SPIN_LOCK_SIZE = 4;
export const BPF_TIMER_SIZE = 16;

/**
 * kernel: check_map_access, its special-field part: no load, store or helper access may touch
 * the value's bpf_spin_lock or bpf_timer (any byte of [off, off + size) over the variable range).
 */
function checkMapFields(env: Env, reg: Reg, off: number, size: number): void {
  const map = reg.map;
  if (map === undefined) return;
  const fields: [number | undefined, number, string][] = [[map.spinLockOff, BPF_SPIN_LOCK_SIZE, 'bpf_spin_lock'], [map.timerOff, BPF_TIMER_SIZE, 'bpf_timer']];
  fields.sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0));
  for (const [p, fieldSize, name] of fields) {
    if (p === undefined) continue;
    if (reg.smin + BigInt(off) < BigInt(p + fieldSize) && BigInt(p) < reg.umax + BigInt(off + size)) {
      reject(env, `${name} cannot be accessed directly by load/store`);
    }
  }
}

/**
 * Memory a helper reads or writes through a pointer argument (kernel: check_helper_mem_access).
 * `size` is the largest size the helper may touch.
 */
export function helperMemAccess(env: Env, state: VerifierState, regno: number, size: number, write: boolean, zeroOk: boolean,
  pktAccess = false): void {
  const reg = state.cur.reg(regno);
  if (reg.isPkt && !pktAccess) reject(env, 'helper access to the packet is not allowed');
  if (reg.maybeNull) reject(env, `R${regno} type=${typeName(reg)} expected=fp, pkt, pkt_meta, map_key, map_value, mem`);
  switch (reg.type) {
    case 'pkt': case 'pkt_meta':
      if (directPacketAccess(env.progType) === undefined || (write && directPacketAccess(env.progType) !== 'rw')) {
        reject(env, 'helper access to the packet is not allowed');
      }
      checkPacketAccess(env, regno, reg, reg.off, size, zeroOk);
      return;
    case 'map_key':
      if (write) reject(env, `R${regno} cannot write into map_key`);
      checkMemRegion(env, regno, reg, reg.off, size, reg.map?.keySize ?? 0, zeroOk, 'map key');
      return;
    case 'map_value':
      checkMapAccessType(env, reg, reg.off, size, write);
      checkMemRegion(env, regno, reg, reg.off, size, reg.map?.valueSize ?? 0, zeroOk, 'map value');
      checkMapFields(env, reg, reg.off, size);
      return;
    case 'mem': case 'ringbuf_mem':
      if (write && reg.rdonly) reject(env, `R${regno} cannot write into ${typeName(reg)}`);
      checkMemRegion(env, regno, reg, reg.off, size, reg.memSize, zeroOk, 'memory');
      return;
    case 'fp': {
      if (size === 0 && zeroOk) return;
      const frame = stackFrame(state, reg);
      const [minOff, maxOff] = stackBounds(env, regno, reg, reg.off, size, 'indirect access to', write ? undefined : frame);
      noteDepth(env, frame, minOff);
      // Privileged: uninitialised stack and spilled pointers may be read; a write clobbers.
      if (!write && !env.privileged) uninitStackRead(env, frame, minOff, maxOff, regno);
      if (write) {
        for (let o = minOff; o < maxOff; o++) {
          const b = byteIndex(o);
          const spi = b >> 3;
          if (frame.spills[spi] !== undefined) scrubSlot(frame, spi);
          frame.stack[b] = STACK_MISC;
        }
      }
      return;
    }
    default:
      if (zeroOk && size === 0 && isNullScalar(reg)) return;
      reject(env, `R${regno} type=${typeName(reg)} expected=fp`);
  }
}

/** The register a store takes its value from (the instruction's src), for the log; -1 when none. */
function storedRegno(env: Env): number {
  const insn = env.slots[env.insnIdx];
  return insn?.kind === 'stx' ? insn.src : -1;
}

/**
 * kernel: check_mem_access for an instruction: `*(size *)(regs[regno] + off)`, loading into
 * `dst` or storing `value`. `signed` is a sign-extending load.
 */
export function memAccess(env: Env, state: VerifierState, regno: number, off: number, size: number, access:
  { write: false; dst: Reg | undefined; signed: boolean } | { write: true; value: StoreValue }, strictAlignmentOnce = false): void {
  const reg = state.cur.reg(regno);
  if (reg.maybeNull || reg.type === 'scalar' || reg.type === 'not_init' || reg.type === 'pkt_end' || reg.type === 'map_ptr'
    || reg.type === 'func') {
    reject(env, `R${regno} invalid mem access '${typeName(reg)}'`);
  }
  checkAlignment(env, reg, off, size, strictAlignmentOnce);
  const full = off + reg.off;
  const write = access.write;
  const dst = access.write ? undefined : access.dst;
  const stored = access.write && 'reg' in access.value ? access.value.reg : undefined;
  const storedNo = access.write && 'reg' in access.value ? storedRegno(env) : -1;
  switch (reg.type) {
    case 'map_value':
      checkLeak(env, stored, storedNo, 'map'); // unpriv.ts
      checkMapAccessType(env, reg, full, size, write);
      checkMemRegion(env, regno, reg, full, size, reg.map?.valueSize ?? 0, false, 'map value');
      checkMapFields(env, reg, full, size);
      if (dst !== undefined) markUnknown(dst);
      break;
    case 'map_key':
      if (write) reject(env, `R${regno} cannot write into map_key`);
      checkMemRegion(env, regno, reg, full, size, reg.map?.keySize ?? 0, false, 'map key');
      if (dst !== undefined) markUnknown(dst);
      break;
    case 'mem': case 'ringbuf_mem':
      checkLeak(env, stored, storedNo, 'mem'); // unpriv.ts
      if (write && reg.rdonly) reject(env, `R${regno} cannot write into ${typeName(reg)}`);
      checkMemRegion(env, regno, reg, full, size, reg.memSize, false, 'memory');
      if (dst !== undefined) markUnknown(dst);
      break;
    case 'ctx': {
      checkLeak(env, stored, storedNo, 'ctx'); // unpriv.ts
      if (reg.off < 0) reject(env, `negative offset ctx ptr R${regno} off=${reg.off} disallowed`);
      if (reg.off !== 0) reject(env, `dereference of modified ctx ptr R${regno} off=${reg.off} disallowed`);
      if (!tnumIsConst(reg.varOff) || reg.varOff.value !== 0n) reject(env, `variable ctx access var_off=${formatTnum(reg.varOff)} disallowed`);
      // Tracing (ctx-tracing.ts): a TRACING program's context is typed by its attach target.
      const tracing = tracingTarget(env);
      const info = tracing !== undefined ? tracingCtxAccess(tracing, off, size, write)
        : checkContextAccess(env.progType, env.attachType, off, size, write, !access.write && access.signed);
      if (info === undefined || !unprivCtxAccessOk(env, off, size, write)) reject(env, `invalid bpf_context access off=${off} size=${size}`);
      if (dst !== undefined) {
        if (info.regType === 'scalar') markUnknown(dst);
        else if (info.regType === 'btf_id') markBtfPointer(env, dst, info.btfId ?? 0, info.btfFlags ?? 0, info.maybeNull === true);
        else {
          markPointer(dst, info.regType);
          if (info.maybeNull) {
            dst.maybeNull = true;
            dst.id = ++env.idGen;
          }
        }
      }
      break;
    }
    case 'fp':
      if (write) stackWrite(env, state, regno, reg, off + reg.off, size, access.value);
      else stackRead(env, state, regno, reg, off + reg.off, size, dst);
      break;
    case 'pkt': case 'pkt_meta': {
      // Reads need no permission of the program type (a sock_ops program reads skb_data); writes do.
      if (write && directPacketAccess(env.progType) !== 'rw') reject(env, 'cannot write into packet');
      checkLeak(env, stored, storedNo, 'packet'); // unpriv.ts
      checkPacketAccess(env, regno, reg, full, size, false);
      if (dst !== undefined) markUnknown(dst);
      break;
    }
    case 'btf_id': case 'tp_buffer':
      // Tracing (btf-ptr.ts): PTR_TO_BTF_ID, untrusted PTR_TO_MEM and PTR_TO_TP_BUFFER.
      btfPointerAccess(env, regno, reg, off, size, write, dst, state.activeLock !== undefined, state.frames.some((f) => f.callback));
      break;
    case 'sock': case 'sock_common': case 'tcp_sock': case 'xdp_sock': {
      // kernel: check_mem_access for type_is_sk_pointer, then check_sock_access.
      if (write) reject(env, `R${regno} cannot write into ${typeName(reg)}`);
      if (access.signed) reject(env, `R${regno} sign-extending loads through ${typeName(reg)} are not modelled by this verifier`);
      if (reg.smin < 0n) reject(env, `R${regno} min value is negative, either use unsigned index or do a if (index >=0) check.`);
      if (!sockFieldOk(reg.type, full, size)) reject(env, `R${regno} invalid ${typeName(reg)} access off=${full} size=${size}`);
      if (dst !== undefined) markUnknown(dst);
      break;
    }
    case 'flow_keys': {
      // kernel: check_flow_keys_access; a pointer stored there would leak (privileged loaders may, but stay strict).
      if (!tnumIsConst(reg.varOff) || reg.varOff.value !== 0n) reject(env, `R${regno} variable flow keys access: not modelled by this verifier`);
      if (full < 0 || full + size > BPF_FLOW_KEYS_SIZE) reject(env, `invalid access to flow keys off=${full} size=${size}`);
      if (dst !== undefined) markUnknown(dst);
      break;
    }
    default:
      reject(env, `R${regno} invalid mem access '${typeName(reg)}'`);
  }
  if (dst !== undefined && dst.type === 'scalar' && size < 8) {
    if (!write && access.signed) coerceToSizeSx(dst, size);
    else coerceToSize(dst, size);
  }
}
