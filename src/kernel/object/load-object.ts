/**
 * `loadObject`: an eBPF object into the kernel, libbpf's bpf_object__load as one readable
 * pipeline — CO-RE against the kernel's BTF, externs, the object BTF (sanitized for this
 * kernel), maps (pinned or reused by name, global data written, `.rodata` frozen, maps of maps
 * filled), programs (with func_info, line_info and the verifier log), program arrays filled.
 * Everything made along the way belongs to one scope: a failure releases it, and so does
 * `dispose()` of the result.
 */
import type { Btf } from '../../btf/btf.js';
import type { CoreRelocationResult } from '../../btf/core.js';
import { EbpfError } from '../../errors.js';
import type { Instruction } from '../../isa/instruction.js';
import type { MapSpec, ObjectSpec, ProgramSpec } from '../../object/index.js';
import { HOST_LITTLE_ENDIAN } from '../attr.js';
import { loadBtf, type KernelBtf } from '../btf-load.js';
import { KernelError } from '../error.js';
import { MapType } from '../map-types.js';
import { nativeSyscalls } from '../native.js';
import { probeHelper } from '../probe.js';
import type { Syscalls } from '../syscalls.js';
import { ProgramType } from '../types.js';
import { probeBtfFeatures } from './btf-features.js';
import { createObjectMap, type CreatedMap } from './create-maps.js';
import { fillKconfig } from './kconfig.js';
import { kernelBtfs } from './kernel-types.js';
import { kallsymsAddresses, resolveKsyms, type ResolvedKsyms } from './ksyms.js';
import { loadObjectProgram } from './load-program.js';
import { kernelObjectBtf, type KernelObjectBtf } from './object-btf.js';
import { ObjectMap } from './object-map.js';
import { ObjectProgram } from './object-program.js';
import { relocateCore, resolveReferences, type CoreTarget } from './relocate.js';
import { KernelObject, type KernelObjectOptions, type ProgramFailure } from './kernel-object.js';
import { prepareSpec, selectPrograms } from './prepare-spec.js';
import { Scope } from './scope.js';

/**
 * Loads an eBPF object (its bytes or a parsed spec) into the kernel. Throws KernelError naming
 * the program the verifier refused (`load program 'x' (BPF_PROG_TYPE_XDP): EACCES …`, with the
 * log on `.log`), an EbpfError caused by a CoreError for relocations libbpf would refuse, EbpfError for unresolvable
 * externs and incompatible pinned maps; nothing stays loaded after a failure.
 *
 * @example
 * using obj = loadObject(readFileSync('bpf/objects/globals.o'), { constants: { target_pid: 42 } });
 * obj.programs.globals_socket.testRun({ data: new Uint8Array(64) });
 * obj.maps['.data'].get(0);    // { packets: 101n, last_len: 64, … }
 */
export function loadObject(source: ObjectSpec | Uint8Array, options: KernelObjectOptions = {}): KernelObject {
  const spec = prepareSpec(source, options);
  const load: Load = {
    spec, options, syscalls: options.syscalls ?? nativeSyscalls(), selected: selectPrograms(spec, options.programs),
    scope: new Scope(), loadTime: new Scope(), failures: Object.create(null) as Record<string, ProgramFailure>, owner: {},
  };
  try {
    // libbpf's order: relocate (CO-RE) and resolve externs before anything exists in the kernel.
    const relocated = relocateAll(load);
    fillKconfigMap(load);
    const ksyms = resolveKsyms(spec.externs, spec.btf, load.syscalls, (fd) => load.loadTime.addFd(fd, load.syscalls));
    const btf = loadObjectBtf(load);
    const maps = createMaps(load, btf.handle);
    const programs = loadPrograms(load, relocated, ksyms, btf, maps);
    for (const m of spec.maps) {
      if (m.slots.length > 0 && m.type === MapType.PROG_ARRAY) fillSlots(m, maps, (name) => programs[name]?.fd);
    }
    const object = new KernelObject({
      spec, scope: load.scope, btf: btf.handle, btfError: btf.error, programs, maps: mapHandles(load, maps), failures: load.failures,
    });
    load.owner.object = object;
    return object;
  } catch (err) {
    load.scope.close();
    throw err;
  } finally {
    load.loadTime.close();
  }
}

