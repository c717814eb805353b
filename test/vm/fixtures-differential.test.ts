/**
 * Every program of the project's objects (bpf/fixtures, bpf/objects, bpf/tools, examples) whose
 * type the kernel can BPF_PROG_TEST_RUN, loaded with `loadObject` (kernel) and `loadObjectVm`
 * (VM, CO-RE against this kernel's BTF), run over the same packets and contexts: the same return
 * value, data out, context out (where the kernel returns one) and map contents after every run.
 *
 * Programs of one object that both backends load run together in one object on each side, so
 * tail calls, shared maps and global data behave as in a real load; their runs accumulate in
 * the maps, in the same order on both sides. Whatever one side cannot load is listed with its
 * reason (the VM's NotSupportedErrors shrink the list as helpers, maps and context models land);
 * the test holds every program both load to equal results. A difference fails the test with the
 * first instruction where the runs part (test/support/first-difference.ts): the objects are
 * loaded afresh on both sides, the earlier runs replayed, the VM's run traced and the kernel's
 * probed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { encodeSlots, toSlots, type RawInstruction } from '../../src/isa/index.js';
import { KernelError, ProgramType, loadObject, loadProgram, testRun, type KernelObject, type TestRunOptions } from '../../src/kernel/index.js';
import { EbpfError, NotSupportedError } from '../../src/errors.js';
import { loadObjectSpec, programTypeName, type ObjectSpec, type ProgramSpec } from '../../src/object/index.js';
import type { TestRunInput } from '../../src/object/loaded.js';
import { helperId, helperName } from '../../src/verifier/index.js';
import { Interpreter, SK_BUFF_SIZE, VmError, XDP_MD, XDP_MD_SIZE, contextModel, defaultContextModels, encodeSkBuff, loadObjectVm, type VmObject } from '../../src/vm/index.js';
import { mergeHelperTables, vmHelperTables } from '../../src/vm/object/helper-tables.js';
import { lddwResolver } from '../../src/vm/object/relocate.js';
import { vmlinuxBtf } from '../../src/cli/verify-kernel.js';
import { MapType } from '../../src/vm/maps/flags.js';
import { locateFirstDifference, VmTrace } from '../support/first-difference.js';
import { kernelSkip } from '../support/kernel.js';
import { repoRoot } from '../support/shared.js';
import { PACKETS } from './programs/packets.js';

const DIRS = ['bpf/fixtures', 'bpf/objects', 'bpf/tools', 'examples'];

/**
 * Helpers whose answer is the machine's (clocks, random, CPU, current task, stacks, cookies),
 * and timers, which fire on the kernel's clock after the run.
 */
const NONDETERMINISTIC_HELPERS: ReadonlySet<number> = new Set([
  5, 7, 8, 14, 15, 16, 27, 35, 42, 46, 47, 67, 80, 118, 120, 123, 125, 158, 160, 173, 174, 208,
  ...['timer_start', 'timer_set_callback'].map((name) => helperId(name)!),
]);

/** Map types whose contents are not compared: they hold program/map ids, fds or records, or one value per CPU (the kernel's test run picks the CPU). */
const NOT_COMPARED_MAPS: ReadonlySet<number> = new Set([
  MapType.PROG_ARRAY, MapType.PERF_EVENT_ARRAY, MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS, MapType.RINGBUF,
  MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH, MapType.CGROUP_STORAGE, MapType.PERCPU_CGROUP_STORAGE,
  MapType.STACK_TRACE, MapType.CGROUP_ARRAY, MapType.DEVMAP, MapType.DEVMAP_HASH, MapType.CPUMAP, MapType.XSKMAP,
  MapType.SOCKMAP, MapType.SOCKHASH, MapType.REUSEPORT_SOCKARRAY, MapType.SK_STORAGE, MapType.INODE_STORAGE,
  MapType.TASK_STORAGE, MapType.CGRP_STORAGE, MapType.USER_RINGBUF, MapType.STRUCT_OPS, MapType.ARENA,
]);

const LRU_MAPS: ReadonlySet<number> = new Set([MapType.LRU_HASH, MapType.LRU_PERCPU_HASH]);

const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 13 + seed) & 0xff);
const le32 = (...words: number[]): Uint8Array => {
  const out = new Uint8Array(words.length * 4);
  words.forEach((w, i) => new DataView(out.buffer).setUint32(i * 4, w >>> 0, true));
  return out;
};

