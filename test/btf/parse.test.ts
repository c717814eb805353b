// parseBtf / serializeBtf: every kind, both byte orders, header and type checks with their
// byte offsets, split BTF, vmlinux (speed and byte-exact round trip), and mutation fuzzing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { ParseError } from '../../src/errors.js';
import { parseElf } from '../../src/elf/index.js';
import {
  Btf, BtfError, btfFromElf, btfExtFromElf, formatBtfRaw, parseBtf, parseBtfExt, serializeBtf, serializeBtfAndExt,
  type BtfType,
} from '../../src/btf/index.js';
import { btfObjects, kindsObjects, readElf, sectionData } from './btf-fixtures.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';

/** The type named `name` of kind `kind` (exactly one). */
function named<K extends BtfType['kind']>(btf: Btf, name: string, kind: K): BtfType & { kind: K } {
  const ids = btf.findByName(name, kind);
  assert.equal(ids.length, 1, `one ${kind} '${name}'`);
  return btf.type(ids[0]!) as BtfType & { kind: K };
}

test('every BTF kind of kinds.bpf.c', (t) => {
  const objs = kindsObjects();
  if (objs.skip !== false) return t.skip(objs.skip);
  const btf = btfFromElf(readElf(objs.le))!;
  const kinds = new Set(btf.own.map((x) => x.kind));
  for (const k of ['void', 'int', 'ptr', 'array', 'struct', 'union', 'enum', 'enum64', 'fwd', 'typedef', 'volatile', 'const',
    'restrict', 'func', 'func_proto', 'var', 'datasec', 'float', 'decl_tag', 'type_tag'] as const) {
    assert.ok(kinds.has(k), `kind ${k}`);
  }

  const rec = named(btf, 'rec', 'struct');
  assert.equal(rec.kindFlag, true);
  const member = (name: string) => rec.members.find((m) => m.name === name)!;
  assert.deepEqual([member('flag').bitOffset, member('flag').bitfieldSize], [32, 1]);
  assert.deepEqual([member('mode').bitOffset, member('mode').bitfieldSize], [33, 3]);
  assert.deepEqual([member('delta').bitOffset, member('delta').bitfieldSize], [36, 12]);
  assert.equal(member('a').bitfieldSize, 0);
  assert.equal(btf.type(rec.members[4]!.type).kind, 'union');
  assert.equal(rec.members[4]!.name, '');

  assert.deepEqual(named(btf, 'signed_e', 'enum'), {
    kind: 'enum', name: 'signed_e', size: 4, signed: true,
    values: [{ name: 'NEG', value: -5 }, { name: 'ZERO', value: 0 }, { name: 'POS', value: 7 }],
  });
  assert.deepEqual(named(btf, 'unsigned_e', 'enum').values[1], { name: 'B', value: 0xffffffff });
  assert.deepEqual(named(btf, 'big_e', 'enum64').values.map((v) => v.value), [1n, 0x123456789abcn, 0xffffffffffffffffn]);
  const sbig = named(btf, 'sbig_e', 'enum64');
  assert.equal(sbig.signed, true);
  assert.deepEqual(sbig.values.map((v) => v.value), [-2n, 0x100000000n]);
  assert.deepEqual(named(btf, 'fwd_only', 'fwd'), { kind: 'fwd', name: 'fwd_only', union: false });
  assert.deepEqual(named(btf, '_Bool', 'int'), { kind: 'int', name: '_Bool', size: 1, encoding: 4, offset: 0, bits: 8 });
  assert.deepEqual(named(btf, 'double', 'float'), { kind: 'float', name: 'double', size: 8 });
  assert.equal(named(btf, 'core_all', 'func').linkage, 1);
  assert.equal(named(btf, 'helper', 'func').linkage, 0);
  assert.equal(named(btf, 'bpf_kfunc_example', 'func').linkage, 2);
  assert.equal(named(btf, 'static_counter', 'var').linkage, 0);
  assert.equal(named(btf, 'LINUX_KERNEL_VERSION', 'var').linkage, 2);
  const tag = named(btf, 'user', 'type_tag');
  assert.equal(btf.type(tag.type).name, 'int');
  assert.equal(named(btf, 'member_tag', 'decl_tag').componentIdx, 0);
  assert.equal(named(btf, 'struct_tag', 'decl_tag').componentIdx, -1);
  assert.equal(named(btf, 'param_tag', 'decl_tag').componentIdx, 0);
  // typedef int (*vararg_fn)(int, ...): the last parameter of type 0 is the ellipsis.
  const ptr = btf.type(named(btf, 'vararg_fn', 'typedef').type);
  assert.ok(ptr.kind === 'ptr');
  const vararg = btf.type(ptr.type);
  assert.ok(vararg.kind === 'func_proto');
  assert.deepEqual(vararg.params.map((p) => p.type), [btf.findByName('int', 'int')[0], 0]);
  const ksyms = named(btf, '.ksyms', 'datasec');
  assert.equal(btf.type(ksyms.vars[0]!.type).kind, 'func');
  assert.equal(btf.sizeof(named(btf, 'zeroed', 'var').type), rec.size);
});

