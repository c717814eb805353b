/**
 * BPF iterators (`iter/task`, `iter/bpf_map_elem`, `iter/cgroup`, …; BPF_PROG_TYPE_TRACING with
 * BPF_TRACE_ITER, 5.8+): the program runs once per kernel object of its target and writes text
 * with bpf_seq_printf()/bpf_seq_write(). Attaching makes a link (BPF_LINK_CREATE, with the map,
 * cgroup or task to walk for the targets that take one); each BPF_ITER_CREATE on the link opens
 * a fresh walk, read to its end like a /proc file.
 */
import { Attr } from '../attr.js';
import { KernelError } from '../error.js';
import type { Program } from '../program.js';
import { requireSyscall } from '../syscalls.js';
import { AttachType, Command } from '../types.js';
import { CgroupIterOrder, ITER_CREATE, ITER_LINK_INFO, LINK_CREATE } from './attr.js';
import { linkCreate } from './create.js';
import { BpfLink } from './link.js';

/** What an iterator walks, for the targets that need one (`bpf_map_elem`, `cgroup`, `task*`). */
export interface IterOptions {
  /** `iter/bpf_map_elem`, `iter/sockmap`, …: the map (or its fd). */
  map?: { readonly fd: number } | number;
  /** `iter/cgroup`: a cgroup fd and the walk order (`CgroupIterOrder.*`; default SELF_ONLY). */
  cgroup?: { fd: number; order?: number } | { id: bigint; order?: number };
  /** `iter/task`, `iter/task_file`, `iter/task_vma`: only this thread, or this process. */
  task?: { tid: number } | { pid: number } | { pidfd: number };
}

/** Read size per read(2) of an iterator fd; the kernel fills up to a page at a time anyway. */
const READ_CHUNK = 64 * 1024;
/** A bound on one walk's output, against a program that never ends its sequence. */
const MAX_OUTPUT = 256 * 1024 * 1024;

/** An attached iterator: each {@link read} walks its target anew. */
export class IterLink extends BpfLink {
  /** Opens a new walk (BPF_ITER_CREATE): an fd the caller reads to its end and closes. */
  open(): number {
    const attr = new Attr(ITER_CREATE.SIZE).u32(ITER_CREATE.link_fd, this.fd);
    const fd = this.syscalls.withMemory(() => this.syscalls.bpf(Command.ITER_CREATE, attr.bytes));
    if (fd < 0) throw new KernelError(`open a walk of ${this.description}`, -fd);
    return fd;
  }

  /** Runs the iterator once and returns everything it wrote. */
  readBytes(): Uint8Array {
    const read = requireSyscall(this.syscalls, 'read', `read ${this.description}`);
    const fd = this.open();
    try {
      const chunks: Uint8Array[] = [];
      let total = 0;
      for (;;) {
        const chunk = read(fd, READ_CHUNK);
        // EAGAIN/EINTR do not happen on an iterator fd; any error ends the walk.
        if (typeof chunk === 'number') throw new KernelError(`read ${this.description}`, -chunk);
        if (chunk.length === 0) break;
        chunks.push(chunk);
        total += chunk.length;
        if (total > MAX_OUTPUT) throw new RangeError(`${this.description}: more than ${MAX_OUTPUT} bytes of output`);
      }
      const out = new Uint8Array(total);
      let at = 0;
      for (const chunk of chunks) {
        out.set(chunk, at);
        at += chunk.length;
      }
      return out;
    } finally {
      this.syscalls.close(fd);
    }
  }

  /** Runs the iterator once and returns its output as UTF-8 text. */
  read(): string {
    return new TextDecoder().decode(this.readBytes());
  }
}

function iterLinkInfo(options: IterOptions): Uint8Array | undefined {
  const info = new Attr(ITER_LINK_INFO.SIZE);
  if (options.map !== undefined) {
    return info.u32(ITER_LINK_INFO.map_fd, typeof options.map === 'number' ? options.map : options.map.fd).bytes;
  }
  if (options.cgroup !== undefined) {
    info.u32(ITER_LINK_INFO.cgroup_order, options.cgroup.order ?? CgroupIterOrder.SELF_ONLY);
    if ('fd' in options.cgroup) info.u32(ITER_LINK_INFO.cgroup_fd, options.cgroup.fd);
    else info.u64(ITER_LINK_INFO.cgroup_id, options.cgroup.id);
    return info.bytes;
  }
  if (options.task !== undefined) {
    const task = options.task;
    if ('tid' in task) info.u32(ITER_LINK_INFO.task_tid, task.tid);
    else if ('pid' in task) info.u32(ITER_LINK_INFO.task_pid, task.pid);
    else info.u32(ITER_LINK_INFO.task_pid_fd, task.pidfd);
    return info.bytes;
  }
  return undefined;
}

/**
 * Attaches an iterator program (loaded with `expectedAttachType: AttachType.TRACE_ITER` and
 * the `attachBtfId` of `bpf_iter_<target>`).
 *
 * @example
 * using iter = attachIter(program);
 * console.log(iter.read());
 */
export function attachIter(program: Program, options: IterOptions = {}): IterLink {
  const info = iterLinkInfo(options);
  const description = `iterator '${program.name}'`;
  const fd = linkCreate(program.syscalls, {
    programFd: program.fd,
    attachType: AttachType.TRACE_ITER,
    fill: (attr, memory) => {
      if (info) attr.u64(LINK_CREATE.iter_info, memory.input(info)).u32(LINK_CREATE.iter_info_len, info.length);
    },
  }, `attach ${description}`);
  return new IterLink(fd, 'iter', description, { syscalls: program.syscalls });
}