/** A named BPF_PROG_TEST_RUN input. */
interface Input { readonly label: string; readonly input: TestRunInput }

const skbCtx = (frame: Uint8Array): Uint8Array => encodeSkBuff({
  mark: 0xdeadbeef, priority: 0x10007, ingress_ifindex: 0, cb: [1, 0x80000000, 3, 0xffffffff, 5], tstamp: 0x1122334455667788n,
  wire_len: frame.length + 100, gso_segs: 3, gso_size: 1448, hwtstamp: 0x0102030405060708n,
}, new Uint8Array(SK_BUFF_SIZE));

/** Packet `frame` behind 8 bytes of metadata, received on `ifindex` (1: the loopback device, which the kernel's test run uses by default). */
function xdpWithMeta(frame: Uint8Array, ifindex = 1): TestRunInput {
  const meta = bytes(8, 1);
  const data = new Uint8Array(meta.length + frame.length);
  data.set(meta);
  data.set(frame, meta.length);
  const ctx = new Uint8Array(XDP_MD_SIZE);
  const v = new DataView(ctx.buffer);
  v.setUint32(XDP_MD.data, meta.length, true);
  v.setUint32(XDP_MD.data_end, data.length, true);
  v.setUint32(XDP_MD.ingress_ifindex, ifindex, true);
  return { data, ctx };
}

/** `struct bpf_sk_lookup` for a UDP lookup 10.0.0.1:5353 → 10.0.0.2:53. */
function skLookupCtx(): Uint8Array {
  const ctx = new Uint8Array(72);
  const v = new DataView(ctx.buffer);
  v.setUint32(8, 2, true); // family AF_INET
  v.setUint32(12, 17, true); // protocol UDP
  v.setUint32(16, 0x0100000a, true); // remote_ip4 (network order)
  v.setUint16(36, 5353, false); // remote_port (network order)
  v.setUint32(40, 0x0200000a, true); // local_ip4
  v.setUint32(60, 53, true); // local_port (host order)
  return ctx;
}

/** The frames packet programs get: IPv4/IPv6 TCP/UDP/ICMP, fragments, VLAN tags, ARP, short, truncated and jumbo frames. */
const FRAMES = PACKETS.filter((p) => [
  'ipv4-udp', 'ipv4-tcp-syn', 'ipv4-icmp-echo', 'ipv4-options', 'ipv4-fragment', 'ipv4-truncated', 'ipv6-udp', 'ipv6-tcp', 'ipv6-icmpv6',
  'arp-request', 'vlan-ipv4', 'qinq-ipv6', 'short-ipv4', 'short-ipv6', 'jumbo-4000',
].includes(p.name));

/** The inputs each test-runnable program type gets. */
const packetInputs = (withCtx: (frame: Uint8Array) => TestRunInput | undefined): Input[] => FRAMES.flatMap(({ name, frame }) => {
  const ctx = withCtx(frame);
  return [{ label: name, input: { data: frame } }, ...(ctx === undefined ? [] : [{ label: `${name} + ctx`, input: ctx }])];
});
const SKB_INPUTS = packetInputs((frame) => ({ data: frame, ctx: skbCtx(frame) }));
const PACKET_ONLY = packetInputs(() => undefined);
const INPUTS: ReadonlyMap<number, readonly Input[]> = new Map<number, readonly Input[]>([
  [ProgramType.XDP, [
    ...packetInputs((frame) => xdpWithMeta(frame)),
    // Last: a known difference (below) ends the comparison of the program's object.
    { label: 'ipv4-udp + ctx with ingress_ifindex 0', input: xdpWithMeta(PACKETS[0]!.frame, 0) },
  ]],
  [ProgramType.SOCKET_FILTER, SKB_INPUTS], [ProgramType.SCHED_CLS, SKB_INPUTS], [ProgramType.SCHED_ACT, SKB_INPUTS],
  [ProgramType.CGROUP_SKB, SKB_INPUTS],
  [ProgramType.LWT_IN, PACKET_ONLY], [ProgramType.LWT_OUT, PACKET_ONLY], [ProgramType.LWT_XMIT, PACKET_ONLY],
  [ProgramType.FLOW_DISSECTOR, PACKET_ONLY],
  [ProgramType.RAW_TRACEPOINT, [
    // Always a ctx: without one the kernel hands the program a NULL args array.
    { label: '6 zero args', input: { ctx: new Uint8Array(48) } },
    { label: '6 args', input: { ctx: new Uint8Array(new BigUint64Array([1n, 0xffffffffn, 1n << 40n, 7n, 0n, 0xdeadbeefn]).buffer) } },
  ]],
  [ProgramType.SYSCALL, [
    { label: '16 zero bytes', input: { ctx: new Uint8Array(16) } },
    { label: 'u32s 10 3 0x80000000 7', input: { ctx: le32(10, 3, 0x80000000, 7) } },
    { label: '64 pattern bytes', input: { ctx: bytes(64, 5) } },
  ]],
  [ProgramType.SK_LOOKUP, [{ label: 'udp lookup', input: { ctx: skLookupCtx() } }]],
]);

