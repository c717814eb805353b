/**
 * Loading test_verifier cases into the running kernel the way test_verifier.c does: the maps
 * its fixups ask for (with test_verifier's BTF for spin locks, timers and kptrs, dummy
 * programs in program arrays), kfunc BTF ids and attach targets from the kernel's BTF, the
 * testing prog_flags. The kernel's verdict is the oracle the `verify --compare-kernel` command
 * and the verifier report compare against. Node only.
 */
import { existsSync, readFileSync } from 'node:fs';
import { encodeSlots, type RawInstruction } from '../isa/index.js';
import { parseBtf, type Btf } from '../btf/index.js';
import {
  KernelError, ProgramFlag, ProgramType, createMap, loadBtf, loadProgram, type KernelBtf, type KernelMap,
} from '../kernel/index.js';
import {
  FIXUP_MAPS, applyFixups, caseProgFlags, type FixupMap, type MapInfo, type VerifierCase,
} from '../verifier/index.js';

/** The kernel's answer for one case. */
export interface KernelVerdict {
  readonly verdict: 'accept' | 'reject';
  /** errno name of a rejection (EACCES, EINVAL, …). */
  readonly code?: string;
  /** The last line of the verifier log (the reason) for a rejection. */
  readonly message?: string;
  readonly log?: string;
}

/** Maps made for one case; `close()` when done. */
export interface CaseMaps extends Disposable {
  /** fd for each fixup name. */
  readonly fdOf: (name: string) => number;
  /** The verifier's description of the map behind an fd. */
  readonly mapOf: (fd: number) => MapInfo | undefined;
  close(): void;
}

let testingFlags: number | undefined;

/** testing_helpers.c testing_prog_flags(): the test-only prog_flags this kernel accepts. */
export function probeTestingFlags(): number {
  if (testingFlags !== undefined) return testingFlags;
  let flags = 0;
  for (const flag of [ProgramFlag.TEST_RND_HI32, ProgramFlag.TEST_REG_INVARIANTS]) {
    try {
      loadProgram({ type: ProgramType.SOCKET_FILTER, instructions: RET0, license: 'GPL', flags: flag }).close();
      flags |= flag;
    } catch (err) {
      if (!(err instanceof KernelError)) throw err;
    }
  }
  testingFlags = flags;
  return flags;
}

// r0 = 0; exit
const RET0 = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);

/** test_verifier.c's btf_raw_types and btf_str_sec, encoded as raw BTF. */
function testVerifierBtf(withKptr: boolean): Uint8Array {
  const S = 4 << 24; // BTF_KIND_STRUCT
  const types = [
    0, 1 << 24, 4, (1 << 24) | 32, // [1] int
    1, S | 1, 4, 15, 1, 0, // [2] struct bpf_spin_lock { int val; }
    15, S | 2, 8, 19, 1, 0, 23, 2, 32, // [3] struct val { int cnt; struct bpf_spin_lock l; }
    25, S, 16, // [4] struct bpf_timer
    35, S | 1, 16, 41, 4, 0, // [5] struct timer { struct bpf_timer t; }
    51, S, 0, // [6] struct prog_test_ref_kfunc
    89, S, 0, // [7] struct prog_test_member
    75, 18 << 24, 6, // [8] type tag "kptr"
    80, 18 << 24, 6, // [9] type tag "kptr_ref"
    80, 18 << 24, 7, // [10]
    0, 2 << 24, 8, 0, 2 << 24, 9, 0, 2 << 24, 10, // [11..13] pointers
    43, S | 3, 24, 71, 11, 0, 71, 12, 64, 71, 13, 128, // [14] struct btf_ptr
  ];
  // The kptr types name structs of bpf_testmod, which a kernel without that module refuses;
  // maps with a spin lock or a timer only need types 1..5.
  if (!withKptr) types.length = 28;
  const strings = new TextEncoder().encode('\0bpf_spin_lock\0val\0cnt\0l\0bpf_timer\0timer\0t\0btf_ptr\0prog_test_ref_kfunc\0ptr\0kptr\0kptr_ref\0prog_test_member\0');
  const typeLen = types.length * 4;
  const out = new Uint8Array(24 + typeLen + strings.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, 0xeb9f, true);
  v.setUint8(2, 1);
  v.setUint32(4, 24, true);
  v.setUint32(8, 0, true);
  v.setUint32(12, typeLen, true);
  v.setUint32(16, typeLen, true);
  v.setUint32(20, strings.length, true);
  types.forEach((w, i) => v.setUint32(24 + i * 4, w >>> 0, true));
  out.set(strings, 24 + typeLen);
  return out;
}

