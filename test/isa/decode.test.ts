// Bad bytecode gives a typed error naming the instruction, never a crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InstructionError, ParseError } from '../../src/errors.js';
import { decodeProgram, encodeProgram, encodeSlots, validateControlFlow, type RawInstruction } from '../../src/isa/index.js';

const slot = (code: number, dst = 0, src = 0, off = 0, imm = 0): RawInstruction => ({ code, dst, src, off, imm });
const EXIT = slot(0x95);
const bytes = (...slots: RawInstruction[]): Uint8Array => encodeSlots(slots);

function rejects(input: Uint8Array, index: number, pattern: RegExp): void {
  assert.throws(() => validateControlFlow(decodeProgram(input)), (err: unknown) => {
    assert.ok(err instanceof InstructionError, `expected InstructionError, got ${String(err)}`);
    assert.equal(err.index, index);
    assert.match(err.message, pattern);
    return true;
  });
}

test('truncated bytecode is a ParseError with the byte offset', () => {
  const b = bytes(slot(0xb7, 0, 0, 0, 1), EXIT).subarray(0, 13);
  assert.throws(() => decodeProgram(b), (err: unknown) => err instanceof ParseError && err.offset === 8 && /multiple of 8/.test(err.message));
});

test('lddw without its second slot', () => {
  rejects(bytes(slot(0xb7), slot(0x18, 0, 0, 0, 1)), 1, /second slot/);
});

test('unknown opcodes name the instruction', () => {
  rejects(bytes(slot(0xb7), slot(0xff), EXIT), 1, /unknown opcode.*0xff/);
  rejects(bytes(slot(0x8e), EXIT), 0, /unknown opcode/); // call in JMP32
  rejects(bytes(slot(0xf7), EXIT), 0, /unknown opcode/);
});

test('register numbers above r10 are rejected', () => {
  rejects(bytes(slot(0xbf, 11, 1), EXIT), 0, /invalid destination register r11/);
  rejects(bytes(slot(0x0f, 1, 12), EXIT), 0, /invalid source register r12/);
  rejects(bytes(slot(0x79, 0, 15, 0), EXIT), 0, /invalid source register r15/);
});

test('reserved fields must be zero', () => {
  rejects(bytes(slot(0x07, 0, 1, 0, 1), EXIT), 0, /reserved field src/);
  rejects(bytes(slot(0x95, 0, 0, 0, 1)), 0, /reserved field imm/);
});

test('jumps out of range or into lddw, and programs that fall off the end', () => {
  rejects(bytes(slot(0x05, 0, 0, 5), EXIT), 0, /jump out of range from insn 0 to 6/);
  rejects(bytes(slot(0x05, 0, 0, -2), EXIT), 0, /jump out of range from insn 0 to -1/);
  rejects(bytes(slot(0x05, 0, 0, 1), slot(0x18, 0, 0, 0, 1), slot(0, 0, 0, 0, 0), EXIT), 0, /middle of lddw/);
  rejects(bytes(slot(0x85, 0, 1, 0, 7), EXIT), 0, /call out of range/);
  rejects(bytes(slot(0xb7)), 0, /last insn is not an exit or jmp/);
  rejects(new Uint8Array(0), 0, /no instructions/);
});

test('decode and encode round-trip byte for byte, big-endian included', () => {
  const b = bytes(slot(0x18, 3, 0, 0, -5), slot(0, 0, 0, 0, 0x12345678), slot(0x7b, 10, 3, -8), slot(0xdb, 10, 1, -8, 0xe1), EXIT);
  assert.deepEqual(encodeProgram(decodeProgram(b)), b);
  const be = encodeProgram(decodeProgram(b), { bigEndian: true });
  assert.notDeepEqual(be, b);
  assert.deepEqual(encodeProgram(decodeProgram(be, { bigEndian: true })), b);
});

test('random bytes never escape as anything but InstructionError/ParseError', () => {
  let x = 12345;
  const next = (): number => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 16 & 0xff;
  for (let n = 0; n < 20000; n++) {
    const len = 8 * (1 + (n % 6));
    const b = Uint8Array.from({ length: len }, next);
    try {
      validateControlFlow(decodeProgram(b));
    } catch (err) {
      if (!(err instanceof ParseError)) throw err;
    }
  }
});
