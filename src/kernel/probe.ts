/**
 * Feature probes of the running kernel — `bpftool feature probe` as functions: which map types,
 * program types and helpers (per program type) it has. Each answer is found by creating or
 * loading the smallest object (`probe-maps.ts`, `probe-programs.ts`) and cached per syscall
 * layer, so asking twice costs nothing.
 */
import { nativeSyscalls } from './native.js';
import { probeHelperUncached, probeProgramTypeUncached, type HelperProbe } from './probe-programs.js';
import { probeMapTypeUncached } from './probe-maps.js';
import { MapType, mapTypeName } from './map-types.js';
import type { Syscalls } from './syscalls.js';
import { ProgramType, programTypeName } from './types.js';

interface Cache {
  maps: Map<number, boolean>;
  programs: Map<number, boolean>;
  helpers: Map<string, HelperProbe>;
}

const caches = new WeakMap<Syscalls, Cache>();

function cacheFor(syscalls: Syscalls): Cache {
  let cache = caches.get(syscalls);
  if (!cache) {
    cache = { maps: new Map(), programs: new Map(), helpers: new Map() };
    caches.set(syscalls, cache);
  }
  return cache;
}

/** Options of the probes. */
export interface ProbeOptions {
  syscalls?: Syscalls;
}

/** Whether this kernel can create maps of `type` (`MapType.*`). Cached. */
export function probeMapType(type: number, options: ProbeOptions = {}): boolean {
  const syscalls = options.syscalls ?? nativeSyscalls();
  const cache = cacheFor(syscalls).maps;
  let answer = cache.get(type);
  if (answer === undefined) {
    answer = probeMapTypeUncached(type, syscalls);
    cache.set(type, answer);
  }
  return answer;
}

/** Whether this kernel can load programs of `type` (`ProgramType.*`). Cached. */
export function probeProgramType(type: number, options: ProbeOptions = {}): boolean {
  const syscalls = options.syscalls ?? nativeSyscalls();
  const cache = cacheFor(syscalls).programs;
  let answer = cache.get(type);
  if (answer === undefined) {
    answer = probeProgramTypeUncached(type, syscalls);
    cache.set(type, answer);
  }
  return answer;
}

/** The full answer of a helper probe (supported, the helper's name, whether the id exists at all). Cached. */
export function probeHelperDetail(programType: number, helperId: number, options: ProbeOptions = {}): HelperProbe {
  const syscalls = options.syscalls ?? nativeSyscalls();
  const cache = cacheFor(syscalls).helpers;
  const key = `${programType}:${helperId}`;
  let answer = cache.get(key);
  if (answer === undefined) {
    answer = probeHelperUncached(programType, helperId, syscalls);
    cache.set(key, answer);
  }
  return answer;
}

/**
 * Whether programs of `programType` may call helper `helperId` (`BPF_FUNC_*` number) on this
 * kernel. Cached. Throws `NotSupportedError` for types that cannot be probed this way (tracing,
 * extension, LSM and struct_ops programs need a BTF target).
 */
export function probeHelper(programType: number, helperId: number, options: ProbeOptions = {}): boolean {
  return probeHelperDetail(programType, helperId, options).supported;
}

/** One line of a feature report. */
export interface FeatureEntry {
  /** Kernel name: `BPF_MAP_TYPE_RINGBUF`, `BPF_PROG_TYPE_XDP`. */
  readonly name: string;
  /** UAPI number. */
  readonly value: number;
  readonly supported: boolean;
}

/** What {@link probeFeatures} found. */
export interface FeatureReport {
  readonly mapTypes: readonly FeatureEntry[];
  readonly programTypes: readonly FeatureEntry[];
  /** Per supported (and probeable) program type name, the names of the helpers it may call. */
  readonly helpers: Readonly<Record<string, readonly string[]>>;
  /** The number of helper ids the kernel knows (`__BPF_FUNC_MAX_ID`), when helpers were probed. */
  readonly helperCount?: number;
}

/**
 * Probes every map type and program type in the tables, and with `helpers: true` every helper
 * for every program type (a few thousand loads: about a second). The report is what
 * `bpftool feature probe kernel` prints.
 */
export function probeFeatures(options: ProbeOptions & { helpers?: boolean } = {}): FeatureReport {
  const mapTypes = uniqueValues(MapType).filter((v) => v !== MapType.UNSPEC)
    .map((value) => ({ name: mapTypeName(value), value, supported: probeMapType(value, options) }));
  const programTypes = uniqueValues(ProgramType).filter((v) => v !== ProgramType.UNSPEC)
    .map((value) => ({ name: programTypeName(value), value, supported: probeProgramType(value, options) }));
  if (!options.helpers) return { mapTypes, programTypes, helpers: {} };
  const helperCount = countHelpers(options);
  const helpers: Record<string, string[]> = {};
  for (const { name, value, supported } of programTypes) {
    if (!supported || UNPROBEABLE.has(value)) continue;
    const names: string[] = [];
    for (let id = 1; id < helperCount; id++) {
      const probe = probeHelperDetail(value, id, options);
      if (probe.supported) names.push(probe.name ?? `helper#${id}`);
    }
    helpers[name] = names;
  }
  return { mapTypes, programTypes, helpers, helperCount };
}

const UNPROBEABLE: ReadonlySet<number> = new Set([ProgramType.TRACING, ProgramType.EXT, ProgramType.LSM, ProgramType.STRUCT_OPS]);

/** `__BPF_FUNC_MAX_ID` of this kernel: the first id the verifier calls `unknown` (binary search). */
export function countHelpers(options: ProbeOptions = {}): number {
  let low = 1; // known
  let high = 1024; // assumed unknown
  while (high - low > 1) {
    const mid = (low + high) >> 1;
    if (probeHelperDetail(ProgramType.SOCKET_FILTER, mid, options).unknown) high = mid;
    else low = mid;
  }
  return high;
}

function uniqueValues(table: Readonly<Record<string, number>>): number[] {
  return [...new Set(Object.values(table))];
}