test('big-endian objects parse to the same types as little-endian ones', (t) => {
  const pairs: [string, string][] = [];
  const fixtures = btfObjects();
  for (const be of fixtures.filter((f) => f.endsWith('.bpfeb.o'))) {
    const le = be.replace('.bpfeb.o', '.o');
    if (fixtures.includes(le)) pairs.push([le, be]);
  }
  const objs = kindsObjects();
  if (objs.skip === false) pairs.push([objs.le, objs.be]);
  if (pairs.length === 0) return t.skip('no big-endian object');
  for (const [le, be] of pairs) {
    const a = btfFromElf(readElf(le))!;
    const b = btfFromElf(readElf(be))!;
    assert.equal(a.bigEndian, false);
    assert.equal(b.bigEndian, true, be);
    assert.deepEqual(b.own, a.own, be);
  }
});

test('serializeBtf gives back clang\'s .BTF and .BTF.ext byte for byte; compact tables parse to the same types', (t) => {
  const files = btfObjects();
  const objs = kindsObjects();
  if (objs.skip === false) files.push(objs.le, objs.be);
  assert.ok(files.length > 0);
  for (const file of files) {
    const elf = readElf(file);
    const raw = sectionData(elf, '.BTF');
    const btf = btfFromElf(elf)!;
    assert.deepEqual(serializeBtf(btf), raw, file);
    // At an odd byte offset inside a larger buffer (a Node Buffer from the pool, say).
    const odd = new Uint8Array(raw.length + 3);
    odd.set(raw, 3);
    assert.deepEqual(parseBtf(odd.subarray(3)).own, btf.own);
    const compact = serializeBtf(btf, { stringTable: 'compact' });
    assert.ok(compact.length <= raw.length);
    assert.deepEqual(parseBtf(compact).own, btf.own, file);
    const swapped = parseBtf(serializeBtf(btf, { bigEndian: !btf.bigEndian }));
    assert.equal(swapped.bigEndian, !btf.bigEndian);
    assert.deepEqual(swapped.own, btf.own, file);
    const ext = btfExtFromElf(elf, btf);
    if (ext === undefined) continue;
    const both = serializeBtfAndExt(btf, ext);
    assert.deepEqual(both.btf, raw, file);
    assert.deepEqual(both.ext, sectionData(elf, '.BTF.ext'), file);
  }
});

test('vmlinux: parsed fast, every type, byte-exact round trip in both byte orders', (t) => {
  if (!existsSync(VMLINUX)) return t.skip(`${VMLINUX} not found`);
  const bytes = new Uint8Array(readFileSync(VMLINUX));
  const start = performance.now();
  const btf = parseBtf(bytes);
  const ms = performance.now() - start;
  t.diagnostic(`parsed ${VMLINUX} (${bytes.length} bytes, ${btf.length} types) in ${ms.toFixed(0)} ms`);
  // About 100-250 ms on an idle 2-core machine; the bound only catches a pathological regression on a loaded CI machine.
  assert.ok(ms < 3000, `vmlinux parse took ${ms.toFixed(0)} ms`);
  assert.ok(btf.length > 10_000);
  assert.ok(btf.findByName('task_struct', 'struct').length === 1);
  assert.equal(btf.sizeof(btf.findByName('u64', 'typedef')[0]!), 8);
  assert.deepEqual(serializeBtf(btf), bytes);
  const be = serializeBtf(btf, { bigEndian: true });
  const back = parseBtf(be);
  assert.equal(back.bigEndian, true);
  assert.deepEqual(serializeBtf(back, { bigEndian: false }), bytes);
});

