/**
 * The BTF value codec: hand-built types for each rule and error, and clang's own bytes — the
 * .data of bpf/fixtures/btf_values.c, built little- and big-endian — decoded to the values
 * its initializers say and encoded back to the same bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Btf, BtfError } from '../../src/btf/btf.js';
import { codecFor, CodecError, decodeValue, encodeValue, type BtfValue } from '../../src/btf/codec.js';
import { btfFromElf } from '../../src/btf/parse.js';
import { BTF_INT_BOOL, BTF_INT_CHAR, BTF_INT_SIGNED, type BtfMember, type BtfType } from '../../src/btf/types.js';
import { EbpfError } from '../../src/errors.js';
import { findSection, parseElf } from '../../src/elf/index.js';
import { repoRoot } from '../support/shared.js';

const m = (name: string, type: number, bitOffset: number, bitfieldSize = 0): BtfMember => ({ name, type, bitOffset, bitfieldSize });
const int = (name: string, size: number, encoding = 0): BtfType => ({ kind: 'int', name, size, encoding, offset: 0, bits: size * 8 });
const record = (kind: 'struct' | 'union', name: string, size: number, members: BtfMember[]): BtfType =>
  ({ kind, name, size, kindFlag: members.some((x) => x.bitfieldSize > 0), members });
const arr = (type: number, nelems: number): BtfType => ({ kind: 'array', name: '', type, indexType: 2, nelems });
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const bytesOf = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s/g, ''), 'hex'));

/** Types for the unit tests; ids are 1-based positions. */
const T = {
  u8: 1, s8: 2, u16: 3, s16: 4, u32: 5, s32: 6, u64: 7, s64: 8, u128: 9, s128: 10, bool: 11, char: 12, float: 13, double: 14,
  u32t: 15, cu32: 16, ptr: 17, color: 18, wide: 19, sign: 20, comm: 21, mac: 22, grid: 23, grid_row: 24,
  hdr: 25, pkt: 26, anon_union: 27, num: 28, flex: 29, flex_data: 30, bits: 31, legacy: 32, legacy3: 33, legacy5: 34,
  list: 35, list_ptr: 36, sec: 37, v_a: 38, v_b: 39, uchar_char: 40, long_double: 41, cchar: 42, signed_char: 43,
} as const;

