/**
 * Instructions → text, in the syntax LLVM's BPF backend prints (`r1 += 0x5`,
 * `if w1 s> w2 goto +0x3`, `*(u32 *)(r10 - 0x4) = r1`). The default output is
 * identical to `llvm-objdump-19 -d`, character for character, including where LLVM 19
 * prints `<unknown>` or drops a field; `lossless` switches those few cases to forms that
 * `assemble` (asm.ts) turns back into the same bytes.
 */
import type {
  AluOp, AtomicInstruction, Instruction, JmpOp, LddwInstruction,
} from './instruction.js';
import { slotCount } from './instruction.js';
import { encodeProgram } from './encode.js';

/** How instructions are printed. */
export interface FormatOptions {
  /**
   * Immediates and offsets in hexadecimal (`0x1f`, `-0x8`) as llvm-objdump prints them,
   * or in decimal as `llvm-mc --disassemble` prints them without `--print-imm-hex`.
   * Default true.
   */
  hex?: boolean;
  /**
   * Name the register of 32-bit (and 8/16-bit) loads, stores and atomics `wN`, as LLVM does
   * with its `alu32` feature (`-mcpu=v3` and up, `--mattr=+alu32`). Default false, which is
   * what llvm-objdump prints unless told a CPU.
   */
  alu32?: boolean;
  /**
   * Print every instruction so that `assemble` reproduces its bytes: local calls as
   * `call pc+N`, kfunc calls as `call kfunc N`, `lddw` pseudo forms with their second
   * immediate, `ld_ind` with its offset, 32-bit atomics in their `alu32` form, and
   * load-acquire/store-release (unknown to LLVM 19) as LLVM 20 prints them. Default false:
   * exactly llvm-objdump-19's text.
   */
  lossless?: boolean;
}

const ALU_ASSIGN: Record<Exclude<AluOp, 'neg' | 'movsx'>, string> = {
  add: '+=', sub: '-=', mul: '*=', div: '/=', sdiv: 's/=', or: '|=', and: '&=',
  lsh: '<<=', rsh: '>>=', mod: '%=', smod: 's%=', xor: '^=', mov: '=', arsh: 's>>=',
};

const JMP_COND: Record<JmpOp, string> = {
  jeq: '==', jgt: '>', jge: '>=', jset: '&', jne: '!=', jsgt: 's>', jsge: 's>=',
  jlt: '<', jle: '<=', jslt: 's<', jsle: 's<=',
};

const ATOMIC_ASSIGN: Record<string, string> = { add: '+=', or: '|=', and: '&=', xor: '^=' };

/** Text LLVM prints for a slot it cannot decode. */
export const UNKNOWN_INSTRUCTION = '<unknown>';

/** Number printer of LLVM's MCInstPrinter::formatImm (signed; hex as `-0x…` when negative). */
function num(value: number | bigint, hex: boolean): string {
  if (!hex) return value.toString();
  return value < 0 ? `-0x${(-BigInt(value)).toString(16)}` : `0x${value.toString(16)}`;
}

/** Branch offset as BPFInstPrinter::printBrTargetOperand prints it: `+0x3`, `-0x10`. */
function branch(value: number, hex: boolean): string {
  return (value >= 0 ? '+' : '') + num(value, hex);
}

/** Memory operand `r10 - 0x8` (BPFInstPrinter::printMemOperand). */
function mem(base: number, off: number, hex: boolean): string {
  return off >= 0 ? `r${base} + ${num(off, hex)}` : `r${base} - ${num(-off, hex)}`;
}

/** The 64-bit immediate of `lddw` as a signed value, as LLVM prints it. */
function imm64(insn: LddwInstruction): bigint {
  return BigInt.asIntN(64, (BigInt(insn.imm2 >>> 0) << 32n) | BigInt(insn.imm >>> 0));
}

