/**
 * Assembler for the bpf_conformance / uBPF assembly syntax, the language of the
 * conformance suite's `.data` files:
 *
 * ```
 * mov32 %r0, 0          # comment
 * ldxw %r1, [%r1+4]
 * jne32 %r1, 0x10, fail
 * lock fetch add [%r10-8], %r1
 * exit
 * fail:
 * lddw %r0, 0x1122334455667788
 * exit
 * ```
 *
 * Behaviour follows bpf_conformance's assembler (lib/src/bpf_assembler.cc): labels are
 * `name:` and count 8-byte slots (`lddw` takes two); the first `exit` is also the label
 * `exit`; a jump target is a signed number (`+3`, `-1`) or a label; `call N` calls helper N,
 * `call %rN` is callx (register in `dst`), `call local label` a bpf-to-bpf call, `call
 * runtime N` a kfunc. A decimal immediate must fit its signed field, a hex one may also be
 * the field's unsigned bit pattern (`0xffffffff` is imm -1; `0x100000000` is an error).
 * Unlike the original, operands are split on commas (so `[%r1 + 4]` is fine), a label may
 * share a line with an instruction, and registers above r10 are errors.
 */
import { AsmError, InstructionError } from '../errors.js';
import * as op from './opcodes.js';
import { decodeInstruction } from './decode.js';
import type { Instruction, RawInstruction } from './instruction.js';
import { ATOMIC_MNEMONICS, CONFORMANCE_MNEMONICS, type ConformanceForm } from './conformance-syntax.js';

/** A piece of source text and its 1-based column. */
interface Token {
  readonly text: string;
  readonly column: number;
}

/** Which field of an instruction receives a label's distance. */
type TargetField = 'off' | 'imm';