/**
 * Differences known and not yet fixed, by program and input: each must still occur (the test
 * fails when one disappears, so the list only shrinks). A known difference ends the comparison
 * of its object (the maps have parted).
 */
const KNOWN_DIFFERENCES: ReadonlyArray<{ program: string; input: string; why: string }> = [];

/** Who could not load or run what, by reason. */
class Listing {
  readonly lines = new Map<string, string[]>();
  add(reason: string, what: string): void {
    const list = this.lines.get(reason) ?? [];
    list.push(what);
    this.lines.set(reason, list);
  }
  print(diag: (line: string) => void): void {
    for (const [reason, what] of [...this.lines].sort((a, b) => b[1].length - a[1].length)) diag(`${what.length} ${reason}: ${what.join(', ')}`);
  }
}

interface Group {
  readonly path: string;
  readonly file: Uint8Array;
  readonly spec: ObjectSpec;
  readonly names: readonly string[];
  /** The group already loaded on both sides (handed over: the runner disposes them). */
  readonly loaded?: { kernel: KernelObject; vm: VmObject };
}

let targetBtf: ReturnType<typeof vmlinuxBtf>;
const loadVm = (g: Group, names: readonly string[]): VmObject => loadObjectVm(g.spec, { programs: names, ...(targetBtf === undefined ? {} : { targetBtf }) });
/** Maps pinned by name go under a fresh directory per load (a pinned map would carry state from one load to the next), all under one removed at the end. */
let pinRoot = '';
let pinDirs = 0;
const loadKernel = (g: Group, names: readonly string[], partial = false): KernelObject => {
  const pinPath = join(pinRoot, String(pinDirs++));
  mkdirSync(pinPath);
  return loadObject(g.spec, { programs: names, partial, pinPath, ...(targetBtf === undefined ? {} : { targetBtf }) });
};

describe('project objects in the kernel and in the VM', { skip: kernelSkip() }, () => {
  it('give the same results for every test-runnable program both load, over packets and contexts', (t) => {
    targetBtf = vmlinuxBtf();
    pinRoot = join('/sys/fs/bpf', `ebpf-fixtures-diff-${process.pid}`);
    mkdirSync(pinRoot);
    t.after(() => rmSync(pinRoot, { recursive: true, force: true }));
    const listing = new Listing();
    const mismatches: string[] = [];
    let programs = 0;
    let runs = 0;
    let refusedByKernel = 0;
    let mapDumps = 0;
    const started = performance.now();
    for (const g of objects(listing)) {
      const outcome = runGroup(g, listing);
      programs += outcome.programs;
      runs += outcome.runs;
      refusedByKernel += outcome.refusedByKernel;
      mapDumps += outcome.mapDumps;
      if (outcome.mismatch !== undefined) mismatches.push(outcome.mismatch);
      if (outcome.known !== undefined) listing.add('known difference (KNOWN_DIFFERENCES), comparison of the object ended there', outcome.known);
    }
    t.diagnostic(`${programs} programs compared in both: ${runs} runs equal (return value, data out, ctx out, ${mapDumps} map dumps), ` +
      `${refusedByKernel} inputs the kernel refuses (not run in the VM), ${mismatches.length} programs differ; ${Math.round(performance.now() - started)} ms`);
    listing.print((line) => t.diagnostic(line));
    assert.deepEqual(mismatches, [], mismatches.join('\n'));
    assert.ok(programs >= 20, `only ${programs} programs compared`);
  });
});

