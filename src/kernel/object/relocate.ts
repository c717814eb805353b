/**
 * A linked program made ready for BPF_PROG_LOAD: CO-RE relocations applied against the kernel's
 * BTF (libbpf: bpf_object__relocate_core), then its map, global-data and extern references
 * completed with file descriptors and kernel ids (libbpf: bpf_object__relocate_data,
 * bpf_program_fixup_func_info's neighbour for kfuncs). The spec is never modified.
 */
import type { Btf } from '../../btf/btf.js';
import { applyCoreRelocations, type CoreCandidateCache, type CoreRelocationResult } from '../../btf/core.js';
import type { Instruction, RawInstruction } from '../../isa/instruction.js';
import { encodeSlots, toSlots } from '../../isa/encode.js';
import { BPF_CALL, BPF_JMP, BPF_PSEUDO_BTF_ID } from '../../isa/opcodes.js';
import type { ProgramSpec } from '../../object/spec.js';
import type { KsymResolution } from './ksyms.js';

/** libbpf: POISON_CALL_KFUNC_BASE — an unresolved weak kfunc call becomes `call` of this plus the extern's index. */
export const POISON_CALL_KFUNC_BASE = 2002000000;

/** Where CO-RE relocations resolve: the object's BTF, the kernel's, and the object's shared candidate cache. */
export interface CoreTarget {
  readonly local: Btf;
  readonly targets: readonly Btf[];
  readonly cache: CoreCandidateCache;
}

/** The instructions after CO-RE, with what each relocation did. */
export interface CoreRelocated {
  readonly instructions: readonly Instruction[];
  readonly results: readonly CoreRelocationResult[];
}

/** Applies `program`'s CO-RE relocations (none: the instructions as they are). Throws CoreError as libbpf fails. */
export function relocateCore(program: ProgramSpec, core: CoreTarget | undefined): CoreRelocated {
  if (program.coreRelocations.length === 0 || core === undefined) return { instructions: program.instructions, results: [] };
  const { instructions, results } = applyCoreRelocations(program.instructions, program.coreRelocations, core.local, core.targets, {
    programName: program.name, cache: core.cache,
  });
  return { instructions, results };
}

/** What resolving references needs: map fds by map name, ksyms by extern name. */
export interface ReferenceContext {
  mapFd(name: string): number;
  readonly ksyms: ReadonlyMap<string, KsymResolution>;
  /** Index of an extern in the spec's list (the poisoned call's immediate). */
  externIndex(name: string): number;
}

/**
 * The program's bytes for the kernel: `instructions` (after CO-RE) with every reference of
 * `program` completed. Slots keep their numbering through CO-RE (a poisoned `lddw` stays two
 * slots), so references are applied by slot.
 */
export function resolveReferences(program: ProgramSpec, instructions: readonly Instruction[], ctx: ReferenceContext): Uint8Array {
  const slots: RawInstruction[] = toSlots(instructions);
  const set = (slot: number, fields: Partial<RawInstruction>): void => {
    slots[slot] = { ...slots[slot]!, ...fields };
  };
  for (const ref of program.references) {
    switch (ref.kind) {
      case 'map':
      case 'map_value':
        // src (PSEUDO_MAP_FD / PSEUDO_MAP_VALUE) and the value offset were set when linking.
        set(ref.slot, { imm: ctx.mapFd(ref.map) });
        break;
      case 'ksym': {
        const r = ctx.ksyms.get(ref.extern) ?? { kind: 'unresolved' };
        if (r.kind === 'btf') {
          set(ref.slot, { src: BPF_PSEUDO_BTF_ID, imm: r.btfId });
          set(ref.slot + 1, { imm: r.btfObjFd });
        } else {
          const address = r.kind === 'address' ? r.address : 0n;
          set(ref.slot, { imm: Number(BigInt.asIntN(32, address)) });
          set(ref.slot + 1, { imm: Number(BigInt.asIntN(32, address >> 32n)) });
        }
        break;
      }
      case 'kfunc': {
        const r = ctx.ksyms.get(ref.extern) ?? { kind: 'unresolved' };
        if (r.kind === 'btf') set(ref.slot, { imm: r.btfId, off: r.fdIndex });
        else set(ref.slot, { code: BPF_JMP | BPF_CALL, dst: 0, src: 0, off: 0, imm: POISON_CALL_KFUNC_BASE + ctx.externIndex(ref.extern) });
        break;
      }
    }
  }
  return encodeSlots(slots);
}
