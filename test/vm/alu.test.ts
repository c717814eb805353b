// Differential test of the interpreter's arithmetic against an independent BigInt model of
// RFC 9669 semantics, over edge values and a deterministic random sample.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeSlots, type RawInstruction } from '../../src/isa/index.js';
import { execute } from '../../src/vm/index.js';

const M64 = (1n << 64n) - 1n;
const M32 = (1n << 32n) - 1n;
const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);
const s32 = (v: bigint): bigint => BigInt.asIntN(32, v);
const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const u32 = (v: bigint): bigint => BigInt.asUintN(32, v);
const tdiv = (a: bigint, b: bigint): bigint => a / b; // BigInt division truncates toward zero

type Op = 'add' | 'sub' | 'mul' | 'div' | 'sdiv' | 'or' | 'and' | 'lsh' | 'rsh' | 'mod' | 'smod' | 'xor' | 'mov' | 'arsh';
const OPS: Record<Op, [number, number]> = { // [op bits, off]
  add: [0x00, 0], sub: [0x10, 0], mul: [0x20, 0], div: [0x30, 0], sdiv: [0x30, 1], or: [0x40, 0],
  and: [0x50, 0], lsh: [0x60, 0], rsh: [0x70, 0], mod: [0x90, 0], smod: [0x90, 1], xor: [0xa0, 0],
  mov: [0xb0, 0], arsh: [0xc0, 0],
};

/** The reference: dst op src at width 64 or 32, operands already as unsigned bigints. */
function model(op: Op, wide: boolean, a: bigint, b: bigint): bigint {
  if (wide) {
    switch (op) {
      case 'add': return u64(a + b);
      case 'sub': return u64(a - b);
      case 'mul': return u64(a * b);
      case 'div': return b === 0n ? 0n : a / b;
      case 'sdiv': return b === 0n ? 0n : u64(tdiv(s64(a), s64(b)));
      case 'mod': return b === 0n ? a : a % b;
      case 'smod': return b === 0n ? a : u64(s64(a) % s64(b));
      case 'or': return a | b;
      case 'and': return a & b;
      case 'xor': return a ^ b;
      case 'mov': return b;
      case 'lsh': return u64(a << (b & 63n));
      case 'rsh': return a >> (b & 63n);
      case 'arsh': return u64(s64(a) >> (b & 63n));
    }
  }
  const x = u32(a), y = u32(b);
  switch (op) {
    case 'add': return u32(x + y);
    case 'sub': return u32(x - y);
    case 'mul': return u32(x * y);
    case 'div': return y === 0n ? 0n : x / y;
    case 'sdiv': return y === 0n ? 0n : u32(tdiv(s32(x), s32(y)));
    case 'mod': return y === 0n ? x : x % y;
    case 'smod': return y === 0n ? x : u32(s32(x) % s32(y));
    case 'or': return x | y;
    case 'and': return x & y;
    case 'xor': return x ^ y;
    case 'mov': return y;
    case 'lsh': return u32(x << (y & 31n));
    case 'rsh': return x >> (y & 31n);
    case 'arsh': return u32(s32(x) >> (y & 31n));
  }
}

const lddw = (reg: number, v: bigint): RawInstruction[] => [
  { code: 0x18, dst: reg, src: 0, off: 0, imm: Number(BigInt.asIntN(32, v)) },
  { code: 0, dst: 0, src: 0, off: 0, imm: Number(BigInt.asIntN(32, v >> 32n)) },
];
const EXIT: RawInstruction = { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 };

function run(slots: RawInstruction[]): bigint {
  return execute(encodeSlots(slots)).r0;
}

// xorshift64*: deterministic values that exercise both halves.
let seed = 0x9e3779b97f4a7c15n;
const rand = (): bigint => {
  seed ^= seed >> 12n; seed = u64(seed ^ (seed << 25n)); seed ^= seed >> 27n;
  return u64(seed * 0x2545f4914f6cdd1dn);
};
const EDGES = [0n, 1n, 2n, 3n, 7n, 31n, 32n, 33n, 63n, 64n, 0x7fffffffn, 0x80000000n, 0xffffffffn,
  0x100000000n, 0x1fffffffffffffn, 0x20000000000000n, 0x7fffffffffffffffn, 0x8000000000000000n, M64, M64 - 1n,
  u64(-2n), u64(-0x80000000n), 0x123456789abcdefn];
const values = [...EDGES, ...Array.from({ length: 24 }, rand)];

