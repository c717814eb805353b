/**
 * The kernel's test_verifier cases as data (tools/testing/selftests/bpf/test_verifier.c and
 * verifier/*.c, as extracted to JSON): the case model, the maps its `fixup_*` lists ask for,
 * and the prog_flags test_verifier loads with. Platform-neutral: creating the maps in a
 * kernel is the Node side's job (src/cli/verify-kernel.ts).
 */
import type { RawInstruction } from '../isa/index.js';
import { MapFlag, MapType } from '../object/uapi-types.js';
import type { MapInfo } from './reg.js';

/** One test_verifier case. */
export interface VerifierCase {
  readonly index: number;
  readonly descr: string;
  /** The verdict recorded when the JSON was made (the kernel at hand decides anew). */
  readonly result: 'ACCEPT' | 'REJECT' | 'VERBOSE_ACCEPT';
  readonly errstr: string | undefined;
  /** 0 means socket filter, as in test_verifier.c. */
  readonly progType: number;
  /** test_verifier's F_* bits and prog_flags. */
  readonly flags: number;
  readonly expectedAttachType: number;
  readonly retval: number;
  readonly insns: readonly RawInstruction[];
  /** Map fixups: fixup name (`map_hash_8b`) → instruction indexes whose imm gets the map's fd. */
  readonly fixups: ReadonlyMap<string, readonly number[]>;
  /** kfunc fixups: [kfunc name, instruction index]. */
  readonly kfuncFixups: ReadonlyArray<readonly [string, number]>;
  /** Attach target name (BTF id lookup) of tracing cases. */
  readonly kfunc: string | undefined;
  readonly usesFillHelper: boolean;
  /** The case needs BTF types or func_info that the JSON does not carry. */
  readonly needsProgramBtf: boolean;
}

/** Parses the JSON array of a test_verifier_*.json file. */
export function parseVerifierCases(json: unknown): VerifierCase[] {
  if (!Array.isArray(json)) throw new TypeError('test_verifier JSON: expected an array');
  return json.map((raw: Record<string, unknown>, i) => {
    const fixups = new Map<string, number[]>();
    let kfuncFixups: Array<[string, number]> = [];
    for (const [k, v] of Object.entries(raw)) {
      if (!k.startsWith('fixup_') || !Array.isArray(v) || v.length === 0) continue;
      if (k === 'fixup_kfunc_btf_id') kfuncFixups = v as Array<[string, number]>;
      else fixups.set(k.slice('fixup_'.length), v as number[]);
    }
    const insns = ((raw.insns as number[][] | undefined) ?? []).map(([code, dst, src, off, imm]) => ({
      code: code!, dst: dst!, src: src!, off: off!, imm: imm!,
    }));
    return {
      index: typeof raw.index === 'number' ? raw.index : i,
      descr: String(raw.descr ?? ''),
      result: (raw.result as VerifierCase['result'] | undefined) ?? 'ACCEPT',
      errstr: typeof raw.errstr === 'string' ? raw.errstr : undefined,
      progType: Number(raw.prog_type ?? 0),
      flags: Number(raw.flags ?? 0),
      expectedAttachType: Number(raw.expected_attach_type ?? 0),
      retval: Number(raw.retval ?? 0),
      insns,
      fixups,
      kfuncFixups,
      kfunc: typeof raw.kfunc === 'string' ? raw.kfunc : undefined,
      usesFillHelper: raw.uses_fill_helper === true,
      needsProgramBtf: raw.has_btf_types === true || Number(raw.func_info_cnt ?? 0) > 0,
    };
  });
}

/** A map a fixup asks for, as test_verifier.c creates it. */
export interface FixupMap extends MapInfo {
  /** The value needs BTF (spin lock, timer, kptr, sk_storage): created with test_verifier's BTF. */
  readonly btfValueTypeId?: number;
  /** Program-array fixups: the keys test_verifier fills with dummy programs. */
  readonly progKeys?: readonly number[];
}

const TEST_VAL_SIZE = 48; // struct test_val { unsigned int index; int foo[11]; }
const OTHER_VAL_SIZE = 16; // struct other_val { long long foo, bar; }
const CGROUP_STORAGE_KEY_SIZE = 16; // struct bpf_cgroup_storage_key