/** One load in progress. */
interface Load {
  readonly spec: ObjectSpec;
  readonly options: KernelObjectOptions;
  readonly syscalls: Syscalls;
  readonly selected: readonly ProgramSpec[];
  /** What the object keeps (maps, programs, BTF); closed on failure. */
  readonly scope: Scope;
  /** What only loading needs (module BTF fds); closed when loading ends. */
  readonly loadTime: Scope;
  readonly failures: Record<string, ProgramFailure>;
  /** Handles reference the object through this, so a reachable handle keeps it alive. */
  readonly owner: { object?: KernelObject };
}

type Relocated = Map<string, { instructions: readonly Instruction[]; results: readonly CoreRelocationResult[] }>;

/** A program failed: with `partial` it is listed, otherwise the load fails. */
function failProgram(load: Load, program: ProgramSpec, error: unknown): void {
  const err = error instanceof Error ? error : new Error(String(error));
  if (!load.options.partial) throw err;
  load.failures[program.name] = { name: program.name, error: err, log: err instanceof KernelError ? err.log : undefined };
}

/** CO-RE for every selected program (libbpf: bpf_object__relocate_core), one candidate cache for the object. */
function relocateAll(load: Load): Relocated {
  const core = coreTarget(load.spec, load.selected, load.options);
  const out: Relocated = new Map();
  for (const p of load.selected) {
    try {
      out.set(p.name, relocateCore(p, core));
    } catch (err) {
      failProgram(load, p, EbpfError.wrap(`load program '${p.name}'`, err));
    }
  }
  return out;
}

/** `.kconfig` extern values into the `.kconfig` map's initial data. */
function fillKconfigMap(load: Load): void {
  const data = load.spec.map('.kconfig')?.data;
  if (data === undefined) return;
  const { options, syscalls } = load;
  fillKconfig(load.spec.externs.filter((e) => e.kind === 'kconfig'), data, {
    ...(options.kconfig === undefined ? {} : { extra: options.kconfig }),
    hasBpfCookie: () => probeHelper(ProgramType.TRACEPOINT, BPF_FUNC_GET_ATTACH_COOKIE, { syscalls }),
    hasSyscallWrapper: () => kallsymsAddresses(new Set([`${SYSCALL_PREFIX}sys_bpf`])).size > 0,
  });
}

/** The object BTF in the kernel. Optional, as in libbpf: when refused, maps and programs load without it. */
interface LoadedBtf {
  readonly handle: KernelBtf | undefined;
  readonly prepared: KernelObjectBtf | undefined;
  readonly error: Error | undefined;
}

function loadObjectBtf(load: Load): LoadedBtf {
  const { spec, syscalls } = load;
  if (spec.btf === undefined) return { handle: undefined, prepared: undefined, error: undefined };
  const features = probeBtfFeatures(syscalls);
  if (!features.btf) return { handle: undefined, prepared: undefined, error: new EbpfError('the kernel does not support BTF') };
  try {
    const prepared = kernelObjectBtf(spec.btf, load.selected, features);
    return { handle: load.scope.add(loadBtf(prepared.bytes, { syscalls })), prepared, error: undefined };
  } catch (err) {
    return { handle: undefined, prepared: undefined, error: err instanceof Error ? err : new Error(String(err)) };
  }
}

/** Every map, then the slots of maps of maps (libbpf: bpf_object__create_maps). */
function createMaps(load: Load, btf: KernelBtf | undefined): Map<string, CreatedMap> {
  const { spec, options } = load;
  const created = new Map<string, CreatedMap>();
  const ctx = { syscalls: load.syscalls, btfFd: btf?.fd, pinPath: options.pinPath ?? '/sys/fs/bpf', objectName: options.objectName, scope: load.scope };
  for (const m of spec.maps) created.set(m.name, createObjectMap(m, ctx));
  for (const m of spec.maps) {
    if (m.slots.length > 0 && m.type !== MapType.PROG_ARRAY) fillSlots(m, created, (name) => created.get(name)?.map.fd);
  }
  return created;
}

