/**
 * Text → instructions, for the syntax `formatInstruction` prints (LLVM's BPF assembly as
 * llvm-objdump shows it) and the kernel verifier log's variant of it. Round trip:
 * `assemble(disassemble(p, { lossless: true }).join('\n'))` re-encodes to the bytes of `p`.
 *
 * Accepted besides the LLVM forms:
 * - decimal or hex immediates, `goto pc+3` / `call pc-5`, `call bpf_map_lookup_elem#1`,
 *   `(r10 -4)` memory operands, `atomic64_fetch_add(…)`/`atomic_xchg(…)` kernel atomics,
 *   `skb[r1 + 4]`, `call kfunc 0x1234`;
 * - labels (`loop:` alone or before an instruction; `goto loop`, `if r1 > r2 goto out`,
 *   `call func`), comments from `;`, `//` or `#` (a `#` right after a name is `name#id`);
 * - llvm-objdump and verifier-log decoration: leading `12:` slot indexes, raw instruction
 *   bytes, `(b7)` opcodes, trailing `<sym+0x10>` target annotations, `0000… <name>:` headers
 *   (as labels), and the `file format` / `Disassembly of section` lines.
 *
 * Errors are `AsmError` with the 1-based line and column of the offending token.
 */
import { AsmError, InstructionError } from '../errors.js';
import * as op from './opcodes.js';
import { decodeInstruction } from './decode.js';
import type { Instruction, RawInstruction } from './instruction.js';

interface Token {
  readonly kind: 'ident' | 'num' | 'op';
  readonly text: string;
  /** 1-based column. */
  readonly col: number;
  /** Numeric value of a `num` token. */
  readonly value: bigint;
}

/**
 * One token at a time (sticky): whitespace, a signed operator (`s>=`; an `s` that starts a
 * token and is followed by one of `<>/%` is never a name), a name, a number, an operator.
 */
const TOKEN = /([ \t\r]+)|(s(?:>>=|>=|<=|\/=|%=|>|<))|([A-Za-z_.$][A-Za-z0-9_.$]*)|(0[xX][0-9a-fA-F]+|[0-9]+)|(<<=|>>=|\+=|-=|\*=|\/=|%=|\|=|&=|\^=|==|!=|>=|<=|[=><&()[\]*+\-,:#])/y;
const IDENT_CHAR = /[A-Za-z0-9_.$]/;

/** Where a comment starts in `text`, or its length. `#` after a name char is `name#id`. */
function commentStart(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === ';') return i;
    if (c === '/' && text[i + 1] === '/') return i;
    if (c === '#' && (i === 0 || !/[A-Za-z0-9_]/.test(text[i - 1]!))) return i;
  }
  return text.length;
}

function tokenize(text: string, line: number): Token[] {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    const col = TOKEN.lastIndex + 1;
    const m = TOKEN.exec(text);
    if (m === null) throw new AsmError(`unexpected character '${text[col - 1]}'`, line, col);
    if (m[1] !== undefined) continue;
    if (m[4] !== undefined) {
      if (TOKEN.lastIndex < text.length && IDENT_CHAR.test(text[TOKEN.lastIndex]!)) {
        throw new AsmError(`invalid number '${/^[A-Za-z0-9_.$]+/.exec(text.slice(col - 1))![0]}'`, line, col);
      }
      tokens.push({ kind: 'num', text: m[4], col, value: BigInt(m[4]) });
    } else {
      tokens.push({ kind: m[3] !== undefined ? 'ident' : 'op', text: m[0], col, value: 0n });
    }
  }
  return tokens;
}

/** A register operand: number and whether it was written `wN`. */
interface Reg {
  readonly n: number;
  readonly w: boolean;
  readonly tok: Token;
}

/** A reference to a label, resolved once every line is read. */
interface LabelRef {
  readonly tok: Token;
  /** Field that receives the distance: `off` (16-bit) or `imm` (32-bit). */
  readonly field: 'off' | 'imm';
}

/** One parsed instruction before labels are resolved. */
interface Pending {
  slot: RawInstruction;
  imm2: number;
  readonly line: number;
  readonly col: number;
  readonly label?: LabelRef;
  /** The decoded instruction, once its fields are final. */
  insn?: Instruction;
}

