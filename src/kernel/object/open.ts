/**
 * Maps and programs that already exist in the kernel — pinned in bpffs or known by id — as the
 * same handles a loaded object gives: a map whose keys and values are decoded through the BTF
 * the kernel holds for it (fetched by its `btf_id`), a program with testRun/attach/pin.
 */
import type { Btf } from '../../btf/btf.js';
import { parseBtf } from '../../btf/parse.js';
import { EbpfError } from '../../errors.js';
import { getBtfById } from '../btf-load.js';
import { getMapById, getProgramById } from '../ids.js';
import type { KernelMap } from '../map.js';
import { nativeSyscalls } from '../native.js';
import { openPinnedMap, openPinnedProgram } from '../pin.js';
import type { Syscalls } from '../syscalls.js';
import { ObjectMap } from './object-map.js';
import { ObjectProgram } from './object-program.js';

/** Options of the open functions. */
export interface OpenObjectOptions {
  /** `OpenFlag.RDONLY` / `WRONLY` (maps). */
  flags?: number;
  syscalls?: Syscalls;
}

/** The BTF object with `id` as the kernel holds it (raw data parsed), or undefined for id 0. */
export function kernelBtfById(id: number, options: { syscalls?: Syscalls } = {}): Btf | undefined {
  if (id === 0) return undefined;
  using handle = getBtfById(id, options);
  const data = handle.info({ data: true }).data;
  if (data === undefined) throw new EbpfError(`BTF id ${id}: the kernel gave no data`);
  return parseBtf(data);
}

/** A handle owning `map`, with the kernel's BTF for its key and value when it has some. */
export function objectMapFromKernel(map: KernelMap, options: { pinnedPath?: string; syscalls?: Syscalls } = {}): ObjectMap {
  let btf: Btf | undefined;
  try {
    btf = kernelBtfById(map.info.btfId, { syscalls: options.syscalls ?? map.syscalls });
  } catch {
    btf = undefined; // without the types, keys and values stay bytes
  }
  return new ObjectMap(map, {
    name: map.name, btf, keyTypeId: btf ? map.info.btfKeyTypeId : 0, valueTypeId: btf ? map.info.btfValueTypeId : 0, owns: true,
    ...(options.pinnedPath === undefined ? {} : { pinnedPath: options.pinnedPath }),
  });
}

/**
 * The map pinned at `path`, decoded through its BTF. Close it (or `using`).
 *
 * @example
 * using counts = openObjectMap('/sys/fs/bpf/shared_counts');
 * for (const [key, value] of counts) console.log(key, value);
 */
export function openObjectMap(path: string, options: OpenObjectOptions = {}): ObjectMap {
  const syscalls = options.syscalls ?? nativeSyscalls();
  const map = openPinnedMap(path, { syscalls, ...(options.flags === undefined ? {} : { flags: options.flags }) });
  try {
    return objectMapFromKernel(map, { pinnedPath: path, syscalls });
  } catch (err) {
    map.close();
    throw err;
  }
}

/** The map with `id`, decoded through its BTF. Close it (or `using`). */
export function objectMapById(id: number, options: OpenObjectOptions = {}): ObjectMap {
  const syscalls = options.syscalls ?? nativeSyscalls();
  const map = getMapById(id, { syscalls, ...(options.flags === undefined ? {} : { flags: options.flags }) });
  try {
    return objectMapFromKernel(map, { syscalls });
  } catch (err) {
    map.close();
    throw err;
  }
}

/** The program pinned at `path`. Close it (or `using`). */
export function openObjectProgram(path: string, options: OpenObjectOptions = {}): ObjectProgram {
  const program = openPinnedProgram(path, { syscalls: options.syscalls ?? nativeSyscalls() });
  return new ObjectProgram(program, { name: program.name, owns: true });
}

/** The program with `id`. Close it (or `using`). */
export function objectProgramById(id: number, options: OpenObjectOptions = {}): ObjectProgram {
  const program = getProgramById(id, { syscalls: options.syscalls ?? nativeSyscalls() });
  return new ObjectProgram(program, { name: program.name, owns: true });
}
