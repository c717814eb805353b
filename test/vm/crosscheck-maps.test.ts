/**
 * The kernel's verifier tests that use maps (test_verifier 6.12 and 6.1, every case with a
 * `fixup_map_*`/`fixup_prog*`/… list), run in the kernel and in the VM with the same maps: the
 * same r0 and the same map contents after the run.
 *
 * Kernel side: the maps test_verifier.c creates (src/cli/verify-kernel.ts createCaseMaps), the
 * program loaded as test_verifier loads it and test-run on 64 zeroed bytes; a type the kernel
 * cannot test-run is loaded and run as a socket filter instead when the kernel takes it so.
 * VM side: the same maps made in a VM map registry — same type, sizes and flags, the kernel
 * map's entries copied in before the run (test_verifier's `index = 28, foo[6]` array value),
 * program arrays filled with test_verifier's dummy programs — and the program run by the VM's
 * context model for its type on the same bytes.
 *
 * A case is compared unless its result may differ for reasons outside the VM: it calls a helper
 * whose answer is the machine's (clocks, random, CPU, current task), or — found by a data-flow
 * check over the instructions (test/kernel/comparable.ts `taintOf` with a map model), not by a
 * list — an address, uninitialised stack or a context field the VM does not build reaches r0, a
 * branch, a map or a helper's input. What the VM cannot run yet (a helper, a map type, a context
 * model) is counted as refused, with its reason. Every other case must agree; a difference fails
 * the test and is located (test/support/first-difference.ts): the first instruction whose input
 * register differs between the VM's trace and the kernel probed at that point.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRawProgram, encodeSlots, type Instruction, type LddwInstruction, type RawInstruction } from '../../src/isa/index.js';
import { KernelError, KernelMap, ProgramType, loadProgram, testRun, type Program } from '../../src/kernel/index.js';
import { NotSupportedError } from '../../src/errors.js';
import { FIXUP_MAPS, HELPER_PROTOS, helperName, type FixupMap } from '../../src/verifier/index.js';
import {
  ExecutionState, Interpreter, MapRegistry, Memory, ProgArrayMap, SK_BUFF, SK_BUFF_SIZE, SK_BUFF_STORAGE, VmHost, XDP_MD_SIZE,
  contextModel, defaultContextModels, type Helper, type VmMap,
} from '../../src/vm/index.js';
import { mergeHelperTables, vmHelperTables } from '../../src/vm/object/helper-tables.js';
import { MapType } from '../../src/vm/maps/flags.js';
import { kernelSkip } from '../support/kernel.js';
import { locateFirstDifference, VmTrace } from '../support/first-difference.js';
import {
  VERIFIER_CASE_FILES, caseInstructions, caseNotRunnable, caseProgFlags, createCaseMaps, probeTestingFlags, readVerifierCases,
  verifierCaseFile, type CaseMaps, type VerifierCase,
} from '../support/verifier-cases.js';
import { taintOf, type ContextModel, type MapModel } from '../kernel/comparable.js';

/** Bytes test_verifier.c passes to BPF_PROG_TEST_RUN. */
const TEST_DATA_SIZE = 64;

/** Helpers whose answer is the machine's, not the program's (ids from include/uapi/linux/bpf.h). */
const NONDETERMINISTIC_HELPERS: ReadonlySet<number> = new Set([
  5, 7, 8, 14, 15, 16, 35, 42, 67, 80, 118, 120, 123, 125, 158, 160, 173, 174, 208,
  27, // get_stackid: a stack trace of the kernel
  46, 47, // get_socket_cookie, get_socket_uid
]);

/** Map types whose contents are compared: plain data (ids, fds and records are the machine's). */
const DATA_MAPS: ReadonlySet<number> = new Set([MapType.HASH, MapType.ARRAY, MapType.LRU_HASH, MapType.LPM_TRIE]);

