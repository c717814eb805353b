/**
 * Kernel objects by id: walking the ids of every map, program, BTF object and link
 * (BPF_*_GET_NEXT_ID) and opening one (BPF_*_GET_FD_BY_ID) — `bpftool prog/map/btf/link show`.
 * Needs CAP_SYS_ADMIN.
 */
import { Attr, GET_ID } from './attr.js';
import { Errno } from './errno.js';
import { KernelError } from './error.js';
import { KernelMap } from './map.js';
import { nativeSyscalls } from './native.js';
import { programFromFd } from './pin.js';
import type { Program } from './program.js';
import type { Syscalls } from './syscalls.js';
import { Command } from './types.js';

type IdKind = 'map' | 'program' | 'btf' | 'link';

const NEXT_ID: Readonly<Record<IdKind, number>> = {
  map: Command.MAP_GET_NEXT_ID,
  program: Command.PROG_GET_NEXT_ID,
  btf: Command.BTF_GET_NEXT_ID,
  link: Command.LINK_GET_NEXT_ID,
};

const FD_BY_ID: Readonly<Record<IdKind, number>> = {
  map: Command.MAP_GET_FD_BY_ID,
  program: Command.PROG_GET_FD_BY_ID,
  btf: Command.BTF_GET_FD_BY_ID,
  link: Command.LINK_GET_FD_BY_ID,
};

/** The ids of every object of `kind`, ascending (objects created during the walk may or may not appear). */
export function* objectIds(kind: IdKind, options: { syscalls?: Syscalls } = {}): Generator<number, void, undefined> {
  const syscalls = options.syscalls ?? nativeSyscalls();
  let id = 0;
  for (;;) {
    const attr = new Attr(GET_ID.SIZE).u32(GET_ID.start_id, id);
    const ret = syscalls.withMemory(() => syscalls.bpf(NEXT_ID[kind], attr.bytes));
    if (ret === -Errno.ENOENT) return;
    if (ret < 0) throw new KernelError(`get next ${kind} id after ${id}`, -ret);
    id = attr.readU32(GET_ID.next_id);
    yield id;
  }
}

/** Ids of every map. */
export const mapIds = (options: { syscalls?: Syscalls } = {}): Generator<number, void, undefined> => objectIds('map', options);
/** Ids of every program. */
export const programIds = (options: { syscalls?: Syscalls } = {}): Generator<number, void, undefined> => objectIds('program', options);
/** Ids of every BTF object (vmlinux and modules included). */
export const btfIds = (options: { syscalls?: Syscalls } = {}): Generator<number, void, undefined> => objectIds('btf', options);
/** Ids of every link. */
export const linkIds = (options: { syscalls?: Syscalls } = {}): Generator<number, void, undefined> => objectIds('link', options);

/**
 * A new fd for the object of `kind` with `id` (the caller owns it). Throws {@link KernelError}
 * ENOENT when there is none (it may have gone between listing and opening).
 */
export function fdById(kind: IdKind, id: number, options: { flags?: number; syscalls?: Syscalls } = {}): number {
  const syscalls = options.syscalls ?? nativeSyscalls();
  const attr = new Attr(GET_ID.SIZE).u32(GET_ID.id, id).u32(GET_ID.open_flags, options.flags ?? 0);
  const fd = syscalls.withMemory(() => syscalls.bpf(FD_BY_ID[kind], attr.bytes));
  if (fd < 0) throw new KernelError(`open ${kind} id ${id}`, -fd);
  return fd;
}

/** The map with `id`, as a handle owning a new fd. */
export function getMapById(id: number, options: { flags?: number; syscalls?: Syscalls } = {}): KernelMap {
  const syscalls = options.syscalls ?? nativeSyscalls();
  const fd = fdById('map', id, { ...options, syscalls });
  try {
    return KernelMap.fromFd(fd, { syscalls });
  } catch (err) {
    syscalls.close(fd);
    throw err;
  }
}

/** The program with `id`, as a handle owning a new fd. */
export function getProgramById(id: number, options: { syscalls?: Syscalls } = {}): Program {
  const syscalls = options.syscalls ?? nativeSyscalls();
  const fd = fdById('program', id, { syscalls });
  try {
    return programFromFd(fd, syscalls);
  } catch (err) {
    syscalls.close(fd);
    throw err;
  }
}
