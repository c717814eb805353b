/**
 * What every kernel object fd shares: pinning it to bpffs (BPF_OBJ_PIN), opening a pin
 * (BPF_OBJ_GET), and telling which kind of object an fd is.
 */
import { readlinkSync } from 'node:fs';
import { Attr, OBJ, cString } from './attr.js';
import { KernelError } from './error.js';
import type { Syscalls } from './syscalls.js';
import { Command } from './types.js';

/** The kinds of bpf() objects an fd can refer to. */
export type ObjectKind = 'map' | 'program' | 'link' | 'btf' | 'token' | 'unknown';

/** `file_flags` of BPF_OBJ_GET and the `open_flags` of BPF_*_GET_FD_BY_ID. */
export const OpenFlag = {
  /** Read-only access from the syscall side (`BPF_F_RDONLY`). */
  RDONLY: 1 << 3,
  /** Write-only access from the syscall side (`BPF_F_WRONLY`). */
  WRONLY: 1 << 4,
} as const;

/** Pins the object behind `fd` at `path` in a bpffs mount; it lives on until the pin is removed. */
export function pinFd(syscalls: Syscalls, fd: number, path: string, what: string): void {
  const ret = syscalls.withMemory((memory) => {
    const attr = new Attr(OBJ.SIZE).u64(OBJ.pathname, memory.input(cString(path))).u32(OBJ.bpf_fd, fd);
    return syscalls.bpf(Command.OBJ_PIN, attr.bytes);
  });
  if (ret < 0) throw new KernelError(`pin ${what} at '${path}'`, -ret);
}

/** Opens the object pinned at `path` (BPF_OBJ_GET): a new fd the caller owns. */
export function getPinnedFd(syscalls: Syscalls, path: string, flags = 0): number {
  const fd = syscalls.withMemory((memory) => {
    const attr = new Attr(OBJ.SIZE).u64(OBJ.pathname, memory.input(cString(path))).u32(OBJ.file_flags, flags);
    return syscalls.bpf(Command.OBJ_GET, attr.bytes);
  });
  if (fd < 0) throw new KernelError(`open pinned object '${path}'`, -fd);
  return fd;
}

const KINDS: Readonly<Record<string, ObjectKind>> = {
  'anon_inode:bpf-map': 'map',
  'anon_inode:bpf-prog': 'program',
  'anon_inode:bpf_link': 'link',
  'anon_inode:btf': 'btf',
  'anon_inode:bpf-token': 'token',
};

/**
 * Which kind of bpf() object `fd` refers to, from the name of its anonymous inode
 * (`/proc/self/fd/N` → `anon_inode:bpf-map`, kernel: the names given to anon_inode_getfd in
 * kernel/bpf/syscall.c and btf.c). BPF_OBJ_GET_INFO_BY_FD cannot tell: it fills whichever info
 * the fd's kind has.
 */
export function objectKind(fd: number): ObjectKind {
  try {
    return KINDS[readlinkSync(`/proc/self/fd/${fd}`)] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