interface Slot {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

interface Pending {
  readonly slots: Slot[];
  readonly line: number;
  readonly column: number;
  /** Slot index of the first slot. */
  readonly slot: number;
  target?: { readonly label: Token; readonly field: TargetField };
}

const LABEL = /^[A-Za-z_.$][\w.$]*$/;
const NUMBER = /^([+-]?)(0[xX][0-9a-fA-F]+|[0-9]+)$/;

/**
 * Assembles conformance-syntax text into instructions. Throws `AsmError` (1-based line and
 * column) for an unknown mnemonic, a wrong operand count, a bad register, an immediate or
 * offset out of range, a malformed memory operand, an unknown or duplicate label, or a jump
 * whose distance does not fit its field.
 *
 * @example
 * ```ts
 * const program = assembleConformance('mov32 %r0, 1\nexit\n');
 * program[0]!.kind; // 'alu'
 * ```
 */
export function assembleConformance(text: string): Instruction[] {
  const pending: Pending[] = [];
  const labels = new Map<string, number>();
  let slot = 0;
  let firstExit: number | undefined;

  text.split(/\r?\n/).forEach((source, i) => {
    const line = i + 1;
    const fail = (message: string, column: number): never => {
      throw new AsmError(message, line, column);
    };
    const hash = source.indexOf('#');
    let rest: Token = { text: hash >= 0 ? source.slice(0, hash) : source, column: 1 };

    const label = /^(\s*)([^\s:]+)\s*:/.exec(rest.text);
    if (label !== null) {
      const name = label[2]!;
      const column = 1 + label[1]!.length;
      if (!LABEL.test(name)) fail(`invalid label name '${name}'`, column);
      if (labels.has(name)) fail(`duplicate label '${name}'`, column);
      labels.set(name, slot);
      rest = { text: rest.text.slice(label[0].length), column: 1 + label[0].length };
    }

    const words = splitWords(rest);
    const first = words[0];
    if (first === undefined) return;
    const insn = assembleLine(first, rest, words, fail);
    const entry: Pending = { slots: insn.slots, line, column: first.column, slot };
    if (insn.target !== undefined) entry.target = insn.target;
    pending.push(entry);
    if (first.text === 'exit' && firstExit === undefined) firstExit = slot;
    slot += insn.slots.length;
  });

  // bpf_conformance: the first `exit` doubles as the label `exit` (`jeq %r1, 0xb, exit`).
  if (firstExit !== undefined && !labels.has('exit')) labels.set('exit', firstExit);

  return pending.map((p) => {
    if (p.target !== undefined) {
      const { label, field } = p.target;
      const at = labels.get(label.text);
      if (at === undefined) throw new AsmError(`unknown label '${label.text}'`, p.line, label.column);
      const distance = at - p.slot - 1;
      const bits = field === 'off' ? 16 : 32;
      if (distance < -(2 ** (bits - 1)) || distance >= 2 ** (bits - 1)) {
        throw new AsmError(`label '${label.text}' is ${distance} slots away, out of ${bits}-bit range`, p.line, label.column);
      }
      p.slots[0]![field] = distance;
    }
    try {
      return decodeInstruction(p.slots, 0);
    } catch (err) {
      // Only reachable if the tables above build something the ISA does not define.
      if (err instanceof InstructionError) throw new AsmError(err.message, p.line, p.column, { cause: err });
      throw err;
    }
  });
}

type Fail = (message: string, column: number) => never;

interface Assembled {
  slots: Slot[];
  target?: { label: Token; field: TargetField };
}

/** Whitespace-separated words of `t`, with their columns. */
function splitWords(t: Token): Token[] {
  const out: Token[] = [];
  for (const m of t.text.matchAll(/\S+/g)) out.push({ text: m[0], column: t.column + m.index! });
  return out;
}

/** The text after `word`, split on commas into trimmed operands. */
function operandsAfter(rest: Token, word: Token, fail: Fail): Token[] {
  const start = word.column - rest.column + word.text.length;
  const tail = rest.text.slice(start);
  if (tail.trim() === '') return [];
  const out: Token[] = [];
  let offset = start;
  for (const part of tail.split(',')) {
    const lead = part.length - part.trimStart().length;
    const text = part.trim();
    const column = rest.column + offset + lead;
    if (text === '') fail('empty operand', column);
    out.push({ text, column });
    offset += part.length + 1;
  }
  return out;
}

function assembleLine(first: Token, rest: Token, words: Token[], fail: Fail): Assembled {
  if (first.text === 'lock') return assembleLock(first, rest, words, fail);
  const form = CONFORMANCE_MNEMONICS.get(first.text);
  if (form === undefined) return fail(`unknown mnemonic '${first.text}'`, first.column);
  if (form.form === 'call') return assembleCall(first, words, fail);
  const ops = operandsAfter(rest, first, fail);
  const want = OPERAND_COUNT[form.form];
  if (ops.length !== want) {
    fail(`'${first.text}' takes ${want} operand${want === 1 ? '' : 's'}, got ${ops.length}`, first.column);
  }
  return encodeForm(form, ops, fail);
}

const OPERAND_COUNT: Readonly<Record<Exclude<ConformanceForm['form'], 'call'>, number>> = {
  alu: 2, movsx: 2, neg: 1, endian: 1, jcc: 3, ja: 1, ja32: 1, exit: 0, lddw: 2, ldx: 2, st: 2, stx: 2,
};

const slot = (code: number, dst = 0, src = 0, off = 0, imm = 0): Slot => ({ code, dst, src, off, imm });

function encodeForm(form: Exclude<ConformanceForm, { form: 'call' }>, ops: Token[], fail: Fail): Assembled {
  const o = (i: number): Token => ops[i]!;
  switch (form.form) {
    case 'alu': {
      const dst = register(o(0), fail);
      if (isRegister(o(1))) return { slots: [slot(form.code | op.BPF_X, dst, register(o(1), fail), form.off)] };
      return { slots: [slot(form.code | op.BPF_K, dst, 0, form.off, field(o(1), 32, 'immediate', fail))] };
    }
    case 'movsx':
      if (!isRegister(o(1))) fail(`sign-extending move needs a source register, got '${o(1).text}'`, o(1).column);
      return { slots: [slot(form.code, register(o(0), fail), register(o(1), fail), form.off)] };
    case 'neg':
      return { slots: [slot(form.code, register(o(0), fail))] };
    case 'endian':
      return { slots: [slot(form.code, register(o(0), fail), 0, 0, form.width)] };
    case 'jcc': {
      const dst = register(o(0), fail);
      const s = isRegister(o(1))
        ? slot(form.code | op.BPF_X, dst, register(o(1), fail))
        : slot(form.code | op.BPF_K, dst, 0, 0, field(o(1), 32, 'immediate', fail));
      return jumpTo(s, o(2), 'off', fail);
    }
    case 'ja':
      return jumpTo(slot(op.BPF_JMP | op.BPF_JA), o(0), 'off', fail);
    case 'ja32':
      return jumpTo(slot(op.BPF_JMP32 | op.BPF_JA), o(0), 'imm', fail);
    case 'exit':
      return { slots: [slot(op.BPF_JMP | op.BPF_EXIT)] };
    case 'lddw': {
      const dst = register(o(0), fail);
      const value = imm64(o(1), fail);
      return {
        slots: [
          slot(op.BPF_LD | op.BPF_IMM | op.BPF_DW, dst, 0, 0, Number(BigInt.asIntN(32, value))),
          slot(0, 0, 0, 0, Number(BigInt.asIntN(32, value >> 32n))),
        ],
      };
    }
    case 'ldx': {
      const dst = register(o(0), fail);
      const [src, off] = memory(o(1), fail);
      return { slots: [slot(form.code, dst, src, off)] };
    }
    case 'st': {
      const [dst, off] = memory(o(0), fail);
      return { slots: [slot(form.code, dst, 0, off, field(o(1), 32, 'immediate', fail))] };
    }
    case 'stx': {
      const [dst, off] = memory(o(0), fail);
      return { slots: [slot(form.code, dst, register(o(1), fail), off)] };
    }
  }
}

/**
 * `call N` / `call helper N` (helper id), `call %rN` / `call helper %rN` (callx, register in
 * `dst`), `call local label|±N` (src 1, distance in `imm`), `call runtime N` (kfunc, src 2).
 */
function assembleCall(first: Token, words: Token[], fail: Fail): Assembled {
  const args = words.slice(1);
  const mode = args.length === 2 ? args[0]! : undefined;
  const target = args.length === 2 ? args[1]! : args[0];
  if (target === undefined || args.length > 2) {
    return fail(`'call' takes a target or a mode and a target, got ${args.length} operands`, first.column);
  }
  const code = op.BPF_JMP | op.BPF_CALL;
  switch (mode?.text ?? 'helper') {
    case 'helper':
      if (isRegister(target)) return { slots: [slot(code | op.BPF_X, register(target, fail))] };
      return { slots: [slot(code, 0, 0, 0, field(target, 32, 'helper id', fail))] };
    case 'local':
      return jumpTo(slot(code, 0, op.BPF_PSEUDO_CALL), target, 'imm', fail);
    case 'runtime':
      return { slots: [slot(code, 0, op.BPF_PSEUDO_KFUNC_CALL, 0, field(target, 32, 'function id', fail))] };
    default:
      return fail(`invalid call mode '${mode!.text}' (expected helper, local or runtime)`, mode!.column);
  }
}

/** `lock [fetch] op[32] [%rD+off], %rS`; xchg and cmpxchg always fetch. */
function assembleLock(first: Token, rest: Token, words: Token[], fail: Fail): Assembled {
  let i = 1;
  const fetch = words[i]?.text === 'fetch';
  if (fetch) i++;
  const name = words[i];
  if (name === undefined) return fail(`'lock' needs an operation: lock [fetch] <op> [%rN+off], %rM`, first.column);
  const wide = !name.text.endsWith('32');
  const atomic = ATOMIC_MNEMONICS[wide ? name.text : name.text.slice(0, -2)];
  if (atomic === undefined) return fail(`unknown atomic operation '${name.text}'`, name.column);
  const ops = operandsAfter(rest, name, fail);
  if (ops.length !== 2) fail(`'lock ${name.text}' takes 2 operands, got ${ops.length}`, first.column);
  const [dst, off] = memory(ops[0]!, fail);
  const src = register(ops[1]!, fail);
  const imm = atomic.fetchOnly || !fetch ? atomic.imm : atomic.imm | op.BPF_FETCH;
  const code = op.BPF_STX | op.BPF_ATOMIC | (wide ? op.BPF_DW : op.BPF_W);
  return { slots: [slot(code, dst, src, off, imm)] };
}

function jumpTo(s: Slot, target: Token, fieldName: TargetField, fail: Fail): Assembled {
  const t = target.text;
  if (t.startsWith('+') || t.startsWith('-')) {
    s[fieldName] = field(target, fieldName === 'off' ? 16 : 32, 'jump offset', fail);
    return { slots: [s] };
  }
  if (NUMBER.test(t)) fail(`jump offset '${t}' needs a sign (+${t} or -${t}), or use a label`, target.column);
  if (!LABEL.test(t)) fail(`expected a jump offset (+N, -N) or a label, got '${t}'`, target.column);
  return { slots: [s], target: { label: target, field: fieldName } };
}

function isRegister(t: Token): boolean {
  return t.text.startsWith('%');
}

function register(t: Token, fail: Fail): number {
  const m = /^%r(\d+)$/.exec(t.text);
  if (m === null) return fail(`expected a register %r0..%r10, got '${t.text}'`, t.column);
  const n = Number(m[1]);
  if (n > op.BPF_REG_FP || m[1]!.length > 2) fail(`invalid register '${t.text}'`, t.column);
  return n;
}

/** `[%rN]`, `[%rN+off]` or `[%rN-off]` → [register, offset]. */
function memory(t: Token, fail: Fail): [number, number] {
  const m = /^\[(\s*)([^\s+\-\]]*)\s*(?:([+-])\s*([^\s\]]*)\s*)?\]$/.exec(t.text);
  if (m === null) return fail(`expected a memory operand [%rN+offset], got '${t.text}'`, t.column);
  const reg = register({ text: m[2]!, column: t.column + 1 + m[1]!.length }, fail);
  if (m[3] === undefined) return [reg, 0];
  const offText = m[3] + m[4]!;
  return [reg, field({ text: offText, column: t.column + t.text.indexOf(m[3]) }, 16, 'offset', fail)];
}

