import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ParseError } from '../../src/errors.js';
import {
  EM_BPF, ET_REL, findSection, parseElf, R_BPF_64_64, R_BPF_64_32, relocationsFor, SHF_EXECINSTR,
  SHT_PROGBITS, SHT_REL, STB_GLOBAL, STT_FUNC, STT_OBJECT, STT_SECTION, symbolsIn,
  type ElfFile,
} from '../../src/elf/index.js';
import { findTool, needTool } from '../support/tools.js';
import { repoRoot, sharedPath } from '../support/shared.js';

const readelf = findTool('llvm-readelf-19');
const bench = sharedPath('bench', 'kern');
const fixtures = join(repoRoot, 'bpf', 'fixtures');

function objectFiles(): string[] {
  const dirs = [fixtures, ...(bench.path ? [bench.path] : [])];
  return dirs.flatMap((dir) => readdirSync(dir).filter((f) => f.endsWith('.o')).sort().map((f) => join(dir, f)));
}

const symbol = (elf: ElfFile, name: string) => {
  const s = elf.symbols.find((sym) => sym.name === name);
  assert.ok(s, `symbol ${name}`);
  return s;
};

test('parses the bench objects', { skip: bench.skip }, () => {
  const elf = parseElf(readFileSync(join(bench.path!, 'map_hash.o')));
  assert.equal(elf.header.bigEndian, false);
  assert.equal(elf.header.type, ET_REL);
  assert.equal(elf.header.machine, EM_BPF);
  const xdp = findSection(elf, 'xdp');
  assert.ok(xdp);
  assert.equal(xdp.type, SHT_PROGBITS);
  assert.equal(xdp.flags & SHF_EXECINSTR, SHF_EXECINSTR);
  assert.equal(xdp.data.length, 240);
  assert.equal(xdp.data[0], 0xb7);
  const fn = symbol(elf, 'map_hash');
  assert.deepEqual([fn.type, fn.bind, fn.section, fn.value, fn.size], [STT_FUNC, STB_GLOBAL, xdp.index, 0, 240]);
  assert.deepEqual(symbolsIn(elf, xdp.index).filter((s) => s.type !== STT_SECTION).map((s) => s.name), ['map_hash']);
  const counters = symbol(elf, 'counters');
  assert.equal(counters.type, STT_OBJECT);
  assert.equal(elf.sections[counters.section]!.name, '.maps');
  // Both lddw of the map are relocated against `counters` (slots 10 and 24).
  const relocs = relocationsFor(elf, xdp.index);
  assert.deepEqual(relocs.map((r) => [r.offset, r.type, elf.symbols[r.symbol]!.name]), [
    [80, R_BPF_64_64, 'counters'], [192, R_BPF_64_64, 'counters'],
  ]);
  assert.equal(elf.relocations.find((r) => r.target === xdp.index)!.section.type, SHT_REL);
});

test('big- and little-endian builds of a fixture parse to the same structure', () => {
  const le = parseElf(readFileSync(join(fixtures, 'isa_mix.o')));
  const be = parseElf(readFileSync(join(fixtures, 'isa_mix.bpfeb.o')));
  assert.equal(be.header.bigEndian, true);
  const shape = (elf: ElfFile) => ({
    sections: elf.sections.map((s) => [s.name, s.type, s.flags, s.size]),
    symbols: elf.symbols.map((s) => [s.name, s.type, s.bind, s.section, s.value, s.size]),
    relocations: elf.relocations.map((r) => [r.target, r.relocations.map((e) => [e.offset, e.type, e.symbol])]),
  });
  assert.deepEqual(shape(be), shape(le));
  // Calls to subprograms and kfuncs carry R_BPF_64_32 relocations.
  const xdp = findSection(le, 'xdp')!;
  const calls = relocationsFor(le, xdp.index).filter((r) => r.type === R_BPF_64_32).map((r) => {
    const sym = le.symbols[r.symbol]!;
    return sym.type === STT_SECTION ? le.sections[sym.section]!.name : sym.name;
  });
  assert.deepEqual(calls, ['.text', 'bpf_rcu_read_lock', 'bpf_rcu_read_unlock', '.text']);
});