/** The contexts the VM builds like the kernel's test run, for the data-flow check (as test/kernel/crosscheck.test.ts). */
const SKB_MODEL: ContextModel = {
  size: SK_BUFF_SIZE,
  packetPointers: [[SK_BUFF.data, 4], [SK_BUFF.data_end, 4], [SK_BUFF.data_meta, 4]],
  otherPointers: [[SK_BUFF.flow_keys, 8], [SK_BUFF.sk, 8]],
  narrow: new Map(Object.entries(SK_BUFF_STORAGE).map(([field, bytes]) => [SK_BUFF[field as keyof typeof SK_BUFF], bytes])),
  legacyPacket: true,
};
const XDP_MODEL: ContextModel = { size: XDP_MD_SIZE, packetPointers: [[0, 4], [4, 4], [8, 4]], otherPointers: [], narrow: new Map(), legacyPacket: false };
const CONTEXTS: ReadonlyMap<number, ContextModel> = new Map([
  [ProgramType.SOCKET_FILTER, SKB_MODEL], [ProgramType.SCHED_CLS, SKB_MODEL], [ProgramType.SCHED_ACT, SKB_MODEL],
  [ProgramType.CGROUP_SKB, SKB_MODEL], [ProgramType.XDP, XDP_MODEL],
]);

/** A map's entries as sorted `key => value` hex lines. */
type Dump = string[];

interface KernelOutcome { retval: number; maps: Map<string, Dump>; type: number; asSocketFilter: boolean }
/** What the VM needs of the kernel's maps: each fixup's fd (as the instructions hold it) and entries before the run. */
interface CaseSetUp { fds: Map<string, number>; initial: Map<string, Array<[Uint8Array, Uint8Array]>> }
type Refusal = { refused: string };
/** Cases the kernel accepted (loaded), counted by compareCase. */
let accepted = 0;

describe('kernel vs VM on the kernel verifier tests that use maps', { skip: kernelSkip() }, () => {
  for (const name of VERIFIER_CASE_FILES) {
    const file = verifierCaseFile(name);
    it(`${name}: the same r0 and map contents for every accepted case the VM can compare`, { skip: file.skip }, (t) => {
      const cases = readVerifierCases(file.path!).filter((c) => c.fixups.size > 0);
      const tally = new Tally();
      const mismatches: string[] = [];
      accepted = 0;
      let equal = 0;
      let mapsCompared = 0;
      for (const c of cases) {
        const outcome = compareCase(c, tally);
        if (outcome === undefined) continue;
        if (outcome.equal) {
          equal++;
          mapsCompared += outcome.mapsCompared;
        } else mismatches.push(outcome.text);
      }
      t.diagnostic(`${cases.length} cases use maps, ${accepted} accepted by this kernel; ${equal + mismatches.length} compared, ${equal} equal ` +
        `(r0 and ${mapsCompared} map dumps), ${mismatches.length} differ`);
      for (const line of tally.lines()) t.diagnostic(line);
      assert.deepEqual(mismatches, [], `${mismatches.length} cases differ:\n${mismatches.join('\n')}`);
      assert.ok(equal >= 20, `only ${equal} cases compared equal: the exclusions are too broad`);
    });
  }
});

/** Why cases were not compared, by kind and reason, with case indexes. */
class Tally {
  readonly byReason = new Map<string, number[]>();
  add(kind: 'excluded' | 'VM refuses', reason: string, c: VerifierCase): void {
    const key = `${kind}: ${reason}`;
    const list = this.byReason.get(key) ?? [];
    list.push(c.index);
    this.byReason.set(key, list);
  }
  lines(): string[] {
    return [...this.byReason].sort((a, b) => b[1].length - a[1].length)
      .map(([reason, ids]) => `${ids.length} ${reason} (#${ids.slice(0, 6).join(', #')}${ids.length > 6 ? ', …' : ''})`);
  }
}