const SIZES: Record<string, number> = { u8: 1, u16: 2, u32: 4, u64: 8, s8: 1, s16: 2, s32: 4 };
const ALU_OPS: Record<string, [number, number]> = {
  '+=': [op.BPF_ADD, 0], '-=': [op.BPF_SUB, 0], '*=': [op.BPF_MUL, 0], '/=': [op.BPF_DIV, 0],
  '|=': [op.BPF_OR, 0], '&=': [op.BPF_AND, 0], '<<=': [op.BPF_LSH, 0], '>>=': [op.BPF_RSH, 0],
  '%=': [op.BPF_MOD, 0], '^=': [op.BPF_XOR, 0], 's>>=': [op.BPF_ARSH, 0],
  's/=': [op.BPF_DIV, 1], 's%=': [op.BPF_MOD, 1],
};
const JMP_OPS: Record<string, number> = {
  '==': op.BPF_JEQ, '!=': op.BPF_JNE, '>': op.BPF_JGT, '>=': op.BPF_JGE, '<': op.BPF_JLT,
  '<=': op.BPF_JLE, 's>': op.BPF_JSGT, 's>=': op.BPF_JSGE, 's<': op.BPF_JSLT, 's<=': op.BPF_JSLE,
  '&': op.BPF_JSET,
};
const ATOMIC_ASSIGN: Record<string, number> = { '+=': op.BPF_ADD, '|=': op.BPF_OR, '&=': op.BPF_AND, '^=': op.BPF_XOR };
const ATOMIC_FETCH: Record<string, number> = { add: op.BPF_ADD, or: op.BPF_OR, and: op.BPF_AND, xor: op.BPF_XOR };
const ENDIAN = /^(be|le|bswap)(16|32|64)$/;

const INT16: [bigint, bigint] = [-0x8000n, 0x7fffn];
const INT32: [bigint, bigint] = [-0x80000000n, 0x7fffffffn];
/** 32-bit immediates may be written signed or as their unsigned bit pattern. */
const IMM32: [bigint, bigint] = [-0x80000000n, 0xffffffffn];
const IMM64: [bigint, bigint] = [-(1n << 63n), (1n << 64n) - 1n];

function rangeName(hi: bigint): string {
  if (hi === INT16[1]) return '16-bit';
  if (hi === IMM64[1]) return '64-bit';
  if (hi === INT32[1] || hi === IMM32[1]) return '32-bit';
  return `0..${hi}`;
}

/** Recursive-descent parser of one line's tokens. */
class LineParser {
  private pos = 0;
  constructor(private readonly tokens: Token[], readonly line: number, private readonly endCol: number) {}

  error(message: string, tok?: Token): never {
    throw new AsmError(message, this.line, tok?.col ?? this.endCol);
  }

  atEnd(): boolean {
    return this.pos >= this.tokens.length;
  }

  peek(k = 0): Token | undefined {
    return this.tokens[this.pos + k];
  }

  next(what: string): Token {
    const tok = this.tokens[this.pos];
    if (tok === undefined) this.error(`expected ${what} at end of line`);
    this.pos++;
    return tok;
  }

  /** Consumes `text` if it is next. */
  accept(text: string): Token | undefined {
    const tok = this.peek();
    if (tok !== undefined && tok.kind !== 'num' && tok.text === text) {
      this.pos++;
      return tok;
    }
    return undefined;
  }

  expect(text: string): Token {
    const tok = this.next(`'${text}'`);
    if (tok.kind === 'num' || tok.text !== text) this.error(`expected '${text}', found '${tok.text}'`, tok);
    return tok;
  }

  end(): void {
    const tok = this.peek();
    if (tok !== undefined) this.error(`unexpected '${tok.text}' after the instruction`, tok);
  }

  isReg(tok: Token | undefined): boolean {
    return tok !== undefined && tok.kind === 'ident' && /^[rw][0-9]+$/.test(tok.text);
  }

  reg(): Reg {
    const tok = this.next('a register');
    if (!this.isReg(tok)) this.error(`expected a register, found '${tok.text}'`, tok);
    const n = Number(tok.text.slice(1));
    if (n > op.BPF_REG_FP) this.error(`invalid register '${tok.text}' (r0-r10 and w0-w10 exist)`, tok);
    return { n, w: tok.text[0] === 'w', tok };
  }

