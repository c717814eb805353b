/**
 * The typed instruction model. Every instruction keeps its raw fields (`code`, `dst`, `src`,
 * `off`, `imm`) so it re-encodes byte for byte, and adds a `kind` with the decoded meaning.
 * `lddw` is one instruction that occupies two 8-byte slots; its upper 32 bits are in `imm2`.
 */

/** The five fields of one 8-byte slot, as `struct bpf_insn` holds them. */
export interface RawInstruction {
  /** Opcode byte: class, source/size, operation/mode. */
  readonly code: number;
  /** Destination register field, 0..15 as stored (only 0..10 are valid registers). */
  readonly dst: number;
  /** Source register field, 0..15 as stored; a pseudo type for `lddw` and `call`. */
  readonly src: number;
  /** Signed 16-bit offset. */
  readonly off: number;
  /** Signed 32-bit immediate. */
  readonly imm: number;
}

export type AluOp =
  | 'add' | 'sub' | 'mul' | 'div' | 'sdiv' | 'or' | 'and' | 'lsh' | 'rsh' | 'neg'
  | 'mod' | 'smod' | 'xor' | 'mov' | 'movsx' | 'arsh';

export type JmpOp =
  | 'jeq' | 'jgt' | 'jge' | 'jset' | 'jne' | 'jsgt' | 'jsge' | 'jlt' | 'jle' | 'jslt' | 'jsle';

export type AtomicOp = 'add' | 'or' | 'and' | 'xor' | 'xchg' | 'cmpxchg' | 'load_acq' | 'store_rel';

export type AccessSize = 1 | 2 | 4 | 8;

/** ALU operation on 64-bit registers (`alu64`) or their low 32 bits (result zero-extended). */
export interface AluInstruction extends RawInstruction {
  readonly kind: 'alu';
  readonly alu64: boolean;
  readonly op: AluOp;
  /** True when the second operand is register `src`, false when it is `imm`. */
  readonly useReg: boolean;
}

/** Byte-order conversion: `le`/`be` (class ALU) or unconditional `bswap` (class ALU64, v4). */
export interface EndianInstruction extends RawInstruction {
  readonly kind: 'endian';
  readonly op: 'le' | 'be' | 'bswap';
  readonly width: 16 | 32 | 64;
}

/** `addr_space_cast` for arena pointers (kernel 6.9+). */
export interface AddrSpaceCastInstruction extends RawInstruction {
  readonly kind: 'addr_space_cast';
}

/** Conditional jump, 64-bit (`jmp`) or comparing the low 32 bits (`jmp32`). */
export interface JumpInstruction extends RawInstruction {
  readonly kind: 'jump';
  readonly jmp32: boolean;
  readonly op: JmpOp;
  readonly useReg: boolean;
}

/** Unconditional jump: `ja` uses `off`; `gotol` (class JMP32, v4) uses `imm`. */
export interface GotoInstruction extends RawInstruction {
  readonly kind: 'ja';
  readonly long: boolean;
}

/** `may_goto`: jumps when the program's loop budget is spent (kernel 6.9+). */
export interface MayGotoInstruction extends RawInstruction {
  readonly kind: 'may_goto';
}

/** Call a helper by id, a bpf-to-bpf function by relative slot offset, or a kfunc by BTF id. */
export interface CallInstruction extends RawInstruction {
  readonly kind: 'call';
  readonly target: 'helper' | 'local' | 'kfunc';
}

/** Call through a register holding a helper id or function address (`callx`). */
export interface CallxInstruction extends RawInstruction {
  readonly kind: 'callx';
}

export interface ExitInstruction extends RawInstruction {
  readonly kind: 'exit';
}

/** 64-bit immediate load; `src` names a pseudo type (map fd, map value, BTF id, function, …). */
export interface LddwInstruction extends RawInstruction {
  readonly kind: 'lddw';
  /** Immediate of the second slot: the upper 32 bits, or a map-value offset. */
  readonly imm2: number;
}

/** Legacy packet loads of socket filters: `ld_abs` (offset imm) and `ld_ind` (src + imm). */
export interface PacketLoadInstruction extends RawInstruction {
  readonly kind: 'ld_abs' | 'ld_ind';
  readonly size: 1 | 2 | 4;
}

/** Memory load `dst = *(size *)(src + off)`, sign-extending when `signed` (v4). */
export interface LoadInstruction extends RawInstruction {
  readonly kind: 'ldx';
  readonly size: AccessSize;
  readonly signed: boolean;
}

/** Memory store of an immediate: `*(size *)(dst + off) = imm`. */
export interface StoreImmInstruction extends RawInstruction {
  readonly kind: 'st';
  readonly size: AccessSize;
}

/** Memory store of a register: `*(size *)(dst + off) = src`. */
export interface StoreRegInstruction extends RawInstruction {
  readonly kind: 'stx';
  readonly size: AccessSize;
}

/** Atomic read-modify-write on `*(size *)(dst + off)` with `src`; `fetch` returns the old value. */
export interface AtomicInstruction extends RawInstruction {
  readonly kind: 'atomic';
  readonly size: AccessSize;
  readonly op: AtomicOp;
  readonly fetch: boolean;
}

export type Instruction =
  | AluInstruction
  | EndianInstruction
  | AddrSpaceCastInstruction
  | JumpInstruction
  | GotoInstruction
  | MayGotoInstruction
  | CallInstruction
  | CallxInstruction
  | ExitInstruction
  | LddwInstruction
  | PacketLoadInstruction
  | LoadInstruction
  | StoreImmInstruction
  | StoreRegInstruction
  | AtomicInstruction;

export type InstructionKind = Instruction['kind'];

/** Number of 8-byte slots an instruction occupies (2 for `lddw`). */
export function slotCount(insn: Instruction): 1 | 2 {
  return insn.kind === 'lddw' ? 2 : 1;
}

/** The 64-bit value of an `lddw` with `src` 0: `imm2:imm` as an unsigned bigint. */
export function lddwValue(insn: LddwInstruction): bigint {
  return (BigInt(insn.imm2 >>> 0) << 32n) | BigInt(insn.imm >>> 0);
}

/** Relative jump distance in slots of a jump or `gotol`, or `undefined` for other kinds. */
export function jumpOffset(insn: Instruction): number | undefined {
  switch (insn.kind) {
    case 'jump':
    case 'may_goto':
      return insn.off;
    case 'ja':
      return insn.long ? insn.imm : insn.off;
    default:
      return undefined;
  }
}