/** One case through both machines: undefined when excluded or refused (tallied), else the comparison. */
function compareCase(c: VerifierCase, tally: Tally): { equal: boolean; mapsCompared: number; text: string } | undefined {
  const notRunnable = caseNotRunnable(c)
    ?? (c.kfuncFixups.length > 0 || c.insns.some(({ code, src }) => code === 0x85 && src === 2) ? 'calls a kfunc' : undefined)
    ?? (c.kfunc !== undefined ? 'needs an attach target (tracing)' : undefined)
    ?? (c.insns.some(({ code, src }) => code === 0x18 && src === 3) ? 'needs a kernel BTF id' : undefined);
  if (notRunnable !== undefined) {
    tally.add('excluded', notRunnable, c);
    return undefined;
  }
  const kernel = kernelCase(c);
  if ('refused' in kernel) {
    tally.add('excluded', kernel.refused, c);
    return undefined;
  }
  const { outcome, raw, setUp } = kernel;
  let insns: Instruction[];
  try {
    insns = decodeRawProgram(raw);
  } catch (err) {
    return { equal: false, mapsCompared: 0, text: `#${c.index} ${c.descr}: the kernel accepts it, our decoder does not: ${(err as Error).message}` };
  }
  const why = exclusion(c, insns, outcome.type);
  if (why !== undefined) {
    tally.add(why.kind, why.reason, c);
    return undefined;
  }
  const vm = vmCase(c, raw, outcome.type, setUp);
  if ('refused' in vm) {
    tally.add('VM refuses', vm.refused, c);
    return undefined;
  }
  const diffs: string[] = [];
  if (vm.retval !== outcome.retval) diffs.push(`r0 kernel 0x${outcome.retval.toString(16)}, VM 0x${vm.retval.toString(16)}`);
  let mapsCompared = 0;
  for (const [name, dump] of outcome.maps) {
    const ours = vm.maps.get(name);
    mapsCompared++;
    if (ours === undefined || ours.join() !== dump.join()) diffs.push(`map ${name}: kernel [${dump.join(', ')}], VM [${ours?.join(', ') ?? 'absent'}]`);
  }
  const label = `#${c.index} ${c.descr}${outcome.asSocketFilter ? ' (run as a socket filter)' : ''}`;
  if (diffs.length === 0) return { equal: true, mapsCompared, text: label };
  return { equal: false, mapsCompared, text: `${label}: ${diffs.join('; ')}\n  ${locate(c, raw, outcome.type, setUp)}` };
}

/** Why a case accepted by the kernel is not compared, or undefined. */
function exclusion(c: VerifierCase, insns: readonly Instruction[], type: number): { kind: 'excluded' | 'VM refuses'; reason: string } | undefined {
  for (const insn of insns) {
    if (insn.kind === 'call' && insn.target === 'helper' && NONDETERMINISTIC_HELPERS.has(insn.imm)) {
      return { kind: 'excluded', reason: `calls ${helperName(insn.imm)}, whose answer is the machine's` };
    }
  }
  if (insns.some((i) => i.kind === 'lddw' && i.src === 4)) return { kind: 'excluded', reason: 'takes a callback address (lddw BPF_PSEUDO_FUNC)' };
  const model: MapModel = {
    mapOf: (fd) => FIXUP_MAPS.get([...c.fixups.keys()][fd - FD_BASE] ?? ''),
    helper: (id) => HELPER_PROTOS.get(id),
  };
  const taint = taintOf(withFakeFds(c, insns), CONTEXTS.get(type) ?? 0, model);
  return taint === undefined ? undefined : { kind: 'excluded', reason: taint };
}

