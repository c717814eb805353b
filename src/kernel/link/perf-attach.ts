/**
 * Attaching a program to an open perf event — what tracepoints, kprobes, uprobes and sampling
 * events share. A bpf_link (BPF_LINK_CREATE with BPF_PERF_EVENT, 5.15+) when the kernel has
 * it, which also carries a cookie for bpf_get_attach_cookie(); else the older
 * PERF_EVENT_IOC_SET_BPF + PERF_EVENT_IOC_ENABLE, where the perf event fd is the attachment.
 */
import { KernelError } from '../error.js';
import { PerfIoctl } from '../perf-event.js';
import type { Program } from '../program.js';
import { requireSyscall } from '../syscalls.js';
import { AttachType } from '../types.js';
import { LINK_CREATE } from './attr.js';
import { isUnsupportedAttach, tryLinkCreate } from './create.js';
import { BpfLink, RawLink, type Link } from './link.js';
import { Resources } from './resources.js';

/** Options of {@link attachToPerfEvent}. */
export interface PerfAttachOptions {
  /** A value the program reads with bpf_get_attach_cookie() (needs a bpf_link: no ioctl fallback). */
  cookie?: bigint;
  /** The link's kind, for messages and `Link.kind` (default `'perf_event'`). */
  kind?: string;
  /** Where it is attached, for messages (default `perf event fd N`). */
  description?: string;
  /**
   * Calls to run after the perf event is closed, also when the link is garbage-collected
   * (removing a legacy tracefs probe event).
   */
  cleanups?: ReadonlyArray<{ what: string; run: () => void }>;
}

/**
 * Attaches `program` to the perf event `perfFd` and returns the link, which owns `perfFd` from
 * now on — on failure too: the fd is closed and `cleanups` run before the error is thrown.
 */
export function attachToPerfEvent(program: Program, perfFd: number, options: PerfAttachOptions = {}): Link {
  const syscalls = program.syscalls;
  const kind = options.kind ?? 'perf_event';
  const description = options.description ?? `${kind} (perf event fd ${perfFd})`;
  const resources = new Resources(syscalls).fd(perfFd, `${description} perf event`);
  for (const cleanup of options.cleanups ?? []) resources.call(cleanup.what, cleanup.run, true);
  const context = `attach program '${program.name}' to ${description}`;
  try {
    const fd = tryLinkCreate(syscalls, {
      programFd: program.fd,
      target: perfFd,
      attachType: AttachType.PERF_EVENT,
      fill: (attr) => attr.u64(LINK_CREATE.perf_event_bpf_cookie, options.cookie ?? 0n),
    });
    if (fd >= 0) return new BpfLink(fd, kind, description, { syscalls, resources });
    if (options.cookie !== undefined || !isUnsupportedAttach(-fd)) throw new KernelError(context, -fd);
    const ioctl = requireSyscall(syscalls, 'ioctl', context);
    const set = ioctl(perfFd, PerfIoctl.SET_BPF, program.fd);
    if (set < 0) throw new KernelError(`${context}: PERF_EVENT_IOC_SET_BPF`, -set);
    const enable = ioctl(perfFd, PerfIoctl.ENABLE, 0);
    if (enable < 0) throw new KernelError(`${context}: PERF_EVENT_IOC_ENABLE`, -enable);
    return new RawLink(kind, description, resources, { fd: perfFd, syscalls });
  } catch (err) {
    try {
      resources.release();
    } catch {
      // the attach error is the one to report
    }
    throw err;
  }
}