/** The objects' groups: per object, the test-runnable programs both backends load (each refusal listed). */
function* objects(listing: Listing): Generator<Group> {
  for (const dir of DIRS) {
    const abs = join(repoRoot, dir);
    if (!existsSync(abs)) continue;
    for (const name of readdirSync(abs).filter((f) => f.endsWith('.o')).sort()) {
      const path = `${dir}/${name}`;
      if (name.endsWith('.bpfeb.o')) {
        listing.add('not loaded: a big-endian build (neither backend runs it on this machine)', path);
        continue;
      }
      const file = readFileSync(join(abs, name));
      let spec: ObjectSpec;
      try {
        spec = loadObjectSpec(file);
      } catch (err) {
        listing.add('not loaded: the object does not parse as a program object', `${path} (${firstLine(err)})`);
        continue;
      }
      const names: string[] = [];
      const candidates = spec.programs.filter((p) => {
        if (!INPUTS.has(p.type)) listing.add(`not test-runnable: ${programTypeName(p.type)}`, `${path}:${p.name}`);
        return INPUTS.has(p.type);
      });
      if (candidates.length === 0) continue;
      const whole: Group = { path, file, spec, names: candidates.map((p) => p.name) };
      let failures: KernelObject['failures'];
      try {
        using all = loadKernel(whole, whole.names, true);
        failures = all.failures;
      } catch (err) {
        listing.add('the kernel refuses to load the object', `${path} (${firstLine(err)})`);
        continue;
      }
      for (const p of candidates) {
        const what = `${path}:${p.name}`;
        const failure = failures[p.name];
        if (failure !== undefined) {
          listing.add('the kernel refuses to load it', `${what} (${firstLine(failure.error).replace(/^load program '[^']*'[^:]*: /, '')})`);
          continue;
        }
        const g: Group = { path, file, spec, names: [p.name] };
        try {
          loadVm(g, [p.name]).dispose();
        } catch (err) {
          if (!(err instanceof EbpfError)) throw err;
          listing.add(err instanceof NotSupportedError ? 'VM refuses (NotSupportedError)' : 'VM refuses to load what the kernel loads', `${what} (${firstLine(err).replace(/^load program '[^']*': /, '')})`);
          continue;
        }
        const calls = p.instructions.find((i) => i.kind === 'call' && i.target === 'helper' && NONDETERMINISTIC_HELPERS.has(i.imm));
        if (calls !== undefined) {
          listing.add('not compared: calls a helper whose answer is the machine\'s', `${what} (${helperName(calls.imm)})`);
          continue;
        }
        // Which entries an LRU hash evicts follows the kernel's per-CPU free lists: the CPU the test run lands on.
        const lru = p.references.find((r) => r.kind === 'map' && LRU_MAPS.has(spec.map(r.map)?.type ?? -1));
        if (lru !== undefined) {
          listing.add('not compared: uses an LRU hash (its evictions follow the CPU the kernel\'s test run lands on)', `${what} (${(lru as { map: string }).map})`);
          continue;
        }
        names.push(p.name);
      }
      if (names.length === 0) continue;
      // All of the object's programs together (tail calls, shared maps) when both sides take that; else one by one.
      const together: Group = { path, file, spec, names };
      let kernel: KernelObject | undefined;
      let vm: VmObject | undefined;
      try {
        kernel = loadKernel(together, names);
        vm = loadVm(together, names);
      } catch {
        kernel?.dispose();
        vm = undefined;
      }
      if (kernel !== undefined && vm !== undefined) yield { ...together, loaded: { kernel, vm } };
      else for (const n of names) yield { path, file, spec, names: [n] };
    }
  }
}

/** What one side made of one run. */
type Side = { retval: number; dataOut: Uint8Array; ctxOut: Uint8Array | undefined } | { refused: string };

/** BPF_PROG_TEST_RUN's options for an input: room for the data to grow; raw tracepoints refuse ctx_out. */
function kernelOptions(type: number, input: TestRunInput): TestRunOptions {
  return {
    ...input,
    ...(input.data === undefined ? {} : { dataSizeOut: input.data.length + 512 }),
    ...(type === ProgramType.RAW_TRACEPOINT ? { ctxSizeOut: 0 } : {}),
  };
}

function kernelRun(obj: KernelObject, name: string, input: TestRunInput): Side {
  try {
    const p = obj.programs[name]!;
    const r = p.testRun(kernelOptions(p.type, input));
    return { retval: r.retval, dataOut: r.dataOut ?? new Uint8Array(0), ctxOut: input.ctx === undefined ? undefined : r.ctxOut };
  } catch (err) {
    if (err instanceof KernelError) return { refused: err.code };
    throw err;
  }
}