/** Parses an integer literal; `undefined` if `text` is not one. */
function parseInteger(text: string): { value: bigint; hex: boolean; negative: boolean } | undefined {
  const m = NUMBER.exec(text);
  if (m === null) return undefined;
  const negative = m[1] === '-';
  const magnitude = BigInt(m[2]!);
  return { value: negative ? -magnitude : magnitude, hex: /^0x/i.test(m[2]!), negative };
}

/**
 * A value for a signed field of `bits` bits: decimal within the signed range, or an unsigned
 * hex literal up to 2^bits - 1 taken as the bit pattern (as bpf_conformance reads `0xffffffff`).
 */
function field(t: Token, bits: 16 | 32, what: string, fail: Fail): number {
  const n = parseInteger(t.text);
  if (n === undefined) return fail(`expected a number for the ${what}, got '${t.text}'`, t.column);
  const min = -(1n << BigInt(bits - 1));
  const maxSigned = (1n << BigInt(bits - 1)) - 1n;
  const maxPattern = (1n << BigInt(bits)) - 1n;
  const max = n.hex && !n.negative ? maxPattern : maxSigned;
  if (n.value < min || n.value > max) fail(`${what} ${t.text} is out of ${bits}-bit range`, t.column);
  return Number(BigInt.asIntN(bits, n.value));
}

/** The 64-bit immediate of `lddw`: any value from -2^63 to 2^64 - 1. */
function imm64(t: Token, fail: Fail): bigint {
  const n = parseInteger(t.text);
  if (n === undefined) return fail(`expected a 64-bit number, got '${t.text}'`, t.column);
  if (n.value < -(1n << 63n) || n.value >= 1n << 64n) fail(`immediate ${t.text} is out of 64-bit range`, t.column);
  return BigInt.asUintN(64, n.value);
}
