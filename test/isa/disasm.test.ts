import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decodeInstruction, decodeProgram, disassemble, encodeProgram, formatInstruction, objdumpListing,
  type Instruction, type RawInstruction,
} from '../../src/isa/index.js';
import { parseElf } from '../../src/elf/index.js';
import { findTool, needTool } from '../support/tools.js';
import { repoRoot, sharedPath } from '../support/shared.js';
import { generateForms } from './forms.js';

const objdump = findTool('llvm-objdump-19');
const bench = sharedPath('bench', 'kern');
const fixturesDir = join(repoRoot, 'bpf', 'fixtures');

/** Runs llvm-objdump-19 -d with extra flags; one process per call. */
function runObjdump(file: string, ...flags: string[]): string {
  const r = spawnSync(objdump!, ['-d', ...flags, file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** First differing line of two listings, for a readable failure. */
function assertSameText(actual: string, expected: string, what: string): void {
  if (actual === expected) return;
  const a = actual.split('\n');
  const e = expected.split('\n');
  const i = a.findIndex((line, k) => line !== e[k]);
  const at = i < 0 ? Math.min(a.length, e.length) : i;
  assert.fail(`${what}: line ${at + 1} differs\n  ours:  ${JSON.stringify(a[at])}\n  llvm:  ${JSON.stringify(e[at])}`);
}

function objectFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.o')).sort().map((f) => join(dir, f));
}

test('listing equals llvm-objdump-19 -d for the bench objects', { skip: bench.skip || needTool(objdump, 'llvm-objdump-19') }, () => {
  for (const file of objectFiles(bench.path!)) {
    const elf = parseElf(readFileSync(file));
    assertSameText(objdumpListing(elf, { fileName: file }), runObjdump(file), file);
    assertSameText(objdumpListing(elf, { fileName: file, rawBytes: false, hex: false }),
      runObjdump(file, '--no-show-raw-insn', '--no-print-imm-hex'), `${file} (decimal, no raw bytes)`);
  }
});

test('listing equals the checked-in .dis files of the bench objects', { skip: bench.skip }, () => {
  for (const file of objectFiles(bench.path!)) {
    const name = file.slice(file.lastIndexOf('/') + 1);
    const dis = readFileSync(file.replace(/\.o$/, '.dis'), 'utf8');
    const ours = objdumpListing(parseElf(readFileSync(file)), { fileName: `build/kern/${name}`, rawBytes: false });
    assertSameText(ours, dis, name);
  }
});

test('listing equals llvm-objdump-19 -d for the bpf/fixtures objects', { skip: needTool(objdump, 'llvm-objdump-19') }, () => {
  const files = objectFiles(fixturesDir);
  assert.ok(files.length >= 2, 'fixtures are checked in');
  for (const file of files) {
    const elf = parseElf(readFileSync(file));
    assertSameText(objdumpListing(elf, { fileName: file }), runObjdump(file), file);
    assertSameText(objdumpListing(elf, { fileName: file, alu32: true }), runObjdump(file, '--mattr=+alu32'), `${file} (alu32)`);
  }
});

// ---- exhaustive differential test against llvm-objdump on a generated object ----

/** A minimal relocatable ELF64 with one executable `.text` section holding `code`. */
function tinyElf(code: Uint8Array, bigEndian: boolean): Uint8Array {
  const shstrtab = new TextEncoder().encode('\0.text\0.shstrtab\0');
  const textOff = 64;
  const strOff = textOff + code.length;
  const shoff = (strOff + shstrtab.length + 7) & ~7;
  const bytes = new Uint8Array(shoff + 3 * 64);
  const v = new DataView(bytes.buffer);
  const le = !bigEndian;
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, bigEndian ? 2 : 1, 1]);
  v.setUint16(16, 1, le); // ET_REL
  v.setUint16(18, 247, le); // EM_BPF
  v.setUint32(20, 1, le);
  v.setBigUint64(40, BigInt(shoff), le);
  v.setUint16(52, 64, le);
  v.setUint16(58, 64, le);
  v.setUint16(60, 3, le);
  v.setUint16(62, 2, le);
  bytes.set(code, textOff);
  bytes.set(shstrtab, strOff);
  const section = (i: number, name: number, type: number, flags: number, offset: number, size: number, align: number): void => {
    const at = shoff + i * 64;
    v.setUint32(at, name, le);
    v.setUint32(at + 4, type, le);
    v.setBigUint64(at + 8, BigInt(flags), le);
    v.setBigUint64(at + 24, BigInt(offset), le);
    v.setBigUint64(at + 32, BigInt(size), le);
    v.setBigUint64(at + 48, BigInt(align), le);
  };
  section(1, 1, 1, 0x6, textOff, code.length, 8);
  section(2, 7, 3, 0, strOff, shstrtab.length, 1);
  return bytes;
}

/** The instruction text of each llvm-objdump line: no address, bytes or target annotation. */
function instructionTexts(listing: string): string[] {
  return listing.split('\n')
    .filter((line) => /^ *\d+:\t/.test(line))
    .map((line) => line.split('\t').slice(2).join('\t').replace(/ <[^<>]*>$/, ''));
}