function vmRun(obj: VmObject, name: string, input: TestRunInput): Side {
  try {
    const r = obj.programs[name]!.testRun(input);
    return { retval: r.retval, dataOut: r.dataOut ?? new Uint8Array(0), ctxOut: r.ctxOut };
  } catch (err) {
    if (err instanceof NotSupportedError) throw err;
    if (err instanceof EbpfError && !(err instanceof VmError)) return { refused: firstLine(err) };
    throw err;
  }
}

/** The object's comparable maps as sorted `key => value` JSON lines; undefined for a map its backend cannot iterate. */
function dumpMaps(spec: ObjectSpec, maps: Readonly<Record<string, { entries(): Iterable<[unknown, unknown]> }>>): Map<string, string[] | undefined> {
  const out = new Map<string, string[] | undefined>();
  for (const m of spec.maps) {
    const map = maps[m.name];
    if (map === undefined || NOT_COMPARED_MAPS.has(m.type)) continue;
    try {
      out.set(m.name, [...map.entries()].map(([k, v]) => `${json(k)} => ${json(v)}`).sort());
    } catch {
      out.set(m.name, undefined);
    }
  }
  return out;
}

interface GroupOutcome { programs: number; runs: number; refusedByKernel: number; mapDumps: number; mismatch?: string; known?: string }

/** Runs every program of a group over its inputs on both sides; stops at the first difference, located. */
function runGroup(g: Group, listing: Listing): GroupOutcome {
  const kernel = g.loaded?.kernel ?? loadKernel(g, g.names);
  const vm = g.loaded?.vm ?? loadVm(g, g.names);
  const history: Array<{ name: string; input: TestRunInput }> = [];
  const out: GroupOutcome = { programs: 0, runs: 0, refusedByKernel: 0, mapDumps: 0 };
  try {
    for (const name of g.names) {
      const p = g.spec.program(name)!;
      let compared = false;
      for (const { label, input } of INPUTS.get(p.type)!) {
        const k = kernelRun(kernel, name, input);
        if ('refused' in k) {
          // Not run in the VM either: its maps must see what the kernel's saw. (The contexts'
          // input checks are held to the kernel's in test/vm/programs.)
          out.refusedByKernel++;
          continue;
        }
        let v: Side;
        try {
          v = vmRun(vm, name, input);
        } catch (err) {
          if (!(err instanceof NotSupportedError)) throw err;
          listing.add('VM refuses to run it (NotSupportedError)', `${g.path}:${name} (${firstLine(err).replace(/^test run program '[^']*': /, '')})`);
          break;
        }
        compared = true;
        const diffs = compareSides(k, v);
        const kernelMaps = dumpMaps(g.spec, kernel.maps);
        const vmMaps = dumpMaps(g.spec, vm.maps);
        for (const [map, dump] of kernelMaps) {
          const ours = vmMaps.get(map);
          if (dump === undefined || ours === undefined) continue; // a map one backend cannot iterate
          out.mapDumps++;
          const onlyKernel = dump.filter((e) => !ours.includes(e));
          const onlyVm = ours.filter((e) => !dump.includes(e));
          if (onlyKernel.length > 0 || onlyVm.length > 0) {
            diffs.push(`map ${map}: only in the kernel [${onlyKernel.slice(0, 4).join(', ')}${onlyKernel.length > 4 ? ', …' : ''}], ` +
              `only in the VM [${onlyVm.slice(0, 4).join(', ')}${onlyVm.length > 4 ? ', …' : ''}]`);
          }
        }
        const known = KNOWN_DIFFERENCES.find((d) => d.program === `${g.path}:${name}` && d.input === label);
        if (known !== undefined && diffs.length > 0) {
          out.known = `${g.path}:${name} on ${label} (${known.why})`;
          out.programs++;
          return out;
        }
        if (known !== undefined) diffs.push(`a known difference no longer occurs: remove it from KNOWN_DIFFERENCES (${known.why})`);
        if (diffs.length > 0) {
          out.mismatch = `${g.path}:${name} on ${label}: ${diffs.join('; ')}\n  ${locate(g, p, history, input)}`;
          out.programs++;
          return out;
        }
        history.push({ name, input });
        out.runs++;
      }
      if (compared) out.programs++;
    }
    return out;
  } finally {
    kernel.dispose();
    vm.dispose();
  }
}

