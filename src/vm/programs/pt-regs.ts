/**
 * `struct pt_regs` of x86_64 (arch/x86/include/asm/ptrace.h), the context of kprobe and uprobe
 * programs: the registers at the probed instruction, 21 × 8 bytes. The kernel lets a program
 * read any aligned 1, 2, 4 or 8 bytes of it and write none.
 */
import type { Memory } from '../memory.js';
import { HostContext } from './host-context.js';

/** Register names in `struct pt_regs` order (kernel names; `cs`/`ss` are the u64 slots). */
export const PT_REGS_FIELDS = [
  'r15', 'r14', 'r13', 'r12', 'bp', 'bx', 'r11', 'r10', 'r9', 'r8',
  'ax', 'cx', 'dx', 'si', 'di', 'orig_ax', 'ip', 'cs', 'flags', 'sp', 'ss',
] as const;

export type PtRegsField = typeof PT_REGS_FIELDS[number];
/** Register values; missing ones are 0. */
export type PtRegs = Partial<Record<PtRegsField, bigint | number>>;

/** sizeof(struct pt_regs) on x86_64. */
export const PT_REGS_SIZE = PT_REGS_FIELDS.length * 8;

/** Registers holding function arguments 1..6 (the System V ABI; PT_REGS_PARM1..6 of bpf_tracing.h). */
export const PT_REGS_PARMS: readonly PtRegsField[] = ['di', 'si', 'dx', 'cx', 'r8', 'r9'];
/** Register holding a return value (PT_REGS_RC). */
export const PT_REGS_RC: PtRegsField = 'ax';

/** Byte offset of register `name` in `struct pt_regs`. */
export function ptRegsOffset(name: PtRegsField): number {
  return PT_REGS_FIELDS.indexOf(name) * 8;
}

/** The bytes of a `struct pt_regs`. */
export function encodePtRegs(regs: PtRegs): Uint8Array {
  const out = new Uint8Array(PT_REGS_SIZE);
  const v = new DataView(out.buffer);
  PT_REGS_FIELDS.forEach((name, i) => v.setBigUint64(8 * i, BigInt.asUintN(64, BigInt(regs[name] ?? 0)), true));
  return out;
}

/** Registers for a probe on a function called with `args` (up to six), plus any others. */
export function callRegs(args: ReadonlyArray<bigint | number>, others: PtRegs = {}): PtRegs {
  if (args.length > PT_REGS_PARMS.length) throw new RangeError(`x86_64 passes ${PT_REGS_PARMS.length} arguments in registers, not ${args.length}`);
  const regs: PtRegs = { ...others };
  args.forEach((a, i) => { regs[PT_REGS_PARMS[i]!] = a; });
  return regs;
}

/**
 * A read-only `struct pt_regs` context for a kprobe/uprobe program.
 *
 * @example
 * using ctx = kprobeContext(memory, callRegs([3n, 0x1000n], { ip: 0xffffffff81000000n }));
 * vm.run(ctx.address);
 */
export function kprobeContext(memory: Memory, regs: PtRegs): HostContext {
  return new HostContext(memory, 'pt_regs', encodePtRegs(regs), false);
}
