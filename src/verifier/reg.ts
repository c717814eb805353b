/**
 * The abstract value of one register or spilled stack slot, as the kernel's verifier keeps it
 * (kernel: include/linux/bpf_verifier.h struct bpf_reg_state): a type, and for scalars and the
 * variable part of pointer offsets a tnum plus signed/unsigned 64- and 32-bit bounds. The
 * bounds helpers keep the kernel's names (`__mark_reg_known` is {@link markKnown}, …).
 */
import {
  TNUM_UNKNOWN, U32_MAX, U64_MAX, tnumCast, tnumConst, tnumConstSubreg, tnumIntersect, tnumIsConst,
  tnumOr, tnumClearSubreg, tnumRange, tnumSubreg, type Tnum,
} from './tnum.js';

export const S64_MIN = -(1n << 63n);
export const S64_MAX = (1n << 63n) - 1n;
export const S32_MIN = -(1n << 31n);
export const S32_MAX = (1n << 31n) - 1n;

export const s64 = (x: bigint): bigint => BigInt.asIntN(64, x);
export const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
export const s32 = (x: bigint): bigint => BigInt.asIntN(32, x);
export const u32 = (x: bigint): bigint => BigInt.asUintN(32, x);
export const bmax = (a: bigint, b: bigint): bigint => (a > b ? a : b);
export const bmin = (a: bigint, b: bigint): bigint => (a < b ? a : b);

/**
 * Register types (kernel: enum bpf_reg_type), spelled as the kernel's log prints them
 * (reg_type_str). `maybeNull` on the register adds `_or_null`.
 */
export type RegType =
  | 'not_init' | 'scalar' | 'ctx' | 'map_ptr' | 'map_value' | 'map_key' | 'fp'
  | 'pkt' | 'pkt_meta' | 'pkt_end' | 'flow_keys' | 'sock' | 'sock_common' | 'tcp_sock' | 'xdp_sock'
  | 'mem' | 'ringbuf_mem' | 'func' | 'btf_id'
  /** kernel: PTR_TO_TP_BUFFER (raw_tp.w: the tracepoint's writable buffer); see btf-ptr.ts. */
  | 'tp_buffer';

/** What the verifier knows of a map an instruction names (from the map's creation attributes). */
export interface MapInfo {
  /** `MapType.*` number. */
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  /** `MapFlag.*` bits (RDONLY_PROG, WRONLY_PROG matter here). */
  readonly flags: number;
  /** A kernel id or any number that names the map in the log (`map[id:N]`). */
  readonly id?: number;
  /**
   * The map's value has BTF-described special fields this verifier does not model (kptrs, lists,
   * rb-trees, workqueues, …): the map is refused. A spin lock and a timer are described by
   * {@link spinLockOff} and {@link timerOff} instead.
   */
  readonly hasSpecialFields?: boolean;
  /** Offset of the value's `struct bpf_spin_lock` (kernel: btf_record.spin_lock_off), when it has one. */
  readonly spinLockOff?: number;
  /** Offset of the value's `struct bpf_timer` (kernel: btf_record.timer_off), when it has one. */
  readonly timerOff?: number;
  /** For map-in-map: the inner map's description. */
  readonly inner?: MapInfo;
  /** The map was frozen (BPF_MAP_FREEZE): with RDONLY_PROG its contents are constant (kernel: bpf_map_is_rdonly). */
  readonly frozen?: boolean;
  /** The value of key 0 of a frozen array, for ARG_PTR_TO_CONST_STR (kernel: map_direct_value_addr). */
  readonly data?: Uint8Array;
}

/** One register's abstract value. Mutable; copy with {@link Reg.clone}. */
export class Reg {
  type: RegType = 'not_init';
  /** PTR_MAYBE_NULL: a pointer that may be NULL until checked. */
  maybeNull = false;
  /** Fixed part of a pointer's offset. */
  off = 0;
  /**
   * Links copies of one value: the same nullable pointer (so one NULL check clears them all),
   * packet pointers with the same variable offset, or equal scalars.
   */
  id = 0;
  /** Non-zero for a pointer that holds a reference (ringbuf record, socket) to release. */
  refObjId = 0;
  /** Packet pointers: bytes known to be in bounds from `off`; negative markers past pkt_end. */
  range = 0;
  /** map_ptr, map_value, map_key: the map. */
  map: MapInfo | undefined = undefined;
  /** Stack pointers: the frame they point into. */
  frameno = 0;
  /** mem / ringbuf_mem: the size of the memory. */
  memSize = 0;
  /** mem: read-only memory. */
  rdonly = false;
  /** func: the callback's subprogram start. */
  subprog = 0;
  /** btf_id: the kernel BTF struct type id it points to (btf-ptr.ts). */
  btfId = 0;
  /** btf_id: `BtfFlag` bits (trusted, untrusted, rcu, user, percpu). */
  btfFlags = 0;
  varOff: Tnum = TNUM_UNKNOWN;
  smin = S64_MIN;
  smax = S64_MAX;
  umin = 0n;
  umax = U64_MAX;
  s32min = S32_MIN;
  s32max = S32_MAX;
  u32min = 0n;
  u32max = U32_MAX;

