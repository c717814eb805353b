/**
 * Instruction forms for the ISA tests: every instruction the decoder accepts over a grid of
 * opcode × src × special off/imm values, plus random field values (deterministic seed).
 */
import { decodeInstruction, type Instruction, type RawInstruction } from '../../src/isa/index.js';

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const OFFS = [0, 1, -1, 2, 8, 16, 32, 0x7fff, -0x8000, 0x1234, -0x77];
const IMMS = [
  0, 1, -1, 2, 5, 8, 16, 32, 64, 0x7fffffff, -0x80000000, 0x10000, 0xff3f, -0x1388,
  0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1, 0x100, 0x110, 0x12345678,
];

/**
 * Every instruction our decoder accepts over a grid of opcode × src × special off/imm values,
 * plus random field values for each valid form (deterministic seed). The grid is searched in
 * two steps (off with imm 0, imm with off 0, then their product) to keep rejected decodes few.
 */
export function generateForms(): Instruction[] {
  const random = rng(0x5eed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const int = (bits: number): number => Math.floor(random() * 2 ** bits) - 2 ** (bits - 1);
  const out: Instruction[] = [];
  const tryDecode = (slot: RawInstruction, imm2: number): Instruction | undefined => {
    try {
      return decodeInstruction([slot, { code: 0, dst: 0, src: 0, off: 0, imm: imm2 }], 0);
    } catch {
      return undefined;
    }
  };
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0; // rejected decodes are the common case here
  try {
    for (let code = 0; code < 256; code++) {
      for (const src of [0, 1, 2, 3, 4, 5, 6, 9, 10, 11]) {
        const offs = OFFS.filter((off) => tryDecode({ code, dst: 1, src, off, imm: 0 }, 0) !== undefined);
        const imms = IMMS.filter((imm) => tryDecode({ code, dst: 1, src, off: 0, imm }, 0) !== undefined);
        for (const off of offs.length ? offs : [0]) {
          for (const imm of imms.length ? imms : [0]) {
            const slot = { code, dst: pick([0, 1, 5, 10]), src, off, imm };
            const insn = tryDecode(slot, pick([0, 1, -1, 0x7fffffff, int(32)]));
            if (insn === undefined) continue;
            out.push(insn);
            // Random values in the fields this form leaves free.
            for (let k = 0; k < 1; k++) {
              const variant = tryDecode({
                ...slot, dst: Math.floor(random() * 11),
                off: random() < 0.5 ? off : int(16), imm: random() < 0.5 ? imm : int(32),
              }, int(32));
              if (variant !== undefined) out.push(variant);
            }
          }
        }
      }
    }
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
  return out;
}
