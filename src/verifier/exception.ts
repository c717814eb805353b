/**
 * BPF exceptions (kernel: verifier.c bpf_find_exception_callback_insn_off, check_kfunc_call's
 * bpf_throw case, process_bpf_exit_full with exception_exit): `bpf_throw(cookie)` is a kfunc
 * that unwinds every frame and ends the program. A program may name an exception callback with
 * the BTF decl tag `exception_callback:NAME` on its main function; that global function is
 * verified as a second entry point, R1 being the cookie, and returns the program's value.
 */
import type { Btf } from '../btf/index.js';
import { skipModifiers } from './btf-util.js';
import type { Instruction } from '../isa/index.js';
import { ProgramType } from '../object/uapi-types.js';

/** The exception callback of a program, as the loader's BTF names it. */
export interface ExceptionCallback {
  /** Slot index of the callback's first instruction (its func_info insn_off). */
  readonly insn: number;
  /** Its prototype takes exactly one integer argument (kernel: the only form allowed). */
  readonly singleScalarArg: boolean;
}

/** A bad exception callback declaration: the kernel's words. */
export class ExceptionCallbackError extends Error {
  override name = 'ExceptionCallbackError';
}

const TAG_PREFIX = 'exception_callback:';

/**
 * kernel: bpf_find_exception_callback_insn_off: the exception callback a program's main
 * function names, from the program's BTF and its func_info records (`insnOff`, `typeId`; the
 * main function first). Undefined when there is none; throws ExceptionCallbackError as the
 * kernel refuses a bad one.
 */
export function findExceptionCallback(btf: Btf, funcInfo: readonly { readonly insnOff: number; readonly typeId: number }[]): ExceptionCallback | undefined {
  const main = funcInfo[0];
  if (main === undefined) return undefined;
  if (!btf.has(main.typeId)) throw new ExceptionCallbackError('invalid btf id for main subprog in func_info');
  const tags: string[] = [];
  for (let id = 1; id < btf.length; id++) {
    const t = btf.type(id);
    if (t.kind === 'decl_tag' && t.type === main.typeId && t.componentIdx === -1 && t.name.startsWith(TAG_PREFIX)) tags.push(t.name.slice(TAG_PREFIX.length));
  }
  if (tags.length === 0) return undefined;
  if (tags.length > 1) throw new ExceptionCallbackError('multiple exception callback tags for main subprog');
  const name = tags[0]!;
  const id = btf.findByName(name, 'func')[0];
  if (id === undefined) throw new ExceptionCallbackError(`exception callback '${name}' could not be found in BTF`);
  const fn = btf.type(id);
  if (fn.kind !== 'func' || fn.linkage !== 1) throw new ExceptionCallbackError(`exception callback '${name}' must have global linkage`);
  let insn = 0;
  for (const rec of funcInfo) {
    if (rec.typeId !== id) continue;
    insn = rec.insnOff;
    if (insn === 0) throw new ExceptionCallbackError('invalid exception callback insn_off in func_info: 0');
  }
  if (insn === 0) throw new ExceptionCallbackError('exception callback type id not found in func_info');
  const proto = btf.type(fn.type);
  let singleScalarArg = false;
  if (proto.kind === 'func_proto' && proto.params.length === 1) {
    const arg = btf.type(skipModifiers(btf, proto.params[0]!.type));
    singleScalarArg = arg.kind === 'int' || arg.kind === 'enum' || arg.kind === 'enum64';
  }
  return { insn, singleScalarArg };
}

/** Program types the generic kfunc set (bpf_throw's) is registered for (kernel: helpers.c kfunc_init). */
const THROW_PROG_TYPES: ReadonlySet<number> = new Set([ProgramType.TRACING, ProgramType.SCHED_CLS, ProgramType.XDP,
  ProgramType.STRUCT_OPS, ProgramType.SYSCALL, ProgramType.CGROUP_SKB]);

/** Whether `progType` may call bpf_throw. */
export function mayThrow(progType: number): boolean {
  return THROW_PROG_TYPES.has(progType);
}

/** Whether `insn` calls the vmlinux kfunc `bpf_throw` (a kfunc call names its BTF FUNC by id; off 0 is vmlinux). */
export function isBpfThrow(btf: Btf | undefined, insn: Instruction): boolean {
  if (btf === undefined || insn.kind !== 'call' || insn.target !== 'kfunc' || insn.off !== 0 || !btf.has(insn.imm)) return false;
  const t = btf.type(insn.imm);
  return t.kind === 'func' && t.name === 'bpf_throw';
}
