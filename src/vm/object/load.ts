/**
 * `loadObjectVm`: an eBPF object into the VM, as one linear pipeline after libbpf's load —
 * spec with constants set, CO-RE, externs and helpers checked, maps created (global data
 * written, `.rodata`/`.kconfig` frozen, maps of maps filled), programs made into interpreters
 * sharing one memory, stack and register file (so they can tail-call each other), program
 * arrays filled. The result has the shape of the kernel backend's loaded object.
 */
import type { Btf } from '../../btf/btf.js';
import type { Instruction } from '../../isa/instruction.js';
import type { VerifyResult } from '../../verifier/index.js';
import { EbpfError, NotSupportedError, VerifierError } from '../../errors.js';
import type { LoadedObject } from '../../object/loaded.js';
import { loadObjectSpec, ObjectSpec, type LoadObjectOptions, type MapSpec, type ProgramSpec } from '../../object/index.js';
import { VmHost, type VmHostOptions } from '../helpers/host.js';
import type { TracePipe } from '../helpers/trace-pipe.js';
import { ExecutionState, Interpreter } from '../interpreter.js';
import { ArrayOfMapsMap, ProgArrayMap } from '../maps/fd-array.js';
import { MapType } from '../maps/flags.js';
import { HashOfMapsMap } from '../maps/hash-of-maps.js';
import { u32Bytes, type VmMap } from '../maps/map.js';
import { MapRegistry } from '../maps/registry.js';
import { Memory, type Region } from '../memory.js';
import { defaultContextModels, type ContextModels } from './context.js';
import type { HelperTable } from '../helpers.js';
import { mergeHelperTables, programTypeHelpers, vmHelperTables } from './helper-tables.js';
import { fillKconfig, type KconfigValue } from './kconfig.js';
import { mapCodec } from './map-codec.js';
import { mapValueFields } from './btf-fields.js';
import { VmObjectMap } from './map.js';
import { VmProgram } from './program.js';
import { socketWorld, type SocketWorld } from '../sockets/world.js';
import { VmHooks, type TracepointFieldDecl } from './hooks.js';
import { timersOf, type VmTimers } from '../helpers/timer.js';
import type { PerfEventData } from '../programs/perf-event.js';
import type { PtRegs } from '../programs/pt-regs.js';
import type { TracepointFormat, TracepointValue } from '../programs/tracepoint.js';
import { verifyVmProgram, verifyVmProgramResult, type VmVerifierOptions, type VmVerifyProgramOptions } from './verify.js';
import { checkExternReferences, checkInstructions, lddwResolver, relocateCore, type VmCoreTarget } from './relocate.js';

/** Options of {@link loadObjectVm}. */
export interface VmObjectOptions {
  /** Program types for sections libbpf does not know (or to override), by program or section name. */
  programTypes?: LoadObjectOptions['programTypes'];
  /** `.rodata` constants to set before load (`setConstant`). */
  constants?: Readonly<Record<string, unknown>>;
  /** Initial values of `.data`/`.bss` variables (`setVariable`). */
  variables?: Readonly<Record<string, unknown>>;
  /** Programs to load, by name; default every program whose section has no leading `?`. */
  programs?: readonly string[];
  /**
   * Target BTF for CO-RE relocations. Without it only relocations rooted at the UAPI context
   * structs (`__sk_buff`, `xdp_md`, …) resolve, against the object's own BTF.
   */
  targetBtf?: Btf | readonly Btf[];
  /** Values of `__kconfig` externs by name (`LINUX_KERNEL_VERSION`, `CONFIG_HZ`): the VM has no kernel to read them from. */
  kconfig?: Readonly<Record<string, KconfigValue>>;
  /** Possible CPUs (per-CPU maps keep one value each); default 1. */
  cpus?: number;
  /** The CPU programs run on; default 0. */
  cpu?: number;
  /** The host the helpers answer from: clocks, random seed, current task, probe-read memory, trace output. */
  host?: VmHost | VmHostOptions;
  /** Helpers by id added to (or replacing) the VM's own. */
  helpers?: HelperTable;
  /** Context models for test runs by program type, added to the VM's own (the raw-context types). */
  contexts?: ContextModels;
  /**
   * The verifier runs on every program before it may run, as in the kernel (default). Options
   * set its log level; `false` skips it — the interpreter's checked memory still confines a
   * program to its regions, but what the kernel would refuse then runs.
   */
  verify?: boolean | VmVerifierOptions;
  /** Instruction budget of one run (default the interpreter's). */
  maxInstructions?: number;
}

