/**
 * Bytes → instructions. Decoding is strict the way RFC 9669 and the kernel are: an unknown
 * opcode, a register number above 10, or a non-zero field the opcode does not use is an
 * `InstructionError` naming the slot index.
 */
import { InstructionError, ParseError } from '../errors.js';
import * as op from './opcodes.js';
import type {
  AccessSize, AluOp, AtomicOp, Instruction, JmpOp, RawInstruction,
} from './instruction.js';

/** Byte order of the encoded program. eBPF objects for x86/arm64 are little-endian. */
export interface CodecOptions {
  /** Decode/encode big-endian slots (s390x and other big-endian targets). Default false. */
  bigEndian?: boolean;
}

/** Splits bytecode into raw 8-byte slots. Length must be a multiple of 8. */
export function decodeSlots(bytes: Uint8Array, options: CodecOptions = {}): RawInstruction[] {
  if (bytes.length % 8 !== 0) {
    throw new ParseError(
      `bytecode length ${bytes.length} is not a multiple of 8 (truncated instruction ${Math.floor(bytes.length / 8)})`,
      bytes.length - (bytes.length % 8),
    );
  }
  const le = !options.bigEndian;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: RawInstruction[] = new Array(bytes.length / 8);
  for (let i = 0, p = 0; p < bytes.length; i++, p += 8) {
    const regs = view.getUint8(p + 1);
    out[i] = {
      code: view.getUint8(p),
      dst: le ? regs & 0x0f : regs >> 4,
      src: le ? regs >> 4 : regs & 0x0f,
      off: view.getInt16(p + 2, le),
      imm: view.getInt32(p + 4, le),
    };
  }
  return out;
}

/** Decodes a whole program; `lddw` becomes one instruction spanning two slots. */
export function decodeProgram(bytes: Uint8Array, options: CodecOptions = {}): Instruction[] {
  return decodeRawProgram(decodeSlots(bytes, options));
}

/** Decodes raw slots; `lddw` consumes the slot after it. */
export function decodeRawProgram(slots: readonly RawInstruction[]): Instruction[] {
  const out: Instruction[] = [];
  for (let i = 0; i < slots.length; ) {
    const insn = decodeInstruction(slots, i);
    out.push(insn);
    i += insn.kind === 'lddw' ? 2 : 1;
  }
  return out;
}

const ALU_OPS: Record<number, AluOp> = {
  [op.BPF_ADD]: 'add', [op.BPF_SUB]: 'sub', [op.BPF_MUL]: 'mul', [op.BPF_DIV]: 'div',
  [op.BPF_OR]: 'or', [op.BPF_AND]: 'and', [op.BPF_LSH]: 'lsh', [op.BPF_RSH]: 'rsh',
  [op.BPF_NEG]: 'neg', [op.BPF_MOD]: 'mod', [op.BPF_XOR]: 'xor', [op.BPF_MOV]: 'mov',
  [op.BPF_ARSH]: 'arsh',
};

const JMP_OPS: Record<number, JmpOp> = {
  [op.BPF_JEQ]: 'jeq', [op.BPF_JGT]: 'jgt', [op.BPF_JGE]: 'jge', [op.BPF_JSET]: 'jset',
  [op.BPF_JNE]: 'jne', [op.BPF_JSGT]: 'jsgt', [op.BPF_JSGE]: 'jsge', [op.BPF_JLT]: 'jlt',
  [op.BPF_JLE]: 'jle', [op.BPF_JSLT]: 'jslt', [op.BPF_JSLE]: 'jsle',
};

const ATOMIC_OPS: Record<number, [AtomicOp, boolean]> = {
  [op.BPF_ADD]: ['add', false], [op.BPF_OR]: ['or', false], [op.BPF_AND]: ['and', false],
  [op.BPF_XOR]: ['xor', false],
  [op.BPF_ADD | op.BPF_FETCH]: ['add', true], [op.BPF_OR | op.BPF_FETCH]: ['or', true],
  [op.BPF_AND | op.BPF_FETCH]: ['and', true], [op.BPF_XOR | op.BPF_FETCH]: ['xor', true],
  [op.BPF_XCHG]: ['xchg', true], [op.BPF_CMPXCHG]: ['cmpxchg', true],
  [op.BPF_LOAD_ACQ]: ['load_acq', false], [op.BPF_STORE_REL]: ['store_rel', false],
};

const hex = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;

/** Throws the InstructionError for slot `index`. */
function fail(index: number, code: number, why: string): never {
  throw new InstructionError(`${why} (opcode ${hex(code)})`, index);
}