function unitBtf(): Btf {
  const types: BtfType[] = [
    /* 1 */ int('unsigned char', 1),
    /* 2 */ int('signed char', 1, BTF_INT_SIGNED),
    /* 3 */ int('unsigned short', 2),
    /* 4 */ int('short', 2, BTF_INT_SIGNED),
    /* 5 */ int('unsigned int', 4),
    /* 6 */ int('int', 4, BTF_INT_SIGNED),
    /* 7 */ int('unsigned long long', 8),
    /* 8 */ int('long long', 8, BTF_INT_SIGNED),
    /* 9 */ int('unsigned __int128', 16),
    /* 10 */ int('__int128', 16, BTF_INT_SIGNED),
    /* 11 */ int('_Bool', 1, BTF_INT_BOOL),
    /* 12 */ int('char', 1, BTF_INT_SIGNED),
    /* 13 */ { kind: 'float', name: 'float', size: 4 },
    /* 14 */ { kind: 'float', name: 'double', size: 8 },
    /* 15 */ { kind: 'typedef', name: '__u32', type: 5 },
    /* 16 */ { kind: 'const', name: '', type: 15 },
    /* 17 */ { kind: 'ptr', name: '', type: 0 },
    /* 18 */ { kind: 'enum', name: 'color', size: 4, signed: false, values: [{ name: 'RED', value: 1 }, { name: 'GREEN', value: 2 }] },
    /* 19 */ { kind: 'enum64', name: 'wide', size: 8, signed: false, values: [{ name: 'HUGE', value: 0xfedcba9876543210n }] },
    /* 20 */ { kind: 'enum', name: 'sign', size: 1, signed: true, values: [{ name: 'NEG', value: -5 }] },
    /* 21 */ arr(12, 8),
    /* 22 */ arr(1, 6),
    /* 23 */ arr(24, 2),
    /* 24 */ arr(4, 3),
    // struct hdr { __u8 ver; /* pad */ __u16 proto; __u32 len; }
    /* 25 */ record('struct', 'hdr', 8, [m('ver', 1, 0), m('proto', 3, 16), m('len', 16, 32)]),
    // struct pkt { struct hdr hdr; union { __u32 word; u8 bytes[4]; }; union num num; char comm[8]; short grid[2][3]; enum color color; /* pad */ }
    /* 26 */ record('struct', 'pkt', 48, [m('hdr', 25, 0), m('', 27, 64), m('num', 28, 128), m('comm', 21, 192), m('grid', 23, 256), m('color', 18, 352)]),
    /* 27 */ record('union', '', 4, [m('word', 5, 0), m('bytes', 40, 0)]),
    /* 28 */ record('union', 'num', 8, [m('s64', 8, 0), m('d', 14, 0)]),
    // struct flex { u32 n; u8 data[]; }
    /* 29 */ record('struct', 'flex', 4, [m('n', 5, 0), m('data', 30, 32)]),
    /* 30 */ arr(1, 0),
    // struct bits { u8 a:3, b:5; int s:4; enum color c:2; _Bool f:1; u64 w:40; }
    /* 31 */ record('struct', 'bits', 16, [m('a', 1, 0, 3), m('b', 1, 3, 5), m('s', 6, 8, 4), m('c', 18, 12, 2), m('f', 11, 14, 1), m('w', 7, 64, 40)]),
    // legacy int-encoded bitfields: u32 x:3 at bit 0, u32 y:5 at bit 3 (the int carries bits and offset)
    /* 32 */ record('struct', 'legacy', 4, [m('x', 33, 0), m('y', 34, 0)]),
    /* 33 */ { kind: 'int', name: 'unsigned int', size: 4, encoding: 0, offset: 0, bits: 3 },
    /* 34 */ { kind: 'int', name: 'unsigned int', size: 4, encoding: 0, offset: 3, bits: 5 },
    // struct list { struct list *next; int v; }
    /* 35 */ record('struct', 'list', 16, [m('next', 36, 0), m('v', 6, 64)]),
    /* 36 */ { kind: 'ptr', name: '', type: 35 },
    /* 37 */ { kind: 'datasec', name: '.data', size: 12, vars: [{ type: 38, offset: 0, size: 4 }, { type: 39, offset: 4, size: 8 }] },
    /* 38 */ { kind: 'var', name: 'a', type: 6, linkage: 1 },
    /* 39 */ { kind: 'var', name: 'b', type: 7, linkage: 1 },
    /* 40 */ arr(1, 4),
    /* 41 */ { kind: 'float', name: 'long double', size: 16 },
    /* 42 */ int('uchar_char', 1, BTF_INT_CHAR),
    /* 43 */ arr(2, 4),
  ];
  return new Btf(types);
}

const btf = unitBtf();

test('integers: number up to 32 bits, bigint for 64 and 128, both byte orders', () => {
  const cases: [number, string, BtfValue][] = [
    [T.u8, 'ff', 255], [T.s8, 'ff', -1], [T.u16, '3412', 0x1234], [T.s16, 'feff', -2],
    [T.u32, '78563412', 0x12345678], [T.s32, 'ffffffff', -1], [T.u64, 'feffffffffffffff', 0xfffffffffffffffen],
    [T.s64, 'feffffffffffffff', -2n], [T.u128, '0100000000000000' + '0200000000000000', (2n << 64n) | 1n],
    [T.s128, 'ff'.repeat(16), -1n], [T.u32t, '01000000', 1], [T.cu32, '01000000', 1], [T.ptr, '3412000000000000', 0x1234n],
    [T.char, '41', 65],
  ];
  for (const [id, h, v] of cases) {
    assert.deepEqual(decodeValue(btf, id, bytesOf(h)), v, `decode type ${id}`);
    assert.equal(hex(encodeValue(btf, id, v)), h, `encode type ${id}`);
    const be = bytesOf(h).reverse();
    assert.deepEqual(decodeValue(btf, id, be, { endianness: 'big' }), v, `decode BE type ${id}`);
    assert.equal(hex(encodeValue(btf, id, v, { endianness: 'big' })), hex(be), `encode BE type ${id}`);
  }
  // A number is fine for a 64-bit int when it is a safe integer, a bigint for a 32-bit one.
  assert.equal(hex(encodeValue(btf, T.u64, 5)), '0500000000000000');
  assert.equal(hex(encodeValue(btf, T.u32, 5n)), '05000000');
});

test('bool, floats and long double', () => {
  assert.equal(decodeValue(btf, T.bool, bytesOf('01')), true);
  assert.equal(decodeValue(btf, T.bool, bytesOf('00')), false);
  assert.equal(hex(encodeValue(btf, T.bool, true)), '01');
  assert.equal(decodeValue(btf, T.float, bytesOf('0000003f')), 0.5);
  assert.equal(hex(encodeValue(btf, T.double, -2)), '00000000000000c0');
  assert.equal(hex(encodeValue(btf, T.double, -2, { endianness: 'big' })), 'c000000000000000');
  // long double has no JS counterpart: its bytes.
  const ld = bytesOf('00112233445566778899aabbccddeeff');
  assert.deepEqual(decodeValue(btf, T.long_double, ld), ld);
});

