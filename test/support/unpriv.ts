/**
 * The unprivileged oracle for tests: programs loaded into the running kernel by a child process
 * without capabilities (setpriv to nobody), as a loader with kernel.unprivileged_bpf_disabled = 0
 * sees them, and verified by us with `privileged: false` on the same maps. One child loads a
 * whole batch; the sysctl is set back to its old value when the child ends, however it ends
 * (src/cli/verify-unpriv.ts).
 */
import { assemble, toSlots, type RawInstruction } from '../../src/isa/index.js';
import { unprivOracleUnavailable, unprivilegedVerdicts, type UnprivVerdict } from '../../src/cli/verify-unpriv.js';
import { applyFixups, parseVerifierCases, syntheticMapFds, verify, type VerifyResult } from '../../src/verifier/index.js';
import { kernelSkip } from './kernel.js';

export { unprivOracleUnavailable, unprivilegedVerdicts, type UnprivProgram, type UnprivVerdict } from '../../src/cli/verify-unpriv.js';

/** A skip reason when the unprivileged oracle cannot run here, or false. Throws under EBPF_REQUIRE_KERNEL=1. */
export function unprivSkip(): string | false {
  const k = kernelSkip();
  if (k !== false) return k;
  const why = unprivOracleUnavailable();
  if (why !== undefined && process.env.EBPF_REQUIRE_KERNEL === '1') throw new Error(`EBPF_REQUIRE_KERNEL=1 but ${why}`);
  return why ?? false;
}

/** One program for {@link compareUnprivileged}: assembly (or raw slots), its type and the maps it names. */
export interface UnprivCase {
  readonly name: string;
  readonly asm?: string;
  readonly insns?: readonly RawInstruction[];
  /** ProgramType number; default SOCKET_FILTER. */
  readonly progType?: number;
  /**
   * test_verifier fixup map name (FIXUP_MAPS: `map_hash_8b`, `map_array_48b`, …) → slot indexes
   * of `lddw` instructions that get the map (their src becomes BPF_PSEUDO_MAP_FD).
   */
  readonly maps?: Readonly<Record<string, readonly number[]>>;
}

/** The kernel's and our verdict for one case. */
export interface UnprivComparison {
  readonly name: string;
  readonly kernel: UnprivVerdict;
  readonly ours: VerifyResult;
  /** Ours as privileged (the default), for contrast. */
  readonly oursPrivileged: VerifyResult;
}

/** Runs `cases` through one unprivileged child and through our verifier (unprivileged and privileged). */
export function compareUnprivileged(cases: readonly UnprivCase[]): UnprivComparison[] {
  const prepared = cases.map((c) => {
    const slots = (c.insns ?? toSlots(assemble(c.asm ?? ''))).map((s) => ({ ...s }));
    for (const idx of Object.values(c.maps ?? {}).flat()) slots[idx] = { ...slots[idx]!, src: 1 };
    return { c, slots, progType: c.progType ?? 1 };
  });
  const verdicts = unprivilegedVerdicts(prepared.map(({ c, slots, progType }) => ({ insns: slots, progType, fixups: c.maps ?? {} })));
  return prepared.map(({ c, slots, progType }, i) => {
    // The same case model the report uses, for the synthetic map fds.
    const [vc] = parseVerifierCases([{
      insns: slots.map((s) => [s.code, s.dst, s.src, s.off, s.imm]), prog_type: progType,
      ...Object.fromEntries(Object.entries(c.maps ?? {}).map(([k, v]) => [`fixup_${k}`, v])),
    }]);
    const maps = syntheticMapFds(vc!);
    const insns = applyFixups(vc!, maps.fdOf);
    const run = (privileged: boolean): VerifyResult => verify(insns, { progType, maps: maps.mapOf, privileged, logLevel: 1 });
    return { name: c.name, kernel: verdicts[i]!, ours: run(false), oursPrivileged: run(true) };
  });
}
