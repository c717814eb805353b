/**
 * Creating an object's maps as libbpf does (bpf_object__create_maps, bpf_object__create_map,
 * bpf_object__reuse_map, bpf_object__populate_internal_map): each with the object's BTF key and
 * value types (retried without them if the kernel refuses), maps of maps with a temporary
 * inner-map template, pinned-by-name maps reused when a compatible one is already pinned,
 * global data written and `.rodata`/`.kconfig` frozen. Slots of maps of maps are filled once
 * every map exists; program arrays once the programs are loaded (load-object.ts).
 */
import { join } from 'node:path';
import { EbpfError } from '../../errors.js';
import type { MapSpec } from '../../object/spec.js';
import { PinType } from '../../object/uapi-types.js';
import { Errno } from '../errno.js';
import { KernelError } from '../error.js';
import { createMap, KernelMap, type CreateMapOptions } from '../map.js';
import { possibleCpuCount } from '../map-percpu.js';
import { isMapOfMapsType, MapFlag, MapType, mapTypeName } from '../map-types.js';
import { getPinnedFd } from '../object-fd.js';
import type { Syscalls } from '../syscalls.js';
import type { Scope } from './scope.js';

/** What map creation needs from the object being loaded. */
export interface MapContext {
  readonly syscalls: Syscalls;
  /** The loaded object BTF, when the kernel took it. */
  readonly btfFd: number | undefined;
  /** Directory of LIBBPF_PIN_BY_NAME pins. */
  readonly pinPath: string;
  /** libbpf's object name (the file name up to its first dot), for global-data map names. */
  readonly objectName: string | undefined;
  readonly scope: Scope;
}

/** A map as created (or reused) for an object. */
export interface CreatedMap {
  readonly spec: MapSpec;
  readonly map: KernelMap;
  /** BTF ids the kernel accepted (0 when created without BTF). */
  readonly keyTypeId: number;
  readonly valueTypeId: number;
  readonly pinnedPath: string | undefined;
  readonly reused: boolean;
}

/** Map types created without BTF key/value types (libbpf: bpf_object__create_map). */
const NO_BTF: ReadonlySet<number> = new Set([
  MapType.PERF_EVENT_ARRAY, MapType.CGROUP_ARRAY, MapType.STACK_TRACE, MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS,
  MapType.DEVMAP, MapType.DEVMAP_HASH, MapType.CPUMAP, MapType.XSKMAP, MapType.SOCKMAP, MapType.SOCKHASH,
  MapType.QUEUE, MapType.STACK, MapType.ARENA,
]);

const GLOBAL_DATA: ReadonlySet<string> = new Set(['data', 'rodata', 'bss', 'kconfig']);

/** Whether a map is one libbpf makes itself for global data or `.kconfig`. */
export function isGlobalDataMap(spec: MapSpec): boolean {
  return GLOBAL_DATA.has(spec.origin);
}

/**
 * The kernel's name for a map: at most 15 characters of `[A-Za-z0-9_.]`. Global-data maps are
 * named as libbpf names them (internal_map_name): the object's name, then the section,
 * e.g. `globals.rodata`; a section with two dots keeps its own name only.
 */
export function kernelMapName(spec: MapSpec, objectName: string | undefined): string {
  let name = spec.name;
  if (isGlobalDataMap(spec)) {
    const real = spec.name;
    const sfx = Math.min(Math.max(7, real.length), 15);
    const pfx = real.indexOf('.', 1) >= 0 ? 0 : Math.min(15 - sfx, objectName?.length ?? 0);
    name = (objectName ?? '').slice(0, pfx) + real.slice(0, sfx);
  }
  return name.slice(0, 15).replace(/[^A-Za-z0-9_.]/g, '_');
}

/** The max_entries a map is created with: a perf event array without one gets a slot per possible CPU. */
export function effectiveMaxEntries(spec: MapSpec): number {
  if (spec.type === MapType.PERF_EVENT_ARRAY && spec.maxEntries === 0) return possibleCpuCount();
  return spec.maxEntries;
}

/** Creates (or reuses the pinned) map of `spec`, pins it by name if asked, and writes its initial data. */
export function createObjectMap(spec: MapSpec, ctx: MapContext): CreatedMap {
  const pinnedPath = spec.pinning === PinType.BY_NAME ? join(ctx.pinPath, spec.name) : undefined;
  for (let attempt = 0; ; attempt++) {
    if (pinnedPath !== undefined) {
      const reused = reusePinned(spec, pinnedPath, ctx);
      if (reused !== undefined) return reused;
    }
    const created = createFresh(spec, ctx);
    if (pinnedPath === undefined) return created;
    try {
      created.map.pin(pinnedPath);
      return { ...created, pinnedPath };
    } catch (err) {
      ctx.scope.release(created.map);
      // Pinned by someone else between our look and our pin: reuse theirs (libbpf retries once).
      if (attempt === 0 && err instanceof KernelError && err.errno === Errno.EEXIST) continue;
      throw EbpfError.wrap(`map '${spec.name}': failed to auto-pin at '${pinnedPath}'`, err);
    }
  }
}