/** test_verifier.c do_test_fixup: the map behind each fixup name. */
export const FIXUP_MAPS: ReadonlyMap<string, FixupMap> = new Map<string, FixupMap>([
  ['map_hash_8b', { type: MapType.HASH, keySize: 8, valueSize: 8, maxEntries: 1, flags: MapFlag.NO_PREALLOC }],
  ['map_hash_48b', { type: MapType.HASH, keySize: 8, valueSize: TEST_VAL_SIZE, maxEntries: 1, flags: MapFlag.NO_PREALLOC }],
  ['map_hash_16b', { type: MapType.HASH, keySize: 8, valueSize: OTHER_VAL_SIZE, maxEntries: 1, flags: MapFlag.NO_PREALLOC }],
  ['map_array_48b', { type: MapType.ARRAY, keySize: 4, valueSize: TEST_VAL_SIZE, maxEntries: 1, flags: 0 }],
  ['prog1', { type: MapType.PROG_ARRAY, keySize: 4, valueSize: 4, maxEntries: 4, flags: 0, progKeys: [0, 1, 2] }],
  ['prog2', { type: MapType.PROG_ARRAY, keySize: 4, valueSize: 4, maxEntries: 8, flags: 0, progKeys: [7, 1, 2] }],
  ['map_in_map', {
    type: MapType.ARRAY_OF_MAPS, keySize: 4, valueSize: 4, maxEntries: 1, flags: 0,
    inner: { type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, flags: 0 },
  }],
  ['cgroup_storage', { type: MapType.CGROUP_STORAGE, keySize: CGROUP_STORAGE_KEY_SIZE, valueSize: 64, maxEntries: 0, flags: 0 }],
  ['percpu_cgroup_storage', { type: MapType.PERCPU_CGROUP_STORAGE, keySize: CGROUP_STORAGE_KEY_SIZE, valueSize: 64, maxEntries: 0, flags: 0 }],
  ['map_sockmap', { type: MapType.SOCKMAP, keySize: 4, valueSize: 4, maxEntries: 1, flags: 0 }],
  ['map_sockhash', { type: MapType.SOCKHASH, keySize: 4, valueSize: 4, maxEntries: 1, flags: 0 }],
  ['map_xskmap', { type: MapType.XSKMAP, keySize: 4, valueSize: 4, maxEntries: 1, flags: 0 }],
  ['map_stacktrace', { type: MapType.STACK_TRACE, keySize: 4, valueSize: 8, maxEntries: 1, flags: 0 }],
  ['map_spin_lock', { type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1, flags: 0, btfValueTypeId: 3, spinLockOff: 4 }],
  ['map_array_ro', { type: MapType.ARRAY, keySize: 4, valueSize: TEST_VAL_SIZE, maxEntries: 1, flags: MapFlag.RDONLY_PROG }],
  ['map_array_wo', { type: MapType.ARRAY, keySize: 4, valueSize: TEST_VAL_SIZE, maxEntries: 1, flags: MapFlag.WRONLY_PROG }],
  ['map_array_small', { type: MapType.ARRAY, keySize: 4, valueSize: 1, maxEntries: 1, flags: 0 }],
  ['sk_storage_map', { type: MapType.SK_STORAGE, keySize: 4, valueSize: 8, maxEntries: 0, flags: MapFlag.NO_PREALLOC, btfValueTypeId: 3, spinLockOff: 4 }],
  ['map_event_output', { type: MapType.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, flags: 0 }],
  ['map_reuseport_array', { type: MapType.REUSEPORT_SOCKARRAY, keySize: 4, valueSize: 8, maxEntries: 1, flags: 0 }],
  ['map_ringbuf', { type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096, flags: 0 }],
  ['map_timer', { type: MapType.ARRAY, keySize: 4, valueSize: 16, maxEntries: 1, flags: 0, btfValueTypeId: 5, timerOff: 0 }],
  ['map_kptr', { type: MapType.ARRAY, keySize: 4, valueSize: 24, maxEntries: 1, flags: 0, btfValueTypeId: 14, hasSpecialFields: true }],
]);

/** Why a case cannot be loaded as the JSON stands (the generated or BTF parts are missing), or undefined. */
export function caseNotRunnable(c: VerifierCase): string | undefined {
  if (c.usesFillHelper || c.insns.length === 0) return 'program generated by a fill helper (not in the JSON)';
  if (c.needsProgramBtf) return 'needs program BTF or func_info (not in the JSON)';
  for (const name of c.fixups.keys()) if (!FIXUP_MAPS.has(name)) return `unknown fixup_${name}`;
  return undefined;
}

/** test_verifier.c's F_* bits of `flags`. */
const F_NEEDS_EFFICIENT_UNALIGNED_ACCESS = 1 << 0;
const F_LOAD_WITH_STRICT_ALIGNMENT = 1 << 1;
const BPF_F_STRICT_ALIGNMENT = 1 << 0;
const BPF_F_ANY_ALIGNMENT = 1 << 1;

/** prog_flags as test_verifier.c computes them from a case's `flags` and the testing flags the kernel takes. */
export function caseProgFlags(flags: number, testingFlags: number): number {
  let out = testingFlags;
  if (flags & F_LOAD_WITH_STRICT_ALIGNMENT) out |= BPF_F_STRICT_ALIGNMENT;
  if (flags & F_NEEDS_EFFICIENT_UNALIGNED_ACCESS) out |= BPF_F_ANY_ALIGNMENT;
  // Higher bits are passed on as they are (bit 2, F_NEEDS_JIT_ENABLED, is BPF_F_TEST_RND_HI32 there).
  if (flags & ~3) out |= flags;
  return out;
}

/**
 * The case's instructions with fixups applied: `fdOf(name)` gives the fd (or any number naming
 * the map) for each fixup, `kfuncId(name)` the BTF id of each kfunc.
 */
export function applyFixups(c: VerifierCase, fdOf: (fixup: string) => number, kfuncId: (name: string) => number = () => 0): RawInstruction[] {
  const insns = c.insns.map((i) => ({ ...i }));
  for (const [name, indexes] of c.fixups) {
    const fd = fdOf(name);
    for (const i of indexes) {
      const insn = insns[i];
      if (insn !== undefined) insns[i] = { ...insn, imm: fd };
    }
  }
  for (const [name, i] of c.kfuncFixups) {
    const insn = insns[i];
    if (insn !== undefined) insns[i] = { ...insn, imm: kfuncId(name) };
  }
  return insns;
}

/**
 * Verifies a case with this package's verifier, giving each fixup map a small made-up fd.
 * Returns the verifier's result.
 */
export function syntheticMapFds(c: VerifierCase): { fdOf: (name: string) => number; mapOf: (fd: number) => MapInfo | undefined } {
  const byFd = new Map<number, MapInfo>();
  const byName = new Map<string, number>();
  let next = 1000;
  for (const name of c.fixups.keys()) {
    const info = FIXUP_MAPS.get(name);
    if (info === undefined) continue;
    const fd = next++;
    byFd.set(fd, { ...info, id: fd });
    byName.set(name, fd);
  }
  return { fdOf: (name) => byName.get(name) ?? -1, mapOf: (fd) => byFd.get(fd) };
}
