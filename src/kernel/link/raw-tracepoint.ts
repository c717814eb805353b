/**
 * Raw tracepoints (`raw_tp/<name>`, BPF_PROG_TYPE_RAW_TRACEPOINT[_WRITABLE]): the program gets
 * the tracepoint's raw arguments, attached by name with BPF_RAW_TRACEPOINT_OPEN. The same
 * command with no name attaches a BTF-typed tracing program (tp_btf, fentry, fexit,
 * fmod_ret, lsm) on kernels without BPF_LINK_CREATE for them — see `tracing.ts`.
 */
import { Attr, cString } from '../attr.js';
import { KernelError } from '../error.js';
import type { Program } from '../program.js';
import { Command } from '../types.js';
import { RAW_TRACEPOINT_OPEN } from './attr.js';
import { BpfLink } from './link.js';

/** Options of {@link attachRawTracepoint}. */
export interface RawTracepointOptions {
  /** Value for bpf_get_attach_cookie() (6.10+). */
  cookie?: bigint;
}

/** BPF_RAW_TRACEPOINT_OPEN: the link fd, or `-errno`. `name` undefined: the program's BTF target. */
export function tryRawTracepointOpen(program: Program, name: string | undefined, cookie = 0n): number {
  const syscalls = program.syscalls;
  return syscalls.withMemory((memory) => {
    const attr = new Attr(RAW_TRACEPOINT_OPEN.SIZE)
      .u64(RAW_TRACEPOINT_OPEN.name, name === undefined ? 0n : memory.input(cString(name)))
      .u32(RAW_TRACEPOINT_OPEN.prog_fd, program.fd)
      .u64(RAW_TRACEPOINT_OPEN.cookie, cookie);
    // Without a cookie, send only the fields every kernel since 4.17 knows.
    const bytes = cookie === 0n ? attr.bytes.subarray(0, 16) : attr.bytes;
    return syscalls.bpf(Command.RAW_TRACEPOINT_OPEN, bytes);
  });
}

/**
 * Attaches a raw tracepoint program to tracepoint `name` (`sys_enter`, `sched_switch`: the
 * name without its category).
 *
 * @example
 * using link = attachRawTracepoint(program, 'sys_enter');
 */
export function attachRawTracepoint(program: Program, name: string, options: RawTracepointOptions = {}): BpfLink {
  const fd = tryRawTracepointOpen(program, name, options.cookie);
  const description = `raw tracepoint ${name}`;
  if (fd < 0) throw new KernelError(`attach program '${program.name}' to ${description}`, -fd);
  return new BpfLink(fd, 'raw_tracepoint', description, { syscalls: program.syscalls });
}