function formatAtomic(insn: AtomicInstruction, hex: boolean, alu32: boolean, lossless: boolean): string | undefined {
  const bits = insn.size * 8;
  const m = mem(insn.dst, insn.off, hex);
  if (insn.op === 'load_acq' || insn.op === 'store_rel') {
    if (!lossless) {
      // LLVM 19 knows neither (LLVM 20 added them, with the syntax below). Its XADD encodings
      // check only bits 4-7 of imm, so a 32/64-bit load-acquire (0x100) prints as an atomic add.
      if (insn.op === 'store_rel' || insn.size < 4) return undefined;
      const r = alu32 && insn.size === 4 ? 'w' : 'r';
      return `lock *(u${bits} *)(${m}) += ${r}${insn.src}`;
    }
    const r = alu32 && insn.size < 8 ? 'w' : 'r';
    return insn.op === 'load_acq'
      ? `${r}${insn.dst} = load_acquire((u${bits} *)(${mem(insn.src, insn.off, hex)}))`
      : `store_release((u${bits} *)(${m}), ${r}${insn.src})`;
  }
  let w = insn.size === 4;
  if (w && !alu32) {
    // Without alu32, LLVM 19 decodes 32-bit atomics only through XADDW, whose encoding does
    // not check the fetch bit: `atomic_fetch_add` prints as `lock … +=`, the rest as unknown.
    if (!lossless) {
      return insn.op === 'add' ? `lock *(u32 *)(${m}) += r${insn.src}` : undefined;
    }
    w = insn.op !== 'add' || insn.fetch;
  }
  const r = w ? 'w' : 'r';
  if (insn.op === 'xchg') {
    return w ? `w${insn.src} = xchg32_32(${m}, w${insn.src})` : `r${insn.src} = xchg_64(${m}, r${insn.src})`;
  }
  if (insn.op === 'cmpxchg') {
    return w ? `w0 = cmpxchg32_32(${m}, w0, w${insn.src})` : `r0 = cmpxchg_64(${m}, r0, r${insn.src})`;
  }
  if (insn.fetch) {
    return `${r}${insn.src} = atomic_fetch_${insn.op}((u${bits} *)(${m}), ${r}${insn.src})`;
  }
  return `lock *(u${bits} *)(${m}) ${ATOMIC_ASSIGN[insn.op]} ${r}${insn.src}`;
}

/**
 * One instruction as text, without address or bytes: `r2 = *(u32 *)(r1 + 0x4)`.
 * Branch offsets are printed relative (`goto +0x25`); `disassemble` adds targets.
 *
 * @example
 * formatInstruction(decodeProgram(bytes)[0]!)            // 'r0 = 0x2'
 * formatInstruction(insn, { hex: false })                 // 'r0 = 2'
 */
export function formatInstruction(insn: Instruction, options: FormatOptions = {}): string {
  return formatOrUnknown(insn, options) ?? UNKNOWN_INSTRUCTION;
}

/** Like `formatInstruction`, but `undefined` where LLVM 19 prints `<unknown>`. */
export function formatOrUnknown(insn: Instruction, options: FormatOptions = {}): string | undefined {
  const hex = options.hex ?? true;
  const alu32 = options.alu32 ?? false;
  const lossless = options.lossless ?? false;
  const n = (v: number | bigint): string => num(v, hex);
  switch (insn.kind) {
    case 'alu': {
      const r = insn.alu64 ? 'r' : 'w';
      const d = `${r}${insn.dst}`;
      if (insn.op === 'neg') return `${d} = -${d}`;
      if (insn.op === 'movsx') return `${d} = (s${insn.off})${r}${insn.src}`;
      const operand = insn.useReg ? `${r}${insn.src}` : n(insn.imm);
      return `${d} ${ALU_ASSIGN[insn.op]} ${operand}`;
    }
    case 'endian':
      return `r${insn.dst} = ${insn.op}${insn.width} r${insn.dst}`;
    case 'addr_space_cast':
      return `r${insn.dst} = addr_space_cast(r${insn.src}, ${n(insn.imm >>> 16)}, ${n(insn.imm & 0xffff)})`;
    case 'jump': {
      const r = insn.jmp32 ? 'w' : 'r';
      const operand = insn.useReg ? `${r}${insn.src}` : n(insn.imm);
      return `if ${r}${insn.dst} ${JMP_COND[insn.op]} ${operand} goto ${branch(insn.off, hex)}`;
    }
    case 'ja':
      return insn.long ? `gotol ${branch(insn.imm, hex)}` : `goto ${branch(insn.off, hex)}`;
    case 'may_goto':
      return `may_goto ${branch(insn.off, hex)}`;
    case 'call':
      if (lossless && insn.target === 'local') return `call pc${branch(insn.imm, hex)}`;
      if (lossless && insn.target === 'kfunc') {
        return insn.off === 0 ? `call kfunc ${n(insn.imm)}` : `call kfunc ${n(insn.imm)}, ${n(insn.off)}`;
      }
      return `call ${n(insn.imm)}`;
    case 'callx':
      return `callx r${insn.dst}`;
    case 'exit':
      return 'exit';
    case 'lddw':
      if (insn.src === 0) return `r${insn.dst} = ${n(imm64(insn))} ll`;
      // LLVM's decoder folds the second immediate into the pseudo operand and prints only
      // its low 32 bits, so the second slot's value is lost.
      if (lossless && insn.imm2 !== 0) {
        return `ld_pseudo\tr${insn.dst}, ${n(insn.src)}, ${n(insn.imm >>> 0)}, ${n(insn.imm2 >>> 0)}`;
      }
      return `ld_pseudo\tr${insn.dst}, ${n(insn.src)}, ${n(insn.imm >>> 0)}`;
    case 'ld_abs':
      return `r0 = *(u${insn.size * 8} *)skb[${n(insn.imm)}]`;
    case 'ld_ind': {
      // LLVM prints only the register; the kernel adds the immediate to it.
      const extra = lossless && insn.imm !== 0 ? (insn.imm > 0 ? ` + ${n(insn.imm)}` : ` - ${n(-insn.imm)}`) : '';
      return `r0 = *(u${insn.size * 8} *)skb[r${insn.src}${extra}]`;
    }
    case 'ldx': {
      const r = alu32 && insn.size < 8 && !insn.signed ? 'w' : 'r';
      return `${r}${insn.dst} = *(${insn.signed ? 's' : 'u'}${insn.size * 8} *)(${mem(insn.src, insn.off, hex)})`;
    }
    case 'st':
      return `*(u${insn.size * 8} *)(${mem(insn.dst, insn.off, hex)}) = ${n(insn.imm)}`;
    case 'stx': {
      const r = alu32 && insn.size < 8 ? 'w' : 'r';
      return `*(u${insn.size * 8} *)(${mem(insn.dst, insn.off, hex)}) = ${r}${insn.src}`;
    }
    case 'atomic':
      return formatAtomic(insn, hex, alu32, lossless);
  }
}

