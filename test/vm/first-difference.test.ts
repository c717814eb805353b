/**
 * The locator of the differential tests (test/support/first-difference.ts) against the kernel:
 * a program and a copy altered at one instruction, the copy run in the VM with a trace and the
 * original probed in the kernel, must be told apart at the first instruction that reads the
 * altered value; probes must keep jumps, subprogram calls and lddw pairs intact.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, decodeRawProgram, encodeSlots, toSlots, type RawInstruction } from '../../src/isa/index.js';
import { KernelError, ProgramType, loadProgram, testRun } from '../../src/kernel/index.js';
import { Interpreter } from '../../src/vm/index.js';
import { insertProbe, locateFirstDifference, VmTrace } from '../support/first-difference.js';
import { kernelSkip } from '../support/kernel.js';

/** r0 of `raw` as a socket filter test-run on 64 zeroed bytes, or the errno of a refusal. */
function kernelR0(raw: readonly RawInstruction[]): number | { refused: string } {
  try {
    using p = loadProgram({ type: ProgramType.SOCKET_FILTER, instructions: encodeSlots(raw), license: 'GPL' });
    return testRun(p, { data: new Uint8Array(64) }).retval;
  } catch (err) {
    if (err instanceof KernelError) return { refused: err.code };
    throw err;
  }
}

// A loop-free main program with a jump over the altered instruction's neighbours, an lddw and a
// subprogram call (the probe must move all of them).
const ORIGINAL = `
  r6 = 7
  r7 = 0x100000000 ll
  if r6 > 100 goto skip
  r6 += 3
skip:
  r1 = r6
  call sub
  r2 = r0
  r2 += r7
  r0 = r2
  r0 >>= 1
  exit
sub:
  r0 = r1
  r0 *= 2
  exit`;

describe('locating the first differing instruction', { skip: kernelSkip() }, () => {
  it('probes keep the program the kernel runs: every probe of r6 before every main instruction reads its value', () => {
    const raw = toSlots(assemble(ORIGINAL));
    assert.equal(kernelR0(raw), Number(((20n + (1n << 32n)) >> 1n) & 0xffffffffn));
    // r6 before slot 5 (`r1 = r6`, reached through the jump's fall-through) is 10; before slot 0 the probe refuses (r6 unset).
    assert.equal(kernelR0(insertProbe(raw, 5, 6, false)), 10);
    assert.deepEqual(kernelR0(insertProbe(raw, 0, 6, false)), { refused: 'EACCES' });
    // r7's high half before slot 8 (`r2 += r7`).
    assert.equal(kernelR0(insertProbe(raw, 8, 7, true)), 1);
    assert.equal(kernelR0(insertProbe(raw, 8, 7, false)), 0);
  });

  it('names the first instruction that reads a value the VM computed differently, and its writer', () => {
    const raw = toSlots(assemble(ORIGINAL));
    const altered = toSlots(assemble(ORIGINAL.replace('r6 += 3', 'r6 += 4')));
    const trace = new VmTrace();
    new Interpreter(decodeRawProgram(altered), { trace: trace.hook }).run();
    const located = locateFirstDifference({ raw, trace, kernel: (transform) => kernelR0(transform([...raw])) });
    assert.equal(located.pc, 5, located.text);
    assert.match(located.text, /insn 5 \(r1 = r6\) reads r6 = 0x…0000000a \(low half\) in the kernel, 0xb in the VM; r6 was last written by insn 4 \(r6 \+= 0x3\)/);
    // (The listing is the kernel's program: the VM's copy has 4 there.)
  });

  it('says so when no register differs', () => {
    const raw = toSlots(assemble(ORIGINAL));
    const trace = new VmTrace();
    new Interpreter(decodeRawProgram(raw), { trace: trace.hook }).run();
    const located = locateFirstDifference({ raw, trace, kernel: (transform) => kernelR0(transform([...raw])) });
    assert.equal(located.pc, undefined);
    assert.match(located.text, /no register read by a first-visited instruction/);
    assert.ok(located.probes > 5, `${located.probes} probes`);
  });
});
