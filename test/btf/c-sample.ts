/**
 * A hand-built BTF with one of each thing the C writer must get right (test/btf/c-dump.test.ts):
 * cycles through pointers, embedding before use, anonymous records and enums, bitfields and
 * padding, packed and over-aligned structs, enum sizes, function pointers, arrays, name
 * clashes, type tags and forward declarations.
 */
import { Btf } from '../../src/btf/btf.js';
import { BTF_INT_BOOL, BTF_INT_SIGNED, type BtfMember, type BtfType } from '../../src/btf/types.js';

const m = (name: string, type: number, bitOffset: number, bitfieldSize = 0): BtfMember => ({ name, type, bitOffset, bitfieldSize });
const int = (name: string, size: number, encoding = 0): BtfType => ({ kind: 'int', name, size, encoding, offset: 0, bits: size * 8 });
const struct = (name: string, size: number, members: BtfMember[], kind: 'struct' | 'union' = 'struct'): BtfType =>
  ({ kind, name, size, kindFlag: members.some((x) => x.bitfieldSize > 0), members });
const ptr = (type: number): BtfType => ({ kind: 'ptr', name: '', type });
const arr = (type: number, nelems: number): BtfType => ({ kind: 'array', name: '', type, indexType: 2, nelems });
const enm = (name: string, size: number, values: [string, number | bigint][], signed = false, kind: 'enum' | 'enum64' = 'enum'): BtfType =>
  ({ kind, name, size, signed, values: values.map(([n, value]) => ({ name: n, value })) });