function compareSides(k: Side, v: Side): string[] {
  if ('refused' in k || 'refused' in v) {
    if ('refused' in k && 'refused' in v) return [];
    if ('refused' in k) return [`the kernel refuses the input (${k.refused}), the VM runs it`];
    return [`the VM refuses the input (${(v as { refused: string }).refused}), the kernel runs it`];
  }
  const diffs: string[] = [];
  if (k.retval !== v.retval) diffs.push(`retval kernel 0x${k.retval.toString(16)}, VM 0x${v.retval.toString(16)}`);
  if (hex(k.dataOut) !== hex(v.dataOut)) diffs.push(`data out: kernel ${k.dataOut.length} bytes ${hex(k.dataOut).slice(0, 96)}…, VM ${v.dataOut.length} bytes ${hex(v.dataOut).slice(0, 96)}…`);
  if (k.ctxOut !== undefined && (v.ctxOut === undefined || hex(k.ctxOut) !== hex(v.ctxOut))) {
    diffs.push(`ctx out: kernel ${hex(k.ctxOut)}, VM ${v.ctxOut === undefined ? 'none' : hex(v.ctxOut)}`);
  }
  return diffs;
}

/**
 * The first differing instruction of program `p` on `input`, both objects loaded afresh with
 * `history` replayed: the VM's run traced by a copy of its interpreter (same memory, state,
 * helpers and map references), the kernel's probed by copies of the same relocated instructions
 * loaded beside a fresh kernel object whose maps they reference.
 */
function locate(g: Group, p: ProgramSpec, history: ReadonlyArray<{ name: string; input: TestRunInput }>, input: TestRunInput): string {
  const replay = <T extends VmObject | KernelObject>(obj: T): T => {
    for (const h of history) {
      try {
        obj.programs[h.name]!.testRun(h.input);
      } catch {
        // refused inputs were refused by both
      }
    }
    return obj;
  };
  using vm = replay(loadVm(g, g.names));
  const vp = vm.programs[p.name]!;
  const trace = new VmTrace();
  const helpers = mergeHelperTables(vmHelperTables({ registry: vm.registry, host: vm.host }));
  const current: { packet: ReturnType<ReturnType<typeof contextModel>>['packet'] } = { packet: undefined };
  const traced = new Interpreter(vp.interpreter.program, {
    memory: vm.memory, state: vp.interpreter.state, helpers, trace: trace.hook, packet: () => current.packet,
    resolveLddw: lddwResolver(p, (name) => vm.maps[name]!.map),
  });
  const target = { name: p.name, type: p.type, expectedAttachType: p.expectedAttachType };
  const prepared = contextModel(defaultContextModels, target)(vm.memory, input, target);
  try {
    current.packet = prepared.packet;
    traced.run(prepared.ctx);
  } catch {
    // a fault ends the trace
  }
  // The context and packet stay allocated while locating: the trace's addresses are told by them.
  using _release = { [Symbol.dispose]: () => prepared.release() };
  const raw = toSlots(vp.interpreter.program);
  return locateFirstDifference({
    raw, trace,
    isAddress: (v) => v > 0n && v < 0x1_0000_0000n && vm.memory.find(Number(v), 1) !== undefined,
    kernel: (transform) => {
      const kernel = replay(loadKernel(g, g.names));
      try {
        const patched: RawInstruction[] = raw.map((s) => ({ ...s }));
        for (const ref of p.references) {
          if (ref.kind === 'map') patched[ref.slot] = { ...patched[ref.slot]!, src: 1, imm: kernel.maps[ref.map]!.fd };
          else if (ref.kind === 'map_value') {
            patched[ref.slot] = { ...patched[ref.slot]!, src: 2, imm: kernel.maps[ref.map]!.fd };
            patched[ref.slot + 1] = { ...patched[ref.slot + 1]!, imm: ref.offset };
          }
        }
        using probe = loadProgram({
          type: p.type, expectedAttachType: p.expectedAttachType, license: 'GPL', instructions: encodeSlots(transform(patched)),
        });
        return testRun(probe, kernelOptions(p.type, input)).retval;
      } catch (err) {
        if (err instanceof KernelError) return { refused: err.code };
        throw err;
      } finally {
        kernel.dispose();
      }
    },
  }).text;
}

const firstLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 160);
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const hex = (b: Uint8Array): string => {
  let out = '';
  for (const x of b) out += HEX[x]!;
  return out;
};
const json = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? hex(x) : x));