  /**
   * An optionally signed number checked against [lo, hi]; returns it, its first token and
   * its text as written.
   */
  number(what: string, [lo, hi]: [bigint, bigint]): { value: bigint; tok: Token; text: string } {
    const first = this.next(what);
    let tok = first;
    let sign = '';
    if (tok.kind === 'op' && (tok.text === '-' || tok.text === '+')) {
      sign = tok.text;
      tok = this.next(what);
    }
    if (tok.kind !== 'num') this.error(`expected ${what}, found '${tok.text}'`, tok);
    const value = sign === '-' ? -tok.value : tok.value;
    const text = sign + tok.text;
    if (value < lo || value > hi) this.error(`${what} ${text} is out of ${rangeName(hi)} range`, first);
    return { value, tok: first, text };
  }

  /** `rN`, `rN + imm` or `rN - imm` with a 32-bit offset (`skb[r1 + 4]`). */
  memOperandWide(): { base: Reg; off: number } {
    const base = this.reg();
    const sign = this.peek();
    if (sign === undefined || sign.kind !== 'op' || (sign.text !== '+' && sign.text !== '-')) return { base, off: 0 };
    return { base, off: Number(this.number('offset', INT32).value) };
  }

  /** `(u32 *)` after its opening parenthesis was consumed: the access size and signedness. */
  sizeCast(): { size: number; signed: boolean; tok: Token } {
    const tok = this.next('a size such as u32');
    const size = SIZES[tok.text];
    if (tok.kind !== 'ident' || size === undefined) this.error(`expected u8, u16, u32, u64, s8, s16 or s32, found '${tok.text}'`, tok);
    this.expect('*');
    this.expect(')');
    return { size, signed: tok.text.startsWith('s'), tok };
  }

  /** `rN + off`, `rN - off`, `rN -4` (kernel) or `rN`. */
  memOperand(): { base: Reg; off: number } {
    const base = this.reg();
    if (base.w) this.error(`a memory base must be a 64-bit register, not '${base.tok.text}'`, base.tok);
    const sign = this.peek();
    if (sign === undefined || sign.kind !== 'op' || (sign.text !== '+' && sign.text !== '-')) return { base, off: 0 };
    return { base, off: Number(this.number('offset', INT16).value) };
  }

  /** `(u32 *)(r1 + 4)` with both parentheses. */
  typedMem(): { size: number; signed: boolean; base: Reg; off: number; sizeTok: Token } {
    this.expect('(');
    const { size, signed, tok } = this.sizeCast();
    this.expect('(');
    const m = this.memOperand();
    this.expect(')');
    return { size, signed, sizeTok: tok, ...m };
  }
}

/** Opcode bits of an access size in bytes. */
function sizeBits(size: number): number {
  return op.sizeField(size as 1 | 2 | 4 | 8);
}

/** Wraps a 32-bit pattern to the signed value `RawInstruction.imm` holds. */
function i32(value: bigint): number {
  return Number(BigInt.asIntN(32, value));
}

interface Parsed {
  slot: RawInstruction;
  imm2?: number;
  label?: LabelRef;
}

/** A jump target: `+3`, `-0x10`, `pc+3`, `5` or a label. */
function parseTarget(p: LineParser, range: [bigint, bigint], field: 'off' | 'imm'): { value: number; label?: LabelRef } {
  const tok = p.peek();
  if (tok?.kind === 'ident' && tok.text === 'pc' && (p.peek(1)?.text === '+' || p.peek(1)?.text === '-')) {
    p.next('pc');
    return { value: Number(p.number('jump offset', range).value) };
  }
  if (tok?.kind === 'ident') {
    p.next('a label');
    return { value: 0, label: { tok, field } };
  }
  return { value: Number(p.number('jump offset', range).value) };
}

function checkWidth(p: LineParser, a: Reg, b: Reg): void {
  if (a.w !== b.w) p.error(`'${b.tok.text}' and '${a.tok.text}' differ in width (use rN or wN for both)`, b.tok);
}

const raw = (code: number, dst: number, src: number, off: number, imm: number): RawInstruction => ({ code, dst, src, off, imm });