test('formatInstruction equals llvm-objdump-19 for every instruction form (differential)', { skip: needTool(objdump, 'llvm-objdump-19') }, () => {
  const forms = generateForms();
  assert.ok(forms.length > 10000, `generated ${forms.length} forms`);
  const dir = mkdtempSync(join(tmpdir(), 'ebpf-disasm-'));
  try {
    const variants = [
      { name: 'hex', flags: [] as string[], options: {}, bigEndian: false, whole: true },
      { name: 'decimal', flags: ['--no-print-imm-hex'], options: { hex: false }, bigEndian: false, whole: false },
      { name: 'alu32', flags: ['--mattr=+alu32'], options: { alu32: true }, bigEndian: false, whole: false },
      { name: 'big-endian', flags: [], options: {}, bigEndian: true, whole: true },
    ];
    for (const variant of variants) {
      const file = join(dir, `${variant.name}.o`);
      const code = encodeProgram(forms, { bigEndian: variant.bigEndian });
      const elf = tinyElf(code, variant.bigEndian);
      writeFileSync(file, elf);
      const listing = runObjdump(file, ...variant.flags);
      // The whole listing, with targets, raw bytes and `<unknown>` lines…
      if (variant.whole) assertSameText(objdumpListing(parseElf(elf), { fileName: file, ...variant.options }), listing, variant.name);
      // …and each line against formatInstruction alone.
      const texts = instructionTexts(listing);
      assert.equal(texts.length, forms.length);
      forms.forEach((insn, i) => {
        const ours = formatInstruction(insn, variant.options);
        if (ours !== texts[i]) {
          assert.fail(`${variant.name}: ${JSON.stringify(insn)}\n  ours: ${ours}\n  llvm: ${texts[i]}`);
        }
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- expectations that need no tools ----

const slot = (code: number, dst: number, src: number, off: number, imm: number): RawInstruction => ({ code, dst, src, off, imm });

test('formatInstruction prints the LLVM syntax', () => {
  const cases: [RawInstruction[], string, string?][] = [
    [[slot(0xb7, 0, 0, 0, 2)], 'r0 = 0x2', 'r0 = 2'],
    [[slot(0x07, 2, 0, 0, -4)], 'r2 += -0x4', 'r2 += -4'],
    [[slot(0x0c, 8, 7, 0, 0)], 'w8 += w7'],
    [[slot(0x87, 1, 0, 0, 0)], 'r1 = -r1'],
    [[slot(0xbf, 7, 8, 32, 0)], 'r7 = (s32)r8'],
    [[slot(0x3f, 0, 1, 1, 0)], 'r0 s/= r1'],
    [[slot(0x97, 5, 0, 1, 3)], 'r5 s%= 0x3'],
    [[slot(0xc7, 5, 0, 0, 3)], 'r5 s>>= 0x3'],
    [[slot(0xdc, 1, 0, 0, 16)], 'r1 = be16 r1'],
    [[slot(0xd7, 6, 0, 0, 16)], 'r6 = bswap16 r6'],
    [[slot(0xbf, 1, 2, 1, 1)], 'r1 = addr_space_cast(r2, 0x0, 0x1)'],
    [[slot(0x2d, 1, 2, 0x25, 0)], 'if r1 > r2 goto +0x25'],
    [[slot(0xc6, 4, 0, 0x11, 1)], 'if w4 s< 0x1 goto +0x11', 'if w4 s< 1 goto +17'],
    [[slot(0xa5, 6, 0, -15, 15)], 'if r6 < 0xf goto -0xf'],
    [[slot(0x05, 0, 0, 10, 0)], 'goto +0xa'],
    [[slot(0x06, 0, 0, 0, 0x12345)], 'gotol +0x12345'],
    [[slot(0xe5, 0, 0, 3, 0)], 'may_goto +0x3'],
    [[slot(0x85, 0, 0, 0, 1)], 'call 0x1'],
    [[slot(0x8d, 1, 0, 0, 0)], 'callx r1'],
    [[slot(0x95, 0, 0, 0, 0)], 'exit'],
    [[slot(0x18, 1, 0, 0, 0), slot(0, 0, 0, 0, 0)], 'r1 = 0x0 ll'],
    [[slot(0x18, 1, 0, 0, -1), slot(0, 0, 0, 0, -1)], 'r1 = -0x1 ll'],
    [[slot(0x18, 1, 2, 0, 5), slot(0, 0, 0, 0, 7)], 'ld_pseudo\tr1, 0x2, 0x5'],
    [[slot(0x30, 0, 0, 0, -1)], 'r0 = *(u8 *)skb[-0x1]'],
    [[slot(0x50, 0, 1, 0, 7)], 'r0 = *(u8 *)skb[r1]'],
    [[slot(0x61, 2, 1, 4, 0)], 'r2 = *(u32 *)(r1 + 0x4)'],
    [[slot(0x91, 7, 7, 0, 0)], 'r7 = *(s8 *)(r7 + 0x0)'],
    [[slot(0x63, 10, 1, -4, 0)], '*(u32 *)(r10 - 0x4) = r1'],
    [[slot(0x72, 1, 0, -2, 5)], '*(u8 *)(r1 - 0x2) = 0x5'],
    [[slot(0xdb, 0, 1, 0, 0)], 'lock *(u64 *)(r0 + 0x0) += r1'],
    [[slot(0xdb, 0, 1, 0, 0x41)], 'r1 = atomic_fetch_or((u64 *)(r0 + 0x0), r1)'],
    [[slot(0xdb, 2, 3, 0, 0xe1)], 'r3 = xchg_64(r2 + 0x0, r3)'],
    [[slot(0xdb, 2, 3, 0, 0xf1)], 'r0 = cmpxchg_64(r2 + 0x0, r0, r3)'],
    [[slot(0xc3, 4, 0, 0, 0x01)], 'lock *(u32 *)(r4 + 0x0) += r0'],
    [[slot(0xc3, 4, 3, 0, 0xa0)], '<unknown>'],
    [[slot(0xdb, 1, 2, 0, 0x100)], 'lock *(u64 *)(r1 + 0x0) += r2'],
    [[slot(0xd3, 1, 2, 0, 0x100)], '<unknown>'],
  ];
  for (const [slots, hex, dec] of cases) {
    const insn = decodeInstruction(slots, 0);
    assert.equal(formatInstruction(insn), hex);
    if (dec !== undefined) assert.equal(formatInstruction(insn, { hex: false }), dec);
  }
});

test('alu32 and lossless forms', () => {
  const f = (slots: RawInstruction[], options: object): string => formatInstruction(decodeInstruction(slots, 0), options);
  assert.equal(f([slot(0x61, 7, 3, 0, 0)], { alu32: true }), 'w7 = *(u32 *)(r3 + 0x0)');
  assert.equal(f([slot(0x63, 1, 2, 0, 0)], { alu32: true }), '*(u32 *)(r1 + 0x0) = w2');
  assert.equal(f([slot(0xc3, 1, 2, 0, 0xa0)], { alu32: true }), 'lock *(u32 *)(r1 + 0x0) ^= w2');
  assert.equal(f([slot(0xc3, 1, 2, 0, 0xf1)], { alu32: true }), 'w0 = cmpxchg32_32(r1 + 0x0, w0, w2)');
  assert.equal(f([slot(0xc3, 4, 0, 0, 0x01)], { lossless: true }), 'w0 = atomic_fetch_add((u32 *)(r4 + 0x0), w0)');
  assert.equal(f([slot(0xc3, 4, 3, 0, 0xa0)], { lossless: true }), 'lock *(u32 *)(r4 + 0x0) ^= w3');
  assert.equal(f([slot(0x85, 0, 1, 0, 0x1b)], { lossless: true }), 'call pc+0x1b');
  assert.equal(f([slot(0x85, 0, 1, 0, -3)], { lossless: true, hex: false }), 'call pc-3');
  assert.equal(f([slot(0x85, 0, 2, 1, 77)], { lossless: true }), 'call kfunc 0x4d, 0x1');
  assert.equal(f([slot(0x18, 1, 2, 0, 5), slot(0, 0, 0, 0, 7)], { lossless: true }), 'ld_pseudo\tr1, 0x2, 0x5, 0x7');
  assert.equal(f([slot(0x50, 0, 1, 0, -7)], { lossless: true }), 'r0 = *(u8 *)skb[r1 - 0x7]');
  assert.equal(f([slot(0xdb, 0, 1, 8, 0x100)], { lossless: true }), 'r0 = load_acquire((u64 *)(r1 + 0x8))');
  assert.equal(f([slot(0xd3, 1, 2, -8, 0x110)], { lossless: true, alu32: true }), 'store_release((u8 *)(r1 - 0x8), w2)');
});

test('disassemble adds the address column, raw bytes and branch targets', () => {
  const program = decodeProgram(encodeProgram(decodeProgram(new Uint8Array([
    0xb7, 0x00, 0, 0, 0, 0, 0, 0,
    0x18, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0x2d, 0x21, 0x01, 0, 0, 0, 0, 0,
    0x95, 0, 0, 0, 0, 0, 0, 0,
  ]))));
  assert.deepEqual(disassemble(program, { name: 'f' }), [
    '       0:\tr0 = 0x0',
    '       1:\tr1 = 0x0 ll',
    '       3:\tif r1 > r2 goto +0x1 <f+0x28>',
    '       4:\texit',
  ]);
  assert.deepEqual(disassemble(program.slice(2), { rawBytes: true, base: 24, name: 'g' }), [
    '       3:\t2d 21 01 00 00 00 00 00\tif r1 > r2 goto +0x1 <g+0x10>',
    '       4:\t95 00 00 00 00 00 00 00\texit',
  ]);
});
