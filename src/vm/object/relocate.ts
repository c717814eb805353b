/**
 * A linked program made ready for the VM: CO-RE applied, its references resolved to VM
 * addresses, and everything the VM cannot provide refused at load with a NotSupportedError
 * that names it — a helper it does not implement, a kernel symbol or kfunc, a CO-RE
 * relocation against kernel types without a target BTF, a `__kconfig` value nobody gave.
 */
import type { Btf } from '../../btf/btf.js';
import {
  applyCoreRelocations, CORE_POISON_HELPER_ID, coreRelocationKindName, essentialName, type CoreCandidateCache,
} from '../../btf/core.js';
import { NotSupportedError } from '../../errors.js';
import type { Instruction, LddwInstruction } from '../../isa/instruction.js';
import type { ProgramSpec } from '../../object/spec.js';
import { helperName } from '../helpers/names.js';
import { ArrayMap } from '../maps/array.js';
import type { VmMap } from '../maps/map.js';

/**
 * The UAPI structs of include/uapi/linux/bpf.h that programs see as their context or through
 * it. The VM lays them out as the UAPI does, which is what the object's own BTF says: CO-RE
 * relocations rooted at them resolve against the object's BTF without a kernel's.
 */
const UAPI_TYPES: ReadonlySet<string> = new Set([
  '__sk_buff', 'xdp_md', 'bpf_sock', 'bpf_sock_tuple', 'bpf_sock_addr', 'bpf_sock_ops', 'sk_msg_md', 'sk_reuseport_md',
  'bpf_sockopt', 'bpf_sysctl', 'bpf_sk_lookup', 'bpf_flow_keys', 'bpf_perf_event_data', 'bpf_raw_tracepoint_args',
  'bpf_cgroup_dev_ctx', 'bpf_xdp_sock', 'bpf_tcp_sock', 'bpf_nf_ctx',
]);

/** Where CO-RE relocations resolve. */
export interface VmCoreTarget {
  readonly local: Btf;
  /** A target BTF the host gave, or undefined: then only UAPI-rooted relocations resolve (against `local`). */
  readonly targets: readonly Btf[] | undefined;
  readonly cache: CoreCandidateCache;
}

/** `program`'s instructions after CO-RE. Throws NotSupportedError for relocations the VM cannot resolve, CoreError where libbpf fails. */
export function relocateCore(program: ProgramSpec, core: VmCoreTarget | undefined): readonly Instruction[] {
  const relos = program.coreRelocations;
  if (relos.length === 0) return program.instructions;
  if (core === undefined) throw new NotSupportedError('it has CO-RE relocations but the object has no BTF');
  if (core.targets === undefined) {
    relos.forEach((r, i) => {
      const root = core.local.has(r.typeId) ? core.local.type(r.typeId) : undefined;
      const name = root === undefined ? '' : essentialName(root.name);
      if (root === undefined || !UAPI_TYPES.has(name)) {
        const what = root === undefined ? `type [${r.typeId}]` : `${root.kind} ${name || '(anon)'}`;
        throw new NotSupportedError(`CO-RE relocation #${i} (${coreRelocationKindName(r.kind)} of ${what}, access ${r.accessStr}, insn ${r.slot}) ` +
          'needs the kernel\'s BTF, which the VM does not have (give `targetBtf`)');
      }
      // The target is the UAPI struct as the object declares it: its unflavored definition
      // (`__sk_buff`, not `__sk_buff___narrow`), or the root itself when the object has none.
      if (!core.cache.has(r.typeId)) {
        const plain = core.local.findByName(name, root.kind);
        core.cache.set(r.typeId, (plain.length > 0 ? plain : [r.typeId]).map((id) => ({ btf: core.local, id })));
      }
    });
  }
  return applyCoreRelocations(program.instructions, relos, core.local, core.targets ?? core.local, {
    programName: program.name, cache: core.cache,
  }).instructions;
}

/**
 * Refuses helpers not in `implemented`, naming the first one as the kernel does, and arena
 * instructions. Calls CO-RE poisoned (`call 0xbad2310`) are let through: like the verifier,
 * which refuses them only where reachable, the VM faults on them (UnknownHelper) only if they run.
 */
export function checkInstructions(instructions: readonly Instruction[], implemented: (id: number) => boolean): void {
  for (const insn of instructions) {
    if (insn.kind === 'addr_space_cast') throw new NotSupportedError('arena instructions (addr_space_cast) are not supported by the VM');
    if (insn.kind === 'call' && insn.target === 'helper' && insn.imm !== CORE_POISON_HELPER_ID && !implemented(insn.imm)) {
      throw new NotSupportedError(`${helperName(insn.imm)} (#${insn.imm}) is not implemented by the VM`);
    }
  }
}

/** Refuses kernel symbols and kfuncs, which the VM has none of. */
export function checkExternReferences(program: ProgramSpec): void {
  for (const ref of program.references) {
    if (ref.kind === 'ksym') throw new NotSupportedError(`kernel symbol '${ref.extern}' (__ksym) does not exist in the VM`);
    if (ref.kind === 'kfunc') throw new NotSupportedError(`kfunc '${ref.extern}' is not implemented by the VM`);
  }
}

/**
 * The loader hook of the Interpreter for `program`'s references: a map's pointer for
 * `lddw rX, map`, the address of the value plus the offset for global data. `mapFor` gives the
 * VM map of a spec name, or throws when it could not be made.
 */
export function lddwResolver(program: ProgramSpec, mapFor: (name: string) => VmMap): (insn: LddwInstruction, slot: number) => bigint {
  const bySlot = new Map(program.references.map((r) => [r.slot, r]));
  return (insn, slot) => {
    const ref = bySlot.get(slot);
    if (ref === undefined || (ref.kind !== 'map' && ref.kind !== 'map_value')) {
      throw new NotSupportedError(`lddw at insn ${slot} with pseudo source ${insn.src} refers to nothing the object defines`);
    }
    const map = mapFor(ref.map);
    if (ref.kind === 'map') return BigInt(map.address);
    if (!(map instanceof ArrayMap)) throw new NotSupportedError(`insn ${slot} takes the address of a value of map '${ref.map}', which is not an array`);
    return BigInt(map.valueAddress(0) + ref.offset);
  };
}
