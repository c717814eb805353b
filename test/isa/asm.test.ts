import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AsmError } from '../../src/errors.js';
import {
  assemble, decodeProgram, disassemble, encodeProgram, formatInstruction, objdumpListing,
  type FormatOptions, type Instruction,
} from '../../src/isa/index.js';
import { parseElf } from '../../src/elf/index.js';
import { repoRoot, sharedPath } from '../support/shared.js';
import { generateForms } from './forms.js';

const bench = sharedPath('bench', 'kern');

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** Assembles `text` and returns its encoding as hex. */
const asmHex = (text: string, bigEndian = false): string => hex(encodeProgram(assemble(text), { bigEndian }));

/** Every executable section of an ELF object, decoded. */
function programs(file: string): { name: string; bytes: Uint8Array; program: Instruction[]; bigEndian: boolean }[] {
  const elf = parseElf(readFileSync(file));
  return elf.sections
    .filter((s) => (s.flags & 0x4) !== 0 && s.data.length > 0)
    .map((s) => ({
      name: `${file}:${s.name}`, bytes: s.data, bigEndian: elf.header.bigEndian,
      program: decodeProgram(s.data, { bigEndian: elf.header.bigEndian }),
    }));
}

function objectFiles(): string[] {
  // Objects of real programs only (listing_edges.o holds data and truncated code on purpose).
  const dirs = [join(repoRoot, 'bpf', 'fixtures'), ...(bench.path ? [bench.path] : [])];
  return dirs.flatMap((dir) => readdirSync(dir).filter((f) => f.endsWith('.o') && !f.startsWith('listing_')).map((f) => join(dir, f)));
}

const LOSSLESS_VARIANTS: FormatOptions[] = [
  { lossless: true }, { lossless: true, hex: false }, { lossless: true, alu32: true },
];

test('round trip decode → format → assemble → encode is byte-identical on the objects', () => {
  const files = objectFiles();
  assert.ok(files.length >= 3);
  for (const file of files) {
    for (const { name, bytes, program, bigEndian } of programs(file)) {
      for (const options of LOSSLESS_VARIANTS) {
        const text = program.map((insn) => formatInstruction(insn, options)).join('\n');
        assert.equal(asmHex(text, bigEndian), hex(bytes), `${name} ${JSON.stringify(options)}`);
      }
      // disassemble() lines, with indexes, raw bytes and target annotations, assemble too.
      const listing = disassemble(program, { lossless: true, rawBytes: true, name: 'f', bigEndian }).join('\n');
      assert.equal(asmHex(listing, bigEndian), hex(bytes), `${name} (disassemble output)`);
    }
    // A whole llvm-objdump-style listing, `<symbol>:` headers and all.
    const elf = parseElf(readFileSync(file));
    const all = programs(file).map((p) => hex(p.bytes)).join('');
    assert.equal(asmHex(objdumpListing(elf, { lossless: true }), elf.header.bigEndian), all, `${file} (listing)`);
  }
});

test('the exact llvm-objdump text of the bench objects assembles back to the same bytes', { skip: bench.skip }, () => {
  for (const file of readdirSync(bench.path!).filter((f) => f.endsWith('.o'))) {
    for (const { name, bytes, program } of programs(join(bench.path!, file))) {
      assert.equal(asmHex(disassemble(program).join('\n')), hex(bytes), name);
    }
  }
});

test('round trip is byte-identical for every instruction form', () => {
  const forms = generateForms();
  const bytes = hex(encodeProgram(forms));
  for (const options of LOSSLESS_VARIANTS) {
    const text = forms.map((insn) => formatInstruction(insn, options)).join('\n');
    const back = assemble(text);
    if (hex(encodeProgram(back)) !== bytes) {
      const i = back.findIndex((insn, k) => hex(encodeProgram([insn])) !== hex(encodeProgram([forms[k]!])));
      assert.fail(`${JSON.stringify(options)}: ${formatInstruction(forms[i]!, options)} assembles to ${JSON.stringify(back[i])}`);
    }
  }
  // Where the exact LLVM text carries every field, it round-trips too.
  for (const options of [{}, { hex: false }, { alu32: true }] as FormatOptions[]) {
    const faithful = forms.filter((insn) => formatInstruction(insn, options) === formatInstruction(insn, { ...options, lossless: true }));
    assert.ok(faithful.length > forms.length * 0.9);
    const text = faithful.map((insn) => formatInstruction(insn, options)).join('\n');
    assert.equal(asmHex(text), hex(encodeProgram(faithful)), JSON.stringify(options));
  }
});

test('labels, comments and decimal immediates', () => {
  const program = assemble(`
    ; count to ten
    r0 = 0            // start
  loop: r0 += 1       # step
    if r0 < 10 goto loop
    call helper_like#5
    call sub
    exit
  sub:
    r0 = -1
    exit
  `);
  assert.deepEqual(program.map((insn) => formatInstruction(insn, { lossless: true, hex: false })), [
    'r0 = 0', 'r0 += 1', 'if r0 < 10 goto -2', 'call 5', 'call pc+1', 'exit', 'r0 = -1', 'exit',
  ]);
  // Labels may be forward, span an lddw, and stand on their own lines.
  const jumps = assemble('goto end\nr1 = 0x1122334455667788 ll\nend:\nexit\ngotol end\nmay_goto end');
  assert.deepEqual(jumps.map((insn) => formatInstruction(insn)), [
    'goto +0x2', 'r1 = 0x1122334455667788 ll', 'exit', 'gotol -0x2', 'may_goto -0x3',
  ]);
});