  clone(): Reg {
    const r = new Reg();
    r.type = this.type; r.maybeNull = this.maybeNull; r.off = this.off; r.id = this.id; r.refObjId = this.refObjId;
    r.range = this.range; r.map = this.map; r.frameno = this.frameno; r.memSize = this.memSize; r.rdonly = this.rdonly;
    r.subprog = this.subprog; r.varOff = this.varOff; r.btfId = this.btfId; r.btfFlags = this.btfFlags;
    r.smin = this.smin; r.smax = this.smax; r.umin = this.umin; r.umax = this.umax;
    r.s32min = this.s32min; r.s32max = this.s32max; r.u32min = this.u32min; r.u32max = this.u32max;
    return r;
  }

  /** Overwrites this register with a copy of `o`. */
  assign(o: Reg): void {
    this.type = o.type; this.maybeNull = o.maybeNull; this.off = o.off; this.id = o.id; this.refObjId = o.refObjId;
    this.range = o.range; this.map = o.map; this.frameno = o.frameno; this.memSize = o.memSize; this.rdonly = o.rdonly;
    this.subprog = o.subprog; this.varOff = o.varOff; this.btfId = o.btfId; this.btfFlags = o.btfFlags;
    this.smin = o.smin; this.smax = o.smax; this.umin = o.umin; this.umax = o.umax;
    this.s32min = o.s32min; this.s32max = o.s32max; this.u32min = o.u32min; this.u32max = o.u32max;
  }

  get isScalar(): boolean { return this.type === 'scalar'; }
  get isPointer(): boolean { return this.type !== 'scalar' && this.type !== 'not_init'; }
  get isPkt(): boolean { return this.type === 'pkt' || this.type === 'pkt_meta'; }
}

/** A fresh scalar known to equal `value` (64-bit, taken modulo 2^64). kernel: __mark_reg_known. */
export function markKnown(reg: Reg, value: bigint): void {
  resetPointerFields(reg);
  reg.type = 'scalar';
  const v = u64(value);
  reg.varOff = tnumConst(v);
  reg.smin = reg.smax = s64(v);
  reg.umin = reg.umax = v;
  reg.s32min = reg.s32max = s32(v);
  reg.u32min = reg.u32max = u32(v);
}

function resetPointerFields(reg: Reg): void {
  reg.maybeNull = false; reg.off = 0; reg.id = 0; reg.refObjId = 0; reg.range = 0; reg.map = undefined;
  reg.frameno = 0; reg.memSize = 0; reg.rdonly = false; reg.subprog = 0; reg.btfId = 0; reg.btfFlags = 0;
}

/** kernel: __mark_reg32_known. */
export function markKnown32(reg: Reg, value: bigint): void {
  reg.varOff = tnumConstSubreg(reg.varOff, value);
  reg.s32min = reg.s32max = s32(value);
  reg.u32min = reg.u32max = u32(value);
}

export function markUnbounded64(reg: Reg): void {
  reg.smin = S64_MIN; reg.smax = S64_MAX; reg.umin = 0n; reg.umax = U64_MAX;
}

export function markUnbounded32(reg: Reg): void {
  reg.s32min = S32_MIN; reg.s32max = S32_MAX; reg.u32min = 0n; reg.u32max = U32_MAX;
}

export function markUnbounded(reg: Reg): void {
  markUnbounded64(reg);
  markUnbounded32(reg);
}

/** A scalar about which nothing is known. kernel: __mark_reg_unknown. */
export function markUnknown(reg: Reg): void {
  resetPointerFields(reg);
  reg.type = 'scalar';
  reg.varOff = TNUM_UNKNOWN;
  markUnbounded(reg);
}

/** The register is not readable. kernel: __mark_reg_not_init. */
export function markNotInit(reg: Reg): void {
  markUnknown(reg);
  reg.type = 'not_init';
}

/** A pointer of `type` at offset 0 with a known-zero variable part. kernel: mark_reg_known_zero. */
export function markPointer(reg: Reg, type: RegType): void {
  markKnown(reg, 0n);
  reg.type = type;
}

