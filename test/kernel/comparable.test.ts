/**
 * The comparability analysis of the kernel/VM crosscheck, on programs written to show each
 * rule: a program is comparable only when no context field, address or uninitialised stack
 * byte can reach r0 or a branch.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assembleConformance, decodeRawProgram } from '../../src/isa/index.js';
import { taintOf } from './comparable.js';

const CTX = 256;
const taint = (text: string): string | undefined => taintOf(assembleConformance(text), CTX);
const TAINTED = /machine-dependent value/;

describe('crosscheck comparability (taintOf)', () => {
  it('accepts plain arithmetic and initialised stack', () => {
    assert.equal(taint('mov %r0, 1\nexit'), undefined);
    assert.equal(taint('stdw [%r10-8], 5\nldxdw %r0, [%r10-8]\nadd %r0, 1\nexit'), undefined);
    assert.equal(taint('mov %r1, 7\nstxw [%r10-4], %r1\nldxw %r0, [%r10-4]\nexit'), undefined);
  });

  it('refuses a stack address in r0, whole or in part', () => {
    assert.match(taint('mov %r0, %r10\nexit') ?? '', TAINTED);
    assert.match(taint('mov32 %r0, %r10\nexit') ?? '', TAINTED);
    assert.match(taint('mov %r0, %r10\nrsh %r0, 63\nexit') ?? '', TAINTED);
    assert.match(taint('stxdw [%r10-8], %r10\nldxw %r0, [%r10-8]\nexit') ?? '', TAINTED);
  });

  it('accepts the distance between two addresses of one frame', () => {
    assert.equal(taint('mov %r2, %r10\nadd %r2, -16\nmov %r0, %r10\nsub %r0, %r2\nexit'), undefined);
  });

  it('refuses uninitialised stack, also after a write on one path only', () => {
    assert.match(taint('ldxdw %r0, [%r10-8]\nexit') ?? '', TAINTED);
    assert.match(taint('stw [%r10-8], 1\nldxdw %r0, [%r10-8]\nexit') ?? '', TAINTED);
    assert.match(taint('mov %r0, 0\njeq %r0, 0, +1\nstdw [%r10-8], 1\nldxdw %r0, [%r10-8]\nexit') ?? '', TAINTED);
  });

  it('lets context fields flow as long as they reach neither r0 nor a branch', () => {
    assert.equal(taint('ldxw %r2, [%r1+0]\nmov %r0, 0\nexit'), undefined);
    assert.equal(taint('mov %r6, %r1\nadd %r6, 8\nmov %r0, 3\nexit'), undefined);
    assert.match(taint('ldxw %r0, [%r1+0]\nexit') ?? '', TAINTED);
    assert.match(taint('ldxw %r2, [%r1+4]\nmov %r0, 0\njne %r2, 0, +1\nmov %r0, 1\nexit') ?? '', TAINTED);
    assert.match(taint('ldxw %r2, [%r1+300]\nmov %r0, 0\nexit') ?? '', /beyond the VM region/);
    // ldabsb 0 (a legacy packet load reads the kernel's skb)
    const ldAbs = decodeRawProgram([
      { code: 0x30, dst: 0, src: 0, off: 0, imm: 0 }, { code: 0xb7, dst: 0, src: 0, off: 0, imm: 0 }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
    ]);
    assert.match(taintOf(ldAbs, CTX) ?? '', /beyond the VM region/);
  });

  it('refuses branches on addresses, but not a null check', () => {
    assert.match(taint('mov %r0, 0\njgt %r10, 5, +1\nmov %r0, 1\nexit') ?? '', TAINTED);
    assert.equal(taint('mov %r0, 0\njeq %r10, 0, +1\nmov %r0, 1\nexit'), undefined);
  });

  it('drops paths that read a register never written: the verifier proved them dead', () => {
    assert.equal(taint('mov %r0, 0\nja +1\nmov %r0, %r5\nexit'), undefined);
    assert.equal(taint('mov %r0, 7\nja +2\nldxb %r8, [%r9+0]\nja +1\njsge %r0, 10, -3\nexit'), undefined);
  });

  it('follows bpf-to-bpf calls per call site, through pointers into the caller frame', () => {
    const program = (sub: string[]): string => [
      'mov %r1, %r10', 'add %r1, -8',
      'mov %r2, %r10', 'add %r2, -16',
      'call local sub',
      'ldxdw %r0, [%r10-16]',
      'exit',
      'sub: mov %r6, %r1', 'mov %r7, %r2', ...sub, 'exit',
      'zero: stdw [%r1+0], 0', 'mov %r0, 0', 'exit',
    ].join('\n');
    // The same callee writes -8 at one call and -16 at the other.
    assert.equal(taint(program(['call local zero', 'mov %r1, %r7', 'call local zero'])), undefined);
    // Written only at -8, -16 stays uninitialised.
    assert.match(taint(program(['call local zero'])) ?? '', TAINTED);
  });

  it('refuses a program whose every path it drops, rather than calling it comparable', () => {
    assert.match(taint('exit') ?? '', /no path/); // the verifier rejects this (R0 !read_ok)
  });

  it('refuses a callee returning its own stack address', () => {
    assert.match(taint('call local f\nexit\nf: mov %r0, %r10\nexit') ?? '', TAINTED);
    assert.equal(taint('call local f\nexit\nf: stdw [%r10-8], 9\nldxdw %r0, [%r10-8]\nexit'), undefined);
  });
});

describe('crosscheck comparability with a context the VM builds (ContextModel)', () => {
  // struct __sk_buff: data at 76, data_end at 80, sk at 168; tc_index (16 bits in the kernel) at 44.
  const model = {
    size: 192, packetPointers: [[76, 4], [80, 4], [140, 4]] as const, otherPointers: [[168, 8]] as const,
    narrow: new Map([[16, 2], [44, 2], [4, 1]]), legacyPacket: true,
  };
  const taintM = (text: string): string | undefined => taintOf(assembleConformance(text), model);

  it('accepts field values and packet bytes, compares of packet pointers and their distance', () => {
    assert.equal(taintM('ldxw %r0, [%r1+0]\nexit'), undefined);
    assert.equal(taintM('ldxw %r2, [%r1+76]\nldxw %r3, [%r1+80]\nmov %r4, %r2\nadd %r4, 14\nmov %r0, 0\njgt %r4, %r3, +1\nldxb %r0, [%r2+12]\nexit'), undefined);
    assert.equal(taintM('ldxw %r2, [%r1+76]\nldxw %r0, [%r1+80]\nsub %r0, %r2\nexit'), undefined);
    const ldAbs = decodeRawProgram([
      { code: 0x30, dst: 0, src: 0, off: 0, imm: 12 }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
    ]);
    assert.equal(taintOf(ldAbs, model), undefined);
  });

  it('refuses pointers as values, the socket pointer, narrow loads the kernel widens and narrowed writes read back', () => {
    assert.match(taintM('ldxw %r0, [%r1+76]\nexit') ?? '', TAINTED);
    assert.match(taintM('ldxdw %r2, [%r1+168]\nmov %r0, 0\njeq %r2, 0, +1\nmov %r0, 1\nexit') ?? '', TAINTED);
    assert.match(taintM('ldxh %r0, [%r1+18]\nexit') ?? '', /narrow context load/);
    assert.equal(taintM('ldxb %r0, [%r1+17]\nexit'), undefined, 'narrower than the member: the same as plain memory');
    assert.match(taintM('mov %r2, 0x12345\nstxw [%r1+44], %r2\nldxw %r0, [%r1+44]\nexit') ?? '', TAINTED);
    assert.match(taintM('stxdw [%r1+48], %r10\nldxw %r0, [%r1+48]\nexit') ?? '', TAINTED, 'an address stored in cb');
    assert.match(taintM('ldxw %r2, [%r1+76]\nldxw %r3, [%r1+80]\nmov %r4, %r2\nadd %r4, 8\njgt %r4, %r3, +3\nstxdw [%r2+0], %r10\nldxb %r0, [%r2+0]\nexit\nmov %r0, 0\nexit') ?? '', TAINTED);
    const ldAbsNeg = decodeRawProgram([
      { code: 0x30, dst: 0, src: 0, off: 0, imm: -0x200000 }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
    ]);
    assert.match(taintOf(ldAbsNeg, model) ?? '', /negative offset/);
  });
});