/** A small split BTF on `base`: new types pointing at base types, names new and reused. */
function splitOn(base: Btf): Btf {
  const int = base.findByName('int', 'int')[0]!;
  const first = base.length;
  return new Btf([
    { kind: 'struct', name: 'split_thing', size: 16, kindFlag: false, members: [
      { name: 'count', type: int, bitOffset: 0, bitfieldSize: 0 },
      { name: 'next', type: first + 1, bitOffset: 64, bitfieldSize: 0 },
    ] },
    { kind: 'ptr', name: '', type: first },
    { kind: 'typedef', name: 'int', type: int },
    { kind: 'enum', name: 'split_e', size: 4, signed: true, values: [{ name: 'SPLIT_NEG', value: -1 }] },
    { kind: 'func_proto', name: '', returnType: int, params: [{ name: 'thing', type: first + 1 }] },
    { kind: 'func', name: 'split_fn', type: first + 4, linkage: 1 },
  ], { base });
}

test('split BTF continues the base\'s type ids and string offsets', (t) => {
  const objs = kindsObjects();
  const bases: Btf[] = [];
  if (objs.skip === false) bases.push(btfFromElf(readElf(objs.le))!);
  if (existsSync(VMLINUX)) bases.push(parseBtf(new Uint8Array(readFileSync(VMLINUX))));
  if (bases.length === 0) return t.skip('no base BTF (clang-19 and /sys/kernel/btf/vmlinux missing)');
  for (const base of bases) {
    const split = splitOn(base);
    const bytes = serializeBtf(split);
    const parsed = parseBtf(bytes, { base });
    assert.equal(parsed.firstId, base.length);
    assert.deepEqual(parsed.own, split.own);
    assert.equal(parsed.type(parsed.firstId + 1).kind, 'ptr');
    assert.equal(parsed.type(1), base.type(1));
    assert.deepEqual(parsed.findByName('split_thing'), [base.length]);
    // 'int' and '' come from the base's strings: the split's own section only has new names.
    const own = new TextDecoder().decode(parsed.strings!.bytes).split('\0');
    assert.ok(!own.includes('int') && own.includes('split_thing') && own.includes('SPLIT_NEG'), own.join(','));
    assert.equal(parsed.strings!.firstOffset, base.strings!.end);
    assert.deepEqual(serializeBtf(parsed), bytes);
    // Without its base the same bytes name strings and types that do not exist.
    assert.throws(() => parseBtf(bytes), ParseError);
  }
});

test('types built in code serialize and parse back', () => {
  const types: BtfType[] = [
    { kind: 'int', name: 'int', size: 4, encoding: 1, offset: 0, bits: 32 },
    { kind: 'struct', name: 'pair', size: 8, kindFlag: false, members: [
      { name: 'lo', type: 1, bitOffset: 0, bitfieldSize: 0 },
      { name: 'hi', type: 1, bitOffset: 32, bitfieldSize: 4 },
    ] },
    { kind: 'enum', name: 'e', size: 4, signed: false, values: [{ name: 'X', value: 0xfffffffe }] },
    { kind: 'type_tag', name: 'address_space(1)', type: 1, attribute: true },
    { kind: 'decl_tag', name: 'noinline', type: 2, componentIdx: -1, attribute: true },
    { kind: 'decl_tag', name: 'naïve ☃', type: 2, componentIdx: 1 },
  ];
  const btf = parseBtf(serializeBtf(new Btf(types)));
  // The kind flag is set as soon as a member is a bitfield (libbpf: btf__add_field).
  assert.deepEqual(btf.own.slice(1), [types[0], { ...types[1], kindFlag: true }, ...types.slice(2)]);
  assert.equal(formatBtfRaw(btf, { ids: [6] }), "[6] DECL_TAG 'naïve ☃' type_id=2 component_idx=1\n");
  assert.throws(() => serializeBtf(new Btf([{ kind: 'int', name: 'int', size: 4, encoding: 0, offset: 0, bits: 32 }, { kind: 'void', name: '' }])), BtfError);
});

/** Raw BTF for the error tests: int (id 1) and a struct with one member (id 2). */
function small(): Uint8Array {
  return serializeBtf(new Btf([
    { kind: 'int', name: 'int', size: 4, encoding: 1, offset: 0, bits: 32 },
    { kind: 'struct', name: 's', size: 4, kindFlag: false, members: [{ name: 'm', type: 1, bitOffset: 0, bitfieldSize: 0 }] },
  ]), { stringTable: 'compact' });
}

/** `bytes` with the u32 at `at` replaced (little-endian). */
function withU32(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint32(at, value >>> 0, true);
  return copy;
}

