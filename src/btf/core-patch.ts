/**
 * Patching one instruction with a CO-RE relocation's value (libbpf relo_core.c
 * bpf_core_patch_insn, bpf_core_poison_insn). Relocatable forms:
 *
 * - `rX = imm`, `rX op= imm` (ALU/ALU64 with an immediate): `imm` becomes the value;
 * - `rX = imm64` (`lddw` with src 0): both halves of the immediate;
 * - `rX = *(T *)(rY + off)`, `*(T *)(rX + off) = rY | imm` (LDX/ST/STX): `off` becomes the
 *   value, and the access width follows a field whose size changed when that is safe.
 *
 * The current value is checked against what the local BTF predicts, unless the relocation kind
 * says it can't be known. An unsatisfiable relocation replaces the instruction with a call to
 * helper 0xbad2310, which the verifier rejects only if it is reachable.
 */
import { CoreFault } from './core-error.js';
import type { CoreRelocationValue } from './core-calc.js';
import {
  decodeInstruction, lddwValue, BPF_ALU, BPF_ALU64, BPF_CALL, BPF_JMP, BPF_K, BPF_LD, BPF_LDX, BPF_ST, BPF_STX,
  cls, modeBits, sizeBits, sizeBytes, sizeField, srcBit, type Instruction, type RawInstruction,
} from '../isa/index.js';

/** Helper id of the call that replaces a poisoned instruction: 0xbad2310, "bad relo". */
export const CORE_POISON_HELPER_ID = 0xbad2310;

/** What patching did to the instruction. */
export type CorePatch =
  /** ALU/ALU64 immediate; `from`/`to` are the s32 `imm` fields. */
  | { readonly kind: 'imm'; readonly from: number; readonly to: number }
  /** Memory offset; `sizeFrom`/`sizeTo` in bytes when the access width changed too. */
  | { readonly kind: 'off'; readonly from: number; readonly to: number; readonly sizeFrom?: number; readonly sizeTo?: number }
  /** `lddw` 64-bit immediate, as unsigned values. */
  | { readonly kind: 'imm64'; readonly from: bigint; readonly to: bigint }
  /**
   * Replaced by `call 0xbad2310` (both slots of an `lddw`): `unresolved` when the target lacks
   * the field/enumerator, `memsz` when the field changed size in a way a load/store can't follow.
   */
  | { readonly kind: 'poison'; readonly reason: 'unresolved' | 'memsz' };

const POISON_SLOT: RawInstruction = { code: BPF_JMP | BPF_CALL, dst: 0, src: 0, off: 0, imm: CORE_POISON_HELPER_ID };
const SHRT_MAX = 0x7fff;

/** The `call 0xbad2310` instruction that stands for a poisoned one. */
export function corePoisonInstruction(): Instruction {
  return decodeInstruction([POISON_SLOT], 0);
}

function poison(insn: Instruction, reason: 'unresolved' | 'memsz'): { replacement: Instruction[]; patch: CorePatch } {
  // Both slots of an lddw, so the verifier does not stop at an "unknown opcode 00" first.
  const replacement = insn.kind === 'lddw' ? [corePoisonInstruction(), corePoisonInstruction()] : [corePoisonInstruction()];
  return { replacement, patch: { kind: 'poison', reason } };
}

function rebuild(raw: RawInstruction): Instruction {
  try {
    return decodeInstruction([raw], 0);
  } catch (err) {
    throw new CoreFault('EINVAL', `patched instruction is invalid: ${err instanceof Error ? err.message : String(err)}`);
  }
}

const u64 = (n: number | bigint): bigint => BigInt.asUintN(64, BigInt(n));

/**
 * Applies `value` to `insn`. Returns the replacement (two instructions for a poisoned `lddw`,
 * occupying the same two slots) and what changed. Throws `CoreFault` where libbpf refuses: an
 * instruction form that can't be relocated, a current value that differs from the expected one,
 * an offset above 32767, a load/store width that isn't the local field's.
 */
export function patchCoreInstruction(insn: Instruction, value: CoreRelocationValue): { replacement: Instruction[]; patch: CorePatch } {
  if (value.poison) return poison(insn, 'unresolved');
  const { origValue, newValue } = value;
  const raw: RawInstruction = { code: insn.code, dst: insn.dst, src: insn.src, off: insn.off, imm: insn.imm };

  switch (cls(insn.code)) {
    case BPF_ALU:
    case BPF_ALU64: {
      if (srcBit(insn.code) !== BPF_K) throw new CoreFault('EINVAL', 'ALU/ALU64 instruction with a register operand can\'t be relocated');
      if (value.validate && u64(insn.imm) !== origValue) {
        throw new CoreFault('EINVAL', `unexpected insn (ALU/ALU64) value: got ${insn.imm}, exp ${origValue} -> ${newValue}`);
      }
      const imm = Number(BigInt.asIntN(32, newValue));
      return { replacement: [rebuild({ ...raw, imm })], patch: { kind: 'imm', from: insn.imm, to: imm } };
    }
    case BPF_LDX:
    case BPF_ST:
    case BPF_STX: {
      if (value.validate && u64(insn.off) !== origValue) {
        throw new CoreFault('EINVAL', `unexpected insn (LDX/ST/STX) value: got ${insn.off}, exp ${origValue} -> ${newValue}`);
      }
      if (newValue > SHRT_MAX) throw new CoreFault('ERANGE', `insn (LDX/ST/STX) value too big: ${newValue}`);
      if (value.failMemszAdjust) return poison(insn, 'memsz');
      const off = Number(newValue);
      if (value.newSize === value.origSize) {
        return { replacement: [rebuild({ ...raw, off })], patch: { kind: 'off', from: insn.off, to: off } };
      }
      const width = sizeBytes(sizeBits(insn.code));
      if (width !== value.origSize) {
        throw new CoreFault('EINVAL', `insn (LDX/ST/STX) unexpected mem size: got ${width}, exp ${value.origSize}`);
      }
      const newWidth = value.newSize;
      if (newWidth !== 1 && newWidth !== 2 && newWidth !== 4 && newWidth !== 8) {
        throw new CoreFault('EINVAL', `insn (LDX/ST/STX) invalid new mem size: ${newWidth}`);
      }
      const code = modeBits(insn.code) | sizeField(newWidth) | cls(insn.code);
      return {
        replacement: [rebuild({ ...raw, code, off })],
        patch: { kind: 'off', from: insn.off, to: off, sizeFrom: width, sizeTo: newWidth },
      };
    }
    case BPF_LD: {
      if (insn.kind !== 'lddw' || insn.src !== 0 || insn.off !== 0) throw new CoreFault('EINVAL', 'insn (LDIMM64) has unexpected form');
      const imm64 = lddwValue(insn);
      if (value.validate && imm64 !== origValue) {
        throw new CoreFault('EINVAL', `unexpected insn (LDIMM64) value: got ${imm64}, exp ${origValue} -> ${newValue}`);
      }
      const patched: Instruction = {
        ...insn,
        imm: Number(BigInt.asIntN(32, newValue)),
        imm2: Number(BigInt.asIntN(32, newValue >> 32n)),
      };
      return { replacement: [patched], patch: { kind: 'imm64', from: imm64, to: u64(newValue) } };
    }
    default:
      throw new CoreFault('EINVAL', `trying to relocate unrecognized insn, code:0x${insn.code.toString(16)}, ` +
        `src:0x${insn.src.toString(16)}, dst:0x${insn.dst.toString(16)}, off:0x${(insn.off & 0xffff).toString(16)}, imm:0x${(insn.imm >>> 0).toString(16)}`);
  }
}