/** The data-flow check sees map fds as FD_BASE + the fixup's position (the kernel's fds vary). */
const FD_BASE = 1_000_000;
function withFakeFds(c: VerifierCase, insns: readonly Instruction[]): Instruction[] {
  const names = [...c.fixups.keys()];
  const fdOfIndex = new Map<number, number>();
  names.forEach((name, n) => { for (const i of c.fixups.get(name)!) fdOfIndex.set(i, FD_BASE + n); });
  let slot = 0;
  return insns.map((insn) => {
    const fd = fdOfIndex.get(slot);
    slot += insn.kind === 'lddw' ? 2 : 1;
    return fd !== undefined && insn.kind === 'lddw' ? { ...insn, imm: fd } : insn;
  });
}

// ---- the kernel ----

function loadCase(c: VerifierCase, raw: readonly RawInstruction[], type: number): Program {
  return loadProgram({
    type, instructions: encodeSlots(raw), license: 'GPL', flags: caseProgFlags(c.flags, probeTestingFlags()),
    ...(type === (c.progType || ProgramType.SOCKET_FILTER) ? { expectedAttachType: c.expectedAttachType } : {}),
  });
}

function kernelRun(program: Program): number {
  return testRun(program, { data: new Uint8Array(TEST_DATA_SIZE), dataSizeOut: 256 }).retval;
}

/** Loads and test-runs a case in the kernel: its r0, its maps after the run, and the type it ran as. */
function kernelCase(c: VerifierCase): { outcome: KernelOutcome; raw: RawInstruction[]; setUp: CaseSetUp } | Refusal {
  let maps: CaseMaps;
  try {
    maps = createCaseMaps(c);
  } catch (err) {
    if (!(err instanceof KernelError)) throw err;
    return { refused: `the kernel refuses a fixup map (${err.code})` };
  }
  try {
    const setUp: CaseSetUp = { fds: new Map(), initial: new Map() };
    for (const name of c.fixups.keys()) {
      setUp.fds.set(name, maps.fdOf(name));
      if (DATA_MAPS.has(FIXUP_MAPS.get(name)!.type)) setUp.initial.set(name, kernelEntries(maps.fdOf(name)));
    }
    const raw = caseInstructions(c, maps);
    const declared = c.progType || ProgramType.SOCKET_FILTER;
    let program: Program;
    try {
      program = loadCase(c, raw, declared);
    } catch (err) {
      if (!(err instanceof KernelError)) throw err;
      return { refused: c.result === 'REJECT' ? `a REJECT case, rejected by the kernel (${err.code})` : `recorded ${c.result}, rejected by this kernel (${err.code})` };
    }
    accepted++;
    let retval: number | undefined;
    let type = declared;
    try {
      retval = kernelRun(program);
    } catch (err) {
      if (!(err instanceof KernelError)) throw err;
    } finally {
      program.close();
    }
    if (retval === undefined && declared !== ProgramType.SOCKET_FILTER) {
      // No BPF_PROG_TEST_RUN for this type (kprobe, tracepoint, …): the same instructions as a
      // socket filter, when the kernel takes them so, on the same maps (not yet run on).
      type = ProgramType.SOCKET_FILTER;
      try {
        using filter = loadCase(c, raw, type);
        retval = kernelRun(filter);
      } catch (err) {
        if (!(err instanceof KernelError)) throw err;
      }
    }
    if (retval === undefined) return { refused: `cannot be test-run, not even as a socket filter (type ${declared})` };
    return { outcome: { retval, maps: kernelDumps(c, maps), type, asSocketFilter: type !== declared }, raw, setUp };
  } finally {
    maps.close();
  }
}

/** The case's data maps as the kernel holds them. */
function kernelDumps(c: VerifierCase, maps: CaseMaps): Map<string, Dump> {
  const out = new Map<string, Dump>();
  for (const name of c.fixups.keys()) {
    const spec = FIXUP_MAPS.get(name)!;
    if (!DATA_MAPS.has(spec.type) || spec.btfValueTypeId !== undefined) continue;
    out.set(name, kernelEntries(maps.fdOf(name)).map(([k, v]) => `${hex(k)} => ${hex(v)}`).sort());
  }
  return out;
}