function assertParseError(fn: () => unknown, offset: number, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ParseError, `ParseError, got ${String(err)}`);
    assert.match(err.message, message);
    assert.equal(err.offset, offset, err.message);
    return true;
  });
}

test('bad headers are ParseErrors at the offset of the bad field', () => {
  const good = small();
  // Layout: header 0..24; int at 24 (16 bytes); struct at 40 (12 + 12); strings at 64.
  assert.equal(parseBtf(good).length, 3);
  const strOff = new DataView(good.buffer).getUint32(16, true);
  assert.equal(strOff, 40);
  assertParseError(() => parseBtf(good.subarray(0, 10)), 10, /too short for a BTF header/);
  assertParseError(() => parseBtf(withU32(good, 0, 0x1234)), 0, /bad magic 0x1234/);
  const v2 = good.slice(); v2[2] = 2;
  assertParseError(() => parseBtf(v2), 2, /version 2/);
  assertParseError(() => parseBtf(withU32(good, 4, 12)), 4, /hdr_len 12/);
  assertParseError(() => parseBtf(withU32(good, 4, 9999)), 4, /hdr_len 9999 runs past/);
  assertParseError(() => parseBtf(withU32(good, 8, 2)), 8, /not 4-byte aligned|overlaps/);
  assertParseError(() => parseBtf(withU32(good, 12, 42)), 12, /not a multiple of 4/);
  assertParseError(() => parseBtf(withU32(good, 12, 4000)), 8, /type section 0\+4000 runs past/);
  assertParseError(() => parseBtf(withU32(good, 20, 4000)), 16, /string section 40\+4000 runs past/);
  assertParseError(() => parseBtf(withU32(good, 16, 8)), 8, /overlaps/);
  assertParseError(() => parseBtf(withU32(good, 20, 0)), 20, /string section is empty/);
  const noNul = good.slice(); noNul[noNul.length - 1] = 0x41;
  assertParseError(() => parseBtf(noNul), noNul.length - 1, /does not end with a NUL/);
  const noEmpty = good.slice(); noEmpty[24 + strOff] = 0x41;
  assertParseError(() => parseBtf(noEmpty), 24 + strOff, /does not start with the empty string/);
  // A longer header (hdr_len 28) with the sections after it is fine.
  const longer = new Uint8Array(good.length + 4);
  longer.set(good.subarray(0, 24));
  longer.set(good.subarray(24), 28);
  assert.deepEqual(parseBtf(withU32(longer, 4, 28)).own, parseBtf(good).own);
});

test('bad types are ParseErrors at the offset of the bad field', () => {
  const good = small();
  assertParseError(() => parseBtf(withU32(good, 24, 9999)), 24, /name offset 9999 is outside/);
  assertParseError(() => parseBtf(withU32(good, 40 + 12, 9999)), 52, /name offset 9999/);
  assertParseError(() => parseBtf(withU32(good, 40 + 16, 7)), 56, /type id 7 is out of range \(there are 3 types\)/);
  assertParseError(() => parseBtf(withU32(good, 28, 25 << 24)), 28, /unknown kind 25/);
  assertParseError(() => parseBtf(withU32(good, 28, 0)), 28, /unknown kind 0/);
  // The struct claims 2 members but the section has room for 1.
  assertParseError(() => parseBtf(withU32(good, 44, (4 << 24) | 2)), 44, /type 2 \(kind 4, vlen 2\) runs past the end/);
  // Type section cut inside the struct (type_len 20: the int and half a btf_type).
  assertParseError(() => parseBtf(withU32(good, 12, 20)), 40, /type 2 is truncated/);
  // Errors from btfFromElf are file offsets.
  const file = btfObjects()[0]!;
  const bytes = new Uint8Array(readFileSync(file));
  const elf = readElf(file);
  const btfSection = elf.sections.find((s) => s.name === '.BTF')!;
  const corrupt = bytes.slice();
  new DataView(corrupt.buffer).setUint32(btfSection.offset + 24, 0xffffff, btfSection.data[0] === 0x9f);
  assert.throws(() => btfFromElf(parseElf(corrupt)), (err: unknown) =>
    err instanceof ParseError && err.offset === btfSection.offset + 24 && /^section \.BTF: name offset/.test(err.message));
});