function parseIf(p: LineParser): Parsed {
  const dst = p.reg();
  const condTok = p.next('a comparison');
  const jop = JMP_OPS[condTok.text];
  if (condTok.kind !== 'op' || jop === undefined) p.error(`expected a comparison such as '>' or 's<=', found '${condTok.text}'`, condTok);
  const cls = dst.w ? op.BPF_JMP32 : op.BPF_JMP;
  let src = 0;
  let imm = 0;
  let x = op.BPF_K;
  if (p.isReg(p.peek())) {
    const s = p.reg();
    checkWidth(p, dst, s);
    src = s.n;
    x = op.BPF_X;
  } else {
    imm = i32(p.number('immediate', IMM32).value);
  }
  p.expect('goto');
  const target = parseTarget(p, INT16, 'off');
  p.end();
  return { slot: raw(cls | jop | x, dst.n, src, target.value, imm), ...(target.label && { label: target.label }) };
}

function parseCall(p: LineParser): Parsed {
  const code = op.BPF_JMP | op.BPF_CALL;
  const tok = p.peek();
  if (tok?.kind === 'ident' && tok.text === 'kfunc') {
    p.next('kfunc');
    const id = i32(p.number('kfunc BTF id', IMM32).value);
    const off = p.accept(',') ? Number(p.number('module BTF index', INT16).value) : 0;
    p.end();
    return { slot: raw(code, 0, op.BPF_PSEUDO_KFUNC_CALL, off, id) };
  }
  if (tok?.kind === 'ident' && tok.text === 'pc' && (p.peek(1)?.text === '+' || p.peek(1)?.text === '-')) {
    const target = parseTarget(p, INT32, 'imm');
    p.end();
    return { slot: raw(code, 0, op.BPF_PSEUDO_CALL, 0, target.value) };
  }
  if (tok?.kind === 'ident') {
    p.next('a helper or function');
    if (p.accept('#')) {
      // Verifier-log form `call bpf_map_lookup_elem#1`: the number is the helper id.
      const id = i32(p.number('helper id', IMM32).value);
      p.end();
      return { slot: raw(code, 0, 0, 0, id) };
    }
    p.end();
    return { slot: raw(code, 0, op.BPF_PSEUDO_CALL, 0, 0), label: { tok, field: 'imm' } };
  }
  const id = i32(p.number('helper id', IMM32).value);
  p.end();
  return { slot: raw(code, 0, 0, 0, id) };
}

/** `*(u32 *)(r1 + 4) = r2` or `= imm` after the leading `*`. */
function parseStore(p: LineParser): Parsed {
  const m = p.typedMem();
  if (m.signed) p.error(`a store takes an unsigned size, not '${m.sizeTok.text}'`, m.sizeTok);
  p.expect('=');
  if (p.isReg(p.peek())) {
    const s = p.reg();
    if (s.w && m.size === 8) p.error(`a 64-bit store needs a 64-bit register, not '${s.tok.text}'`, s.tok);
    p.end();
    return { slot: raw(op.BPF_STX | op.BPF_MEM | sizeBits(m.size), m.base.n, s.n, m.off, 0) };
  }
  const imm = i32(p.number('immediate', IMM32).value);
  p.end();
  return { slot: raw(op.BPF_ST | op.BPF_MEM | sizeBits(m.size), m.base.n, 0, m.off, imm) };
}

function atomicSlot(p: LineParser, size: number, sizeTok: Token, base: Reg, off: number, src: Reg, imm: number): RawInstruction {
  if (src.w && size === 8) p.error(`a 64-bit atomic needs a 64-bit register, not '${src.tok.text}'`, src.tok);
  if (size !== 4 && size !== 8 && imm !== op.BPF_LOAD_ACQ && imm !== op.BPF_STORE_REL) {
    p.error(`atomic operations need a 32- or 64-bit size, not '${sizeTok.text}'`, sizeTok);
  }
  return raw(op.BPF_STX | op.BPF_ATOMIC | sizeBits(size), base.n, src.n, off, imm);
}

/** `lock *(u64 *)(r1 + 0) += r2`. */
function parseLock(p: LineParser): Parsed {
  p.expect('*');
  const m = p.typedMem();
  const aopTok = p.next('an atomic operator');
  const aop = ATOMIC_ASSIGN[aopTok.text];
  if (aopTok.kind !== 'op' || aop === undefined) p.error(`expected +=, |=, &= or ^=, found '${aopTok.text}'`, aopTok);
  const src = p.reg();
  p.end();
  return { slot: atomicSlot(p, m.size, m.sizeTok, m.base, m.off, src, aop) };
}