/** Whether loadObjectVm verifies programs when `verify` is not given. */
const VERIFY_BY_DEFAULT = true;

/** Most timer callbacks advanceTime runs at one instant before it calls it a livelock. */
const TIMER_ROUND_LIMIT = 1 << 20;

/** Whether an object was disposed, shared with its programs. */
interface Lifetime {
  disposed: boolean;
}

/**
 * `loadObjectVm`'s result: programs and maps by name, in one VM memory. Dispose it (or
 * `using`) to close its maps.
 */
export class VmObject implements LoadedObject<VmProgram, VmObjectMap> {
  readonly spec: ObjectSpec;
  readonly programs: Readonly<Record<string, VmProgram>>;
  readonly maps: Readonly<Record<string, VmObjectMap>>;
  /** The linear memory the programs, maps and stack live in. */
  readonly memory: Memory;
  readonly registry: MapRegistry;
  /** What the helpers answer from (clocks, task, …); its fields may be changed between runs. */
  readonly host: VmHost;
  /** The hooks the object's tracing programs attach to (see {@link tracepoint}, {@link uprobe}). */
  readonly hooks: VmHooks;
  readonly #lifetime: Lifetime;

  /** @internal Built by {@link loadObjectVm}. */
  constructor(parts: {
    spec: ObjectSpec; memory: Memory; registry: MapRegistry; host: VmHost; lifetime: Lifetime;
    programs: Record<string, VmProgram>; maps: Record<string, VmObjectMap>; hooks: VmHooks;
  }) {
    this.hooks = parts.hooks;
    this.spec = parts.spec;
    this.memory = parts.memory;
    this.registry = parts.registry;
    this.host = parts.host;
    this.#lifetime = parts.lifetime;
    this.programs = parts.programs;
    this.maps = parts.maps;
  }

  /** bpf_trace_printk's lines. */
  get tracePipe(): TracePipe {
    return this.host.tracePipe;
  }

  /** The simulated sockets its SOCKMAP/SOCKHASH, sk_msg and sock_ops programs work on. */
  get sockets(): SocketWorld {
    return socketWorld(this.registry);
  }

  /** Declares tracepoint `category:name`'s record format for {@link tracepoint} (see VmHooks.declareTracepoint). */
  declareTracepoint(name: string, format: TracepointFormat | string | readonly TracepointFieldDecl[]): TracepointFormat {
    return this.hooks.declareTracepoint(name, format);
  }

  /**
   * Fires tracepoint `category:name`: the attached tracepoint programs run on its record
   * (`fields` by the declared format, or raw bytes). Returns the number of programs run.
   *
   * @example
   * obj.declareTracepoint('app:request', ['u32 status', '__data_loc char[] path']);
   * using link = obj.programs.count_requests.attach();   // SEC("tp/app/request")
   * obj.tracepoint('app:request', { status: 200, path: '/index.html' });
   */
  tracepoint(name: string, fields: Readonly<Record<string, TracepointValue>> | Uint8Array = {}): number {
    return this.hooks.tracepoint(name, fields);
  }

  /** Fires raw tracepoint `name` with u64 `args`. */
  rawTracepoint(name: string, args: ReadonlyArray<bigint | number>): number {
    return this.hooks.rawTracepoint(name, args);
  }

