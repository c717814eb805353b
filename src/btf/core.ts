/**
 * CO-RE ("compile once, run everywhere"): rewriting a program's field offsets, sizes, type ids,
 * existence checks and enum values, recorded by clang in `.BTF.ext`, to what they are in the
 * target kernel's BTF — libbpf's algorithm (tools/lib/bpf/relo_core.c and
 * bpf_object__relocate_core), result for result, including where it poisons an instruction and
 * where it fails.
 *
 * @example
 * ```ts
 * const { instructions, results } = applyCoreRelocations(prog.instructions, prog.coreRelocations,
 *   objectBtf, vmlinuxBtf, { programName: prog.name, cache });
 * ```
 */
import type { Btf } from './btf.js';
import { CoreError, CoreFault } from './core-error.js';
import { describeType } from './core-btf.js';
import { findCoreCandidates, type CoreCandidateCache } from './core-candidates.js';
import { resolveCoreRelocation, type CoreCandidate } from './core-calc.js';
import {
  CoreRelocationKind, isCoreRelocationKind, type CoreRelocationKindNumber,
} from './core-kind.js';
import { patchCoreInstruction, type CorePatch } from './core-patch.js';
import { formatCoreSpec } from './core-spec.js';
import type { Instruction } from '../isa/index.js';

export * from './core-kind.js';
export { CoreError, type CoreErrorCode, type CoreErrorContext } from './core-error.js';
export { essentialName, essentialNameLength } from './core-btf.js';
export { fieldsAreCompatible, typesAreCompatible, typesMatch } from './core-compat.js';
export { parseCoreSpec, matchCoreSpec, formatCoreSpec, CORE_SPEC_MAX_LEN, type CoreSpec, type CoreAccessor } from './core-spec.js';
export {
  calcCoreRelocation, resolveCoreRelocation, type CoreCandidate, type CoreMatch, type CoreRelocationValue, type CoreResolution,
} from './core-calc.js';
export { findCoreCandidates, type CoreCandidateCache } from './core-candidates.js';
export { patchCoreInstruction, corePoisonInstruction, CORE_POISON_HELPER_ID, type CorePatch } from './core-patch.js';

/** One CO-RE relocation record of `.BTF.ext` (struct bpf_core_relo), its access string resolved. */
export interface CoreRelocation {
  /**
   * Byte offset of the relocated instruction from the start of the instruction list given to
   * `applyCoreRelocations` (libbpf's `insn_off`, made relative to the program: slot × 8).
   */
  readonly insnOff: number;
  /** Local root type id, in the object's BTF. */
  readonly typeId: number;
  /** Access string: `0:1:2` for fields, `0` for types, the enumerator index for enum values. */
  readonly accessStr: string;
  /** `CoreRelocationKind`. */
  readonly kind: number;
}

export interface CoreOptions {
  /** Program name, for messages (`prog 'x': relo #3: …`). */
  programName?: string;
  /**
   * Candidate lists shared by all programs of one object against one target; libbpf prunes a
   * type's list as its relocations resolve (see `CoreCandidateCache`). Default: a fresh one.
   */
  cache?: CoreCandidateCache;
  /** Byte order of the program, for FIELD_LSHIFT_U64. Default: the local BTF's. */
  bigEndian?: boolean;
}

/** What one relocation did. */
export interface CoreRelocationResult {
  /** Index of the relocation in the list given. */
  readonly index: number;
  readonly kind: CoreRelocationKindNumber;
  /** Slot index (8-byte units) of the instruction: libbpf's `insn #`. */
  readonly insnIndex: number;
  /** Index of the instruction in the input list (a poisoned `lddw` becomes two calls in the output). */
  readonly instructionIndex: number;
  readonly typeId: number;
  readonly accessStr: string;
  /** libbpf's view of the local spec: `<byte_off> [7] struct task_struct.pid (0:74 @ offset 2456)`. */
  readonly localSpec: string;
  /** The same for the first matching candidate; undefined when none matched. */
  readonly targetSpec: string | undefined;
  /** The first matching candidate. */
  readonly target: CoreCandidate | undefined;
  /** Every candidate that matched, with its spec in libbpf's words (they all agree, or it would have failed). */
  readonly matches: readonly { readonly btf: Btf; readonly id: number; readonly spec: string }[];
  /** The instruction was replaced by `call 0xbad2310`. */
  readonly poisoned: boolean;
  /** Whether the instruction's value was checked against `origValue`. */
  readonly validated: boolean;
  /** Value computed from the local BTF (what the compiler put in the instruction). */
  readonly origValue: bigint;
  /** Value computed from the target BTF. */
  readonly newValue: bigint;
  readonly patch: CorePatch;
}

