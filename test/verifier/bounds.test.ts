/**
 * Scalar bounds after ALU operations and comparisons, against the kernel: each program is
 * verified by us and, when bpf() is usable, loaded by the kernel at log level 2; the value the
 * kernel prints for the register after the instruction under test must be the value we print
 * (log.c print_reg_state format), or at least contain it nowhere we do not (soundness: our
 * ranges never narrower than the kernel's). The expected strings were taken from Linux 6.18.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, encodeProgram } from '../../src/isa/index.js';
import { KernelError, LogLevel, loadProgram } from '../../src/kernel/index.js';
import { verify } from '../../src/verifier/index.js';
import { kernelSkip } from '../support/kernel.js';

interface BoundsCase {
  /** Instructions; the register `reg` is inspected after the instruction at `at`. */
  readonly asm: string;
  readonly at: number;
  readonly reg: number;
  /** What Linux 6.18 prints for the register there. */
  readonly kernel: string;
}

// Socket filters: r1 = skb, *(u32 *)(r1 + 0) is skb->len (an unknown u32).
const LEN = 'r2 = *(u32 *)(r1 + 0)';
const BYTE = 'r2 = *(u8 *)(r1 + 0)';
const CASES: readonly BoundsCase[] = [
  { asm: `${LEN}`, at: 0, reg: 2, kernel: 'scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))' },
  { asm: `${BYTE}`, at: 0, reg: 2, kernel: 'scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))' },
  { asm: `${LEN}\nr2 &= 0xff`, at: 1, reg: 2, kernel: 'scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))' },
  { asm: `${BYTE}\nr2 += 10`, at: 1, reg: 2, kernel: 'scalar(smin=umin=smin32=umin32=10,smax=umax=smax32=umax32=265,var_off=(0x0; 0x1ff))' },
  { asm: `${BYTE}\nr2 -= 5`, at: 1, reg: 2, kernel: 'scalar(smin=smin32=-5,smax=smax32=250)' },
  { asm: `${BYTE}\nr2 *= 3`, at: 1, reg: 2, kernel: 'scalar(smin=smin32=0,smax=umax=smax32=umax32=765,var_off=(0x0; 0x3ff))' },
  { asm: `${BYTE}\nr2 |= 0x100`, at: 1, reg: 2, kernel: 'scalar(smin=umin=smin32=umin32=256,smax=umax=smax32=umax32=511,var_off=(0x100; 0xff))' },
  { asm: `${BYTE}\nr2 ^= 0xf`, at: 1, reg: 2, kernel: 'scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))' },
  { asm: `${BYTE}\nr2 <<= 4`, at: 1, reg: 2, kernel: 'scalar(smin=smin32=0,smax=umax=smax32=umax32=4080,var_off=(0x0; 0xff0))' },
  { asm: `${BYTE}\nr2 >>= 4`, at: 1, reg: 2, kernel: 'scalar(smin=smin32=0,smax=umax=smax32=umax32=15,var_off=(0x0; 0xf))' },
  { asm: `${LEN}\nr2 <<= 32\nr2 s>>= 32`, at: 2, reg: 2, kernel: 'scalar(smin=0xffffffff80000000,smax=0x7fffffff)' },
  { asm: `${BYTE}\nw2 += -1`, at: 1, reg: 2, kernel: 'scalar(smin=0,smax=umax=0xffffffff,smin32=-1,smax32=254,var_off=(0x0; 0xffffffff))' },
  { asm: `${BYTE}\nr2 = -r2`, at: 1, reg: 2, kernel: 'scalar(smin=smin32=-255,smax=smax32=0)' },
  { asm: `${BYTE}\nr2 /= 3`, at: 1, reg: 2, kernel: 'scalar()' },
  { asm: `${BYTE}\nw2 = w2`, at: 1, reg: 2, kernel: 'scalar(id=1,smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))' },
  { asm: 'r2 = 7\nw2 = -w2', at: 1, reg: 2, kernel: '0xfffffff9' },
  { asm: 'r2 = 10\nr2 /= 2', at: 1, reg: 2, kernel: 'scalar()' },
  { asm: `${LEN}\nif r2 > 100 goto +1\nr3 = r2`, at: 2, reg: 3, kernel: 'scalar(id=1,smin=smin32=0,smax=umax=smax32=umax32=100,var_off=(0x0; 0x7f))' },
  { asm: `${LEN}\nif r2 s< 5 goto +1\nr3 = r2`, at: 2, reg: 3, kernel: 'scalar(id=1,smin=umin=umin32=5,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))' },
  { asm: `${LEN}\nif w2 == 3 goto +1\nr3 = r2`, at: 2, reg: 3, kernel: 'scalar(id=1,smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))' },
  { asm: `${BYTE}\nif r2 & 0x80 goto +1\nr3 = r2`, at: 2, reg: 3, kernel: 'scalar(id=1,smin=smin32=0,smax=umax=smax32=umax32=127,var_off=(0x0; 0x7f))' },
];

const program = (c: BoundsCase): string => `${c.asm}\nr0 = 0\nexit`;

/** `R<reg>=VALUE` from a state line (values may hold one level of nested parentheses). */
function regValue(line: string, reg: number): string | undefined {
  const re = /R(\d+)=((?:[^ ()]|\((?:[^()]|\([^()]*\))*\))+)/g;
  for (const m of line.matchAll(re)) if (Number(m[1]) === reg) return m[2]!.replace(/^P/, '');
  return undefined;
}

function ours(c: BoundsCase): string | undefined {
  const insns = assemble(program(c));
  const result = verify(insns, { progType: 1, collectStates: true });
  assert.equal(result.verdict, 'accept', result.error?.message);
  let slot = 0;
  for (let i = 0; i <= c.at; i++) slot += insns[i]!.kind === 'lddw' ? 2 : 1;
  const states = result.states!.get(slot) ?? [];
  return regValue(states[0] ?? '', c.reg);
}

function kernels(c: BoundsCase): string | undefined {
  try {
    using p = loadProgram({ type: 1, instructions: encodeProgram(assemble(program(c))), license: 'GPL', logLevel: LogLevel.LEVEL2 });
    const line = p.log.split('\n').find((l) => l.startsWith(`${c.at}: (`) && l.includes(';'));
    return line === undefined ? undefined : regValue(line.slice(line.indexOf(';')), c.reg);
  } catch (err) {
    if (err instanceof KernelError) return `rejected: ${err.message}`;
    throw err;
  }
}

describe('scalar bounds', () => {
  for (const c of CASES) {
    it(`${c.asm.replace(/\n/g, '; ')} → R${c.reg}`, () => {
      assert.equal(ours(c), c.kernel);
    });
  }
  it('the recorded kernel values are the running kernel\'s', { skip: kernelSkip() }, () => {
    const differ = CASES.map((c) => [c, kernels(c)] as const).filter(([c, k]) => k !== c.kernel)
      .map(([c, k]) => `${c.asm.replace(/\n/g, '; ')}: recorded ${c.kernel}, kernel ${k}`);
    assert.deepEqual(differ, []);
  });
});