/** Every entry of the kernel map behind `fd` (the handle is not closed: the fd belongs to the CaseMaps). */
function kernelEntries(fd: number): Array<[Uint8Array, Uint8Array]> {
  const map = KernelMap.fromFd(fd);
  const out: Array<[Uint8Array, Uint8Array]> = [];
  for (let key = map.nextKey(); key !== undefined; key = map.nextKey(key)) {
    const value = map.lookup(key);
    if (value !== undefined) out.push([key, value]);
  }
  return out;
}

// ---- the VM ----

/** A case's maps in a VM registry, made like the kernel's and holding what the kernel's hold before the run. */
interface VmCase { memory: Memory; registry: MapRegistry; helpers: Map<number, Helper>; state: ExecutionState; byFd: Map<number, VmMap> }

function vmSetUp(setUp: CaseSetUp): VmCase | Refusal {
  const memory = new Memory();
  const registry = new MapRegistry(memory);
  const helpers = mergeHelperTables(vmHelperTables({ registry, host: new VmHost() }));
  const state = new ExecutionState(memory);
  const byFd = new Map<number, VmMap>();
  for (const [name, fd] of setUp.fds) {
    const spec: FixupMap = FIXUP_MAPS.get(name)!;
    let map: VmMap;
    try {
      const innerMap = spec.inner === undefined ? undefined : registry.create({ ...spec.inner });
      map = registry.create({
        type: spec.type, keySize: spec.keySize, valueSize: spec.valueSize, maxEntries: spec.maxEntries, flags: spec.flags,
        ...(innerMap === undefined ? {} : { innerMap }),
      });
    } catch (err) {
      if (err instanceof NotSupportedError) return { refused: `map ${name}: ${err.message}` };
      throw err;
    }
    byFd.set(fd, map);
    for (const [k, v] of setUp.initial.get(name) ?? []) map.update(k, v);
    if (spec.progKeys !== undefined) fillProgArray(map as ProgArrayMap, fd, spec.progKeys, { memory, registry, helpers, state, byFd });
  }
  return { memory, registry, helpers, state, byFd };
}

/** test_verifier.c create_prog_array(): programs returning 42, tail-calling key 2 of the same array then returning 41, and 24. */
function fillProgArray(map: ProgArrayMap, fd: number, keys: readonly number[], vm: VmCase): void {
  const [k1, k2, k3] = keys as [number, number, number];
  const simple = (ret: number): RawInstruction[] => [{ code: 0xb7, dst: 0, src: 0, off: 0, imm: ret }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }];
  const loop: RawInstruction[] = [
    { code: 0xb7, dst: 3, src: 0, off: 0, imm: k2 },
    { code: 0x18, dst: 2, src: 1, off: 0, imm: fd }, { code: 0, dst: 0, src: 0, off: 0, imm: 0 },
    { code: 0x85, dst: 0, src: 0, off: 0, imm: 12 },
    { code: 0xb7, dst: 0, src: 0, off: 0, imm: 41 },
    { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
  ];
  const make = (raw: RawInstruction[]): Interpreter => new Interpreter(decodeRawProgram(raw), {
    memory: vm.memory, state: vm.state, helpers: vm.helpers, resolveLddw: resolver(vm.byFd),
  });
  map.set(k1, make(simple(42)));
  map.set(k2, make(loop));
  map.set(k3, make(simple(24)));
}

function resolver(byFd: ReadonlyMap<number, VmMap>): (insn: LddwInstruction, slot: number) => bigint {
  return (insn, slot) => {
    const map = byFd.get(insn.imm);
    if (map === undefined) throw new Error(`lddw at ${slot}: no map with fd ${insn.imm}`);
    if (insn.src === 1) return BigInt(map.address);
    if (insn.src === 2 && 'valueAddress' in map) return BigInt((map as unknown as { valueAddress(i: number): number }).valueAddress(0) + insn.imm2);
    throw new NotSupportedError(`lddw with pseudo source ${insn.src} on map type ${map.type}`);
  };
}

