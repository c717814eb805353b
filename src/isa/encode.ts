/** Instructions → bytes, the inverse of `decode.ts`. */
import type { Instruction, RawInstruction } from './instruction.js';
import type { CodecOptions } from './decode.js';

/** The raw slots of a program; `lddw` yields two. */
export function toSlots(program: readonly Instruction[]): RawInstruction[] {
  const out: RawInstruction[] = [];
  for (const insn of program) {
    out.push({ code: insn.code, dst: insn.dst, src: insn.src, off: insn.off, imm: insn.imm });
    if (insn.kind === 'lddw') out.push({ code: 0, dst: 0, src: 0, off: 0, imm: insn.imm2 });
  }
  return out;
}

/** Encodes raw slots to bytes (little-endian unless `bigEndian`). */
export function encodeSlots(slots: readonly RawInstruction[], options: CodecOptions = {}): Uint8Array {
  const le = !options.bigEndian;
  const bytes = new Uint8Array(slots.length * 8);
  const view = new DataView(bytes.buffer);
  slots.forEach((s, i) => {
    const p = i * 8;
    view.setUint8(p, s.code);
    view.setUint8(p + 1, le ? ((s.src & 0xf) << 4) | (s.dst & 0xf) : ((s.dst & 0xf) << 4) | (s.src & 0xf));
    view.setInt16(p + 2, s.off, le);
    view.setInt32(p + 4, s.imm, le);
  });
  return bytes;
}

/** Encodes a program to bytes. */
export function encodeProgram(program: readonly Instruction[], options: CodecOptions = {}): Uint8Array {
  return encodeSlots(toSlots(program), options);
}