/** Options of `disassemble`: the format, plus the columns llvm-objdump adds. */
export interface DisassembleOptions extends FormatOptions {
  /** Print each instruction's bytes between the address and the text. Default false. */
  rawBytes?: boolean;
  /** Byte order of the raw bytes column. Default little-endian. */
  bigEndian?: boolean;
  /**
   * Annotate branch targets as llvm-objdump does, `goto +0x25 <name+0x158>`, naming the
   * program `name`. Default: no annotations.
   */
  name?: string;
  /** Byte offset of the program inside its section (slot column and targets). Default 0. */
  base?: number;
}

/** `<name+0x158>`: a byte address relative to a symbol, as llvm-objdump annotates targets. */
export function targetAnnotation(target: bigint, symbol: string, symbolAddress: bigint): string {
  const disp = BigInt.asUintN(64, target - symbolAddress);
  return disp === 0n ? ` <${symbol}>` : ` <${symbol}+0x${disp.toString(16)}>`;
}

/**
 * Byte address a branch lands on, as LLVM's BPF MCInstrAnalysis computes it, or undefined
 * for instructions that are not branches (calls are not).
 */
export function branchTarget(insn: Instruction, address: bigint): bigint | undefined {
  let delta: number;
  switch (insn.kind) {
    case 'jump':
    case 'may_goto':
      delta = insn.off;
      break;
    case 'ja':
      delta = insn.long ? insn.imm : insn.off;
      break;
    default:
      return undefined;
  }
  return BigInt.asUintN(64, address + 8n + BigInt(delta) * 8n);
}

/** Space-separated hex bytes, as llvm-objdump's dumpBytes prints them. */
export function hexBytes(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += (i === 0 ? '' : ' ') + HEX_BYTE[bytes[i]!];
  return out;
}

const HEX_BYTE = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/**
 * A program as llvm-objdump lists it: one line per instruction with the slot index right-
 * aligned in 8 columns, then a tab, optional raw bytes and a tab, then the instruction.
 *
 * @example
 * disassemble(program, { rawBytes: true, name: 'xdp_parse' })
 * // ['       0:\tb7 00 00 00 00 00 00 00\tr0 = 0x0', …,
 * //  '       5:\t2d 21 25 00 00 00 00 00\tif r1 > r2 goto +0x25 <xdp_parse+0x158>', …]
 */
export function disassemble(program: readonly Instruction[], options: DisassembleOptions = {}): string[] {
  const base = options.base ?? 0;
  const lines: string[] = [];
  let byte = base;
  for (const insn of program) {
    let line = `${String(Math.floor(byte / 8)).padStart(8)}:`;
    if (options.rawBytes) line += `\t${hexBytes(encodeProgram([insn], { bigEndian: options.bigEndian ?? false }))}`;
    const text = formatOrUnknown(insn, options);
    line += `\t${text ?? UNKNOWN_INSTRUCTION}`;
    if (text !== undefined && options.name !== undefined) {
      const target = branchTarget(insn, BigInt(byte));
      if (target !== undefined) line += targetAnnotation(target, options.name, BigInt(base));
    }
    lines.push(line);
    byte += slotCount(insn) * 8;
  }
  return lines;
}