/**
 * Atomic functions on the right of `rD =`: `atomic_fetch_add((u64 *)(r1 + 0), r2)`,
 * `xchg_64(r1 + 0, r2)`, `cmpxchg32_32(r1 + 0, w0, w2)`, kernel `atomic64_xchg((u64 *)…, r2)`.
 */
function parseAtomicCall(p: LineParser, dst: Reg, fn: Token): Parsed | undefined {
  const name = fn.text;
  const fetch = /^atomic(64)?_fetch_(add|or|and|xor)$/.exec(name);
  const xchg = /^(xchg_64|xchg32_32|atomic(64)?_xchg)$/.test(name);
  const cmpxchg = /^(cmpxchg_64|cmpxchg32_32|atomic(64)?_cmpxchg)$/.test(name);
  if (!fetch && !xchg && !cmpxchg) return undefined;
  p.expect('(');
  let size: number;
  let sizeTok: Token;
  let base: Reg;
  let off: number;
  if (name.startsWith('atomic')) {
    const m = p.typedMem();
    ({ size, sizeTok, base, off } = m);
  } else {
    // LLVM's xchg_64/cmpxchg32_32 name the width; the operand is a bare `r1 + 0`.
    size = name.endsWith('_64') ? 8 : 4;
    sizeTok = fn;
    ({ base, off } = p.memOperand());
  }
  p.expect(',');
  if (cmpxchg) {
    const r0 = p.reg();
    if (r0.n !== 0) p.error(`cmpxchg compares with r0, not '${r0.tok.text}'`, r0.tok);
    if (dst.n !== 0) p.error(`cmpxchg returns in r0, not '${dst.tok.text}'`, dst.tok);
    p.expect(',');
  }
  const src = p.reg();
  p.expect(')');
  p.end();
  if (!cmpxchg && src.n !== dst.n) p.error(`the result register '${dst.tok.text}' must be the operand register '${src.tok.text}'`, dst.tok);
  checkWidth(p, dst, src);
  const imm = fetch ? ATOMIC_FETCH[fetch[2]!]! | op.BPF_FETCH : xchg ? op.BPF_XCHG : op.BPF_CMPXCHG;
  return { slot: atomicSlot(p, size, sizeTok, base, off, src, imm) };
}

/** `rD = *(u32 *)(r1 + 4)`, `rD = *(s8 *)(…)`, `r0 = *(u8 *)skb[…]`, after `=` and `*`. */
function parseLoad(p: LineParser, dst: Reg): Parsed {
  p.expect('(');
  const { size, signed, tok: sizeTok } = p.sizeCast();
  const skb = p.peek();
  if (skb?.kind === 'ident' && skb.text === 'skb') {
    p.next('skb');
    if (signed || size === 8) p.error(`legacy packet loads take u8, u16 or u32, not '${sizeTok.text}'`, sizeTok);
    if (dst.n !== 0 || dst.w) p.error(`legacy packet loads write r0, not '${dst.tok.text}'`, dst.tok);
    p.expect('[');
    let slot: RawInstruction;
    if (p.isReg(p.peek())) {
      const { base, off } = p.memOperandWide();
      slot = raw(op.BPF_LD | op.BPF_IND | sizeBits(size), 0, base.n, 0, off);
    } else {
      slot = raw(op.BPF_LD | op.BPF_ABS | sizeBits(size), 0, 0, 0, i32(p.number('packet offset', IMM32).value));
    }
    p.expect(']');
    p.end();
    return { slot };
  }
  p.expect('(');
  const { base, off } = p.memOperand();
  p.expect(')');
  p.end();
  if (dst.w && size === 8) p.error(`a 64-bit load needs a 64-bit register, not '${dst.tok.text}'`, dst.tok);
  return { slot: raw(op.BPF_LDX | (signed ? op.BPF_MEMSX : op.BPF_MEM) | sizeBits(size), dst.n, base.n, off, 0) };
}