export function isConst(reg: Reg, jmp32 = false): boolean {
  return reg.type === 'scalar' && (jmp32 ? tnumIsConst(tnumSubreg(reg.varOff)) : tnumIsConst(reg.varOff));
}

export function constValue(reg: Reg, jmp32 = false): bigint {
  return jmp32 ? reg.varOff.value & U32_MAX : reg.varOff.value;
}

/** Whether the register is a scalar known to be 0. */
export const isNullScalar = (reg: Reg): boolean => reg.type === 'scalar' && tnumIsConst(reg.varOff) && reg.varOff.value === 0n;

// kernel: __update_reg32_bounds / __update_reg64_bounds: tighten bounds from var_off.
function updateReg32Bounds(reg: Reg): void {
  const v = tnumSubreg(reg.varOff);
  reg.s32min = bmax(reg.s32min, s32(v.value | (v.mask & 0x8000_0000n)));
  reg.s32max = bmin(reg.s32max, s32(v.value | (v.mask & 0x7fff_ffffn)));
  reg.u32min = bmax(reg.u32min, v.value);
  reg.u32max = bmin(reg.u32max, v.value | v.mask);
}

function updateReg64Bounds(reg: Reg): void {
  const v = reg.varOff;
  reg.smin = bmax(reg.smin, s64(v.value | (v.mask & (1n << 63n))));
  reg.smax = bmin(reg.smax, s64(v.value | (v.mask & S64_MAX)));
  reg.umin = bmax(reg.umin, v.value);
  reg.umax = bmin(reg.umax, v.value | v.mask);
}

export function updateBounds(reg: Reg): void {
  updateReg32Bounds(reg);
  updateReg64Bounds(reg);
}

// kernel: __reg32_deduce_bounds (the cases whose soundness is plain; the kernel may know more).
function deduce32(reg: Reg): void {
  if ((reg.umin >> 32n) === (reg.umax >> 32n)) {
    reg.u32min = bmax(reg.u32min, u32(reg.umin));
    reg.u32max = bmin(reg.u32max, u32(reg.umax));
    if (s32(reg.umin) <= s32(reg.umax)) {
      reg.s32min = bmax(reg.s32min, s32(reg.umin));
      reg.s32max = bmin(reg.s32max, s32(reg.umax));
    }
  }
  if ((reg.smin >> 32n) === (reg.smax >> 32n)) {
    if (u32(reg.smin) <= u32(reg.smax)) {
      reg.u32min = bmax(reg.u32min, u32(reg.smin));
      reg.u32max = bmin(reg.u32max, u32(reg.smax));
    }
    if (s32(reg.smin) <= s32(reg.smax)) {
      reg.s32min = bmax(reg.s32min, s32(reg.smin));
      reg.s32max = bmin(reg.s32max, s32(reg.smax));
    }
  }
  if (s32(reg.u32min) <= s32(reg.u32max)) {
    reg.s32min = bmax(reg.s32min, s32(reg.u32min));
    reg.s32max = bmin(reg.s32max, s32(reg.u32max));
  }
  if (u32(reg.s32min) <= u32(reg.s32max)) {
    reg.u32min = bmax(reg.u32min, u32(reg.s32min));
    reg.u32max = bmin(reg.u32max, u32(reg.s32max));
  }
}

// kernel: __reg64_deduce_bounds.
function deduce64(reg: Reg): void {
  if (s64(reg.umin) <= s64(reg.umax)) {
    reg.smin = bmax(reg.smin, s64(reg.umin));
    reg.smax = bmin(reg.smax, s64(reg.umax));
  }
  if (u64(reg.smin) <= u64(reg.smax)) {
    reg.umin = bmax(reg.umin, u64(reg.smin));
    reg.umax = bmin(reg.umax, u64(reg.smax));
  }
}

// kernel: __reg_deduce_mixed_bounds: the 32-bit bounds narrow the 64-bit ones within the same
// upper half.
function deduceMixed(reg: Reg): void {
  const hi = ~0xffff_ffffn;
  let newUmin = (reg.umin & hi) | reg.u32min;
  let newUmax = (reg.umax & hi) | reg.u32max;
  reg.umin = bmax(reg.umin, newUmin);
  reg.umax = bmin(reg.umax, newUmax);
  newUmin = u64((reg.smin & hi) | reg.u32min);
  newUmax = u64((reg.smax & hi) | reg.u32max);
  const nsmin = s64(newUmin);
  const nsmax = s64(newUmax);
  reg.smin = bmax(reg.smin, nsmin);
  reg.smax = bmin(reg.smax, nsmax);
}