interface ReadelfJson {
  Sections: { Section: { Index: number; Name: { Name: string }; Type: { Value: number }; Flags: { Value: number }; Offset: number; Size: number; Link: number; Info: number; EntrySize: number } }[];
  Symbols: { Symbol: { Name: { Name: string }; Value: number; Size: number; Binding: { Value: number }; Type: { Value: number }; Section: { Value: number } } }[];
  Relocations: { SectionIndex: number; Relocs: { Relocation: { Offset: number; Type: { Value: number }; Symbol: { Value: number } } }[] }[];
}

test('sections, symbols and relocations equal llvm-readelf-19', { skip: needTool(readelf, 'llvm-readelf-19') }, () => {
  for (const file of objectFiles()) {
    const r = spawnSync(readelf!, ['--elf-output-style=JSON', '-S', '-s', '-r', file], { encoding: 'utf8', maxBuffer: 256 << 20 });
    assert.equal(r.status, 0, r.stderr);
    const [json] = JSON.parse(r.stdout) as [ReadelfJson];
    const elf = parseElf(readFileSync(file));
    assert.deepEqual(
      elf.sections.map((s) => [s.index, s.name, s.type, s.flags, s.offset, s.size, s.link, s.info, s.entsize]),
      json.Sections.map(({ Section: s }) => [s.Index, s.Name.Name, s.Type.Value, s.Flags.Value, s.Offset, s.Size, s.Link, s.Info, s.EntrySize]),
      file,
    );
    assert.deepEqual(
      // llvm-readelf shows a section symbol under its section's name.
      elf.symbols.map((s) => [s.type === STT_SECTION ? elf.sections[s.section]!.name : s.name, s.value, s.size, s.bind, s.type, s.section]),
      json.Symbols.map(({ Symbol: s }) => [s.Name.Name, s.Value, s.Size, s.Binding.Value, s.Type.Value, s.Section.Value]),
      file,
    );
    assert.deepEqual(
      elf.relocations.map((rs) => [rs.section.index, rs.relocations.map((e) => [e.offset, e.type, e.symbol])]),
      json.Relocations.map((rs) => [rs.SectionIndex, rs.Relocs.map(({ Relocation: e }) => [e.Offset, e.Type.Value, e.Symbol.Value])]),
      file,
    );
  }
});

/** Asserts that parsing fails with a ParseError of its own making (no wrapped foreign error). */
function assertParseError(bytes: Uint8Array, what: string, offset?: number, message?: RegExp): void {
  try {
    parseElf(bytes);
  } catch (err) {
    assert.ok(err instanceof ParseError, `${what}: expected ParseError, got ${String(err)}`);
    assert.equal(err.cause, undefined, `${what}: ParseError wraps ${String(err.cause)}`);
    assert.ok(err.offset >= 0 && err.offset <= bytes.length, `${what}: offset ${err.offset}`);
    if (offset !== undefined) assert.equal(err.offset, offset, `${what}: ${err.message}`);
    if (message !== undefined) assert.match(err.message, message, what);
    return;
  }
  assert.fail(`${what}: parsed without error`);
}

/** Parses or throws our own ParseError; anything else fails the test. */
function parseOrParseError(bytes: Uint8Array, what: string): void {
  try {
    parseElf(bytes);
  } catch (err) {
    assert.ok(err instanceof ParseError, `${what}: expected ParseError, got ${String(err)}`);
    assert.equal(err.cause, undefined, `${what}: ParseError wraps ${String(err.cause)}`);
  }
}

const fixture = (): Uint8Array => new Uint8Array(readFileSync(join(fixtures, 'isa_asm.o')));
const le = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