test('char arrays are strings up to the first NUL; other byte arrays are arrays', () => {
  assert.equal(decodeValue(btf, T.comm, bytesOf('6261736800414141')), 'bash');
  assert.equal(decodeValue(btf, T.comm, bytesOf('4142434445464748')), 'ABCDEFGH');
  assert.equal(hex(encodeValue(btf, T.comm, 'bash')), '6261736800000000');
  assert.equal(hex(encodeValue(btf, T.comm, 'ABCDEFGH')), '4142434445464748');
  assert.equal(hex(encodeValue(btf, T.comm, new Uint8Array([1, 2]))), '0102000000000000');
  assert.deepEqual(decodeValue(btf, T.mac, bytesOf('0242ac110002')), [2, 0x42, 0xac, 0x11, 0, 2]);
  assert.equal(hex(encodeValue(btf, T.mac, [2, 0x42])), '024200000000');
  assert.equal(hex(encodeValue(btf, T.mac, new Uint8Array([9, 8, 7]))), '090807000000');
  // signed char arrays are numbers too: only `char` (or BTF_INT_CHAR) is text.
  assert.deepEqual(decodeValue(btf, T.signed_char, bytesOf('ff000102')), [-1, 0, 1, 2]);
  assert.deepEqual(decodeValue(btf, T.grid, bytesOf('0100feff0300fcff0500faff')), [[1, -2, 3], [-4, 5, -6]]);
});

test('enums by name, the number when no name matches; encode takes either', () => {
  assert.equal(decodeValue(btf, T.color, bytesOf('02000000')), 'GREEN');
  assert.equal(decodeValue(btf, T.color, bytesOf('07000000')), 7);
  assert.equal(hex(encodeValue(btf, T.color, 'RED')), '01000000');
  assert.equal(hex(encodeValue(btf, T.color, 9)), '09000000');
  assert.equal(decodeValue(btf, T.wide, bytesOf('1032547698badcfe')), 'HUGE');
  assert.equal(decodeValue(btf, T.wide, bytesOf('0100000000000000')), 1n);
  assert.equal(hex(encodeValue(btf, T.wide, 'HUGE')), '1032547698badcfe');
  assert.equal(decodeValue(btf, T.sign, bytesOf('fb')), 'NEG');
  assert.equal(decodeValue(btf, T.sign, bytesOf('fe')), -2);
  assert.equal(hex(encodeValue(btf, T.sign, 'NEG')), 'fb');
  assert.throws(() => encodeValue(btf, T.color, 'BLUE'), (e: unknown) => e instanceof CodecError && /'BLUE' is not an enumerator of enum color/.test(e.message));
});

test('structs: nested objects, anonymous members flattened, unions decoded whole, padding zero', () => {
  const bytes = bytesOf(`
    04 ee 3412 28000000
    04030201 00000000
    feffffffffffffff
    6c6f00ffffffffff
    0100feff0300fcff0500faff
    02000000`);
  const value = decodeValue(btf, T.pkt, bytes);
  assert.deepEqual(value, {
    hdr: { ver: 4, proto: 0x1234, len: 40 },
    word: 0x01020304, bytes: [4, 3, 2, 1],
    num: { s64: -2n, d: NaN },
    comm: 'lo',
    grid: [[1, -2, 3], [-4, 5, -6]],
    color: 'GREEN',
  });
  // Encoding writes padding as zero, and so what the value leaves out.
  const input = {
    hdr: { ver: 4, proto: 0x1234, len: 40 }, word: 0x01020304, num: { s64: -2n }, comm: 'lo',
    grid: [[1, -2, 3], [-4, 5, -6]], color: 'GREEN',
  };
  const expected = bytesOf(`04 00 3412 28000000 04030201 00000000 feffffffffffffff 6c6f000000000000
    0100feff0300fcff0500faff 02000000`);
  assert.equal(hex(encodeValue(btf, T.pkt, input)), hex(expected));
  assert.equal(hex(encodeValue(btf, T.pkt, {})), '00'.repeat(48));
  // Union members given together must agree on their shared bytes: a decoded union writes
  // back unchanged, a changed member beside its stale twin is an error naming both.
  assert.equal(hex(encodeValue(btf, T.anon_union, { word: 0x01020304, bytes: [4, 3] })), '04030201');
  assert.throws(() => encodeValue(btf, T.anon_union, { word: 0x01020304, bytes: [9] }), /members 'word' and 'bytes' of .* give different bytes/);
  const decoded = decodeValue(btf, T.anon_union, Uint8Array.of(4, 3, 2, 1)) as Record<string, unknown>;
  assert.equal(hex(encodeValue(btf, T.anon_union, decoded)), '04030201');
});