/** Everything that starts with a register: ALU, moves, loads, byte swaps, atomics. */
function parseRegStatement(p: LineParser): Parsed {
  const dst = p.reg();
  const assign = p.next("an operator such as '=' or '+='");
  const cls = dst.w ? op.BPF_ALU : op.BPF_ALU64;
  const alu = ALU_OPS[assign.text];
  if (assign.kind === 'op' && alu !== undefined) {
    const [aop, signed] = alu;
    if (p.isReg(p.peek())) {
      const s = p.reg();
      checkWidth(p, dst, s);
      p.end();
      return { slot: raw(cls | aop | op.BPF_X, dst.n, s.n, signed, 0) };
    }
    const imm = i32(p.number('immediate', IMM32).value);
    p.end();
    return { slot: raw(cls | aop | op.BPF_K, dst.n, 0, signed, imm) };
  }
  if (assign.kind !== 'op' || assign.text !== '=') {
    p.error(`expected an assignment such as '=' or '+=' after '${dst.tok.text}', found '${assign.text}'`, assign);
  }
  const tok = p.peek();
  if (tok === undefined) p.error('expected a value after \'=\'');
  // rD = -rD
  if (tok.text === '-' && p.isReg(p.peek(1))) {
    p.next('-');
    const s = p.reg();
    if (s.n !== dst.n || s.w !== dst.w) p.error(`negation is in place: write '${dst.tok.text} = -${dst.tok.text}'`, s.tok);
    p.end();
    return { slot: raw(cls | op.BPF_NEG | op.BPF_K, dst.n, 0, 0, 0) };
  }
  // rD = (s8)rS
  if (tok.text === '(' && tok.kind === 'op') {
    p.next('(');
    const cast = p.next('a cast such as s8');
    const width = /^s(8|16|32)$/.exec(cast.text);
    if (cast.kind !== 'ident' || !width) p.error(`expected s8, s16 or s32, found '${cast.text}'`, cast);
    p.expect(')');
    const s = p.reg();
    checkWidth(p, dst, s);
    p.end();
    return { slot: raw(cls | op.BPF_MOV | op.BPF_X, dst.n, s.n, Number(width[1]), 0) };
  }
  if (tok.text === '*' && tok.kind === 'op') {
    p.next('*');
    return parseLoad(p, dst);
  }
  if (p.isReg(tok)) {
    const s = p.reg();
    checkWidth(p, dst, s);
    p.end();
    return { slot: raw(cls | op.BPF_MOV | op.BPF_X, dst.n, s.n, 0, 0) };
  }
  if (tok.kind === 'ident') {
    const fn = p.next('an operation');
    const endian = ENDIAN.exec(fn.text);
    if (endian) {
      const s = p.reg();
      if (s.n !== dst.n) p.error(`byte swaps are in place: write '${dst.tok.text} = ${fn.text} ${dst.tok.text}'`, s.tok);
      p.end();
      const width = Number(endian[2]);
      if (endian[1] === 'bswap') return { slot: raw(op.BPF_ALU64 | op.BPF_END | op.BPF_TO_LE, dst.n, 0, 0, width) };
      return { slot: raw(op.BPF_ALU | op.BPF_END | (endian[1] === 'be' ? op.BPF_TO_BE : op.BPF_TO_LE), dst.n, 0, 0, width) };
    }
    if (fn.text === 'addr_space_cast') {
      p.expect('(');
      const s = p.reg();
      p.expect(',');
      const dstAs = p.number('address space', [0n, 0xffffn]).value;
      p.expect(',');
      const srcAs = p.number('address space', [0n, 0xffffn]).value;
      p.expect(')');
      p.end();
      return { slot: raw(op.BPF_ALU64 | op.BPF_MOV | op.BPF_X, dst.n, s.n, op.BPF_ADDR_SPACE_CAST, i32((dstAs << 16n) | srcAs)) };
    }
    if (fn.text === 'load_acquire') {
      p.expect('(');
      const m = p.typedMem();
      p.expect(')');
      p.end();
      if (dst.w && m.size === 8) p.error(`a 64-bit load needs a 64-bit register, not '${dst.tok.text}'`, dst.tok);
      return { slot: raw(op.BPF_STX | op.BPF_ATOMIC | sizeBits(m.size), dst.n, m.base.n, m.off, op.BPF_LOAD_ACQ) };
    }
    const atomic = parseAtomicCall(p, dst, fn);
    if (atomic) return atomic;
    p.error(`unknown operation '${fn.text}'`, fn);
  }
  // rD = imm, or rD = imm64 ll
  const { value, tok: numTok, text: literal } = p.number('immediate', IMM64);
  if (p.accept('ll')) {
    p.end();
    if (dst.w) p.error(`a 64-bit immediate load needs a 64-bit register, not '${dst.tok.text}'`, dst.tok);
    const bits = BigInt.asUintN(64, value);
    return { slot: raw(op.BPF_LD | op.BPF_IMM | op.BPF_DW, dst.n, 0, 0, i32(bits)), imm2: i32(bits >> 32n) };
  }
  if (value < IMM32[0] || value > IMM32[1]) {
    p.error(`immediate ${literal} is out of 32-bit range (add 'll' for a 64-bit load)`, numTok);
  }
  p.end();
  return { slot: raw(cls | op.BPF_MOV | op.BPF_K, dst.n, 0, 0, i32(value)) };
}

