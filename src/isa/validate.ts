/**
 * Structural checks of a whole program that do not need types: every jump and local call
 * lands on an instruction of the program (not past its end, not inside an `lddw`), and the
 * last instruction cannot fall through. The kernel makes the same checks first
 * (kernel: verifier.c check_subprogs, "jump out of range from insn %d to %d").
 */
import { InstructionError } from '../errors.js';
import type { Instruction } from './instruction.js';
import { jumpOffset, slotCount } from './instruction.js';

/** Slot index of each instruction of `program`. */
export function slotIndexes(program: readonly Instruction[]): number[] {
  const out: number[] = new Array(program.length);
  let slot = 0;
  program.forEach((insn, i) => {
    out[i] = slot;
    slot += slotCount(insn);
  });
  return out;
}

/**
 * Throws `InstructionError` (with the slot index) for a jump or call out of range, a jump
 * into the second slot of an `lddw`, an empty program, or a last instruction that falls through.
 */
export function validateControlFlow(program: readonly Instruction[]): void {
  if (program.length === 0) throw new InstructionError('program has no instructions', 0);
  const slots = slotIndexes(program);
  const total = slots[slots.length - 1]! + slotCount(program[program.length - 1]!);
  const starts = new Uint8Array(total);
  for (const s of slots) starts[s] = 1;
  const check = (from: number, delta: number, what: string): void => {
    const to = from + 1 + delta;
    if (to < 0 || to >= total) {
      throw new InstructionError(`${what} out of range from insn ${from} to ${to}`, from);
    }
    if (starts[to] === 0) {
      throw new InstructionError(`${what} from insn ${from} into the middle of lddw at insn ${to - 1}`, from);
    }
  };
  program.forEach((insn, i) => {
    const from = slots[i]!;
    const delta = jumpOffset(insn);
    if (delta !== undefined) check(from, delta, 'jump');
    else if (insn.kind === 'call' && insn.target === 'local') check(from, insn.imm, 'call');
    else if (insn.kind === 'lddw' && insn.src === 4 /* BPF_PSEUDO_FUNC */) check(from, insn.imm, 'function reference');
  });
  const last = program[program.length - 1]!;
  if (last.kind !== 'exit' && last.kind !== 'ja') {
    throw new InstructionError('last insn is not an exit or jmp', slots[program.length - 1]!);
  }
}
