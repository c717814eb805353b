/**
 * Disassembler to the bpf_conformance / uBPF assembly syntax: the inverse of
 * `assembleConformance`, byte for byte. Jumps and local calls are written as signed slot
 * distances (`+3`, `-1`), never labels; `lddw` is one line.
 */
import { EbpfError } from '../errors.js';
import type { Instruction } from './instruction.js';
import { lddwValue } from './instruction.js';
import { SIZE_SUFFIX } from './conformance-syntax.js';

const reg = (r: number): string => `%r${r}`;

/** Small and negative numbers in decimal, others in hex (the field's bit pattern reads better). */
const imm = (n: number): string => (n < 10 ? String(n) : `0x${n.toString(16)}`);

const distance = (n: number): string => (n < 0 ? String(n) : `+${n}`);

const mem = (r: number, off: number): string => (off === 0 ? `[${reg(r)}]` : `[${reg(r)}${distance(off)}]`);

/**
 * One instruction in conformance syntax. Throws `EbpfError` for instructions the syntax
 * has no form for: legacy packet loads (`ld_abs`, `ld_ind`), `lddw` with a pseudo source
 * (map fd, map value, BTF id, function), kfunc calls into a module BTF (`off` ≠ 0),
 * `may_goto`, `addr_space_cast`, load-acquire and store-release.
 *
 * @example
 * ```ts
 * formatConformanceInstruction(decodeProgram(bytes)[0]!); // 'mov32 %r0, 1'
 * ```
 */
export function formatConformanceInstruction(insn: Instruction): string {
  const unsupported = (what: string): never => {
    throw new EbpfError(`${what} has no form in the conformance assembly syntax`);
  };
  switch (insn.kind) {
    case 'alu': {
      const suffix = insn.alu64 ? '' : '32';
      if (insn.op === 'neg') return `neg${suffix} ${reg(insn.dst)}`;
      if (insn.op === 'movsx') return `movsx${insn.off}${insn.alu64 ? '64' : '32'} ${reg(insn.dst)}, ${reg(insn.src)}`;
      return `${insn.op}${suffix} ${reg(insn.dst)}, ${insn.useReg ? reg(insn.src) : imm(insn.imm)}`;
    }
    case 'endian':
      return `${insn.op}${insn.width} ${reg(insn.dst)}`;
    case 'jump':
      return `${insn.op}${insn.jmp32 ? '32' : ''} ${reg(insn.dst)}, ${insn.useReg ? reg(insn.src) : imm(insn.imm)}, ${distance(insn.off)}`;
    case 'ja':
      return insn.long ? `ja32 ${distance(insn.imm)}` : `ja ${distance(insn.off)}`;
    case 'call':
      if (insn.target === 'helper') return `call ${imm(insn.imm)}`;
      if (insn.target === 'local') return `call local ${distance(insn.imm)}`;
      if (insn.off !== 0) return unsupported(`kfunc call into module BTF ${insn.off}`);
      return `call runtime ${imm(insn.imm)}`;
    case 'callx':
      return `call ${reg(insn.dst)}`;
    case 'exit':
      return 'exit';
    case 'lddw':
      if (insn.src !== 0) return unsupported(`lddw with pseudo source ${insn.src}`);
      return `lddw ${reg(insn.dst)}, 0x${lddwValue(insn).toString(16)}`;
    case 'ldx':
      return `ldx${insn.signed ? 's' : ''}${SIZE_SUFFIX[insn.size]} ${reg(insn.dst)}, ${mem(insn.src, insn.off)}`;
    case 'st':
      return `st${SIZE_SUFFIX[insn.size]} ${mem(insn.dst, insn.off)}, ${imm(insn.imm)}`;
    case 'stx':
      return `stx${SIZE_SUFFIX[insn.size]} ${mem(insn.dst, insn.off)}, ${reg(insn.src)}`;
    case 'atomic': {
      if (insn.op === 'load_acq' || insn.op === 'store_rel') return unsupported(insn.op);
      const fetch = insn.fetch && insn.op !== 'xchg' && insn.op !== 'cmpxchg' ? 'fetch ' : '';
      const width = insn.size === 4 ? '32' : '';
      return `lock ${fetch}${insn.op}${width} ${mem(insn.dst, insn.off)}, ${reg(insn.src)}`;
    }
    case 'ld_abs':
    case 'ld_ind':
    case 'may_goto':
    case 'addr_space_cast':
      return unsupported(insn.kind);
  }
}

/**
 * A program in conformance syntax, one line per instruction, each ending in a newline.
 * `assembleConformance` of the result gives back the same bytes. Throws `EbpfError`
 * (naming the instruction index) for an instruction the syntax cannot express.
 *
 * @example
 * ```ts
 * disassembleConformance(assembleConformance('mov %r0, 1\nexit')); // 'mov %r0, 1\nexit\n'
 * ```
 */
export function disassembleConformance(program: readonly Instruction[]): string {
  let out = '';
  program.forEach((insn, i) => {
    try {
      out += formatConformanceInstruction(insn) + '\n';
    } catch (err) {
      throw EbpfError.wrap(`instruction ${i}`, err);
    }
  });
  return out;
}
