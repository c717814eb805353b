// Broken objects: each defect is a typed error naming its section, symbol and byte offset;
// thousands of random mutations of the fixtures give only EbpfErrors, never a crash or a hang.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EbpfError, ParseError } from '../../src/errors.js';
import { findSection, parseElf, SYM64_SIZE } from '../../src/elf/index.js';
import { loadObjectSpec, ObjectError, type LoadObjectOptions } from '../../src/object/index.js';
import { objectFixtures, objectsDir } from './support.js';

const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(objectsDir, name)));
const options = { programTypes: { custom_filter: { type: 1 } } };

/** Little-endian field writers on a copy of the bytes. */
function patch(bytes: Uint8Array, edit: (view: DataView, elf: ReturnType<typeof parseElf>) => void): Uint8Array {
  const copy = bytes.slice();
  edit(new DataView(copy.buffer), parseElf(copy));
  return copy;
}

function symbolEntry(elf: ReturnType<typeof parseElf>, name: string): number {
  const symtab = elf.sections.find((s) => s.type === 2)!;
  const sym = elf.symbols.find((s) => s.name === name)!;
  return symtab.offset + sym.index * SYM64_SIZE;
}

/** File offset of the `n`th entry of relocation section `name`. */
function relEntry(elf: ReturnType<typeof parseElf>, name: string, n: number): number {
  return findSection(elf, name)!.offset + n * 16;
}

/** Renames a string of the .BTF string section in place (same length). */
function renameBtfString(bytes: Uint8Array, from: string, to: string): Uint8Array {
  assert.equal(from.length, to.length);
  return patch(bytes, (view, elf) => {
    const btf = findSection(elf, '.BTF')!;
    const hdrLen = view.getUint32(btf.offset + 4, true);
    const strStart = btf.offset + hdrLen + view.getUint32(btf.offset + 16, true);
    const strLen = view.getUint32(btf.offset + 20, true);
    const table = new Uint8Array(view.buffer, strStart, strLen);
    const needle = new TextEncoder().encode(`\0${from}\0`);
    let at = -1;
    for (let i = 0; i + needle.length <= table.length && at < 0; i++) {
      if (needle.every((b, j) => table[i + j] === b)) at = i + 1;
    }
    assert.ok(at > 0, `BTF string '${from}' found`);
    table.set(new TextEncoder().encode(to), at);
  });
}

function expectError(bytes: Uint8Array, pattern: RegExp, context: { section?: string; symbol?: string } = {}, opts: LoadObjectOptions = options): ObjectError | ParseError {
  let caught: unknown;
  try {
    loadObjectSpec(bytes, opts);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ParseError, `expected a ParseError matching ${pattern}, got ${String(caught)}`);
  assert.match(caught.message, pattern);
  assert.ok(caught.offset >= 0 && caught.offset <= bytes.length, `offset ${caught.offset} inside the file`);
  if (context.section !== undefined) assert.equal((caught as ObjectError).section, context.section);
  if (context.symbol !== undefined) assert.equal((caught as ObjectError).symbol, context.symbol);
  return caught;
}

test('relocations to missing symbols', () => {
  // A global variable made undefined: its relocations point nowhere.
  const undef = patch(fixture('globals.o'), (view, elf) => view.setUint16(symbolEntry(elf, 'packets') + 6, 0, true));
  const err = expectError(undef, /program 'globals_socket': relocation to undefined symbol 'packets'/, { section: 'socket', symbol: 'packets' });
  assert.ok(err instanceof ObjectError);
  // An extern whose BTF is gone.
  expectError(renameBtfString(fixture('externs.o'), 'CONFIG_HZ', 'CONFIG_HX'), /failed to find BTF for extern 'CONFIG_HZ'/, { symbol: 'CONFIG_HZ' });
  // A relocation against the null symbol.
  const nullSym = patch(fixture('subprogs.o'), (view, elf) => view.setUint32(relEntry(elf, '.relsocket', 1) + 12, 0, true));
  expectError(nullSym, /relocation to undefined symbol/, { section: 'socket' });
});

