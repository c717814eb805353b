/**
 * Pinning objects to a bpffs mount (BPF_OBJ_PIN) and opening them again by path (BPF_OBJ_GET),
 * with a check that the path holds the kind (and type) of object expected.
 */
import { rmSync } from 'node:fs';
import { EbpfError } from '../errors.js';
import { programInfo } from './info.js';
import { KernelMap } from './map.js';
import { mapTypeName } from './map-types.js';
import { nativeSyscalls } from './native.js';
import { getPinnedFd, objectKind, pinFd, type ObjectKind } from './object-fd.js';
import { Program } from './program.js';
import type { Syscalls } from './syscalls.js';
import { programTypeName } from './types.js';

/** Options of the `openPinned*` functions. */
export interface OpenPinnedOptions {
  /** Refuse the object unless its type (`MapType.*` or `ProgramType.*`) is this. */
  expectedType?: number;
  /** `OpenFlag.RDONLY` / `WRONLY` access from the syscall side. */
  flags?: number;
  syscalls?: Syscalls;
}

/** The object at a path is not what the caller expected. */
export class PinTypeError extends EbpfError {
  override name = 'PinTypeError';
  readonly path: string;
  constructor(path: string, message: string) {
    super(`open pinned '${path}': ${message}`);
    this.path = path;
  }
}

/** Pins any kernel object (a map, program, link, or a raw fd) at `path`. */
export function pinObject(target: { readonly fd: number } | number, path: string, options: { syscalls?: Syscalls } = {}): void {
  const syscalls = options.syscalls ?? (typeof target === 'number' ? undefined : (target as { syscalls?: Syscalls }).syscalls) ?? nativeSyscalls();
  const fd = typeof target === 'number' ? target : target.fd;
  pinFd(syscalls, fd, path, `${objectKind(fd)} fd ${fd}`);
}

/** Removes a pin (the object lives on while anything else holds it). Missing paths are fine. */
export function unpin(path: string): void {
  rmSync(path, { force: true });
}

/** Opens whatever is pinned at `path`: a new fd the caller owns, and its kind. */
export function openPinned(path: string, options: { flags?: number; syscalls?: Syscalls } = {}): { fd: number; kind: ObjectKind } {
  const fd = getPinnedFd(options.syscalls ?? nativeSyscalls(), path, options.flags ?? 0);
  return { fd, kind: objectKind(fd) };
}

/** Opens the map pinned at `path`; throws {@link PinTypeError} if it is not a map (of `expectedType`). */
export function openPinnedMap(path: string, options: OpenPinnedOptions = {}): KernelMap {
  const syscalls = options.syscalls ?? nativeSyscalls();
  const { fd, kind } = openPinned(path, { flags: options.flags ?? 0, syscalls });
  try {
    if (kind !== 'map') throw new PinTypeError(path, `a ${kind}, not a map`);
    const map = KernelMap.fromFd(fd, { syscalls });
    if (options.expectedType !== undefined && map.type !== options.expectedType) {
      throw new PinTypeError(path, `a ${mapTypeName(map.type)}, not a ${mapTypeName(options.expectedType)}`);
    }
    return map;
  } catch (err) {
    syscalls.close(fd);
    throw err;
  }
}

/** Opens the program pinned at `path`; throws {@link PinTypeError} if it is not a program (of `expectedType`). */
export function openPinnedProgram(path: string, options: OpenPinnedOptions = {}): Program {
  const syscalls = options.syscalls ?? nativeSyscalls();
  const { fd, kind } = openPinned(path, { flags: options.flags ?? 0, syscalls });
  try {
    if (kind !== 'program') throw new PinTypeError(path, `a ${kind}, not a program`);
    return programFromFd(fd, syscalls, options.expectedType, `open pinned '${path}'`);
  } catch (err) {
    syscalls.close(fd);
    throw err;
  }
}

/** A {@link Program} owning `fd`, named and typed from the kernel's info; checks `expectedType`. */
export function programFromFd(fd: number, syscalls: Syscalls, expectedType?: number, context = `program fd ${fd}`): Program {
  const info = programInfo(fd, { syscalls });
  if (expectedType !== undefined && info.type !== expectedType) {
    throw new EbpfError(`${context}: a ${programTypeName(info.type)}, not a ${programTypeName(expectedType)}`);
  }
  return new Program(fd, { type: info.type, name: info.name, log: '', syscalls });
}
