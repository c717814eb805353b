/**
 * CO-RE relocation on hand-built BTF: every relocation kind, flavors, anonymous members, arrays
 * (flexible ones too), bitfields, enum64, candidate pruning, module BTFs, the instruction forms
 * and every failure libbpf turns into an error or a poisoned instruction.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyCoreRelocations, Btf, CORE_POISON_HELPER_ID, CoreError, CoreRelocationKind as K,
  coreRelocationKindName, essentialName, essentialNameLength, fieldsAreCompatible, typesAreCompatible, typesMatch,
  type BtfType, type CoreRelocation, type CoreRelocationResult,
} from '../../src/btf/index.js';
import { assemble, decodeInstruction, toSlots, type Instruction } from '../../src/isa/index.js';
import { array, btf, constOf, enumType, fwd, int, member, ptr, struct, typedef, union } from './core-support.js';

// Local BTF, as clang would write it for the program.
const local = btf(
  int('int'), //                                     1
  int('unsigned int', 4, false), //                  2
  array(1, 2), //                                    3  int[2]
  struct('foo', 16, [member('a', 1, 0), member('b', 1, 32), member('arr', 3, 64)]), // 4
  ptr(4), //                                         5
  int('unsigned short', 2, false), //                6
  struct('foo___narrow', 4, [member('a', 6, 0), member('b', 6, 16)]), // 7
  int('long', 8), //                                 8
  struct('foo___wide', 8, [member('a', 8, 0)]), //   9
  struct('bar', 4, [member('x', 1, 0)]), //          10
  struct('bits', 4, [member('lo', 2, 0, 3), member('hi', 2, 3, 5), member('s', 1, 8, 4)]), // 11
  enumType('color', [['RED', 0], ['GREEN', 1], ['PURPLE', 7]]), // 12
  enumType('big', [['HUGE', 1n], ['NEG', 2n]], { kind: 'enum64' }), // 13
  typedef('foo_t', 4), //                            14
  struct('', 4, [member('x', 1, 0)]), //             15 anonymous
  struct('foo___old', 4, [member('gone', 1, 0)]), // 16
  enumType('color___v2', [['GREEN___v2', 1]]), //    17
);

// Target BTF, the "kernel": foo grew, b moved into an anonymous union, arr has 4 elements.
const target = btf(
  int('int'), //                                     1
  int('unsigned int', 4, false), //                  2
  int('long', 8), //                                 3
  union('', 4, [member('b', 1, 0), member('c', 2, 0)]), // 4
  array(1, 4), //                                    5  int[4]
  struct('foo', 32, [member('x', 3, 0), member('', 4, 64), member('a', 2, 96), member('arr', 5, 128)]), // 6
  struct('bits', 8, [member('pad', 2, 0), member('lo', 2, 32, 3), member('hi', 2, 35, 5), member('s', 1, 40, 4)]), // 7
  enumType('color', [['RED', 10], ['GREEN', 11]]), // 8
  enumType('big', [['HUGE', 0xffff_ffff_0000_0000n], ['NEG', -2n]], { kind: 'enum64', signed: true }), // 9
  typedef('foo_t', 6), //                            10
  struct('foo___2', 32, [member('x', 3, 0), member('a', 2, 96)]), // 11 a second flavor, same offset of a
  array(1, 0), //                                    12 int[]
  struct('flex', 4, [member('n', 1, 0), member('data', 12, 32)]), // 13
);

const relo = (insnOff: number, typeId: number, accessStr: string, kind: number): CoreRelocation => ({ insnOff, typeId, accessStr, kind });

function apply(asm: string, relos: CoreRelocation[], targetBtf: Btf | Btf[] = target, localBtf: Btf = local) {
  return applyCoreRelocations(assemble(asm), relos, localBtf, targetBtf, { programName: 'test' });
}

function one(asm: string, r: CoreRelocation, targetBtf: Btf | Btf[] = target, localBtf: Btf = local): { insn: Instruction; result: CoreRelocationResult; instructions: Instruction[] } {
  const out = apply(asm, [r], targetBtf, localBtf);
  return { insn: out.instructions[r.insnOff / 8]!, result: out.results[0]!, instructions: out.instructions };
}

function fails(asm: string, r: CoreRelocation | CoreRelocation[], reason: RegExp, targetBtf: Btf | Btf[] = target, localBtf: Btf = local): CoreError {
  let caught: unknown;
  try {
    apply(asm, Array.isArray(r) ? r : [r], targetBtf, localBtf);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof CoreError, `expected a CoreError, got ${String(caught)}`);
  assert.match(caught.reason, reason);
  return caught;
}

const isPoison = (insn: Instruction | undefined): boolean =>
  insn?.kind === 'call' && insn.target === 'helper' && insn.imm === CORE_POISON_HELPER_ID;

test('essential names drop the last ___flavor suffix', () => {
  assert.equal(essentialNameLength('task_struct___old'), 11);
  assert.equal(essentialName('task_struct___old'), 'task_struct');
  assert.equal(essentialName('a___b___c'), 'a___b');
  assert.equal(essentialName('foo'), 'foo');
  assert.equal(essentialName('foo____bar'), 'foo____bar'); // four underscores: no separator
  assert.equal(essentialName('foo___'), 'foo___');
  assert.equal(essentialName('___foo'), '___foo');
  assert.equal(essentialName('x___y'), 'x');
});

test('kind names are libbpf\'s', () => {
  assert.equal(coreRelocationKindName(K.FIELD_BYTE_OFFSET), 'byte_off');
  assert.equal(coreRelocationKindName(K.TYPE_MATCHES), 'type_matches');
  assert.equal(coreRelocationKindName(K.ENUMVAL_VALUE), 'enumval_value');
  assert.equal(coreRelocationKindName(99), 'unknown');
});

test('FIELD_BYTE_OFFSET: ALU immediates, through an anonymous union, into arrays', () => {
  // foo.a: local 0, target 12.
  let r = one('r1 = 0', relo(0, 4, '0:0', K.FIELD_BYTE_OFFSET));
  assert.equal(r.insn.imm, 12);
  assert.deepEqual(r.result.patch, { kind: 'imm', from: 0, to: 12 });
  assert.equal(r.result.localSpec, '<byte_off> [4] struct foo.a (0:0 @ offset 0)');
  assert.equal(r.result.targetSpec, '<byte_off> [6] struct foo.a (0:2 @ offset 12)');
  assert.equal(r.result.matches.length, 2); // foo and foo___2 agree
  // foo.b lives in an anonymous union in the target: raw spec 0:1:0.
  r = one('r1 += 4', relo(0, 4, '0:1', K.FIELD_BYTE_OFFSET));
  assert.equal(r.insn.imm, 8);
  assert.equal(r.result.targetSpec, '<byte_off> [6] struct foo.b (0:1:0 @ offset 8)');
  // foo.arr[1]: 8 + 4 locally, 16 + 4 in the target.
  r = one('r1 = 12', relo(0, 4, '0:2:1', K.FIELD_BYTE_OFFSET));
  assert.equal(r.insn.imm, 20);
  assert.equal(r.result.targetSpec, '<byte_off> [6] struct foo.arr[1] (0:3:1 @ offset 20)');
  // foo[1].a: the root index scales by the struct's size on each side.
  r = one('r1 = 16', relo(0, 4, '1:0', K.FIELD_BYTE_OFFSET));
  assert.equal(r.insn.imm, 44);
  assert.equal(r.result.localSpec, '<byte_off> [4] struct foo[1].a (1:0 @ offset 16)');
});

test('FIELD_BYTE_OFFSET: LDX/ST/STX offsets and atomics', () => {
  const { instructions, results } = apply(
    'r1 = *(u32 *)(r2 + 4)\n*(u32 *)(r1 + 4) = r2\n*(u32 *)(r1 + 0) = 7\nlock *(u32 *)(r1 + 4) += r2',
    [relo(0, 4, '0:1', K.FIELD_BYTE_OFFSET), relo(8, 4, '0:1', K.FIELD_BYTE_OFFSET),
      relo(16, 4, '0:0', K.FIELD_BYTE_OFFSET), relo(24, 4, '0:1', K.FIELD_BYTE_OFFSET)],
  );
  assert.deepEqual(instructions.map((i) => i.off), [8, 8, 12, 8]);
  assert.deepEqual(instructions.map((i) => i.kind), ['ldx', 'stx', 'st', 'atomic']);
  assert.deepEqual(results.map((r) => r.patch.kind), ['off', 'off', 'off', 'off']);
});

test('FIELD_BYTE_OFFSET: a narrower unsigned load is widened, a signed one is poisoned', () => {
  // foo___narrow.a is a u16 locally, an unsigned int in the target: the load becomes 4 bytes.
  let r = one('r1 = *(u16 *)(r2 + 0)', relo(0, 7, '0:0', K.FIELD_BYTE_OFFSET));
  assert.equal(r.insn.kind, 'ldx');
  assert.equal(r.insn.kind === 'ldx' && r.insn.size, 4);
  assert.equal(r.insn.off, 12);
  assert.deepEqual(r.result.patch, { kind: 'off', from: 0, to: 12, sizeFrom: 2, sizeTo: 4 });
  // The same width change on a store.
  r = one('*(u16 *)(r1 + 0) = r2', relo(0, 7, '0:0', K.FIELD_BYTE_OFFSET));
  assert.equal(r.insn.kind === 'stx' && r.insn.size, 4);
  // foo___narrow.b (u16) against the target's signed int b: the load can't follow.
  r = one('r1 = *(u16 *)(r2 + 2)', relo(0, 7, '0:1', K.FIELD_BYTE_OFFSET));
  assert.ok(isPoison(r.insn));
  assert.deepEqual(r.result.patch, { kind: 'poison', reason: 'memsz' });
  // foo___wide.a is a signed long locally: a signed size change is poisoned too.
  r = one('r1 = *(u64 *)(r2 + 0)', relo(0, 9, '0:0', K.FIELD_BYTE_OFFSET));
  assert.ok(isPoison(r.insn));
  // ALU forms don't care about the width.
  r = one('r1 = 0', relo(0, 9, '0:0', K.FIELD_BYTE_OFFSET));
  assert.equal(r.insn.imm, 12);
  // An access width that isn't the local field's is refused.
  fails('r1 = *(u8 *)(r2 + 0)', relo(0, 7, '0:0', K.FIELD_BYTE_OFFSET), /unexpected mem size: got 1, exp 2/);
});

test('FIELD_BYTE_SIZE, FIELD_EXISTS, FIELD_SIGNED', () => {
  assert.equal(one('r1 = 8', relo(0, 4, '0:2', K.FIELD_BYTE_SIZE)).insn.imm, 16); // int[4]
  assert.equal(one('r1 = 4', relo(0, 4, '0:2:1', K.FIELD_BYTE_SIZE)).insn.imm, 4); // an element
  assert.equal(one('r1 = 1', relo(0, 4, '0:0', K.FIELD_EXISTS)).insn.imm, 1);
  assert.equal(one('r1 = 1', relo(0, 4, '0:0', K.FIELD_SIGNED)).insn.imm, 0); // int -> unsigned int
  assert.equal(one('r1 = 1', relo(0, 4, '0:1', K.FIELD_SIGNED)).insn.imm, 1);
  // A field the target lacks: exists gives 0, the others poison.
  const gone = one('r1 = 1', relo(0, 16, '0:0', K.FIELD_EXISTS));
  assert.equal(gone.insn.imm, 0);
  assert.equal(gone.result.matches.length, 0);
  assert.equal(gone.result.targetSpec, undefined);
  assert.ok(isPoison(one('r1 = 4', relo(0, 16, '0:0', K.FIELD_BYTE_SIZE)).insn));
  assert.ok(isPoison(one('r1 = 0', relo(0, 16, '0:0', K.FIELD_BYTE_OFFSET)).insn));
  // A whole missing type: the same.
  assert.equal(one('r1 = 1', relo(0, 10, '0:0', K.FIELD_EXISTS)).insn.imm, 0);
  // Relocation kinds that make no sense for an array element fail.
  fails('r1 = 1', relo(0, 4, '0:2:1', K.FIELD_SIGNED), /can't be applied to array access/);
});

test('array bounds: out of the target\'s bounds does not match; flexible arrays always do', () => {
  // The target's int[4] has an element 3, the local int[2] does not: parsing fails.
  fails('r1 = 0', relo(0, 4, '0:2:3', K.FIELD_BYTE_OFFSET), /array index 3 out of range/);
  const smaller = btf(int('int'), array(1, 1), struct('foo', 4, [member('arr', 2, 0)]));
  assert.ok(isPoison(one('r1 = 12', relo(0, 4, '0:2:1', K.FIELD_BYTE_OFFSET), smaller).insn));
  // flex.data[] in both: any index is fine.
  const localFlex = btf(int('int'), array(1, 0), struct('flex', 4, [member('n', 1, 0), member('data', 2, 32)]));
  const r = one('r1 = 24', relo(0, 3, '0:1:5', K.FIELD_BYTE_OFFSET), target, localFlex);
  assert.equal(r.insn.imm, 24);
  assert.equal(r.result.targetSpec, '<byte_off> [13] struct flex.data[5] (0:1:5 @ offset 24)');
});

test('bitfields: offset, size and shifts follow the target; only signedness and the right shift are validated', () => {
  // bits.lo: local bits 0..2 of a u32 at 0; target bits 32..34, read as the u32 at byte 4.
  const asm = 'r1 = 99\nr1 = 99\nr1 = 61\nr1 = 61\nr1 = 0';
  const { instructions, results } = apply(asm, [
    relo(0, 11, '0:0', K.FIELD_BYTE_OFFSET), relo(8, 11, '0:0', K.FIELD_BYTE_SIZE),
    relo(16, 11, '0:0', K.FIELD_LSHIFT_U64), relo(24, 11, '0:0', K.FIELD_RSHIFT_U64),
    relo(32, 11, '0:0', K.FIELD_SIGNED),
  ]);
  assert.deepEqual(instructions.map((i) => i.imm), [4, 4, 61, 61, 0]);
  assert.deepEqual(results.map((r) => r.validated), [false, false, false, true, true]);
  // hi: bits 35..39 -> the u32 at byte 4, shifted left by 64 - (35 + 5 - 32).
  let r = one('r1 = 0', relo(0, 11, '0:1', K.FIELD_LSHIFT_U64));
  assert.equal(r.insn.imm, 56);
  // s: a signed 4-bit int at bit 40.
  assert.equal(one('r1 = 1', relo(0, 11, '0:2', K.FIELD_SIGNED)).insn.imm, 1);
  assert.equal(one('r1 = 60', relo(0, 11, '0:2', K.FIELD_RSHIFT_U64)).insn.imm, 60);
  // Big-endian programs count the left shift from the other end.
  const be = new Btf(local.own, { bigEndian: true });
  r = one('r1 = 0', relo(0, 11, '0:1', K.FIELD_LSHIFT_U64), target, be);
  assert.equal(r.insn.imm, (8 - 4) * 8 + (35 - 32));
  // The right shift is validated even for bitfields.
  fails('r1 = 7', relo(0, 11, '0:0', K.FIELD_RSHIFT_U64), /unexpected insn \(ALU\/ALU64\) value: got 7, exp 61 -> 61/);
});

test('bitfields that no 8-byte load holds fail', () => {
  const t = btf(int('long', 8, false), struct('bits', 16, [member('lo', 1, 0, 3), member('hi', 1, 60, 8)]));
  const l = btf(int('long', 8, false), struct('bits', 8, [member('lo', 1, 0, 3), member('hi', 1, 3, 8)]));
  fails('r1 = 0', relo(0, 2, '0:1', K.FIELD_BYTE_OFFSET), /can't be satisfied for bitfield/, t, l);
});

test('flavors: a local foo___narrow finds foo; candidates that agree are fine', () => {
  // foo and foo___2 both have `a` at byte 12.
  const r = one('r1 = 0', relo(0, 4, '0:0', K.FIELD_BYTE_OFFSET));
  assert.deepEqual(r.result.matches.map((m) => m.id), [6, 11]);
  assert.equal(r.result.target?.id, 6);
  // Only foo has b.
  assert.deepEqual(one('r1 = 4', relo(0, 4, '0:1', K.FIELD_BYTE_OFFSET)).result.matches.map((m) => m.id), [6]);
});

test('ambiguity: different offsets or values across candidates fail as in libbpf', () => {
  const t = btf(
    int('int'), int('long', 8),
    struct('foo', 8, [member('a', 1, 0)]),
    struct('foo___2', 8, [member('pad', 1, 0), member('a', 1, 32)]),
    struct('bar', 8, [member('a', 1, 0)]),
    struct('bar___2', 8, [member('a', 2, 0)]),
  );
  const e = fails('r1 = 0', relo(0, 4, '0:0', K.FIELD_BYTE_OFFSET), /^field offset ambiguity: 32 != 0/, t);
  assert.equal(e.code, 'EINVAL');
  assert.equal(e.relocationIndex, 0);
  assert.equal(e.insnIndex, 0);
  assert.equal(e.program, 'test');
  assert.equal(e.typeName, '[4] struct foo');
  assert.match(e.message, /^prog 'test': relo #0 at insn #0: \[4\] struct foo \+ 0:0 \(byte_off\): field offset ambiguity/);
  // bar.a is an int in one, a long in the other: same offset, different sizes.
  const l = btf(int('int'), struct('bar', 4, [member('a', 1, 0)]));
  fails('r1 = 4', relo(0, 2, '0:0', K.FIELD_BYTE_SIZE), /^relocation decision ambiguity: success 8 != success 4/, t, l);
  // Existence agrees.
  assert.equal(one('r1 = 1', relo(0, 2, '0:0', K.FIELD_EXISTS), t, l).insn.imm, 1);
  // Two compatible types: exists is fine, their ids are not.
  assert.equal(one('r1 = 1', relo(0, 2, '0', K.TYPE_EXISTS), t, l).insn.imm, 1);
  fails('r1 = 2 ll', relo(0, 2, '0', K.TYPE_ID_TARGET), /^relocation decision ambiguity: success 6 != success 5/, t, l);
});

test('type relocations: exists, size, ids, through typedefs', () => {
  let r = one('r1 = 1', relo(0, 4, '0', K.TYPE_EXISTS));
  assert.equal(r.insn.imm, 1);
  assert.equal(r.result.localSpec, '<type_exists> [4] struct foo');
  assert.equal(one('r1 = 1', relo(0, 10, '0', K.TYPE_EXISTS)).insn.imm, 0);
  assert.equal(one('r1 = 4', relo(0, 10, '0', K.TYPE_SIZE)).insn.imm, 0);
  // typedef foo_t -> foo: size through the typedef, the typedef's own id.
  assert.equal(one('r1 = 16', relo(0, 14, '0', K.TYPE_SIZE)).insn.imm, 32);
  r = one('r1 = 14 ll', relo(0, 14, '0', K.TYPE_ID_TARGET));
  assert.equal(r.insn.kind, 'lddw');
  assert.equal(r.insn.imm, 10);
  assert.deepEqual(r.result.patch, { kind: 'imm64', from: 14n, to: 10n });
  // Target ids are never validated (linking renumbers them); absent types give 0.
  assert.equal(one('r1 = 999 ll', relo(0, 14, '0', K.TYPE_ID_TARGET)).insn.imm, 10);
  assert.equal(one('r1 = 10 ll', relo(0, 10, '0', K.TYPE_ID_TARGET)).insn.imm, 0);
  // Local ids need no candidate, not even for anonymous types, and aren't validated either.
  r = one('r1 = 1234 ll', relo(0, 15, '0', K.TYPE_ID_LOCAL));
  assert.equal(r.insn.imm, 15);
  assert.equal(r.result.validated, false);
  // Type sizes are validated.
  fails('r1 = 5', relo(0, 4, '0', K.TYPE_SIZE), /unexpected insn \(ALU\/ALU64\) value: got 5, exp 16 -> 32/);
});

test('TYPE_MATCHES is stricter than TYPE_EXISTS', () => {
  const l = btf(
    int('int'), int('unsigned int', 4, false),
    struct('s', 8, [member('a', 1, 0)]), //                          3
    struct('s___bad', 8, [member('a', 2, 0)]), //                    4 a: unsigned
    struct('s___missing', 8, [member('zzz', 1, 0)]), //              5
    ptr(7), struct('p', 8, [member('next', 6, 0)]), //               6, 7: p { struct p *next }
    enumType('e', [['A', 5]]), //                                     8
    enumType('e___bad', [['Z', 5]]), //                               9
  );
  const t = btf(
    int('int'), int('unsigned int', 4, false),
    struct('s', 16, [member('b', 1, 0), member('a', 1, 32)]), //     3
    fwd('p'), ptr(4), struct('p', 8, [member('next', 5, 0)]), //      4, 5, 6: next points to a forward declaration
    enumType('e', [['B', 1], ['A', 2]], { kind: 'enum64', size: 4 }), // 7
  );
  const matches = (id: number): number => one('r1 = 1', relo(0, id, '0', K.TYPE_MATCHES), t, l).insn.imm;
  assert.equal(matches(3), 1);
  assert.equal(matches(4), 0);
  assert.equal(matches(5), 0);
  assert.equal(matches(7), 1);
  assert.equal(matches(8), 1);
  assert.equal(matches(9), 0);
  assert.equal(one('r1 = 1', relo(0, 4, '0', K.TYPE_EXISTS), t, l).insn.imm, 1);
  assert.equal(typesMatch(l, 1, t, 2), false); // int vs unsigned int: names differ already
  assert.equal(typesMatch(l, 3, t, 3), true);
});

test('type compatibility rules', () => {
  const l = btf(int('int'), ptr(1), array(1, 3), struct('s', 4, []), { kind: 'func_proto', name: '', returnType: 1, params: [{ name: 'x', type: 2 }] }, constOf(4));
  const t = btf(int('int', 8), ptr(1), array(1, 9), union('s', 4, []), { kind: 'func_proto', name: '', returnType: 1, params: [{ name: 'y', type: 2 }] }, struct('s', 4, []));
  assert.equal(typesAreCompatible(l, 1, t, 1), true); // ints of any size
  assert.equal(typesAreCompatible(l, 2, t, 2), true);
  assert.equal(typesAreCompatible(l, 3, t, 3), true); // arrays of any length
  assert.equal(typesAreCompatible(l, 4, t, 4), false); // struct vs union
  assert.equal(typesAreCompatible(l, 5, t, 5), true);
  assert.equal(typesAreCompatible(l, 6, t, 6), false); // the root kinds must be equal (const vs struct)
  assert.equal(fieldsAreCompatible(l, 4, t, 4), true); // struct and union fields mix
  assert.equal(fieldsAreCompatible(l, 6, t, 6), true); // modifiers skipped
  assert.equal(fieldsAreCompatible(l, 1, t, 2), false); // int vs pointer
});

test('enum relocations: 32- and 64-bit, flavored enumerators, missing ones', () => {
  let r = one('r1 = 1 ll', relo(0, 12, '1', K.ENUMVAL_VALUE));
  assert.equal(r.insn.imm, 11);
  assert.equal(r.result.localSpec, '<enumval_value> [12] enum color::GREEN = 1');
  assert.equal(r.result.targetSpec, '<enumval_value> [8] enum color::GREEN = 11');
  assert.equal(one('r1 = 1', relo(0, 12, '1', K.ENUMVAL_EXISTS)).insn.imm, 1);
  assert.equal(one('r1 = 1', relo(0, 12, '2', K.ENUMVAL_EXISTS)).insn.imm, 0);
  assert.ok(isPoison(one('r1 = 7', relo(0, 12, '2', K.ENUMVAL_VALUE)).insn));
  // A flavored enum and a flavored enumerator name.
  assert.equal(one('r1 = 1', relo(0, 17, '0', K.ENUMVAL_VALUE)).insn.imm, 11);
  // enum64: the full 64 bits into an lddw; a signed enum64 value as its u64 pattern.
  r = one('r1 = 1 ll', relo(0, 13, '0', K.ENUMVAL_VALUE));
  assert.equal(r.insn.kind === 'lddw' && r.insn.imm2, -1);
  assert.equal(r.insn.imm, 0);
  assert.equal(r.result.newValue, 0xffff_ffff_0000_0000n);
  assert.equal(r.result.targetSpec, '<enumval_value> [9] enum64 big::HUGE = -4294967296');
  r = one('r1 = 2 ll', relo(0, 13, '1', K.ENUMVAL_VALUE));
  assert.equal(r.result.newValue, 0xffff_ffff_ffff_fffen);
  // Into a 32-bit immediate the value is truncated, as libbpf does.
  assert.equal(one('r1 = 1', relo(0, 13, '0', K.ENUMVAL_VALUE)).insn.imm, 0);
  // A negative 32-bit enumerator is validated as its sign-extended u64.
  const l = btf(enumType('neg', [['M', -1]], { signed: true }));
  const t = btf(enumType('neg', [['M', -3]], { signed: true }));
  r = one('w1 = -1', relo(0, 1, '0', K.ENUMVAL_VALUE), t, l);
  assert.equal(r.insn.imm, -3);
  assert.equal(r.result.origValue, 0xffff_ffff_ffff_ffffn);
  assert.equal(r.result.localSpec, '<enumval_value> [1] enum neg::M = -1');
  // enum vs enum64 candidates are compatible.
  const t64 = btf(enumType('color', [['GREEN', 5n]], { kind: 'enum64' }));
  assert.equal(one('r1 = 1', relo(0, 12, '1', K.ENUMVAL_VALUE), t64).insn.imm, 5);
});

test('poisoning an lddw replaces both slots, keeping the slot count', () => {
  const { instructions, results } = apply('r1 = 7 ll\nexit', [relo(0, 12, '2', K.ENUMVAL_VALUE)]);
  assert.equal(instructions.length, 3);
  assert.ok(isPoison(instructions[0]) && isPoison(instructions[1]));
  assert.equal(instructions[2]!.kind, 'exit');
  assert.equal(toSlots(instructions).length, 3);
  assert.equal(results[0]!.poisoned, true);
  assert.equal(results[0]!.insnIndex, 0);
});

test('instruction offsets are bytes from the start of the list; lddw takes two slots', () => {
  const input = assemble('r1 = 5 ll\nr2 = 0\nexit');
  const before = JSON.stringify(input);
  const { instructions, results } = applyCoreRelocations(input, [relo(16, 4, '0:0', K.FIELD_BYTE_OFFSET)], local, target);
  assert.equal(instructions[1]!.imm, 12);
  assert.equal(results[0]!.insnIndex, 2);
  assert.equal(results[0]!.instructionIndex, 1);
  assert.equal(JSON.stringify(input), before, 'the input is not modified');
  fails('r1 = 5 ll\nr2 = 0', relo(8, 4, '0:0', K.FIELD_BYTE_OFFSET), /not the start of an instruction/);
  fails('r1 = 0', relo(4, 4, '0:0', K.FIELD_BYTE_OFFSET), /not the start of an instruction/);
  fails('r1 = 0', relo(8, 4, '0:0', K.FIELD_BYTE_OFFSET), /not the start of an instruction/);
});

test('instructions that can\'t be relocated, and values that don\'t fit', () => {
  fails('r1 += r2', relo(0, 4, '0:0', K.FIELD_BYTE_OFFSET), /register operand/);
  fails('exit', relo(0, 4, '0:0', K.FIELD_BYTE_OFFSET), /unrecognized insn/);
  const mapFd = decodeInstruction([{ code: 0x18, dst: 1, src: 1, off: 0, imm: 3 }, { code: 0, dst: 0, src: 0, off: 0, imm: 0 }], 0);
  assert.throws(() => applyCoreRelocations([mapFd], [relo(0, 4, '0', K.TYPE_SIZE)], local, target), /LDIMM64\) has unexpected form/);
  fails('r1 = 3', relo(0, 4, '0:0', K.FIELD_BYTE_OFFSET), /unexpected insn \(ALU\/ALU64\) value: got 3, exp 0 -> 12/);
  fails('r1 = *(u32 *)(r2 + 2)', relo(0, 4, '0:0', K.FIELD_BYTE_OFFSET), /unexpected insn \(LDX\/ST\/STX\) value: got 2, exp 0 -> 12/);
  fails('r1 = 3 ll', relo(0, 4, '0', K.TYPE_SIZE), /unexpected insn \(LDIMM64\) value: got 3, exp 16 -> 32/);
  const far = btf(int('int'), array(1, 10000), struct('foo', 40004, [member('pad', 2, 0), member('a', 1, 320000)]));
  const e = fails('r1 = *(u32 *)(r2 + 0)', relo(0, 4, '0:0', K.FIELD_BYTE_OFFSET), /value too big: 40000/, far);
  assert.equal(e.code, 'ERANGE');
  // ALU immediates have no such limit.
  assert.equal(one('r1 = 0', relo(0, 4, '0:0', K.FIELD_BYTE_OFFSET), far).insn.imm, 40000);
});

test('malformed relocations fail', () => {
  fails('r1 = 0', relo(0, 4, '', K.FIELD_BYTE_OFFSET), /invalid access string/);
  fails('r1 = 0', relo(0, 4, ':0', K.FIELD_BYTE_OFFSET), /invalid access string/);
  fails('r1 = 0', relo(0, 4, '0:', K.FIELD_BYTE_OFFSET), /invalid access string/);
  fails('r1 = 0', relo(0, 4, '0:x', K.FIELD_BYTE_OFFSET), /invalid access string/);
  fails('r1 = 0', relo(0, 4, '0:-1', K.FIELD_BYTE_OFFSET), /invalid access index/);
  fails('r1 = 0', relo(0, 4, '0:7', K.FIELD_BYTE_OFFSET), /member index 7 out of range/);
  fails('r1 = 0', relo(0, 4, '1', K.TYPE_SIZE), /needs access string '0'/);
  fails('r1 = 0', relo(0, 4, '0', K.ENUMVAL_VALUE), /names no enumerator/);
  fails('r1 = 0', relo(0, 12, '3', K.ENUMVAL_VALUE), /names no enumerator/);
  fails('r1 = 0', relo(0, 4, '0:0:0', K.FIELD_BYTE_OFFSET), /unexpected kind int/);
  assert.equal(fails('r1 = 0', relo(0, 4, '0:0', 13), /unrecognized CO-RE relocation kind 13/).code, 'EOPNOTSUPP');
  fails('r1 = 0', relo(0, 999, '0:0', K.FIELD_BYTE_OFFSET), /out of range/);
  fails('r1 = 0 ll', relo(0, 999, '0', K.TYPE_ID_LOCAL), /out of range/);
  const long = Array.from({ length: 65 }, () => '0').join(':');
  assert.equal(fails('r1 = 0', relo(0, 4, long, K.FIELD_BYTE_OFFSET), /longer than 64/).code, 'E2BIG');
  // Anonymous root types have no candidates.
  fails('r1 = 0', relo(0, 15, '0:0', K.FIELD_BYTE_OFFSET), /anonymous types/);
});

test('candidate lists are pruned per type, as libbpf\'s cache is', () => {
  const t = btf(
    int('int'),
    struct('foo', 8, [member('a', 1, 0)]), //                 2: a, no b
    struct('foo___2', 8, [member('a', 1, 0), member('b', 1, 32)]), // 3: a and b
  );
  const l = btf(int('int'), struct('foo', 8, [member('b', 1, 0), member('a', 1, 32)]));
  // b exists only in foo___2: after that relocation, the list of foo's candidates is [foo___2].
  const cache = new Map();
  const insns = assemble('r1 = 0\nr1 = 4');
  let out = applyCoreRelocations(insns, [relo(0, 2, '0:0', K.FIELD_BYTE_OFFSET), relo(8, 2, '0:1', K.FIELD_BYTE_OFFSET)], l, t, { cache });
  assert.deepEqual(out.results.map((r) => r.matches.map((m) => m.id)), [[3], [3]]);
  assert.deepEqual(cache.get(2)?.map((c: { id: number }) => c.id), [3]);
  // The other order sees both candidates for a, then only foo___2 remains anyway.
  out = applyCoreRelocations(insns, [relo(8, 2, '0:1', K.FIELD_BYTE_OFFSET)], l, t);
  assert.deepEqual(out.results[0]!.matches.map((m) => m.id), [2, 3]);
  // A relocation that matches nothing leaves the list as it was.
  const c2 = new Map();
  applyCoreRelocations(assemble('r1 = 1'), [relo(0, 2, '0:0', K.FIELD_EXISTS)], btf(int('int'), struct('foo', 4, [member('z', 1, 0)])), t, { cache: c2 });
  assert.deepEqual(c2.get(2)?.map((c: { id: number }) => c.id), [2, 3]);
});

test('module BTFs are searched only when vmlinux has no candidate', () => {
  const vmlinux = btf(int('int'), struct('foo', 8, [member('x', 1, 0), member('a', 1, 32)]));
  const modTypes: BtfType[] = [struct('modstruct', 8, [member('pad', 1, 0), member('a', 1, 32)]), struct('foo', 4, [member('a', 1, 0)])];
  const mod = new Btf(modTypes, { base: vmlinux });
  const l = btf(int('int'), struct('modstruct', 4, [member('a', 1, 0)]), struct('foo', 4, [member('a', 1, 0)]));
  let r = one('r1 = 0', relo(0, 2, '0:0', K.FIELD_BYTE_OFFSET), [vmlinux, mod], l);
  assert.equal(r.insn.imm, 4);
  assert.equal(r.result.target?.btf, mod);
  assert.equal(r.result.target?.id, 3);
  // foo is in vmlinux: the module's foo (a at 0) is not a candidate.
  r = one('r1 = 0', relo(0, 3, '0:0', K.FIELD_BYTE_OFFSET), [vmlinux, mod], l);
  assert.equal(r.insn.imm, 4);
  assert.deepEqual(r.result.matches.map((m) => m.id), [2]);
});

test('poisoned instructions are calls to helper 0xbad2310', () => {
  const r = one('r1 = *(u32 *)(r2 + 0)', relo(0, 16, '0:0', K.FIELD_BYTE_OFFSET));
  assert.deepEqual(toSlots([r.insn]), [{ code: 0x85, dst: 0, src: 0, off: 0, imm: 0xbad2310 }]);
  assert.equal(r.result.validated, false);
});

test('signedness of enums and pointers; widths of array elements', () => {
  const l = btf(
    int('unsigned short', 2, false), array(1, 2), //                       1, 2: u16[2]
    enumType('mode', [['A', -1]], { signed: true }), ptr(1), //              3, 4
    struct('s', 16, [member('m', 3, 0), member('p', 4, 64), member('arr', 2, 32)]), // 5
  );
  const t = btf(
    int('unsigned int', 4, false), array(1, 2), //                         1, 2: u32[2]
    enumType('mode', [['A', -1]], { signed: true }), ptr(1), //              3, 4
    struct('s', 24, [member('m', 3, 0), member('p', 4, 64), member('arr', 2, 128)]), // 5
  );
  assert.equal(one('r1 = 1', relo(0, 5, '0:0', K.FIELD_SIGNED), t, l).insn.imm, 1);
  assert.equal(one('r1 = 0', relo(0, 5, '0:1', K.FIELD_SIGNED), t, l).insn.imm, 0);
  // arr[1]: a u16 element locally, u32 in the target: the load follows.
  let r = one('r1 = *(u16 *)(r2 + 6)', relo(0, 5, '0:2:1', K.FIELD_BYTE_OFFSET), t, l);
  assert.deepEqual(r.result.patch, { kind: 'off', from: 6, to: 20, sizeFrom: 2, sizeTo: 4 });
  // The whole array as the field: element sizes differ but the field's type is no int.
  r = one('r1 = *(u16 *)(r2 + 4)', relo(0, 5, '0:2', K.FIELD_BYTE_OFFSET), t, l);
  assert.deepEqual(r.result.patch, { kind: 'poison', reason: 'memsz' });
});