/** The relocated program and one result per relocation. */
export interface CoreRelocationOutput {
  readonly instructions: Instruction[];
  readonly results: CoreRelocationResult[];
}

/**
 * Applies CO-RE relocations to a program, the way libbpf does when it loads an object:
 * each relocation's local type is matched by essential name against `target` (vmlinux, then the
 * module BTFs after it, when vmlinux has no candidate), its value computed and checked against
 * the instruction, and the instruction patched — or poisoned with `call 0xbad2310` when the
 * target lacks the field or enumerator, so that the verifier rejects it only if reachable.
 * Relocations apply in order; the input is not modified.
 *
 * Throws `CoreError` where libbpf fails the load: malformed records, anonymous root types,
 * candidates that disagree (ambiguity), an instruction that doesn't hold the expected value or
 * can't be relocated, offsets above 32767.
 */
export function applyCoreRelocations(
  instructions: readonly Instruction[],
  relos: readonly CoreRelocation[],
  local: Btf,
  target: Btf | readonly Btf[],
  options: CoreOptions = {},
): CoreRelocationOutput {
  const targets: readonly Btf[] = Array.isArray(target) ? target : [target as Btf];
  const cache = options.cache ?? new Map<number, CoreCandidate[]>();
  const bigEndian = options.bigEndian ?? local.bigEndian;

  // Slot index -> instruction index; the second slot of an lddw maps to nothing.
  const bySlot = new Map<number, number>();
  let slots = 0;
  instructions.forEach((insn, i) => {
    bySlot.set(slots, i);
    slots += insn.kind === 'lddw' ? 2 : 1;
  });
  const work: Instruction[][] = instructions.map((insn) => [insn]);
  const results: CoreRelocationResult[] = [];

  relos.forEach((relo, index) => {
    const insnIndex = relo.insnOff % 8 === 0 ? relo.insnOff / 8 : undefined;
    const context = {
      program: options.programName, relocationIndex: index, insnIndex, kind: relo.kind,
      typeId: relo.typeId, typeName: describeType(local, relo.typeId), accessStr: relo.accessStr,
    };
    const fail = (fault: CoreFault): never => {
      throw new CoreError(fault.code, fault.message, context, { cause: fault });
    };
    try {
      if (!isCoreRelocationKind(relo.kind)) throw new CoreFault('EOPNOTSUPP', `unrecognized CO-RE relocation kind ${relo.kind}`);
      const at = insnIndex === undefined ? undefined : bySlot.get(insnIndex);
      if (insnIndex === undefined || at === undefined) {
        throw new CoreFault('EINVAL', `insn_off ${relo.insnOff} is not the start of an instruction of this program (${slots} slots)`);
      }

      let candidates: CoreCandidate[] | undefined;
      if (relo.kind !== CoreRelocationKind.TYPE_ID_LOCAL) {
        candidates = cache.get(relo.typeId);
        if (candidates === undefined) {
          candidates = findCoreCandidates(local, relo.typeId, targets);
          cache.set(relo.typeId, candidates);
        }
      }
      const res = resolveCoreRelocation(local, relo.typeId, relo.accessStr, relo.kind, candidates, bigEndian);
      const current = work[at]![0]!;
      const { replacement, patch } = patchCoreInstruction(current, res.value);
      work[at] = replacement;
      results.push({
        index, kind: relo.kind, insnIndex, instructionIndex: at, typeId: relo.typeId, accessStr: relo.accessStr,
        localSpec: formatCoreSpec(res.localSpec),
        targetSpec: res.targetSpec && formatCoreSpec(res.targetSpec),
        target: res.matched[0]?.candidate,
        matches: res.matched.map((m) => ({ btf: m.candidate.btf, id: m.candidate.id, spec: formatCoreSpec(m.spec) })),
        poisoned: patch.kind === 'poison', validated: res.value.validate && patch.kind !== 'poison',
        origValue: res.value.origValue, newValue: res.value.newValue, patch,
      });
    } catch (err) {
      if (err instanceof CoreFault) fail(err);
      throw err;
    }
  });
  return { instructions: work.flat(), results };
}
