/**
 * cgroup programs (`cgroup_skb/ingress`, `cgroup/connect4`, `cgroup/sock_create`,
 * `cgroup/sysctl`, `cgroup/dev`, `cgroup/getsockopt`, `sockops`, …): a program on a cgroup v2
 * directory that runs for every process in it and its descendants. A bpf_link (5.7+) when the
 * kernel has it; else BPF_PROG_ATTACH with BPF_F_ALLOW_MULTI, detached on close.
 */
import { closeSync, openSync } from 'node:fs';
import { KernelError } from '../error.js';
import { fdById } from '../ids.js';
import { programInfo } from '../info.js';
import type { Program } from '../program.js';
import { attachTypeName } from '../types.js';
import { AttachFlag } from './attr.js';
import { isUnsupportedAttach, tryLinkCreate, tryProgAttach, tryProgDetach } from './create.js';
import { BpfLink, RawLink, type Link } from './link.js';
import { Resources } from './resources.js';

/** Options of {@link attachCgroup}. */
export interface CgroupOptions {
  /** The cgroup v2 directory (`/sys/fs/cgroup/my.slice`), or an fd open on it. */
  cgroup: string | number;
  /** `AttachType.CGROUP_INET4_CONNECT`, `CGROUP_SOCK_OPS`, `CGROUP_DEVICE`, …. */
  attachType: number;
  /**
   * `'link'`: a bpf_link only; `'attach'`: BPF_PROG_ATTACH only; `'auto'` (default): a link,
   * or BPF_PROG_ATTACH on kernels without cgroup links.
   */
  mode?: 'auto' | 'link' | 'attach';
  /** BPF_PROG_ATTACH flags (`AttachFlag.*`; default ALLOW_MULTI). */
  flags?: number;
}

/**
 * Attaches a cgroup program to a cgroup v2 directory.
 *
 * @example
 * using link = attachCgroup(program, { cgroup: '/sys/fs/cgroup/test', attachType: AttachType.CGROUP_INET4_CONNECT });
 */
export function attachCgroup(program: Program, options: CgroupOptions): Link {
  const syscalls = program.syscalls;
  const mode = options.mode ?? 'auto';
  const where = typeof options.cgroup === 'number' ? `cgroup fd ${options.cgroup}` : `cgroup ${options.cgroup}`;
  const description = `${attachTypeName(options.attachType)} on ${where}`;
  const context = `attach program '${program.name}' as ${description}`;
  // An fd of our own (for an fd given, a second one through /proc): BPF_PROG_ATTACH detaches
  // through it at close, when the caller's may be closed or reused.
  const cgroupFd = openSync(typeof options.cgroup === 'number' ? `/proc/self/fd/${options.cgroup}` : options.cgroup, 'r');
  let handedOver = false;
  try {
    if (mode !== 'attach') {
      const fd = tryLinkCreate(syscalls, { programFd: program.fd, target: cgroupFd, attachType: options.attachType });
      if (fd >= 0) return new BpfLink(fd, 'cgroup', description, { syscalls });
      if (mode === 'link' || !isUnsupportedAttach(-fd)) throw new KernelError(context, -fd);
    }
    // BPF_PROG_ATTACH has no fd of its own: detaching needs the cgroup and the program again,
    // so the link keeps an fd of each (its own program fd, in case the caller closes theirs).
    const flags = options.flags ?? AttachFlag.ALLOW_MULTI;
    const ret = tryProgAttach(syscalls, { target: cgroupFd, programFd: program.fd, attachType: options.attachType, flags });
    if (ret < 0) throw new KernelError(`${context} (BPF_PROG_ATTACH)`, -ret);
    let programFd: number;
    try {
      programFd = fdById('program', programInfo(program.fd, { syscalls }).id, { syscalls });
    } catch (err) {
      tryProgDetach(syscalls, { target: cgroupFd, programFd: program.fd, attachType: options.attachType });
      throw err;
    }
    const request = { target: cgroupFd, programFd, attachType: options.attachType };
    const resources = new Resources(syscalls).call(`detach ${description}`, () => {
      const detached = tryProgDetach(syscalls, request);
      // ENOENT: already detached (by someone else, or the cgroup went away).
      if (detached < 0 && detached !== -2) throw new KernelError(`detach ${description}`, -detached);
    });
    resources.fd(programFd, `program '${program.name}'`).fd(cgroupFd, where);
    handedOver = true;
    return new RawLink('cgroup', description, resources, { syscalls });
  } finally {
    // A bpf_link holds the cgroup itself: the directory fd is not needed after BPF_LINK_CREATE.
    if (!handedOver) closeSync(cgroupFd);
  }
}
