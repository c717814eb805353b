// Faults in the interpreter are typed, name the instruction, and touch nothing outside regions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeSlots, type RawInstruction } from '../../src/isa/index.js';
import {
  BudgetExceeded, CallDepthExceeded, execute, Interpreter, Memory, MemoryFault, UnknownHelper,
} from '../../src/vm/index.js';

const slot = (code: number, dst = 0, src = 0, off = 0, imm = 0): RawInstruction => ({ code, dst, src, off, imm });
const EXIT = slot(0x95);
const prog = (...s: RawInstruction[]): Uint8Array => encodeSlots(s);

test('stack accesses inside the 512-byte frame work; below it fault', () => {
  assert.equal(execute(prog(slot(0x7a, 10, 0, -512, 7), slot(0x79, 0, 10, -512), EXIT)).r0, 7n);
  assert.throws(() => execute(prog(slot(0x7a, 10, 0, -520, 7), EXIT)), (e: unknown) =>
    e instanceof MemoryFault && e.index === 0 && e.access === 'write' && e.size === 8);
  assert.throws(() => execute(prog(slot(0x79, 0, 10, 0), EXIT)), (e: unknown) => e instanceof MemoryFault && e.access === 'read');
  assert.throws(() => execute(prog(slot(0x79, 0, 10, -4), EXIT)), /crosses the end of stack/);
});

test('null and wild pointers fault with the instruction index', () => {
  assert.throws(() => execute(prog(slot(0xb7, 1, 0, 0, 0), slot(0x61, 0, 1, 4), EXIT)), (e: unknown) =>
    e instanceof MemoryFault && e.index === 1 && /null pointer/.test(e.message));
  assert.throws(() => execute(prog(slot(0x18, 1, 0, 0, 0x1000), slot(0, 0, 0, 0, 1), slot(0x72, 1, 0, 0, 1), EXIT)), (e: unknown) =>
    e instanceof MemoryFault && e.index === 2 && e.address === 0x100001000);
});

test('memory regions: r1/r2 carry address and length; access past the end faults', () => {
  const mem = Uint8Array.of(1, 2, 3, 4);
  assert.equal(execute(prog(slot(0x61, 0, 1, 0), EXIT), { memory: mem }).r0, 0x04030201n);
  assert.equal(execute(prog(slot(0xbf, 0, 2), EXIT), { memory: mem }).r0, 4n);
  assert.throws(() => execute(prog(slot(0x61, 0, 1, 1), EXIT), { memory: mem }), MemoryFault);
});

test('read-only regions reject stores', () => {
  const memory = new Memory();
  const ro = memory.alloc(8, { kind: 'context', name: 'ctx', writable: false });
  const vm = new Interpreter(prog(slot(0x79, 0, 1, 0), slot(0x7a, 1, 0, 0, 1), EXIT), { memory });
  assert.throws(() => vm.run(ro.start), (e: unknown) => e instanceof MemoryFault && e.index === 1 && /read-only/.test(e.message));
});

test('the instruction budget stops an endless loop', () => {
  assert.throws(() => execute(prog(slot(0x05, 0, 0, -1), EXIT), { maxInstructions: 1000 }), (e: unknown) =>
    e instanceof BudgetExceeded && e.index === 0);
});

test('unknown helpers and too-deep calls are typed faults', () => {
  assert.throws(() => execute(prog(slot(0x85, 0, 0, 0, 77), EXIT)), (e: unknown) => e instanceof UnknownHelper && e.helper === 77);
  // A function that calls itself: the 9th frame is refused, as the kernel refuses it.
  assert.throws(() => execute(prog(slot(0x85, 0, 1, 0, -1), EXIT)), (e: unknown) => e instanceof CallDepthExceeded && /9 frames/.test(e.message));
});

test('bpf-to-bpf calls preserve r6-r9 and give the callee its own frame', () => {
  const p = prog(
    slot(0xb7, 6, 0, 0, 10),            // r6 = 10
    slot(0x7a, 10, 0, -8, 5),           // *(u64 *)(r10 - 8) = 5
    slot(0xbf, 1, 10), slot(0x07, 1, 0, 0, -8), // r1 = &caller's slot
    slot(0x85, 0, 1, 0, 3),             // call +3
    slot(0x0f, 0, 6),                   // r0 += r6
    EXIT,
    slot(0xb7, 6, 0, 0, 99),            // callee clobbers r6
    slot(0x79, 0, 1, 0),                // reads the caller's stack
    slot(0x7a, 10, 0, -8, 1000),        // writes its own frame
    EXIT,
  );
  assert.equal(execute(p).r0, 15n);
});

test('helpers receive arguments and may stop the program', () => {
  const helpers = new Map([[1, (ctx: { arg(n: number): bigint; stop(v: number): void }) => { if (ctx.arg(1) === 3n) ctx.stop(42); return ctx.arg(1) * 2n; }]]);
  const p = (v: number): Uint8Array => prog(slot(0xb7, 1, 0, 0, v), slot(0x85, 0, 0, 0, 1), slot(0x07, 0, 0, 0, 1), EXIT);
  assert.equal(execute(p(5), { helpers }).r0, 11n);
  assert.equal(execute(p(3), { helpers }).r0, 42n);
});