test('kernel verifier-log forms', () => {
  const log = `
    0: (b7) r0 = 0
    1: (63) *(u32 *)(r10 -4) = r1
    2: (61) r2 = *(u32 *)(r10 -4)
    3: (2d) if r1 > r2 goto pc+3
    4: (85) call bpf_map_lookup_elem#1
    5: (85) call pc+2
    6: (db) r2 = atomic64_fetch_add((u64 *)(r1 +0), r2)
    7: (c3) r0 = atomic_cmpxchg((u32 *)(r1 +8), r0, r3)
    8: (db) r4 = atomic64_xchg((u64 *)(r1 -8), r4)
    9: (50) r0 = *(u8 *)skb[r1 + 5]
    10: (05) goto pc-8
    11: (95) exit
  `;
  assert.deepEqual(assemble(log).map((insn) => formatInstruction(insn, { lossless: true })), [
    'r0 = 0x0',
    '*(u32 *)(r10 - 0x4) = r1',
    'r2 = *(u32 *)(r10 - 0x4)',
    'if r1 > r2 goto +0x3',
    'call 0x1',
    'call pc+0x2',
    'r2 = atomic_fetch_add((u64 *)(r1 + 0x0), r2)',
    'w0 = cmpxchg32_32(r1 + 0x8, w0, w3)',
    'r4 = xchg_64(r1 - 0x8, r4)',
    'r0 = *(u8 *)skb[r1 + 0x5]',
    'goto -0x8',
    'exit',
  ]);
});

test('both register spellings of 32-bit memory operations give the same bytes', () => {
  assert.equal(asmHex('w1 = *(u32 *)(r2 + 4)'), asmHex('r1 = *(u32 *)(r2 + 4)'));
  assert.equal(asmHex('*(u16 *)(r1 - 2) = w3'), asmHex('*(u16 *)(r1 - 2) = r3'));
  assert.equal(asmHex('lock *(u32 *)(r1 + 0) += w2'), asmHex('lock *(u32 *)(r1 + 0) += r2'));
  assert.equal(asmHex('r0 = 0x7fffffff'), 'b70000' + '00ffffff7f');
  assert.equal(asmHex('r0 = 0xffffffff'), asmHex('r0 = -1'));
});

/** Asserts that assembling `text` fails at `line`:`column` with a message matching `message`. */
function assertAsmError(text: string, line: number, column: number, message: RegExp): void {
  assert.throws(() => assemble(text), (err: unknown) => {
    assert.ok(err instanceof AsmError, `expected AsmError, got ${String(err)}`);
    assert.match(err.message, message);
    assert.deepEqual([err.line, err.column], [line, column], err.message);
    return true;
  });
}

test('errors name the line and column of the bad token', () => {
  assertAsmError('r0 = 0\nfrobnicate r1\nexit', 2, 1, /unknown instruction 'frobnicate'/);
  assertAsmError('r0 = 0\n  r11 = 1', 2, 3, /invalid register 'r11'/);
  assertAsmError('r1 += r12', 1, 7, /invalid register 'r12'/);
  assertAsmError('r1 = 0x100000000', 1, 6, /immediate 0x100000000 is out of 32-bit range/);
  assertAsmError('r1 += -2147483649', 1, 7, /out of 32-bit range/);
  assertAsmError('r1 = *(u32 *)(r2 + 0x8000)', 1, 18, /offset \+0x8000 is out of 16-bit range/);
  assertAsmError('*(u64 *)(r10 - 32769) = r1', 1, 14, /out of 16-bit range/);
  assertAsmError('goto +32768', 1, 6, /out of 16-bit range/);
  assertAsmError('r0 = 0\n\tgoto nowhere\nexit', 2, 7, /unknown label 'nowhere'/);
  assertAsmError('a:\nexit\na: exit', 3, 1, /duplicate label 'a'/);
  assertAsmError('w1 += r2', 1, 7, /differ in width/);
  assertAsmError('r1 = r2 +', 1, 9, /unexpected '\+'/);
  assertAsmError('r1 = foo(r2)', 1, 6, /unknown operation 'foo'/);
  assertAsmError('r1 = *(u128 *)(r2 + 0)', 1, 8, /expected u8/);
  assertAsmError('*(u64 *)(r1 + 0) = w2', 1, 20, /64-bit register/);
  assertAsmError('r1 = (s64)r2', 1, 7, /expected s8, s16 or s32/);
  assertAsmError('w1 = (s32)w2', 1, 1, /sign-extension width 32/);
  assertAsmError('r1 = 1 ll\nw1 = 1 ll', 2, 1, /64-bit register/);
  assertAsmError('if r1 ~ r2 goto +1', 1, 7, /unexpected character '~'/);
  assertAsmError('if r1 => r2 goto +1', 1, 7, /expected a comparison/);
  assertAsmError('exit r0', 1, 6, /unexpected 'r0'/);
  assertAsmError('       3:\t<unknown>', 1, 11, /cannot assemble '<unknown>'/);
  assertAsmError('lock *(u16 *)(r1 + 0) += r2', 1, 8, /32- or 64-bit size/);
  assertAsmError('r1 = addr_space_cast(r2, 2, 3)', 1, 1, /addr_space_cast/);
  assertAsmError('r2 = xchg_64(r1 + 0, r3)', 1, 1, /result register/);
  assertAsmError('r1 = 5x', 1, 6, /invalid number '5x'/);
});