/** One statement, dispatched on its first token. */
function parseStatement(p: LineParser): Parsed {
  const first = p.peek()!;
  if (p.isReg(first)) return parseRegStatement(p);
  if (first.kind === 'op' && first.text === '*') {
    p.next('*');
    return parseStore(p);
  }
  if (first.kind === 'op' && first.text === '<') {
    p.error("cannot assemble '<unknown>': the disassembler did not recognise these bytes", first);
  }
  if (first.kind !== 'ident') p.error(`expected an instruction, found '${first.text}'`, first);
  p.next('an instruction');
  switch (first.text) {
    case 'if':
      return parseIf(p);
    case 'goto':
    case 'gotol':
    case 'may_goto': {
      const long = first.text === 'gotol';
      const target = parseTarget(p, long ? INT32 : INT16, long ? 'imm' : 'off');
      p.end();
      const label = target.label && { label: target.label };
      if (long) return { slot: raw(op.BPF_JMP32 | op.BPF_JA, 0, 0, 0, target.value), ...label };
      if (first.text === 'may_goto') return { slot: raw(op.BPF_JMP | op.BPF_JCOND, 0, op.BPF_MAY_GOTO, target.value, 0), ...label };
      return { slot: raw(op.BPF_JMP | op.BPF_JA, 0, 0, target.value, 0), ...label };
    }
    case 'call':
      return parseCall(p);
    case 'callx': {
      const r = p.reg();
      p.end();
      return { slot: raw(op.BPF_JMP | op.BPF_CALL | op.BPF_X, r.n, 0, 0, 0) };
    }
    case 'exit':
      p.end();
      return { slot: raw(op.BPF_JMP | op.BPF_EXIT, 0, 0, 0, 0) };
    case 'lock':
      return parseLock(p);
    case 'ld_pseudo': {
      const dst = p.reg();
      p.expect(',');
      const src = Number(p.number('pseudo source', [0n, 15n]).value);
      p.expect(',');
      const imm = i32(p.number('immediate', IMM32).value);
      const imm2 = p.accept(',') ? i32(p.number('second immediate', IMM32).value) : 0;
      p.end();
      return { slot: raw(op.BPF_LD | op.BPF_IMM | op.BPF_DW, dst.n, src, 0, imm), imm2 };
    }
    case 'store_release': {
      p.expect('(');
      const m = p.typedMem();
      p.expect(',');
      const src = p.reg();
      p.expect(')');
      p.end();
      if (src.w && m.size === 8) p.error(`a 64-bit store needs a 64-bit register, not '${src.tok.text}'`, src.tok);
      return { slot: raw(op.BPF_STX | op.BPF_ATOMIC | sizeBits(m.size), m.base.n, src.n, m.off, op.BPF_STORE_REL) };
    }
    default:
      return p.error(`unknown instruction '${first.text}'`, first);
  }
}

/** Blanks `[from, to)` of `text` so columns of what follows stay right. */
function blank(text: string, from: number, to: number): string {
  return text.slice(0, from) + ' '.repeat(to - from) + text.slice(to);
}

/**
 * Removes llvm-objdump / verifier-log decoration from a line: the `12:` index, raw bytes,
 * a `(b7)` opcode and a trailing `<sym+0x10>` annotation. Returns the line with those parts
 * blanked, and the symbol of a `0000… <name>:` header line.
 */
