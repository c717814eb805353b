// Callbacks: bpf_loop calling a static function of the program. (The kernel comparison needs
// BTF func_info for the callback, which comes with object loading.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeSlots, type RawInstruction } from '../../src/isa/index.js';
import { callbackHelpers, execute, VmError } from '../../src/vm/index.js';

const slot = (code: number, dst = 0, src = 0, off = 0, imm = 0): RawInstruction => ({ code, dst, src, off, imm });

/** Sums the loop index into a stack slot through bpf_loop; returns sum * 1000 + iterations. */
function loopProgram(nrLoops: number, stopAt = -1, flags = 0): Uint8Array {
  return encodeSlots([
    slot(0xb7, 1, 0, 0, nrLoops),          // r1 = nr_loops
    slot(0x18, 2, 4, 0, 11), slot(0),      // r2 = &callback: slot 1 + imm + 1
    slot(0x7a, 10, 0, -8, 0),              // *(u64 *)(r10 - 8) = 0
    slot(0xbf, 3, 10), slot(0x07, 3, 0, 0, -8), // r3 = ctx
    slot(0xb7, 4, 0, 0, flags),            // r4 = flags
    slot(0x85, 0, 0, 0, 181),              // call bpf_loop
    slot(0xbf, 6, 0),                      // r6 = iterations
    slot(0x79, 0, 10, -8),                 // r0 = sum
    slot(0x27, 0, 0, 0, 1000), slot(0x0f, 0, 6), slot(0x95),
    // callback(r1 = index, r2 = ctx): *ctx += index; return index == stopAt
    slot(0x79, 3, 2, 0), slot(0x0f, 3, 1), slot(0x7b, 2, 3, 0),
    slot(0xb7, 0, 0, 0, 0), slot(0x55, 1, 0, 1, stopAt), slot(0xb7, 0, 0, 0, 1), slot(0x95),
  ]);
}

test('bpf_loop runs the callback in its own frame with the kernel return values', () => {
  const run = (n: number, stop: number, flags: number): bigint =>
    execute(loopProgram(n, stop, flags), { helpers: callbackHelpers }).r0;
  assert.equal(run(10, -1, 0), 45010n);
  assert.equal(run(0, -1, 0), 0n);
  assert.equal(run(100, 6, 0), 21007n); // 0+…+6, stopped after 7 calls
  assert.equal(run(5, -1, 1), BigInt.asUintN(64, -22n)); // -EINVAL, no iterations
  assert.equal(run((1 << 23) + 1, -1, 0), BigInt.asUintN(64, -7n));
});

test('a callback address outside the program is a fault', () => {
  const bad = encodeSlots([slot(0xb7, 1, 0, 0, 1), slot(0xb7, 2, 0, 0, 0x1234), slot(0xb7, 3), slot(0xb7, 4), slot(0x85, 0, 0, 0, 181), slot(0x95)]);
  assert.throws(() => execute(bad, { helpers: callbackHelpers }), (e: unknown) => e instanceof VmError && /callback address/.test(e.message));
});