/** Every selected program: references completed, then BPF_PROG_LOAD (libbpf: bpf_object__load_progs). */
function loadPrograms(load: Load, relocated: Relocated, ksyms: ResolvedKsyms, btf: LoadedBtf, maps: ReadonlyMap<string, CreatedMap>): Record<string, ObjectProgram> {
  const { spec, options, syscalls, scope } = load;
  const refs = {
    mapFd: (name: string): number => {
      const c = maps.get(name);
      if (c === undefined) throw new EbpfError(`no map '${name}' in the object`);
      return c.map.fd;
    },
    ksyms: ksyms.byName,
    externIndex: (name: string): number => spec.externs.findIndex((e) => e.name === name),
  };
  const ctx = {
    syscalls,
    btf: btf.handle === undefined || btf.prepared === undefined ? undefined : { fd: btf.handle.fd, stringOffset: btf.prepared.stringOffset },
    fdArray: ksyms.fdArray,
    logLevel: options.logLevel ?? 0,
    logSize: options.logSize,
    bindMaps: [...maps.values()].filter((c) => c.spec.origin === 'rodata').map((c) => c.map.fd),
    ownFd: (fd: number) => load.loadTime.addFd(fd, syscalls),
  };
  const programs: Record<string, ObjectProgram> = Object.create(null);
  for (const p of load.selected) {
    const r = relocated.get(p.name);
    if (r === undefined) continue; // its CO-RE failed (partial)
    try {
      const loaded = scope.add(loadObjectProgram(p, resolveReferences(p, r.instructions, refs), ctx));
      programs[p.name] = new ObjectProgram(loaded, { name: p.name, spec: p, coreResults: r.results, owner: load.owner, scope, owns: false });
    } catch (err) {
      failProgram(load, p, err);
    }
  }
  return programs;
}

/** The map handles, by the spec's names. Their codecs use the object's BTF even when the kernel refused it. */
function mapHandles(load: Load, created: ReadonlyMap<string, CreatedMap>): Record<string, ObjectMap> {
  const maps: Record<string, ObjectMap> = Object.create(null);
  for (const c of created.values()) {
    maps[c.spec.name] = new ObjectMap(c.map, {
      name: c.spec.name, spec: c.spec, btf: load.spec.btf, keyTypeId: c.keyTypeId || c.spec.keyTypeId, valueTypeId: c.valueTypeId || c.spec.valueTypeId,
      owns: false, owner: load.owner, ...(c.pinnedPath === undefined ? {} : { pinnedPath: c.pinnedPath }), reused: c.reused,
    });
  }
  return maps;
}

/** BPF_FUNC_get_attach_cookie: its presence is libbpf's LINUX_HAS_BPF_COOKIE. */
const BPF_FUNC_GET_ATTACH_COOKIE = 174;

/** The arch prefix of syscall wrappers (libbpf: arch_specific_syscall_pfx). */
const SYSCALL_PREFIX = ({ x64: '__x64_', ia32: '__ia32_', arm64: '__arm64_', s390x: '__s390x_', arm: '__arm_', riscv64: '__riscv_', ppc64: '__powerpc_', loong64: '__loongarch_' } as Record<string, string>)[process.arch] ?? '__x64_';

function coreTarget(spec: ObjectSpec, programs: readonly ProgramSpec[], options: KernelObjectOptions): CoreTarget | undefined {
  if (spec.btf === undefined || !programs.some((p) => p.coreRelocations.length > 0)) return undefined;
  const targets = options.targetBtf === undefined ? kernelBtfs()
    : Array.isArray(options.targetBtf) ? options.targetBtf as readonly Btf[] : [options.targetBtf as Btf];
  // One candidate cache per object (libbpf's cand_cache), so results match libbpf's exactly.
  return { local: spec.btf, targets, cache: new Map() };
}

/** Initial slots of a map of maps or program array (libbpf: init_map_in_map_slots, init_prog_array_slots). */
function fillSlots(m: MapSpec, created: ReadonlyMap<string, CreatedMap>, fdOf: (name: string) => number | undefined): void {
  const outer = created.get(m.name);
  if (outer === undefined || outer.reused) return;
  for (const slot of m.slots) {
    const fd = fdOf(slot.name);
    if (fd === undefined) continue; // a program not loaded (not selected, or failed with `partial`)
    const key = new Uint8Array(4);
    new DataView(key.buffer).setUint32(0, slot.index, HOST_LITTLE_ENDIAN);
    try {
      outer.map.setFd(key, fd);
    } catch (err) {
      throw EbpfError.wrap(`map '${m.name}': failed to initialize slot [${slot.index}] to '${slot.name}'`, err);
    }
  }
}