function createFresh(spec: MapSpec, ctx: MapContext): CreatedMap {
  const { map, keyTypeId, valueTypeId } = createKernelMap(spec, ctx);
  ctx.scope.add(map);
  if (spec.data !== undefined && isGlobalDataMap(spec)) {
    const key = new Uint8Array(4);
    try {
      if (spec.data.some((b) => b !== 0)) map.update(key, spec.data);
      if (spec.origin === 'rodata' || spec.origin === 'kconfig') map.freeze();
    } catch (err) {
      throw EbpfError.wrap(`map '${spec.name}': failed to set initial contents`, err);
    }
  }
  return { spec, map, keyTypeId, valueTypeId, pinnedPath: undefined, reused: false };
}

/** BPF_MAP_CREATE for `spec`, with BTF when there is some; inner templates made and closed around it. */
function createKernelMap(spec: MapSpec, ctx: MapContext): { map: KernelMap; keyTypeId: number; valueTypeId: number } {
  let inner: KernelMap | undefined;
  try {
    if (isMapOfMapsType(spec.type)) {
      if (spec.innerMap === undefined) throw new EbpfError(`map '${spec.name}': a map of maps needs an inner map definition (__array(values, …))`);
      inner = createKernelMap({ ...spec.innerMap, name: `${spec.name}.inner` }, { ...ctx }).map;
    }
    const useBtf = ctx.btfFd !== undefined && !NO_BTF.has(spec.type) && (spec.keyTypeId !== 0 || spec.valueTypeId !== 0);
    const options: CreateMapOptions = {
      type: spec.type,
      keySize: spec.keySize,
      valueSize: spec.valueSize,
      maxEntries: effectiveMaxEntries(spec),
      flags: spec.flags,
      name: kernelMapName(spec, ctx.objectName),
      numaNode: spec.numaNode,
      mapExtra: spec.mapExtra,
      syscalls: ctx.syscalls,
      ...(inner === undefined ? {} : { innerMap: inner }),
    };
    if (useBtf) {
      try {
        const map = createMap({ ...options, btfFd: ctx.btfFd, btfKeyTypeId: spec.keyTypeId, btfValueTypeId: spec.valueTypeId });
        return { map, keyTypeId: spec.keyTypeId, valueTypeId: spec.valueTypeId };
      } catch (err) {
        if (!(err instanceof KernelError)) throw err;
        // libbpf: "Retrying without BTF." — an old kernel may refuse the types, not the map.
      }
    }
    return { map: createMap(options), keyTypeId: 0, valueTypeId: 0 };
  } catch (err) {
    throw EbpfError.wrap(`create map '${spec.name}' (${mapTypeName(spec.type)})`, err);
  } finally {
    inner?.close();
  }
}

/**
 * The map pinned at `path` when it matches `spec` (libbpf: map_is_reuse_compat — type, sizes,
 * max_entries, flags and map_extra); undefined when nothing is pinned there. A pinned map of
 * another shape is an error: the object would silently share the wrong map.
 */
function reusePinned(spec: MapSpec, path: string, ctx: MapContext): CreatedMap | undefined {
  let fd: number;
  try {
    fd = getPinnedFd(ctx.syscalls, path);
  } catch (err) {
    if (err instanceof KernelError && err.errno === Errno.ENOENT) return undefined;
    throw EbpfError.wrap(`map '${spec.name}': couldn't retrieve pinned map '${path}'`, err);
  }
  let map: KernelMap;
  try {
    map = KernelMap.fromFd(fd, { syscalls: ctx.syscalls });
  } catch (err) {
    ctx.syscalls.close(fd);
    throw EbpfError.wrap(`map '${spec.name}': '${path}' is not a map`, err);
  }
  ctx.scope.add(map);
  const info = map.info;
  // DEVMAP info always reports BPF_F_RDONLY_PROG, which creation does not set (libbpf).
  const flags = spec.type === MapType.DEVMAP || spec.type === MapType.DEVMAP_HASH ? info.flags & ~MapFlag.RDONLY_PROG : info.flags;
  const mismatch: string[] = [];
  const check = (what: string, pinned: number | bigint, wanted: number | bigint): void => {
    if (pinned !== wanted) mismatch.push(`${what} ${String(pinned)} (object: ${String(wanted)})`);
  };
  check('type', info.type, spec.type);
  check('key size', info.keySize, spec.keySize);
  check('value size', info.valueSize, spec.valueSize);
  check('max entries', info.maxEntries, effectiveMaxEntries(spec));
  check('flags', flags, spec.flags);
  check('map_extra', info.mapExtra, spec.mapExtra);
  if (mismatch.length > 0) {
    ctx.scope.release(map);
    throw new PinnedMapMismatchError(spec.name, path, mismatch);
  }
  // The pinned map's BTF ids name types of its creator's BTF; ours describe the same layout.
  return { spec, map, keyTypeId: spec.keyTypeId, valueTypeId: spec.valueTypeId, pinnedPath: path, reused: true };
}

/** A map pinned where an object's map wants to be pinned has another shape. */
export class PinnedMapMismatchError extends EbpfError {
  override name = 'PinnedMapMismatchError';
  readonly path: string;
  constructor(map: string, path: string, mismatch: readonly string[]) {
    super(`map '${map}': couldn't reuse pinned map at '${path}': parameter mismatch: ${mismatch.join(', ')}`);
    this.path = path;
  }
}