test('relocations outside their section or off an instruction', () => {
  const outside = patch(fixture('subprogs.o'), (view, elf) => view.setUint32(relEntry(elf, '.relsocket', 0), findSection(elf, 'socket')!.size + 8, true));
  expectError(outside, /relocation offset \d+ is outside section 'socket'/);
  const misaligned = patch(fixture('subprogs.o'), (view, elf) => view.setUint32(relEntry(elf, '.relsocket', 0), 0x48 + 4, true));
  expectError(misaligned, /not on an instruction boundary/, { section: 'socket' });
  const notLddw = patch(fixture('subprogs.o'), (view, elf) => view.setUint32(relEntry(elf, '.relsocket', 0), 0, true));
  expectError(notLddw, /neither a call nor lddw/, { section: 'socket' });
  const wrongCall = patch(fixture('exception_cb.o'), (view, elf) => view.setUint32(relEntry(elf, '.reltc', 0) + 12, elf.symbols.find((s) => s.name === 'LICENSE')!.index, true));
  expectError(wrongCall, /call to 'LICENSE' in section 'license'; subprograms must be in \.text/, { section: 'tc' });
});

test('bad BTF map definitions', () => {
  const maps = fixture('maps_btf.o');
  expectError(renameBtfString(maps, 'max_entries', 'max_entriez'), /map '\w+': unknown field 'max_entriez'/, { section: '.maps' });
  const relaxed = loadObjectSpec(renameBtfString(maps, 'max_entries', 'max_entriez'), { strictMaps: false });
  assert.equal(relaxed.map('flows')!.maxEntries, 0, 'relaxed: the field is ignored');
  expectError(renameBtfString(maps, 'type', 'typf'), /map type isn't specified/, { section: '.maps' }, { ...options, strictMaps: false });
  expectError(renameBtfString(maps, 'values', 'valuex'), /unknown field 'valuex'/, { section: '.maps' });
  // libbpf fails the same way: the renamed DATASEC has no ELF section to take its size from.
  expectError(renameBtfString(maps, '.maps', '.mapz'), /BTF DATASEC '\.mapz' has size 0 and no ELF section/, { section: '.mapz' });
  // A prog-array slot pointing at a map instead of a program.
  const badSlot = patch(maps, (view, elf) => {
    const flows = elf.symbols.find((s) => s.name === 'flows')!.index;
    const rels = findSection(elf, '.rel.maps')!;
    const jump = elf.symbols.find((s) => s.name === 'tail_pass')!.index;
    for (let at = rels.offset; at < rels.offset + rels.size; at += 16) {
      if (view.getUint32(at + 12, true) === jump) view.setUint32(at + 12, flows, true);
    }
  });
  expectError(badSlot, /map 'jump_table': 'flows' isn't an entry-point program/, { section: '.maps', symbol: 'flows' });
});

test('bad legacy map definitions', () => {
  const short = patch(fixture('maps_legacy.o'), (view, elf) => view.setBigUint64(symbolEntry(elf, 'conn_table') + 16, 12n, true));
  expectError(short, /map 'conn_table': definition is 12 bytes, shorter than struct bpf_map_def/, { section: 'maps', symbol: 'conn_table' });
  const past = patch(fixture('maps_legacy.o'), (view, elf) => view.setBigUint64(symbolEntry(elf, 'conn_table') + 8, 100n, true));
  expectError(past, /runs past the end of section 'maps'/, { symbol: 'conn_table' });
});

test('programs libbpf refuses, and files that are not eBPF objects', () => {
  const staticProg = patch(fixture('subprogs.o'), (view, elf) => {
    const at = symbolEntry(elf, 'sub_xdp_leaf') + 4;
    view.setUint8(at, view.getUint8(at) & 0x0f); // STB_LOCAL
  });
  expectError(staticProg, /program 'sub_xdp_leaf' is static/, { section: 'xdp', symbol: 'sub_xdp_leaf' });
  const overrun = patch(fixture('subprogs.o'), (view, elf) => view.setBigUint64(symbolEntry(elf, 'sub_tc') + 16, 4096n, true));
  expectError(overrun, /function 'sub_tc' at offset 0 \(4096 bytes\) crosses the section's end/, { section: 'tc', symbol: 'sub_tc' });
  const notBpf = patch(fixture('subprogs.o'), (view) => view.setUint16(18, 62, true)); // EM_X86_64
  expectError(notBpf, /not an eBPF object \(e_machine 62/);
  expectError(new TextEncoder().encode('not an object at all, just text'), /too short for an ELF64 header|bad magic/);
});

test('truncated files are ParseErrors', () => {
  for (const name of ['globals.o', 'maps_btf.o', 'subprogs.o']) {
    const bytes = fixture(name);
    for (const len of [0, 16, 63, 64, 200, bytes.length >> 1, bytes.length - 1]) {
      assert.throws(() => loadObjectSpec(bytes.subarray(0, len)), ParseError, `${name} cut at ${len}`);
    }
  }
});

/** xorshift32: reproducible randomness for the mutation loop. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 0x100000000;
  };
}

test('10,000 random mutations of the fixtures: only EbpfErrors, no hangs', () => {
  const random = rng(0x0b1ec7);
  const inputs = objectFixtures.map((f) => ({ name: f, bytes: fixture(f), elf: parseElf(fixture(f)) }));
  const counts = { ok: 0, parse: 0, other: 0 };
  let slowest = 0;
  for (let i = 0; i < 10000; i++) {
    const { name, bytes, elf } = inputs[Math.floor(random() * inputs.length)]!;
    const copy = bytes.slice();
    const view = new DataView(copy.buffer);
    const mode = Math.floor(random() * 5);
    // Aim most mutations at what the loader reads: headers, symbols, relocations, BTF, code.
    const pick = (): number => {
      const s = elf.sections[1 + Math.floor(random() * (elf.sections.length - 1))]!;
      const region = random() < 0.3 ? { offset: s.headerOffset, size: 64 } : { offset: s.offset, size: Math.max(s.size, 1) };
      return Math.min(copy.length - 1, region.offset + Math.floor(random() * region.size));
    };
    let input: Uint8Array = copy;
    switch (mode) {
      case 0: for (let n = 1 + Math.floor(random() * 8); n > 0; n--) copy[pick()] = Math.floor(random() * 256); break;
      case 1: { const at = pick() & ~3; if (at + 4 <= copy.length) view.setUint32(at, [0, 1, 0xffffffff, 0x7fffffff, 8, Math.floor(random() * 0x10000)][Math.floor(random() * 6)]!, true); break; }
      case 2: input = copy.subarray(0, Math.floor(random() * copy.length)); break;
      case 3: { const at = pick(); copy[at] = copy[at]! ^ (1 << Math.floor(random() * 8)); break; }
      default: { const at = pick(); const from = pick(); copy.copyWithin(at, from, from + 1 + Math.floor(random() * 24)); break; }
    }
    const started = performance.now();
    try {
      loadObjectSpec(input, options);
      counts.ok++;
    } catch (err) {
      if (!(err instanceof EbpfError)) {
        assert.fail(`mutation ${i} (mode ${mode}) of ${name}: ${err instanceof Error ? err.stack : String(err)}`);
      }
      if (err instanceof ParseError) counts.parse++;
      else counts.other++;
    }
    slowest = Math.max(slowest, performance.now() - started);
  }
  assert.ok(slowest < 2000, `slowest parse took ${slowest.toFixed(0)} ms`);
  assert.ok(counts.parse > 1000 && counts.ok > 1000, JSON.stringify(counts));
});