test('flexible arrays, pointers in recursive types, datasecs', () => {
  assert.deepEqual(decodeValue(btf, T.flex, bytesOf('05000000')), { n: 5, data: [] });
  assert.throws(() => encodeValue(btf, T.flex, { data: [1] }), /value\.data: 1 elements do not fit in unsigned char\[0\]/);
  assert.deepEqual(decodeValue(btf, T.list, bytesOf('0010000000000000 07000000 00000000')), { next: 0x1000n, v: 7 });
  assert.deepEqual(decodeValue(btf, T.sec, bytesOf('ffffffff 0200000000000000')), { a: -1, b: 2n });
  assert.equal(hex(encodeValue(btf, T.sec, { b: 3n })), '00000000' + '0300000000000000');
  assert.deepEqual(decodeValue(btf, T.v_a, bytesOf('05000000')), 5);
});

test('bitfields: kind-flag offsets, signed, enum and bool fields, wide fields as bigint', () => {
  // a=5 (3 bits), b=17 (5 bits), s=-3 (4 bits), c=GREEN (2 bits), f=true, w=0xfedcba9876 (40 bits)
  const le = bytesOf('8d 6d 00 00 00 00 00 00 76 98 ba dc fe 00 00 00');
  const value = { a: 5, b: 17, s: -3, c: 'GREEN', f: true, w: 0xfedcba9876n };
  assert.deepEqual(decodeValue(btf, T.bits, le), value);
  assert.equal(hex(encodeValue(btf, T.bits, value)), hex(le));
  // Big-endian: bit offsets count from the most significant bit of the first byte.
  const be = bytesOf('b1 da 00 00 00 00 00 00 fe dc ba 98 76 00 00 00');
  assert.deepEqual(decodeValue(btf, T.bits, be, { endianness: 'big' }), value);
  assert.equal(hex(encodeValue(btf, T.bits, value, { endianness: 'big' })), hex(be));
  // Legacy encoding: no kind flag, the member's int says bits and offset.
  assert.deepEqual(decodeValue(btf, T.legacy, bytesOf('8d000000')), { x: 5, y: 17 });
  assert.equal(hex(encodeValue(btf, T.legacy, { x: 5, y: 17 })), '8d000000');
  assert.throws(() => encodeValue(btf, T.bits, { s: 8 }), /value\.s: 8 is out of range for s:4 \(-8\.\.7\)/);
  assert.throws(() => encodeValue(btf, T.bits, { a: 8 }), /value\.a: 8 is out of range for a:3 \(0\.\.7\)/);
  assert.throws(() => encodeValue(btf, T.bits, { f: 'yes' }), /value\.f: expected a boolean/);
});

test('errors name the path and are CodecErrors', () => {
  const check = (fn: () => unknown, path: string, re: RegExp): void => {
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof CodecError && e instanceof EbpfError, String(e));
      assert.equal(e.path, path);
      assert.match(e.message, re);
      assert.ok(e.message.startsWith(`${path}: `), e.message);
      return true;
    });
  };
  check(() => decodeValue(btf, T.hdr, new Uint8Array(7)), 'value', /struct hdr takes 8 bytes, got 7/);
  check(() => encodeValue(btf, T.pkt, { hdr: { proto: 70000 } }), 'value.hdr.proto', /70000 is out of range for unsigned short \(0\.\.65535\)/);
  check(() => encodeValue(btf, T.pkt, { hdr: { port: 1 } }), 'value.hdr.port', /struct hdr has no member 'port'/);
  check(() => encodeValue(btf, T.pkt, { grid: [[1, 2, 3], [4, 5, 1.5]] }), 'value.grid[1][2]', /expected an integer for short, got 1\.5/);
  check(() => encodeValue(btf, T.pkt, { grid: [[1, 2, 3, 4]] }), 'value.grid[0]', /4 elements do not fit in short\[3\]/);
  check(() => encodeValue(btf, T.pkt, { comm: 'much too long' }), 'value.comm', /13 bytes do not fit in char\[8\]/);
  check(() => encodeValue(btf, T.pkt, { num: 5 }), 'value.num', /expected an object for union num/);
  check(() => encodeValue(btf, T.pkt, { color: 'BLUE' }), 'value.color', /'BLUE' is not an enumerator of enum color/);
  check(() => encodeValue(btf, T.u64, 2 ** 64), 'value', /not a safe integer; use a bigint/);
  check(() => encodeValue(btf, T.s64, 1n << 63n), 'value', /out of range for long long/);
  check(() => encodeValue(btf, T.u32, -1), 'value', /-1 is out of range for unsigned int \(0\.\.4294967295\)/);
  check(() => encodeValue(btf, T.u8, '1'), 'value', /expected an integer for unsigned char, got "1"/);
  assert.throws(() => codecFor(btf, 0), BtfError);
});