function checkReg(index: number, code: number, r: number, what: string): void {
  if (r > op.BPF_REG_FP) fail(index, code, `invalid ${what} register r${r}`);
}

function checkZero(index: number, code: number, value: number, what: string): void {
  if (value !== 0) fail(index, code, `reserved field ${what} is ${value}, must be 0`);
}

/**
 * Decodes the instruction at slot `index` of `slots` (which must hold the second slot of an
 * `lddw`). Throws `InstructionError` for anything the ISA does not define.
 */
export function decodeInstruction(slots: readonly RawInstruction[], index: number): Instruction {
  const raw = slots[index];
  if (raw === undefined) throw new InstructionError('no instruction here', index);
  const { code, dst, src, off, imm } = raw;
  const useReg = op.srcBit(code) === op.BPF_X;

  switch (op.cls(code)) {
    case op.BPF_ALU:
    case op.BPF_ALU64: {
      const alu64 = op.cls(code) === op.BPF_ALU64;
      const o = op.aluOp(code);
      checkReg(index, code, dst, 'destination');
      if (o === op.BPF_END) {
        checkZero(index, code, src, 'src'); checkZero(index, code, off, 'off');
        if (alu64 && useReg) fail(index, code, 'unknown opcode');
        if (imm !== 16 && imm !== 32 && imm !== 64) fail(index, code, `invalid byte swap width ${imm}`);
        return { code, dst, src, off, imm, kind: 'endian', op: alu64 ? 'bswap' : useReg ? 'be' : 'le', width: imm };
      }
      const name = ALU_OPS[o];
      if (name === undefined) return fail(index, code, 'unknown opcode');
      if (o === op.BPF_NEG) {
        if (useReg) fail(index, code, 'unknown opcode');
        checkZero(index, code, src, 'src'); checkZero(index, code, off, 'off'); checkZero(index, code, imm, 'imm');
        return { code, dst, src, off, imm, kind: 'alu', alu64, op: 'neg', useReg: false };
      }
      if (useReg) checkReg(index, code, src, 'source');
      else checkZero(index, code, src, 'src');
      let opName: AluOp = name;
      if (o === op.BPF_DIV || o === op.BPF_MOD) {
        if (off === 1) opName = o === op.BPF_DIV ? 'sdiv' : 'smod';
        else checkZero(index, code, off, 'off');
      } else if (o === op.BPF_MOV && useReg && off !== 0) {
        if (alu64 && off === op.BPF_ADDR_SPACE_CAST) {
          if (imm !== 1 && imm !== 1 << 16) fail(index, code, `addr_space_cast between address spaces ${imm >>> 16} and ${imm & 0xffff}`);
          return { code, dst, src, off, imm, kind: 'addr_space_cast' };
        }
        if (off !== 8 && off !== 16 && !(off === 32 && alu64)) fail(index, code, `invalid sign-extension width ${off}`);
        opName = 'movsx';
      } else {
        checkZero(index, code, off, 'off');
      }
      if (useReg) checkZero(index, code, imm, 'imm');
      return { code, dst, src, off, imm, kind: 'alu', alu64, op: opName, useReg };
    }

    case op.BPF_JMP:
    case op.BPF_JMP32: {
      const jmp32 = op.cls(code) === op.BPF_JMP32;
      const o = op.aluOp(code);
      switch (o) {
        case op.BPF_JA:
          if (useReg) fail(index, code, 'unknown opcode');
          checkZero(index, code, dst, 'dst'); checkZero(index, code, src, 'src');
          if (jmp32) checkZero(index, code, off, 'off');
          else checkZero(index, code, imm, 'imm');
          return { code, dst, src, off, imm, kind: 'ja', long: jmp32 };
        case op.BPF_CALL:
          if (jmp32) fail(index, code, 'unknown opcode');
          if (useReg) {
            // callx: the register holding the target is in dst, as LLVM encodes it.
            checkReg(index, code, dst, 'call target'); checkZero(index, code, src, 'src');
            checkZero(index, code, off, 'off'); checkZero(index, code, imm, 'imm');
            return { code, dst, src, off, imm, kind: 'callx' };
          }
          checkZero(index, code, dst, 'dst');
          // A kfunc call's off selects the module BTF (fd_array index) of the kfunc.
          if (src === op.BPF_PSEUDO_KFUNC_CALL) return { code, dst, src, off, imm, kind: 'call', target: 'kfunc' };
          checkZero(index, code, off, 'off');
          if (src === 0) return { code, dst, src, off, imm, kind: 'call', target: 'helper' };
          if (src === op.BPF_PSEUDO_CALL) return { code, dst, src, off, imm, kind: 'call', target: 'local' };
          return fail(index, code, `invalid call source ${src}`);
        case op.BPF_EXIT:
          if (jmp32 || useReg) fail(index, code, 'unknown opcode');
          checkZero(index, code, dst, 'dst'); checkZero(index, code, src, 'src');
          checkZero(index, code, off, 'off'); checkZero(index, code, imm, 'imm');
          return { code, dst, src, off, imm, kind: 'exit' };
        case op.BPF_JCOND:
          if (jmp32 || useReg) fail(index, code, 'unknown opcode');
          if (src !== op.BPF_MAY_GOTO) fail(index, code, `invalid conditional pseudo-jump ${src}`);
          checkZero(index, code, dst, 'dst'); checkZero(index, code, imm, 'imm');
          return { code, dst, src, off, imm, kind: 'may_goto' };
        default: {
          const name = JMP_OPS[o];
          if (name === undefined) return fail(index, code, 'unknown opcode');
          checkReg(index, code, dst, 'destination');
          if (useReg) { checkReg(index, code, src, 'source'); checkZero(index, code, imm, 'imm'); }
          else checkZero(index, code, src, 'src');
          return { code, dst, src, off, imm, kind: 'jump', jmp32, op: name, useReg };
        }
      }
    }

    case op.BPF_LD: {
      const mode = op.modeBits(code);
      const size = op.sizeBits(code);
      if (mode === op.BPF_IMM && size === op.BPF_DW) {
        checkReg(index, code, dst, 'destination'); checkZero(index, code, off, 'off');
        if (src > op.BPF_PSEUDO_MAP_IDX_VALUE) fail(index, code, `invalid lddw source type ${src}`);
        const next = slots[index + 1];
        if (next === undefined) {
          throw new InstructionError('lddw is missing its second slot (truncated program)', index);
        }
        if (next.code !== 0 || next.dst !== 0 || next.src !== 0 || next.off !== 0) {
          throw new InstructionError('invalid second slot of lddw: code, dst, src and off must be 0', index + 1);
        }
        return { code, dst, src, off, imm, kind: 'lddw', imm2: next.imm };
      }
      if ((mode === op.BPF_ABS || mode === op.BPF_IND) && size !== op.BPF_DW) {
        checkZero(index, code, dst, 'dst'); checkZero(index, code, off, 'off');
        if (mode === op.BPF_ABS) checkZero(index, code, src, 'src');
        else checkReg(index, code, src, 'source');
        return { code, dst, src, off, imm, kind: mode === op.BPF_ABS ? 'ld_abs' : 'ld_ind', size: op.sizeBytes(size) as 1 | 2 | 4 };
      }
      return fail(index, code, 'unknown opcode');
    }

    case op.BPF_LDX: {
      const mode = op.modeBits(code);
      const size = op.sizeBytes(op.sizeBits(code));
      if (mode !== op.BPF_MEM && !(mode === op.BPF_MEMSX && size !== 8)) fail(index, code, 'unknown opcode');
      checkReg(index, code, dst, 'destination'); checkReg(index, code, src, 'source'); checkZero(index, code, imm, 'imm');
      return { code, dst, src, off, imm, kind: 'ldx', size, signed: mode === op.BPF_MEMSX };
    }

    case op.BPF_ST: {
      if (op.modeBits(code) !== op.BPF_MEM) fail(index, code, 'unknown opcode');
      checkReg(index, code, dst, 'destination'); checkZero(index, code, src, 'src');
      return { code, dst, src, off, imm, kind: 'st', size: op.sizeBytes(op.sizeBits(code)) };
    }

    case op.BPF_STX:
    default: {
      const mode = op.modeBits(code);
      const size: AccessSize = op.sizeBytes(op.sizeBits(code));
      checkReg(index, code, dst, 'destination'); checkReg(index, code, src, 'source');
      if (mode === op.BPF_MEM) {
        checkZero(index, code, imm, 'imm');
        return { code, dst, src, off, imm, kind: 'stx', size };
      }
      if (mode !== op.BPF_ATOMIC) return fail(index, code, 'unknown opcode');
      const entry = ATOMIC_OPS[imm];
      if (entry === undefined) return fail(index, code, `invalid atomic operation ${hex(imm)}`);
      const [aop, fetch] = entry;
      if (aop !== 'load_acq' && aop !== 'store_rel' && size !== 4 && size !== 8) {
        fail(index, code, `atomic ${aop} needs a 32- or 64-bit size`);
      }
      return { code, dst, src, off, imm, kind: 'atomic', size, op: aop, fetch };
    }
  }
}
