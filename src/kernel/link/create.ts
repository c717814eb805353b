/**
 * The two attach commands every kind builds on: BPF_LINK_CREATE (a bpf_link fd) and the older
 * BPF_PROG_ATTACH / BPF_PROG_DETACH (an attachment without an fd), plus the errnos that mean
 * "this kernel does not have that" and send a caller to its fallback.
 */
import { Attr } from '../attr.js';
import { Errno } from '../errno.js';
import { KernelError } from '../error.js';
import type { Syscalls, UserMemory } from '../syscalls.js';
import { Command } from '../types.js';
import { LINK_CREATE, PROG_ATTACH } from './attr.js';

/** The fields of one BPF_LINK_CREATE. */
export interface LinkCreateRequest {
  programFd: number;
  /** `target_fd` or `target_ifindex` (0 when the program's BTF id names the target). */
  target?: number;
  /** `AttachType.*`. */
  attachType: number;
  flags?: number;
  /** Writes the kind's union fields (at `LINK_CREATE.*` offsets), with memory for its pointers. */
  fill?: (attr: Attr, memory: UserMemory) => void;
}

/** BPF_LINK_CREATE: the new link's fd, or `-errno`. */
export function tryLinkCreate(syscalls: Syscalls, request: LinkCreateRequest): number {
  return syscalls.withMemory((memory) => {
    const attr = new Attr(LINK_CREATE.SIZE)
      .u32(LINK_CREATE.prog_fd, request.programFd)
      .u32(LINK_CREATE.target_fd, request.target ?? 0)
      .u32(LINK_CREATE.attach_type, request.attachType)
      .u32(LINK_CREATE.flags, request.flags ?? 0);
    request.fill?.(attr, memory);
    return syscalls.bpf(Command.LINK_CREATE, attr.bytes);
  });
}

/** BPF_LINK_CREATE: the new link's fd; throws {@link KernelError} with `context`. */
export function linkCreate(syscalls: Syscalls, request: LinkCreateRequest, context: string): number {
  const fd = tryLinkCreate(syscalls, request);
  if (fd < 0) throw new KernelError(context, -fd);
  return fd;
}

/**
 * Errnos with which a kernel refuses a command or attach type it does not know — the cue to
 * try the older way (libbpf and cilium/ebpf fall back on these): EINVAL for an unknown attach
 * type or attr field, EOPNOTSUPP/ENOTSUPP for a link kind not implemented, EBADF when the
 * command mistakes the target fd, E2BIG for an attr larger than the kernel's.
 */
export function isUnsupportedAttach(errno: number): boolean {
  return errno === Errno.EINVAL || errno === Errno.EOPNOTSUPP || errno === Errno.ENOTSUPP || errno === Errno.E2BIG || errno === Errno.EBADF;
}

/** The fields of BPF_PROG_ATTACH / BPF_PROG_DETACH. */
export interface ProgAttachRequest {
  /** A cgroup fd, a map fd (sockmap), a netns fd, or an ifindex. */
  target: number;
  programFd: number;
  attachType: number;
  /** `AttachFlag.*`. */
  flags?: number;
  /** With `AttachFlag.REPLACE`: the program to replace. */
  replaceFd?: number;
}

function progAttachAttr(request: ProgAttachRequest): Attr {
  return new Attr(PROG_ATTACH.SIZE)
    .u32(PROG_ATTACH.target_fd, request.target)
    .u32(PROG_ATTACH.attach_bpf_fd, request.programFd)
    .u32(PROG_ATTACH.attach_type, request.attachType)
    .u32(PROG_ATTACH.attach_flags, request.flags ?? 0)
    .u32(PROG_ATTACH.replace_bpf_fd, request.replaceFd ?? 0);
}

/** BPF_PROG_ATTACH: 0, or `-errno`. */
export function tryProgAttach(syscalls: Syscalls, request: ProgAttachRequest): number {
  const attr = progAttachAttr(request);
  return syscalls.withMemory(() => syscalls.bpf(Command.PROG_ATTACH, attr.bytes));
}

/** BPF_PROG_DETACH of `programFd` from `target`: 0, or `-errno`. */
export function tryProgDetach(syscalls: Syscalls, request: ProgAttachRequest): number {
  const attr = progAttachAttr({ ...request, flags: 0, replaceFd: 0 });
  return syscalls.withMemory(() => syscalls.bpf(Command.PROG_DETACH, attr.bytes));
}

/** BPF_PROG_DETACH that throws {@link KernelError} with `context`. */
export function progDetach(syscalls: Syscalls, request: ProgAttachRequest, context: string): void {
  const ret = tryProgDetach(syscalls, request);
  if (ret < 0) throw new KernelError(context, -ret);
}