/** Runs a case in the VM as `type` on the test-run bytes: r0 and the data maps after, or what the VM refuses. */
function vmCase(c: VerifierCase, raw: readonly RawInstruction[], type: number, setUp: CaseSetUp, trace?: VmTrace): { retval: number; maps: Map<string, Dump>; memory: Memory } | Refusal {
  const vm = vmSetUp(setUp);
  if ('refused' in vm) return vm;
  const insns = decodeRawProgram(raw);
  for (const insn of insns) {
    if (insn.kind === 'call' && insn.target === 'helper' && !vm.helpers.has(insn.imm)) {
      return { refused: `${helperName(insn.imm)} (#${insn.imm}) is not implemented by the VM` };
    }
  }
  const models = defaultContextModels;
  const target = { name: `case ${c.index}`, type, expectedAttachType: c.expectedAttachType };
  let model;
  try {
    model = contextModel(models, target);
  } catch (err) {
    if (err instanceof NotSupportedError) return { refused: `no context model: ${err.message.replace(/^.*: the VM has no context model for (\S+).*$/, '$1')}` };
    throw err;
  }
  const current: { packet: ReturnType<typeof model>['packet'] } = { packet: undefined };
  const interpreter = new Interpreter(insns, {
    memory: vm.memory, state: vm.state, helpers: vm.helpers, resolveLddw: resolver(vm.byFd),
    packet: () => current.packet, ...(trace === undefined ? {} : { trace: trace.hook }),
  });
  const prepared = model(vm.memory, { data: new Uint8Array(TEST_DATA_SIZE) }, target);
  let r0: bigint;
  try {
    current.packet = prepared.packet;
    r0 = interpreter.run(prepared.ctx).r0;
  } finally {
    // A traced run keeps its context: the locator tells addresses by the regions they are in.
    if (trace === undefined) prepared.release();
  }
  const maps = new Map<string, Dump>();
  for (const [name, fd] of setUp.fds) {
    const spec = FIXUP_MAPS.get(name)!;
    if (!DATA_MAPS.has(spec.type) || spec.btfValueTypeId !== undefined) continue;
    maps.set(name, [...vm.byFd.get(fd)!.entries()].map(([k, v]) => `${hex(k)} => ${hex(v as Uint8Array)}`).sort());
  }
  return { retval: Number(r0 & 0xffffffffn), maps, memory: vm.memory };
}

/** The first differing instruction of a case that differs (see test/support/first-difference.ts). */
function locate(c: VerifierCase, raw: readonly RawInstruction[], type: number, setUp: CaseSetUp): string {
  const trace = new VmTrace();
  let memory: Memory | undefined;
  try {
    const run = vmCase(c, raw, type, setUp, trace);
    if (!('refused' in run)) memory = run.memory;
  } catch {
    // A VM fault: the trace up to it is what there is.
  }
  // The probes run with fresh maps: the instructions get the fds of those.
  const fixupAt = new Map<number, string>();
  for (const [name, indexes] of c.fixups) for (const i of indexes) fixupAt.set(i, name);
  const located = locateFirstDifference({
    raw, trace,
    isAddress: (v) => memory !== undefined && v > 0n && v < 0x1_0000_0000n && memory.find(Number(v), 1) !== undefined,
    kernel: (transform) => {
      try {
        using maps = createCaseMaps(c);
        const fresh = raw.map((insn, i) => (fixupAt.has(i) ? { ...insn, imm: maps.fdOf(fixupAt.get(i)!) } : insn));
        using program = loadCase(c, transform(fresh), type);
        return kernelRun(program);
      } catch (err) {
        if (err instanceof KernelError) return { refused: err.code };
        throw err;
      }
    },
  });
  return located.text;
}

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