for (const wide of [true, false]) {
  test(`ALU${wide ? '64' : '32'} register operands match the RFC 9669 model`, () => {
    const cls = wide ? 0x07 : 0x04;
    for (const [name, [bits, off]] of Object.entries(OPS) as Array<[Op, [number, number]]>) {
      for (const a of values) for (const b of values) {
        const got = run([...lddw(0, a), ...lddw(1, b), { code: cls | 0x08 | bits, dst: 0, src: 1, off, imm: 0 }, EXIT]);
        const want = model(name, wide, a, b);
        if (got !== want) assert.fail(`${name}${wide ? '' : '32'} 0x${a.toString(16)}, 0x${b.toString(16)}: got 0x${got.toString(16)}, want 0x${want.toString(16)}`);
      }
    }
  });

  test(`ALU${wide ? '64' : '32'} immediate operands are sign-extended as the ISA says`, () => {
    const cls = wide ? 0x07 : 0x04;
    const imms = [0, 1, -1, 5, -5, 31, 32, 63, 0x7fffffff, -0x80000000, 0x12345678];
    for (const [name, [bits, off]] of Object.entries(OPS) as Array<[Op, [number, number]]>) {
      for (const a of values) for (const imm of imms) {
        const got = run([...lddw(0, a), { code: cls | bits, dst: 0, src: 0, off, imm }, EXIT]);
        const want = model(name, wide, a, u64(BigInt(imm)));
        if (got !== want) assert.fail(`${name}${wide ? '' : '32'} 0x${a.toString(16)}, imm ${imm}: got 0x${got.toString(16)}, want 0x${want.toString(16)}`);
      }
    }
  });
}

test('neg, movsx, byte swaps and sign-extending loads', () => {
  for (const a of values) {
    assert.equal(run([...lddw(0, a), { code: 0x87, dst: 0, src: 0, off: 0, imm: 0 }, EXIT]), u64(-a));
    assert.equal(run([...lddw(0, a), { code: 0x84, dst: 0, src: 0, off: 0, imm: 0 }, EXIT]), u32(-a));
    for (const w of [8, 16, 32]) {
      assert.equal(run([...lddw(1, a), { code: 0xbf, dst: 0, src: 1, off: w, imm: 0 }, EXIT]), u64(BigInt.asIntN(w, a)));
      if (w < 32) assert.equal(run([...lddw(1, a), { code: 0xbc, dst: 0, src: 1, off: w, imm: 0 }, EXIT]), u32(BigInt.asIntN(w, a)));
    }
    const bytes = (v: bigint, n: number): bigint => {
      let out = 0n;
      for (let i = 0; i < n; i++) out = (out << 8n) | ((v >> BigInt(8 * i)) & 0xffn);
      return out;
    };
    for (const w of [16, 32, 64]) {
      assert.equal(run([...lddw(0, a), { code: 0xdc, dst: 0, src: 0, off: 0, imm: w }, EXIT]), bytes(a, w / 8), `be${w}`);
      assert.equal(run([...lddw(0, a), { code: 0xd7, dst: 0, src: 0, off: 0, imm: w }, EXIT]), bytes(a, w / 8), `bswap${w}`);
      assert.equal(run([...lddw(0, a), { code: 0xd4, dst: 0, src: 0, off: 0, imm: w }, EXIT]), a & ((1n << BigInt(w)) - 1n), `le${w}`);
    }
  }
});

test('conditional jumps (64- and 32-bit, signed and unsigned) match the model', () => {
  const JMPS: Array<[number, (a: bigint, b: bigint, w: number) => boolean]> = [
    [0x10, (a, b) => a === b], [0x20, (a, b) => a > b], [0x30, (a, b) => a >= b], [0x40, (a, b) => (a & b) !== 0n],
    [0x50, (a, b) => a !== b], [0xa0, (a, b) => a < b], [0xb0, (a, b) => a <= b],
    [0x60, (a, b, w) => BigInt.asIntN(w, a) > BigInt.asIntN(w, b)], [0x70, (a, b, w) => BigInt.asIntN(w, a) >= BigInt.asIntN(w, b)],
    [0xc0, (a, b, w) => BigInt.asIntN(w, a) < BigInt.asIntN(w, b)], [0xd0, (a, b, w) => BigInt.asIntN(w, a) <= BigInt.asIntN(w, b)],
  ];
  for (const [bits, cond] of JMPS) {
    for (const w of [64, 32]) {
      const cls = w === 64 ? 0x05 : 0x06;
      const mask = w === 64 ? M64 : M32;
      for (const a of values) for (const b of values) {
        const got = run([...lddw(1, a), ...lddw(2, b), { code: 0xb7, dst: 0, src: 0, off: 0, imm: 0 },
          { code: cls | 0x08 | bits, dst: 1, src: 2, off: 1, imm: 0 }, EXIT, { code: 0xb7, dst: 0, src: 0, off: 0, imm: 1 }, EXIT]);
        const want = cond(a & mask, b & mask, w) ? 1n : 0n;
        if (got !== want) assert.fail(`jump op 0x${bits.toString(16)} w${w} 0x${a.toString(16)} 0x${b.toString(16)}: got ${got}`);
      }
    }
  }
});