/** test_verifier.c update_map(): index = 28, foo[6] = 0xabcdef12. */
function testVal(size: number): Uint8Array {
  const value = new Uint8Array(size);
  if (size >= 48) {
    const v = new DataView(value.buffer);
    v.setUint32(0, 28, true);
    v.setUint32(4 + 6 * 4, 0xabcdef12, true);
  }
  return value;
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

/** test_verifier.c create_prog_array(): dummy programs returning 42, tail-calling, and 24. */
function fillProgArray(map: KernelMap, progType: number, keys: readonly number[]): void {
  const [k1, k2, k3] = keys as [number, number, number];
  const simple = (ret: number): Uint8Array => new Uint8Array([0xb7, 0, 0, 0, ret, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
  const loop = encodeSlots([
    { code: 0xb7, dst: 3, src: 0, off: 0, imm: k2 },
    { code: 0x18, dst: 2, src: 1, off: 0, imm: map.fd }, { code: 0, dst: 0, src: 0, off: 0, imm: 0 },
    { code: 0x85, dst: 0, src: 0, off: 0, imm: 12 },
    { code: 0xb7, dst: 0, src: 0, off: 0, imm: 41 },
    { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
  ]);
  const progs = [simple(42), loop, simple(24)].map((instructions) => loadProgram({ type: progType, instructions, license: 'GPL' }));
  try {
    map.update(u32(k1), u32(progs[0]!.fd));
    map.update(u32(k2), u32(progs[1]!.fd));
    map.update(u32(k3), u32(progs[2]!.fd));
  } finally {
    for (const p of progs) p.close();
  }
}

/**
 * Creates the maps a case's fixups ask for, as test_verifier.c does. Throws KernelError when
 * this kernel refuses one (test_verifier skips such cases).
 */
export function createCaseMaps(c: VerifierCase): CaseMaps {
  const progType = c.progType || ProgramType.SOCKET_FILTER;
  const maps: KernelMap[] = [];
  const byName = new Map<string, number>();
  const byFd = new Map<number, MapInfo>();
  let btf: KernelBtf | undefined;
  const close = (): void => {
    for (const m of maps) m.close();
    btf?.close();
  };
  try {
    for (const name of c.fixups.keys()) {
      const spec: FixupMap | undefined = FIXUP_MAPS.get(name);
      if (spec === undefined) throw new Error(`unknown fixup_${name}`);
      let inner: KernelMap | undefined;
      if (spec.inner !== undefined) {
        inner = createMap({ type: spec.inner.type, keySize: spec.inner.keySize, valueSize: spec.inner.valueSize, maxEntries: spec.inner.maxEntries });
      }
      if (spec.btfValueTypeId !== undefined) btf ??= loadBtf(testVerifierBtf(c.fixups.has('map_kptr')));
      let map: KernelMap;
      try {
        map = createMap({
          type: spec.type, keySize: spec.keySize, valueSize: spec.valueSize, maxEntries: spec.maxEntries, flags: spec.flags,
          ...(inner !== undefined ? { innerMap: inner } : {}),
          ...(spec.btfValueTypeId !== undefined ? { btfFd: btf!.fd, btfKeyTypeId: 1, btfValueTypeId: spec.btfValueTypeId, name: 'test_map' } : {}),
        });
      } finally {
        inner?.close();
      }
      maps.push(map);
      if (spec.type === 2 /* ARRAY */ && spec.btfValueTypeId === undefined) map.update(u32(0), testVal(spec.valueSize));
      if (spec.progKeys !== undefined) fillProgArray(map, progType, spec.progKeys);
      byName.set(name, map.fd);
      byFd.set(map.fd, { ...spec, id: map.fd });
    }
  } catch (err) {
    close();
    throw err;
  }
  return { fdOf: (n) => byName.get(n) ?? -1, mapOf: (fd) => byFd.get(fd), close, [Symbol.dispose]: close };
}

let vmlinux: Btf | null | undefined;

/** The running kernel's BTF (/sys/kernel/btf/vmlinux), or undefined. */
export function vmlinuxBtf(): Btf | undefined {
  if (vmlinux === undefined) {
    const path = '/sys/kernel/btf/vmlinux';
    vmlinux = existsSync(path) ? parseBtf(new Uint8Array(readFileSync(path))) : null;
  }
  return vmlinux ?? undefined;
}

/** BTF id of a kernel function by name (for fixup_kfunc_btf_id), 0 when absent. */
export function kfuncBtfId(name: string): number {
  return vmlinuxBtf()?.findByName(name, 'func')[0] ?? 0;
}

/** libbpf_find_vmlinux_btf_id for a tracing case's `kfunc` (fentry/fexit/fmod_ret/tp_btf/lsm/iter). */
function attachBtfId(name: string, attachType: number): number {
  const prefix = attachType === 27 /* LSM_MAC */ ? 'bpf_lsm_' : attachType === 28 /* TRACE_ITER */ ? 'bpf_iter_' : attachType === 23 /* TRACE_RAW_TP */ ? 'btf_trace_' : '';
  const btf = vmlinuxBtf();
  if (btf === undefined) return 0;
  const kind = attachType === 23 ? 'typedef' : 'func';
  return btf.findByName(prefix + name, kind)[0] ?? 0;
}

/** The instructions of a case with its maps and kfunc ids patched in. */
export function caseInstructions(c: VerifierCase, maps: CaseMaps): RawInstruction[] {
  return applyFixups(c, maps.fdOf, kfuncBtfId);
}

/** Loads a case (fixups applied) into the kernel, as test_verifier.c do_test_single does for root. */
export function kernelVerdict(c: VerifierCase, insns: readonly RawInstruction[]): KernelVerdict {
  const progType = c.progType || ProgramType.SOCKET_FILTER;
  const flags = caseProgFlags(c.flags, probeTestingFlags());
  const attach = c.kfunc !== undefined && progType === ProgramType.TRACING ? attachBtfId(c.kfunc, c.expectedAttachType) : 0;
  try {
    loadProgram({
      type: progType, instructions: encodeSlots(insns), license: 'GPL', flags, logLevel: 1, logSize: 1 << 20,
      expectedAttachType: c.expectedAttachType, ...(attach ? { attachBtfId: attach } : {}),
    }).close();
    return { verdict: 'accept' };
  } catch (err) {
    if (!(err instanceof KernelError)) throw err;
    const log = err.log ?? '';
    const lines = log.trim().split('\n').filter((l) => l && !l.startsWith('processed ') && !l.startsWith('verification time'));
    return { verdict: 'reject', code: err.code, message: lines[lines.length - 1] ?? err.message, log };
  }
}

/** One case compared: what the kernel and this verifier decided. */
export interface CaseComparison {
  readonly index: number;
  readonly descr: string;
  readonly progType: number;
  /** 'skipped' with `reason` when the case cannot be run here. */
  readonly status: 'agree' | 'false-accept' | 'false-reject' | 'skipped';
  readonly reason?: string;
  readonly kernel?: KernelVerdict;
  readonly ours?: { verdict: 'accept' | 'reject'; insn?: number; message?: string; processed: number };
}

export interface ComparisonSummary {
  readonly total: number;
  readonly compared: number;
  readonly agree: number;
  readonly falseAccepts: number;
  readonly falseRejects: number;
  readonly skipped: number;
  /** agree / compared, in percent. */
  readonly agreement: number;
  readonly cases: readonly CaseComparison[];
}

/**
 * Runs every case through the kernel and through `verifyFn` (this package's verifier) with the
 * same maps, and classifies the outcomes.
 */
export function compareWithKernel(
  cases: readonly VerifierCase[],
  verifyFn: (c: VerifierCase, insns: readonly RawInstruction[], maps: CaseMaps) => NonNullable<CaseComparison['ours']>,
  notRunnable: (c: VerifierCase) => string | undefined,
): ComparisonSummary {
  const out: CaseComparison[] = [];
  for (const c of cases) {
    const base = { index: c.index, descr: c.descr, progType: c.progType };
    const why = notRunnable(c);
    if (why !== undefined) { out.push({ ...base, status: 'skipped', reason: why }); continue; }
    let maps: CaseMaps;
    try {
      maps = createCaseMaps(c);
    } catch (err) {
      out.push({ ...base, status: 'skipped', reason: `maps: ${(err as Error).message}` });
      continue;
    }
    try {
      const insns = caseInstructions(c, maps);
      const kernel = kernelVerdict(c, insns);
      if (kernel.verdict === 'reject' && kernel.code === 'ENOTSUPP') {
        out.push({ ...base, status: 'skipped', reason: 'the kernel does not support a feature the case uses (ENOTSUPP)', kernel });
        continue;
      }
      const ours = verifyFn(c, insns, maps);
      out.push({ ...base, status: comparisonStatus(ours.verdict, kernel.verdict), kernel, ours });
    } finally {
      maps.close();
    }
  }
  return summarizeComparisons(out);
}

/** How our verdict on a case stands to the kernel's. */
export function comparisonStatus(ours: 'accept' | 'reject', kernel: 'accept' | 'reject'): CaseComparison['status'] {
  return ours === kernel ? 'agree' : ours === 'accept' ? 'false-accept' : 'false-reject';
}

/** The counts and agreement of compared cases. */
export function summarizeComparisons(out: CaseComparison[]): ComparisonSummary {
  const count = (s: CaseComparison['status']): number => out.filter((c) => c.status === s).length;
  const compared = out.length - count('skipped');
  const agree = count('agree');
  return {
    total: out.length, compared, agree, falseAccepts: count('false-accept'), falseRejects: count('false-reject'),
    skipped: count('skipped'), agreement: compared === 0 ? 0 : (100 * agree) / compared, cases: out,
  };
}