test('malformed headers are ParseErrors at the bad field', () => {
  const base = fixture();
  const elf = parseElf(base);
  const edit = (f: (b: Uint8Array, v: DataView) => void): Uint8Array => {
    const b = base.slice();
    f(b, le(b));
    return b;
  };
  assertParseError(new Uint8Array(0), 'empty', 0, /too short/);
  assertParseError(base.subarray(0, 63), 'short header', 63, /too short/);
  assertParseError(edit((b) => { b[1] = 0x46; }), 'magic', 1, /bad magic/);
  assertParseError(edit((b) => { b[4] = 1; }), 'ELFCLASS32', 4, /32-bit/);
  assertParseError(edit((b) => { b[5] = 3; }), 'data encoding', 5);
  assertParseError(edit((b) => { b[6] = 0; }), 'ident version', 6);
  assertParseError(edit((_, v) => v.setBigUint64(40, BigInt(base.length), true)), 'e_shoff past the end', 40, /section header table/);
  assertParseError(edit((_, v) => v.setBigUint64(40, 1n << 60n, true)), 'huge e_shoff', 40, /too large/);
  assertParseError(edit((_, v) => v.setUint16(58, 40, true)), 'e_shentsize', 58);
  assertParseError(edit((_, v) => v.setUint16(62, 200, true)), 'e_shstrndx', 62);
  const symtab = findSection(elf, '.symtab')!;
  const strtab = elf.sections[symtab.link]!;
  const socket = findSection(elf, 'socket')!;
  assertParseError(edit((_, v) => v.setBigUint64(socket.headerOffset + 24, BigInt(base.length - 8), true)),
    'section past the end', socket.headerOffset + 24, /run past the end/);
  assertParseError(edit((_, v) => v.setUint32(socket.headerOffset, 1 << 20, true)),
    'section name outside .shstrtab', socket.headerOffset, /section 3 name: string offset/);
  assertParseError(edit((_, v) => v.setBigUint64(symtab.headerOffset + 56, 16n, true)),
    'symbol entry size', symtab.headerOffset + 56);
  assertParseError(edit((_, v) => v.setUint32(symtab.headerOffset + 40, socket.index, true)),
    'symtab linked to a non-string table', symtab.headerOffset + 40);
  const lastSym = symtab.offset + symtab.size - 24;
  assertParseError(edit((_, v) => v.setUint32(lastSym, strtab.size + 5, true)), 'symbol name outside .strtab', lastSym, /symbol 11 name/);
  assertParseError(edit((_, v) => v.setUint16(lastSym + 6, 0x7000, true)), 'symbol section index', lastSym + 6, /out of range/);
  // An unterminated string table: its last byte (a NUL) overwritten.
  assertParseError(edit((b) => { b[strtab.offset + strtab.size - 1] = 0x41; }), 'unterminated name', undefined, /not NUL-terminated/);
  const rel = elf.relocations[0]!;
  const entry = rel.section.offset;
  assertParseError(edit((_, v) => v.setUint32(entry + 12, 999, true)), 'relocation symbol', entry + 8, /symbol 999/);
  assertParseError(edit((_, v) => v.setBigUint64(entry, 1n << 20n, true)), 'relocation offset', entry, /outside section/);
  assertParseError(edit((_, v) => v.setUint32(rel.section.headerOffset + 44, 4000, true)), 'relocation target', rel.section.headerOffset + 44);
});

test('every truncation of a fixture is a ParseError', () => {
  const base = fixture();
  for (let n = 0; n < base.length; n++) assertParseError(base.subarray(0, n), `truncated to ${n}`);
});

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('2000 deterministic mutations of fixtures parse or throw ParseError', () => {
  const random = rng(0xe1f);
  const int = (n: number): number => Math.floor(random() * n);
  const interesting = [0, 1, 0x7f, 0x80, 0xff, 0xfe];
  for (const name of ['isa_asm.o', 'isa_mix.bpfeb.o']) {
    const base = new Uint8Array(readFileSync(join(fixtures, name)));
    const elf = parseElf(base);
    // Aim most mutations at the structures the reader walks.
    const regions: [number, number][] = [[0, 64], [elf.header.shoff, elf.sections.length * 64]];
    const symtab = findSection(elf, '.symtab')!;
    regions.push([symtab.offset, symtab.size]);
    for (const r of elf.relocations) regions.push([r.section.offset, r.section.size]);
    regions.push([0, base.length]);
    for (let k = 0; k < 1000; k++) {
      const bytes = base.slice();
      const edits = 1 + int(4);
      for (let e = 0; e < edits; e++) {
        const [start, size] = regions[int(regions.length)]!;
        const at = start + int(size);
        bytes[at] = random() < 0.5 ? interesting[int(interesting.length)]! : int(256);
      }
      parseOrParseError(bytes, `${name} mutation ${k}`);
    }
  }
});