/** kernel: __reg_bound_offset: var_off learns from the ranges. */
function boundOffset(reg: Reg): void {
  const var64 = tnumIntersect(reg.varOff, tnumRange(reg.umin, reg.umax));
  const var32 = tnumIntersect(tnumSubreg(reg.varOff), tnumRange(reg.u32min, reg.u32max));
  reg.varOff = tnumOr(tnumClearSubreg(var64), var32);
}

/** kernel: reg_bounds_sync. */
export function boundsSync(reg: Reg): void {
  updateBounds(reg);
  for (let i = 0; i < 2; i++) {
    deduce32(reg);
    deduce64(reg);
    deduceMixed(reg);
  }
  boundOffset(reg);
  updateBounds(reg);
}

/** Whether the bounds contradict each other (an impossible value). */
export function boundsInvalid(reg: Reg): boolean {
  if (reg.umin > reg.umax || reg.smin > reg.smax || reg.u32min > reg.u32max || reg.s32min > reg.s32max) return true;
  // var_off must agree with the ranges
  const v = reg.varOff;
  if (v.value < 0n || (v.value & v.mask) !== 0n) return true;
  if (tnumIsConst(v)) {
    const c = v.value;
    if (c < reg.umin || c > reg.umax || s64(c) < reg.smin || s64(c) > reg.smax) return true;
    if (u32(c) < reg.u32min || u32(c) > reg.u32max || s32(c) < reg.s32min || s32(c) > reg.s32max) return true;
  }
  return false;
}

/** kernel: __reg_assign_32_into_64 + zext_32_to_64: the 32-bit result zero-extended. */
export function zext32to64(reg: Reg): void {
  reg.varOff = tnumSubreg(reg.varOff);
  reg.umin = reg.u32min;
  reg.umax = reg.u32max;
  if (reg.s32min >= 0n && reg.s32max >= 0n) {
    reg.smin = reg.s32min;
    reg.smax = reg.s32max;
  } else {
    reg.smin = 0n;
    reg.smax = U32_MAX;
  }
}

/** kernel: coerce_reg_to_size: keep the low `size` bytes, zero-extended (narrow loads). */
export function coerceToSize(reg: Reg, size: number): void {
  if (size >= 8) return;
  reg.varOff = tnumCast(reg.varOff, size);
  const mask = (1n << BigInt(size * 8)) - 1n;
  if ((reg.umin & ~mask) === (reg.umax & ~mask)) {
    reg.umin &= mask;
    reg.umax &= mask;
  } else {
    reg.umin = 0n;
    reg.umax = mask;
  }
  reg.smin = reg.umin;
  reg.smax = reg.umax;
  markUnbounded32(reg);
  boundsSync(reg);
}

/**
 * Sign-extends the low `size` bytes to 64 bits (ldsx, movsx). Sound and no more precise than
 * the kernel's coerce_reg_to_size_sx: a value already in the positive half stays as it is.
 */
export function coerceToSizeSx(reg: Reg, size: number): void {
  const bits = BigInt(size * 8);
  if (tnumIsConst(reg.varOff)) {
    markKnown(reg, BigInt.asIntN(size * 8, reg.varOff.value));
    return;
  }
  if (reg.umax < (1n << (bits - 1n))) return;
  reg.id = 0;
  reg.varOff = TNUM_UNKNOWN;
  markUnbounded(reg);
  reg.smin = -(1n << (bits - 1n));
  reg.smax = (1n << (bits - 1n)) - 1n;
  boundsSync(reg);
}

/** The same for a 32-bit destination (`w1 = (s8)w2`): sign-extend into 32 bits, then zero-extend. */
export function coerceSubregToSizeSx(reg: Reg, size: number): void {
  const bits = BigInt(size * 8);
  const sub = tnumSubreg(reg.varOff);
  if (tnumIsConst(sub)) {
    markKnown32(reg, u32(BigInt.asIntN(size * 8, sub.value)));
    return;
  }
  if (reg.u32max < (1n << (bits - 1n))) return;
  reg.id = 0;
  reg.varOff = TNUM_UNKNOWN;
  markUnbounded(reg);
  reg.s32min = -(1n << (bits - 1n));
  reg.s32max = (1n << (bits - 1n)) - 1n;
}

/** How many low bits can be non-zero (kernel: get_reg_width). */
export function regWidth(reg: Reg): number {
  return reg.umax === 0n ? 0 : reg.umax.toString(2).length;
}

/** Bits of a 64-bit value as a `tnum` of one byte (used by tests and the log). */
export const unknownTnum = (): Tnum => TNUM_UNKNOWN;
export const tnumKnown = tnumConst;