  /** Fires the kprobes of `fn` with its arguments. */
  kprobe(fn: string, args: ReadonlyArray<bigint | number>, regs?: PtRegs): number {
    return this.hooks.kprobe(fn, args, regs);
  }

  /** Fires the kretprobes of `fn` with its return value. */
  kretprobe(fn: string, ret: bigint | number, regs?: PtRegs): number {
    return this.hooks.kretprobe(fn, ret, regs);
  }

  /** Fires the attached perf_event programs with a sample. */
  perfEvent(data?: PerfEventData): number {
    return this.hooks.perfEvent(data);
  }

  /**
   * Wraps `target[method]` so each call runs the uprobes attached to `method` (and its
   * uretprobes on the return value); dispose the result to unwrap.
   *
   * @example
   * using probe = obj.uprobe(server, 'handle');    // SEC("uprobe/handle") programs see each call
   */
  uprobe<T extends object>(target: T, method: keyof T & string): Disposable {
    return this.hooks.uprobe(target, method);
  }

  /** The object's BPF timers (bpf_timer_* helpers). */
  get timers(): VmTimers {
    return timersOf(this.registry, this.host);
  }

  /** Fires every timer due now on the host's clocks; returns how many callbacks ran. */
  runTimers(): number {
    if (this.#lifetime.disposed) throw new EbpfError('the VM object is disposed');
    return this.timers.run();
  }

  /**
   * Moves the host's ManualClock forward by `ns`, firing each timer when the clock reaches its
   * expiry (in expiry order, re-armed timers included). Returns how many callbacks ran.
   * Needs a host made with `clock: new ManualClock()`.
   */
  advanceTime(ns: bigint | number): number {
    if (this.#lifetime.disposed) throw new EbpfError('the VM object is disposed');
    const clock = this.host.manualClock;
    if (clock === undefined) throw new EbpfError('advanceTime needs a host with a ManualClock (loadObjectVm(…, { host: { clock: new ManualClock() } }))');
    if (BigInt(ns) < 0n) throw new RangeError(`advanceTime: ${ns} ns is negative`);
    const target = clock.now + BigInt(ns);
    let fired = 0;
    for (;;) {
      const next = this.timers.nextExpiry();
      if (next === undefined || next > target) break;
      if (next > clock.now) clock.set(next);
      const round = this.timers.run(TIMER_ROUND_LIMIT);
      if (round === 0) break; // the clock's reading disagrees with the expiry: nothing more will come due
      if (round >= TIMER_ROUND_LIMIT) throw new EbpfError(`advanceTime: ${round} timer callbacks at ${clock.now} ns without the clock moving (a timer re-arming itself for now?)`);
      fired += round;
    }
    clock.set(target);
    return fired;
  }

  /** True once disposed. */
  get disposed(): boolean {
    return this.#lifetime.disposed;
  }

  /** Closes every map; the programs can no longer run. Idempotent. */
  dispose(): void {
    if (this.#lifetime.disposed) return;
    this.#lifetime.disposed = true;
    this.registry[Symbol.dispose]();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * Loads an eBPF object (its bytes or a parsed spec) into the VM. Throws NotSupportedError for
 * what the VM cannot give a program — naming it: a helper it does not implement
 * (`bpf_skb_vlan_push (#18) is not implemented by the VM`), a kfunc or kernel symbol, a CO-RE
 * relocation that needs the kernel's BTF, a map type it lacks — and the errors the kernel
 * backend throws for bad constants or kconfig values. Messages start with the program:
 * `load program 'x': …`.
 *
 * @example
 * using obj = loadObjectVm(readFileSync('bpf/objects/globals.o'), { constants: { target_pid: 42 } });
 * obj.maps['.data'].get(0);      // { packets: 100n, last_len: 7 }
 */
export function loadObjectVm(source: ObjectSpec | Uint8Array, options: VmObjectOptions = {}): VmObject {
  const spec = prepareSpec(source, options);
  if (spec.bigEndian) throw new NotSupportedError('the VM runs little-endian objects only (this one is big-endian)');
  const selected = selectPrograms(spec, options.programs);

  const host = options.host instanceof VmHost ? options.host : new VmHost(options.host);
  const memory = new Memory();
  const registry = new MapRegistry(memory, { cpus: options.cpus ?? 1, cpu: options.cpu ?? 0 });
  const helpers = mergeHelperTables([...vmHelperTables({ registry, host }), options.helpers]);

  // Programs first, as libbpf relocates before it creates anything: what the VM cannot run
  // fails before a map exists.
  const core = coreTarget(spec, options.targetBtf);
  const prepared = selected.map((p) => inProgram(p, () => {
    checkExternReferences(p);
    const instructions = relocateCore(p, core);
    checkInstructions(instructions, (id) => helpers.has(id));
    return { spec: p, instructions };
  }));

  const kconfig = spec.map('.kconfig');
  if (kconfig?.data !== undefined) fillKconfig(spec.externs, kconfig.data, options.kconfig ?? {});

  try {
    const { created, refused } = createMaps(spec.maps, registry, spec.btf);
    const mapFor = mapLookup(created, refused);

    const state = new ExecutionState(memory);
    const current: { packet: Region | undefined } = { packet: undefined };
    const contexts = new Map([...defaultContextModels, ...(options.contexts ?? [])]);
    const lifetime: Lifetime = { disposed: false };
    const checkOpen = (): void => {
      if (lifetime.disposed) throw new EbpfError('the VM object is disposed');
    };
    const programs: Record<string, VmProgram> = Object.create(null);
    const hooks = new VmHooks(memory, host, checkOpen);
    for (const { spec: p, instructions } of prepared) {
      if (options.verify ?? VERIFY_BY_DEFAULT) {
        const verifierOptions = typeof options.verify === 'object' ? options.verify : {};
        inProgram(p, () => verifyVmProgram(p, instructions, { mapFor, specs: spec.maps, btf: spec.btf }, verifierOptions));
      }
      const overlay = programTypeHelpers(p.type);
      const interpreter = inProgram(p, () => new Interpreter(instructions, {
        memory, state, helpers: overlay === undefined ? helpers : mergeHelperTables([helpers, overlay]),
        resolveLddw: lddwResolver(p, mapFor),
        packet: () => current.packet,
        ...(options.maxInstructions === undefined ? {} : { maxInstructions: options.maxInstructions }),
      }));
      programs[p.name] = new VmProgram(interpreter, { spec: p, registry, contexts, current, checkOpen, hooks });
    }
    fillProgramArrays(spec.maps, created, programs);
    timersOf(registry, host).programs = Object.values(programs).map((p) => p.interpreter);
    return new VmObject({ spec, memory, registry, host, lifetime, programs, maps: objectMaps(spec, created), hooks });
  } catch (err) {
    registry[Symbol.dispose]();
    throw err;
  }
}

/** Options of {@link verifyObjectProgram}. */
export interface VerifyObjectProgramOptions extends VmVerifyProgramOptions {
  /** Target BTF for CO-RE relocations (the kernel's, for programs that read kernel types). */
  targetBtf?: Btf | readonly Btf[];
  /** Program types for sections libbpf does not know. */
  programTypes?: LoadObjectOptions['programTypes'];
  constants?: Readonly<Record<string, unknown>>;
  /** Possible CPUs (per-CPU maps); default 1. */
  cpus?: number;
}

/**
 * Verifies one program of an object as `loadObjectVm` would before running it — CO-RE
 * applied, maps created (global data written, `.rodata` frozen), func_info and license
 * given — but whether or not the VM implements its helpers, and returns the verifier's whole
 * result and the instructions it checked (what `ebpf verify OBJ` prints and explains).
 */
export function verifyObjectProgram(source: ObjectSpec | Uint8Array, name: string, options: VerifyObjectProgramOptions = {}): {
  program: ProgramSpec; instructions: Instruction[]; result: VerifyResult;
} {
  const spec = prepareSpec(source, { ...(options.programTypes ? { programTypes: options.programTypes } : {}), ...(options.constants ? { constants: options.constants } : {}) });
  const [program] = selectPrograms(spec, [name]);
  const core = coreTarget(spec, options.targetBtf);
  const instructions = inProgram(program!, () => relocateCore(program!, core));
  const registry = new MapRegistry(new Memory(), { cpus: options.cpus ?? 1, cpu: 0 });
  try {
    const { created, refused } = createMaps(spec.maps, registry, spec.btf);
    const mapFor = mapLookup(created, refused);
    const verified = inProgram(program!, () => verifyVmProgramResult(program!, instructions, { mapFor, specs: spec.maps, btf: spec.btf }, options));
    return { program: program!, ...verified };
  } finally {
    registry[Symbol.dispose]();
  }
}

/** The JavaScript-valued handles of the maps that exist. */
function objectMaps(spec: ObjectSpec, created: ReadonlyMap<string, VmMap>): Record<string, VmObjectMap> {
  // Program arrays and maps of maps take the object's handles and store their ids.
  const toId = (handle: unknown): number => {
    if (handle instanceof VmProgram) return handle.id;
    if (handle instanceof VmObjectMap) return handle.map.id;
    return -1;
  };
  const handles: Record<string, VmObjectMap> = Object.create(null);
  for (const m of spec.maps) {
    const map = created.get(m.name);
    if (map !== undefined) handles[m.name] = new VmObjectMap(map, mapCodec(m, spec.btf, toId), { name: m.name, spec: m, ...(spec.btf === undefined ? {} : { btf: spec.btf }) });
  }
  return handles;
}

/** Runs `step` for program `p`, prefixing its errors with `load program 'p'` (keeping their class). */
function inProgram<T>(p: ProgramSpec, step: () => T): T {
  try {
    return step();
  } catch (err) {
    if (err instanceof VerifierError) throw err; // its message starts with the program already
    if (err instanceof NotSupportedError) throw new NotSupportedError(`load program '${p.name}': ${err.message}`, { cause: err });
    throw EbpfError.wrap(`load program '${p.name}'`, err);
  }
}

/** The spec to load: parsed if need be, with constants and variables set on a copy of its data. */
function prepareSpec(source: ObjectSpec | Uint8Array, options: VmObjectOptions): ObjectSpec {
  const parsed = source instanceof ObjectSpec
    ? source
    : loadObjectSpec(source, options.programTypes === undefined ? {} : { programTypes: options.programTypes });
  // Global data and .kconfig are written at load: copies, so the caller's spec stays as it was.
  const spec = new ObjectSpec({ ...parsed, maps: parsed.maps.map((m) => (m.data === undefined ? m : { ...m, data: m.data.slice() })) });
  for (const [name, value] of Object.entries(options.constants ?? {})) spec.setConstant(name, value);
  for (const [name, value] of Object.entries(options.variables ?? {})) spec.setVariable(name, value);
  return spec;
}

function selectPrograms(spec: ObjectSpec, names: readonly string[] | undefined): ProgramSpec[] {
  if (names === undefined) return spec.programs.filter((p) => p.autoload);
  return names.map((name) => {
    const p = spec.program(name);
    if (p === undefined) throw new EbpfError(`no program '${name}' in the object (programs: ${spec.programs.map((q) => q.name).join(', ') || 'none'})`);
    return p;
  });
}

/** Where CO-RE relocations of `spec`'s programs resolve (undefined without BTF). */
function coreTarget(spec: ObjectSpec, targetBtf: Btf | readonly Btf[] | undefined): VmCoreTarget | undefined {
  if (spec.btf === undefined) return undefined;
  const targets = targetBtf === undefined ? undefined : Array.isArray(targetBtf) ? targetBtf : [targetBtf as Btf];
  return { local: spec.btf, targets, cache: new Map() };
}

/** The created map of a name, or the error that kept it from being made. */
function mapLookup(created: ReadonlyMap<string, VmMap>, refused: ReadonlyMap<string, Error>): (name: string) => VmMap {
  return (name) => {
    const map = created.get(name);
    if (map !== undefined) return map;
    throw refused.get(name) ?? new EbpfError(`no map '${name}' in the object`);
  };
}

/**
 * The VM maps of `specs`. A map the VM cannot make (an unimplemented type) is left out with
 * its error, which a program using it then reports; the object loads without it otherwise.
 */
function createMaps(specs: readonly MapSpec[], registry: MapRegistry, btf: Btf | undefined): { created: Map<string, VmMap>; refused: Map<string, Error> } {
  const created = new Map<string, VmMap>();
  const refused = new Map<string, Error>();
  for (const spec of specs) {
    try {
      created.set(spec.name, createMap(spec, registry, btf));
    } catch (err) {
      if (!(err instanceof NotSupportedError)) throw EbpfError.wrap(`create map '${spec.name}'`, err);
      refused.set(spec.name, new NotSupportedError(`map '${spec.name}': ${err.message}`, { cause: err }));
    }
  }
  // Maps of maps hold other maps of the object from the start (`.values = { [i] = &m }`).
  for (const spec of specs) {
    const outer = created.get(spec.name);
    if (spec.type === MapType.PROG_ARRAY || outer === undefined) continue;
    for (const slot of spec.slots) {
      const inner = created.get(slot.name);
      if (inner === undefined) throw new EbpfError(`map '${spec.name}' slot ${slot.index}: no map '${slot.name}'`);
      if (outer instanceof ArrayOfMapsMap) outer.set(slot.index, inner);
      else if (outer instanceof HashOfMapsMap) outer.set(u32Bytes(slot.index), inner);
    }
  }
  return { created, refused };
}

/** One VM map for `spec`: its inner-map template first, initial data written, read-only data frozen. */
function createMap(spec: MapSpec, registry: MapRegistry, btf?: Btf): VmMap {
  let innerMap: VmMap | undefined;
  if (spec.type === MapType.ARRAY_OF_MAPS || spec.type === MapType.HASH_OF_MAPS) {
    if (spec.innerMap === undefined) throw new EbpfError(`map '${spec.name}': a map of maps needs an inner map definition (__array(values, …))`);
    innerMap = createMap({ ...spec.innerMap, name: `${spec.name}.inner` }, registry);
  }
  // libbpf gives a perf event array without max_entries a slot per possible CPU.
  const maxEntries = spec.type === MapType.PERF_EVENT_ARRAY && spec.maxEntries === 0 ? registry.cpus : spec.maxEntries;
  const map = registry.create({
    type: spec.type, keySize: spec.keySize, valueSize: spec.valueSize, maxEntries, flags: spec.flags,
    mapExtra: spec.mapExtra, name: spec.name, ...(innerMap === undefined ? {} : { innerMap }),
    fields: mapValueFields(btf, spec),
  });
  if (spec.data !== undefined) {
    map.update(u32Bytes(0), spec.data);
    if (spec.origin === 'rodata' || spec.origin === 'kconfig') map.freeze();
  }
  return map;
}

/** Program arrays get their initial programs (`.values = { [i] = &prog }`) once the programs exist. */
function fillProgramArrays(specs: readonly MapSpec[], created: ReadonlyMap<string, VmMap>, programs: Readonly<Record<string, VmProgram>>): void {
  for (const spec of specs) {
    const map = created.get(spec.name);
    if (!(map instanceof ProgArrayMap)) continue;
    for (const slot of spec.slots) {
      const program = programs[slot.name];
      if (program !== undefined) map.set(slot.index, program.interpreter); // a program not loaded leaves its slot empty
    }
  }
}
