/**
 * Mnemonic tables of the bpf_conformance / uBPF assembly syntax (`mov32 %r0, 1`,
 * `ldxw %r0, [%r1+4]`, `lock fetch add [%r10-8], %r1`), shared by the assembler
 * (`conformance-asm.ts`) and the disassembler (`conformance-disasm.ts`).
 *
 * The mnemonic set is the one of bpf_conformance's assembler (lib/src/bpf_assembler.cc):
 * no suffix is the 64-bit form, `32` the 32-bit form; `movsx<from><to>` names the source
 * width and the class; `swapN` is an alias of `bswapN`.
 */
import * as op from './opcodes.js';
import type { AccessSize } from './instruction.js';

/** How an instruction's operands are written. */
export type ConformanceForm =
  /** `add %rD, %rS` or `add %rD, imm` */
  | { readonly form: 'alu'; readonly code: number; readonly off: number }
  /** `movsx832 %rD, %rS`: register source only, `off` holds the source width. */
  | { readonly form: 'movsx'; readonly code: number; readonly off: number }
  /** `neg %rD` */
  | { readonly form: 'neg'; readonly code: number }
  /** `be16 %rD`: `imm` holds the width. */
  | { readonly form: 'endian'; readonly code: number; readonly width: 16 | 32 | 64 }
  /** `jeq %rD, %rS|imm, +off|label` */
  | { readonly form: 'jcc'; readonly code: number }
  /** `ja +off|label` (offset in `off`) */
  | { readonly form: 'ja' }
  /** `ja32 +imm|label`: gotol, offset in `imm` (ISA v4). */
  | { readonly form: 'ja32' }
  | { readonly form: 'exit' }
  /** `call 5`, `call helper 5`, `call %r2`, `call local label|+imm`, `call runtime id` */
  | { readonly form: 'call' }
  /** `lddw %rD, imm64` */
  | { readonly form: 'lddw' }
  /** `ldxw %rD, [%rS+off]` */
  | { readonly form: 'ldx'; readonly code: number }
  /** `stw [%rD+off], imm` */
  | { readonly form: 'st'; readonly code: number }
  /** `stxw [%rD+off], %rS` */
  | { readonly form: 'stx'; readonly code: number };

/** ALU operations with two operands, by mnemonic stem: [operation, `off`]. */
const ALU_BINARY: ReadonlyArray<readonly [string, number, number]> = [
  ['add', op.BPF_ADD, 0], ['sub', op.BPF_SUB, 0], ['mul', op.BPF_MUL, 0],
  ['div', op.BPF_DIV, 0], ['sdiv', op.BPF_DIV, 1], ['or', op.BPF_OR, 0],
  ['and', op.BPF_AND, 0], ['lsh', op.BPF_LSH, 0], ['rsh', op.BPF_RSH, 0],
  ['mod', op.BPF_MOD, 0], ['smod', op.BPF_MOD, 1], ['xor', op.BPF_XOR, 0],
  ['mov', op.BPF_MOV, 0], ['arsh', op.BPF_ARSH, 0],
];

/** Conditional jumps by mnemonic stem. */
const JMP_MNEMONICS: ReadonlyArray<readonly [string, number]> = [
  ['jeq', op.BPF_JEQ], ['jgt', op.BPF_JGT], ['jge', op.BPF_JGE], ['jset', op.BPF_JSET],
  ['jne', op.BPF_JNE], ['jsgt', op.BPF_JSGT], ['jsge', op.BPF_JSGE], ['jlt', op.BPF_JLT],
  ['jle', op.BPF_JLE], ['jslt', op.BPF_JSLT], ['jsle', op.BPF_JSLE],
];

/** Memory access size suffixes. */
export const SIZE_SUFFIX: Readonly<Record<AccessSize, string>> = { 1: 'b', 2: 'h', 4: 'w', 8: 'dw' };

/** Atomic operations written after `lock [fetch]`: `imm` without the fetch bit, and whether fetch is implied. */
export const ATOMIC_MNEMONICS: Readonly<Record<string, { readonly imm: number; readonly fetchOnly: boolean }>> = {
  add: { imm: op.BPF_ADD, fetchOnly: false },
  or: { imm: op.BPF_OR, fetchOnly: false },
  and: { imm: op.BPF_AND, fetchOnly: false },
  xor: { imm: op.BPF_XOR, fetchOnly: false },
  // xchg and cmpxchg always carry the fetch bit (BPF_XCHG = 0xe1, BPF_CMPXCHG = 0xf1).
  xchg: { imm: op.BPF_XCHG, fetchOnly: true },
  cmpxchg: { imm: op.BPF_CMPXCHG, fetchOnly: true },
};

function buildTable(): Map<string, ConformanceForm> {
  const t = new Map<string, ConformanceForm>();
  for (const [name, o, off] of ALU_BINARY) {
    t.set(name, { form: 'alu', code: op.BPF_ALU64 | o, off });
    t.set(`${name}32`, { form: 'alu', code: op.BPF_ALU | o, off });
  }
  t.set('neg', { form: 'neg', code: op.BPF_ALU64 | op.BPF_NEG });
  t.set('neg32', { form: 'neg', code: op.BPF_ALU | op.BPF_NEG });
  for (const width of [8, 16, 32] as const) {
    t.set(`movsx${width}64`, { form: 'movsx', code: op.BPF_ALU64 | op.BPF_MOV | op.BPF_X, off: width });
    if (width !== 32) t.set(`movsx${width}32`, { form: 'movsx', code: op.BPF_ALU | op.BPF_MOV | op.BPF_X, off: width });
  }
  for (const width of [16, 32, 64] as const) {
    t.set(`le${width}`, { form: 'endian', code: op.BPF_ALU | op.BPF_END | op.BPF_TO_LE, width });
    t.set(`be${width}`, { form: 'endian', code: op.BPF_ALU | op.BPF_END | op.BPF_TO_BE, width });
    t.set(`bswap${width}`, { form: 'endian', code: op.BPF_ALU64 | op.BPF_END, width });
    t.set(`swap${width}`, { form: 'endian', code: op.BPF_ALU64 | op.BPF_END, width });
  }
  for (const [name, o] of JMP_MNEMONICS) {
    t.set(name, { form: 'jcc', code: op.BPF_JMP | o });
    t.set(`${name}32`, { form: 'jcc', code: op.BPF_JMP32 | o });
  }
  t.set('ja', { form: 'ja' });
  t.set('ja32', { form: 'ja32' });
  t.set('exit', { form: 'exit' });
  t.set('call', { form: 'call' });
  t.set('lddw', { form: 'lddw' });
  for (const size of [1, 2, 4, 8] as const) {
    const s = SIZE_SUFFIX[size];
    const sz = op.sizeField(size);
    t.set(`ldx${s}`, { form: 'ldx', code: op.BPF_LDX | op.BPF_MEM | sz });
    if (size !== 8) t.set(`ldxs${s}`, { form: 'ldx', code: op.BPF_LDX | op.BPF_MEMSX | sz });
    t.set(`st${s}`, { form: 'st', code: op.BPF_ST | op.BPF_MEM | sz });
    t.set(`stx${s}`, { form: 'stx', code: op.BPF_STX | op.BPF_MEM | sz });
  }
  return t;
}

/** Every mnemonic except `lock`, with its encoding. */
export const CONFORMANCE_MNEMONICS: ReadonlyMap<string, ConformanceForm> = buildTable();