/** A small deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const INTERESTING = [0, 1, 2, 3, 4, 8, 12, 16, 24, 0x7f, 0x80, 0xff, 0xffff, 0x10000, 0xffffff, 0x1000000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

/** One random corruption of `input`: bit flips, a truncation, or a u32 (length, offset, id, info) overwritten. */
function mutate(input: Uint8Array, rnd: () => number, words: readonly number[]): Uint8Array {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const r = rnd();
  if (r < 0.15) return input.subarray(0, Math.floor(rnd() * input.length));
  const out = input.slice();
  const view = new DataView(out.buffer);
  if (r < 0.5) {
    const flips = 1 + Math.floor(rnd() * 4);
    for (let i = 0; i < flips; i++) {
      const at = Math.floor(rnd() * out.length);
      out[at]! ^= 1 << Math.floor(rnd() * 8);
    }
    return out;
  }
  // Overwrite a header field or a random aligned word with an interesting value, or nudge it.
  const at = rnd() < 0.4 ? pick(words) : Math.floor(rnd() * (out.length / 4)) * 4;
  if (at + 4 > out.length) return out;
  const le = out[0] === 0x9f;
  const old = view.getUint32(at, le);
  const value = rnd() < 0.6 ? pick(INTERESTING) : old + Math.floor(rnd() * 64) - 32;
  view.setUint32(at, value >>> 0, le);
  return out;
}

test('10,000 mutations of .BTF and .BTF.ext only ever raise ParseError or BtfError, quickly', (t) => {
  const inputs: { btf: Uint8Array; parsed: Btf; ext?: Uint8Array }[] = [];
  const files = btfObjects();
  const objs = kindsObjects();
  if (objs.skip === false) files.push(objs.le, objs.be);
  for (const file of files) {
    const elf = readElf(file);
    const btf = sectionData(elf, '.BTF');
    // Small inputs keep 10,000 rounds fast whatever objects bpf/fixtures gains.
    if (btf.length > 8192 && !file.includes('kinds')) continue;
    const ext = elf.sections.find((s) => s.name === '.BTF.ext');
    inputs.push(ext === undefined ? { btf, parsed: parseBtf(btf) } : { btf, parsed: parseBtf(btf), ext: ext.data });
  }
  const rnd = prng(0xb7f);
  const start = performance.now();
  const outcomes = { ok: 0, parseError: 0, btfError: 0 };
  const btfHeaderWords = [4, 8, 12, 16, 20];
  const extHeaderWords = [4, 8, 12, 16, 20, 24, 28, 32];
  for (let i = 0; i < 10_000; i++) {
    const input = inputs[i % inputs.length]!;
    const onExt = input.ext !== undefined && i % 3 === 2;
    try {
      if (onExt) {
        parseBtfExt(mutate(input.ext!, rnd, extHeaderWords), input.parsed);
      } else {
        const btf = parseBtf(mutate(input.btf, rnd, btfHeaderWords));
        // What parsed must also dump and serialize.
        formatBtfRaw(btf);
        parseBtf(serializeBtf(btf));
        if (input.ext !== undefined) parseBtfExt(input.ext, btf);
      }
      outcomes.ok++;
    } catch (err) {
      if (err instanceof ParseError) outcomes.parseError++;
      else if (err instanceof BtfError) outcomes.btfError++;
      else throw new Error(`mutation ${i} (${onExt ? '.BTF.ext' : '.BTF'}) raised ${String(err)}`, { cause: err });
    }
  }
  const ms = performance.now() - start;
  t.diagnostic(`${inputs.length} inputs, ${JSON.stringify(outcomes)} in ${ms.toFixed(0)} ms`);
  assert.ok(outcomes.parseError > 1000, JSON.stringify(outcomes));
  assert.ok(ms < 10_000, `fuzzing took ${ms.toFixed(0)} ms`);
});

test('a Node Buffer parses like a Uint8Array (Buffer.slice is a view, not a copy)', () => {
  const vmlinux = '/sys/kernel/btf/vmlinux';
  const path = existsSync(vmlinux) ? vmlinux : undefined;
  const obj = readFileSync(new URL('../../../bpf/fixtures/btf_values.o', import.meta.url));
  const elf = parseElf(obj); // a Buffer all the way down
  const fromBuffer = btfFromElf(elf)!;
  const fromCopy = btfFromElf(parseElf(new Uint8Array(obj)))!;
  assert.deepEqual(fromBuffer.own, fromCopy.own);
  if (path) assert.ok(parseBtf(readFileSync(path)).length > 1000);
});