function undecorate(text: string): { text: string; header?: { name: string; col: number } } {
  const header = /^(\s*[0-9a-fA-F]+\s+<)([^<>]+)>:\s*$/.exec(text);
  if (header) return { text: '', header: { name: header[2]!, col: header[1]!.length + 1 } };
  if (/^\s*Disassembly of section .*:\s*$/.test(text) || /:\s+file format \S+\s*$/.test(text)) return { text: '' };
  const index = /^\s*\d+:/.exec(text);
  if (index) {
    text = blank(text, 0, index[0].length);
    const bytes = /^\s*(?:[0-9a-f]{2} ){7}[0-9a-f]{2}(?: (?:[0-9a-f]{2} ){7}[0-9a-f]{2})?(?=\s)/.exec(text.slice(index[0].length));
    if (bytes) text = blank(text, index[0].length, index[0].length + bytes[0].length);
  }
  const opcode = /^\s*\([0-9a-fA-F]{2}\)(?=\s)/.exec(text);
  if (opcode) text = blank(text, 0, opcode[0].length);
  const annotation = /(\S\s+)(<[^<>\s]+>)\s*$/.exec(text);
  if (annotation) text = blank(text, annotation.index + annotation[1]!.length, text.length);
  return { text };
}

/**
 * Assembles a program. Throws `AsmError` (1-based line and column) for unknown instructions,
 * bad registers (`r11`), immediates out of 32-bit range, offsets out of 16-bit range, unknown
 * or duplicate labels, and encodings the ISA rejects.
 *
 * @example
 * assemble(`
 *   r0 = 0
 * loop:
 *   r0 += 1
 *   if r0 < 10 goto loop   ; count to ten
 *   exit
 * `);
 */
export function assemble(text: string): Instruction[] {
  const pending: Pending[] = [];
  const labels = new Map<string, number>();
  let slot = 0;
  const define = (name: string, line: number, col: number): void => {
    if (labels.has(name)) throw new AsmError(`duplicate label '${name}'`, line, col);
    labels.set(name, slot);
  };
  text.split('\n').forEach((source, i) => {
    const line = i + 1;
    const { text: body, header } = undecorate(source.slice(0, commentStart(source)));
    if (header) {
      define(header.name, line, header.col);
      return;
    }
    const tokens = tokenize(body, line);
    let start = 0;
    // `name:` label definitions, possibly several, possibly followed by an instruction.
    while (tokens[start]?.kind === 'ident' && tokens[start + 1]?.text === ':' && tokens[start + 1]?.kind === 'op') {
      const tok = tokens[start]!;
      if (/^[rw][0-9]+$/.test(tok.text)) throw new AsmError(`'${tok.text}' is a register and cannot be a label`, line, tok.col);
      define(tok.text, line, tok.col);
      start += 2;
    }
    if (start >= tokens.length) return;
    const p = new LineParser(tokens.slice(start), line, body.trimEnd().length + 1);
    const col = tokens[start]!.col;
    const parsed = parseStatement(p);
    const entry: Pending = { slot: parsed.slot, imm2: parsed.imm2 ?? 0, line, col, ...(parsed.label && { label: parsed.label }) };
    const insn = check(entry); // reject what the ISA does not define now, on this line
    if (entry.label === undefined) entry.insn = insn;
    pending.push(entry);
    slot += parsed.slot.code === (op.BPF_LD | op.BPF_IMM | op.BPF_DW) ? 2 : 1;
  });

  let at = 0;
  return pending.map((entry) => {
    const here = at;
    at += entry.slot.code === (op.BPF_LD | op.BPF_IMM | op.BPF_DW) ? 2 : 1;
    if (entry.label !== undefined) {
      const { tok, field } = entry.label;
      const target = labels.get(tok.text);
      if (target === undefined) throw new AsmError(`unknown label '${tok.text}'`, entry.line, tok.col);
      const distance = target - (here + 1);
      const [lo, hi] = field === 'off' ? INT16 : INT32;
      if (distance < lo || distance > hi) {
        throw new AsmError(`label '${tok.text}' is ${distance} instructions away, out of ${field === 'off' ? '16' : '32'}-bit range`, entry.line, tok.col);
      }
      entry.slot = { ...entry.slot, [field]: distance };
    }
    return entry.insn ?? check(entry);
  });
}

/** Decodes the assembled slots, turning the decoder's objections into `AsmError`s. */
function check(entry: Pending): Instruction {
  try {
    return decodeInstruction([entry.slot, raw(0, 0, 0, 0, entry.imm2)], 0);
  } catch (err) {
    if (err instanceof InstructionError) {
      throw new AsmError(err.message.replace(/^insn 0: /, '').replace(/ \(at byte offset \d+\)$/, ''), entry.line, entry.col, { cause: err });
    }
    throw err;
  }
}