test('codecFor compiles once per Btf and byte order; decode and encode at an offset', () => {
  const a = codecFor(btf, T.pkt);
  assert.equal(codecFor(btf, T.pkt), a);
  assert.notEqual(codecFor(btf, T.pkt, { endianness: 'big' }), a);
  assert.equal(codecFor(unitBtf(), T.pkt) === a, false);
  assert.equal(a.size, 48);
  const hdr = codecFor(btf, T.hdr);
  const buf = bytesOf('aaaa 04003412 28000000 bbbb');
  assert.deepEqual(hdr.decode(buf, 2), { ver: 4, proto: 0x1234, len: 40 });
  assert.throws(() => hdr.decode(buf, 8), CodecError);
  const out = new Uint8Array(12).fill(0xcc);
  hdr.encodeInto({ ver: 1 }, out, 2);
  assert.equal(hex(out), 'cccc' + '0100000000000000' + 'cccc');
});

// ---- clang's bytes --------------------------------------------------------------------------

const fixtures = join(repoRoot, 'bpf', 'fixtures');

/** Decoded values of the fixture's globals, as its initializers say (`as_bytes` by byte order). */
function expectedSample(littleEndian: boolean): Record<string, BtfValue> {
  return {
    hdr: { version: 4, ihl: 5, proto: 0x1234, delta: -3, flags: 0x5a5, tint: 'BLUE', urgent: true, big: 0xfedcba9876n },
    comm: 'bash',
    mac: [0x02, 0x42, 0xac, 0x11, 0x00, 0x02],
    as_u32: 0x01020304,
    as_bytes: littleEndian ? [4, 3, 2, 1] : [1, 2, 3, 4],
    num: { s64: -2n, d: NaN },
    color: 'GREEN',
    unnamed_color: 7,
    wide: 'WIDE_HUGE',
    sign: 'NEG',
    ok: true,
    small: -100,
    grid: [[1, -2, 3], [-4, 5, -6]],
    ratio: 0.5,
    ptr: 0x1234n,
    u128: (0x0102030405060708n << 64n) | 0x1112131415161718n,
    u64: 0xfffffffffffffffen,
    s64: -9000000000n,
  };
}

/** What a program would write: the initializers, one member per union. */
function sampleInput(): Record<string, unknown> {
  const { as_bytes: _b, num: _n, ...rest } = expectedSample(true);
  return { ...rest, num: { s64: -2n } };
}

for (const [file, little] of [['btf_values.o', true], ['btf_values.bpfeb.o', false]] as const) {
  test(`clang's .data of ${file} decodes to its initializers and encodes back byte for byte`, () => {
    const buf = readFileSync(join(fixtures, file));
    const elf = parseElf(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
    const objBtf = btfFromElf(elf)!;
    assert.equal(objBtf.bigEndian, !little);
    const data = findSection(elf, '.data')!.data;
    const global = (name: string): [number, Uint8Array] => {
      const sym = elf.symbols.find((s) => s.name === name)!;
      const v = objBtf.findByName(name, 'var')[0]!;
      return [v, data.subarray(sym.value, sym.value + sym.size)];
    };
    const [sampleVar, sampleBytes] = global('sample');
    assert.equal(sampleBytes.length, 144);
    assert.deepEqual(decodeValue(objBtf, sampleVar, sampleBytes), expectedSample(little));
    assert.equal(hex(encodeValue(objBtf, sampleVar, sampleInput())), hex(sampleBytes));
    const [packedVar, packedBytes] = global('packed_value');
    assert.deepEqual(decodeValue(objBtf, packedVar, packedBytes), { c: 0x78, i: -1, s: 0x7fff });
    assert.equal(hex(encodeValue(objBtf, packedVar, { c: 0x78, i: -1, s: 0x7fff })), hex(packedBytes));
  });
}