/** The sample BTF; ids are the 1-based positions in this list. */
export function sampleBtf(): Btf {
  const types: BtfType[] = [
    /* 1 */ int('int', 4, BTF_INT_SIGNED),
    /* 2 */ int('unsigned int', 4),
    /* 3 */ int('char', 1, BTF_INT_SIGNED),
    /* 4 */ int('long unsigned int', 8),
    /* 5 */ int('unsigned char', 1),
    /* 6 */ int('_Bool', 1, BTF_INT_BOOL),
    // struct a { struct b *b; int x; }; struct b { struct a a; struct b *self; }: a needs b declared, b needs a defined.
    /* 7 */ struct('a', 16, [m('b', 8, 0), m('x', 1, 64)]),
    /* 8 */ ptr(9),
    /* 9 */ struct('b', 24, [m('a', 7, 0), m('self', 8, 128)]),
    // struct outer: an anonymous union and struct inline, an anonymous enum member, a flexible array.
    /* 10 */ struct('outer', 24, [m('', 11, 0), m('kind', 13, 64), m('', 14, 96), m('data', 15, 192)]),
    /* 11 */ struct('', 8, [m('as_long', 4, 0), m('bytes', 12, 0)], 'union'),
    /* 12 */ arr(5, 8),
    /* 13 */ enm('', 4, [['KIND_A', 0], ['KIND_B', 1]]),
    /* 14 */ struct('', 12, [m('lo', 2, 0), m('hi', 2, 32), m('flag', 6, 64)]),
    /* 15 */ arr(3, 0),
    // bitfields with a hole between them and after them.
    /* 16 */ struct('bits', 16, [m('a', 2, 0, 3), m('b', 2, 8, 5), m('c', 4, 64, 40)]),
    // packed: an int at byte 1.
    /* 17 */ struct('packed', 5, [m('c', 3, 0), m('i', 1, 8)]),
    // over-aligned: one int in 64 bytes.
    /* 18 */ struct('aligned', 64, [m('x', 1, 0)]),
    // an int after a gap the compiler would not leave: needs an explicit padding member.
    /* 19 */ struct('gap', 12, [m('c', 3, 0), m('i', 1, 64)]),
    // enums: 1-byte, 8-byte of 32-bit values, enum64 with a 64-bit value, signed.
    /* 20 */ enm('small', 1, [['SMALL_A', 1]]),
    /* 21 */ enm('wide32', 8, [['W32', 1]]),
    /* 22 */ enm('wide64', 8, [['W64_A', 1n], ['W64_B', 0xfedcba9876543210n]], false, 'enum64'),
    /* 23 */ enm('sgn', 4, [['NEG', -5], ['POS', 5]], true),
    // an anonymous enum nobody refers to: a top-level constant list.
    /* 24 */ enm('', 4, [['CONST_ONE', 1], ['CONST_TWO', 2]]),
    // typedef int (*handler_t)(void *, const char *, ...);
    /* 25 */ { kind: 'typedef', name: 'handler_t', type: 26 },
    /* 26 */ ptr(27),
    /* 27 */ { kind: 'func_proto', name: '', returnType: 1, params: [{ name: 'ctx', type: 28 }, { name: 'fmt', type: 29 }, { name: '', type: 0 }] },
    /* 28 */ ptr(0),
    /* 29 */ ptr(30),
    /* 30 */ { kind: 'const', name: '', type: 3 },
    // struct funcs: arrays of function pointers, pointer to array, 2-D array, const volatile pointer.
    /* 31 */ struct('funcs', 208, [m('cbs', 32, 0), m('pa', 35, 256), m('grid', 37, 320), m('cvp', 38, 576), m('h', 25, 640), m('nop', 41, 704), m('tagged', 44, 768), m('ret', 46, 832), m('f', 49, 896), m('d', 50, 960), m('op', 51, 1024), m('up', 53, 1088), m('al', 18, 1152)]),
    /* 32 */ arr(33, 4),
    /* 33 */ ptr(34),
    /* 34 */ { kind: 'func_proto', name: '', returnType: 0, params: [{ name: '', type: 1 }] },
    /* 35 */ ptr(36),
    /* 36 */ arr(1, 4),
    /* 37 */ arr(36, 2),
    /* 38 */ { kind: 'const', name: '', type: 39 },
    /* 39 */ { kind: 'volatile', name: '', type: 40 },
    /* 40 */ ptr(30),
    /* 41 */ ptr(42),
    /* 42 */ { kind: 'func_proto', name: '', returnType: 0, params: [{ name: '', type: 0 }] },
    /* 43 */ { kind: 'type_tag', name: 'rcu', type: 9 },
    /* 44 */ ptr(43),
    // a pointer to a function returning a pointer to a function: void (*(*ret)(int))(int)
    /* 45 */ { kind: 'func_proto', name: '', returnType: 33, params: [{ name: '', type: 1 }] },
    /* 46 */ ptr(45),
    /* 47 */ { kind: 'float', name: 'float', size: 4 },
    /* 48 */ { kind: 'float', name: 'double', size: 8 },
    /* 49 */ ptr(47),
    /* 50 */ ptr(48),
    /* 51 */ ptr(52),
    /* 52 */ { kind: 'fwd', name: 'opaque', union: false },
    /* 53 */ ptr(54),
    /* 54 */ { kind: 'fwd', name: 'uopaque', union: true },
    // name clashes: two struct dup, two typedef dup_t, an enumerator repeated.
    /* 55 */ struct('dup', 4, [m('x', 1, 0)]),
    /* 56 */ struct('dup', 8, [m('y', 4, 0)]),
    /* 57 */ { kind: 'typedef', name: 'dup_t', type: 55 },
    /* 58 */ { kind: 'typedef', name: 'dup_t', type: 56 },
    /* 59 */ enm('again', 4, [['KIND_A', 7]]),
    // the compiler's own va_list is not redefined.
    /* 60 */ { kind: 'typedef', name: '__builtin_va_list', type: 28 },
    /* 61 */ { kind: 'typedef', name: 'va_list', type: 60 },
    // a function (not written) and a restrict-qualified parameter.
    /* 62 */ { kind: 'func_proto', name: '', returnType: 0, params: [{ name: 'dst', type: 63 }, { name: 'n', type: 4 }] },
    /* 63 */ { kind: 'restrict', name: '', type: 28 },
    /* 64 */ { kind: 'func', name: 'copy', type: 62, linkage: 1 },
    /* 65 */ { kind: 'typedef', name: 'copy_fn', type: 62 },
    // an empty struct and an empty union.
    /* 66 */ struct('empty', 0, []),
    /* 67 */ struct('uempty', 0, [], 'union'),
  ];
  return new Btf(types);
}
