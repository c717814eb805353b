/**
 * Tracepoints (`tp/<category>/<name>`, BPF_PROG_TYPE_TRACEPOINT): a PERF_TYPE_TRACEPOINT event
 * on the tracepoint's tracefs id, with the program attached to it. The program runs on every
 * CPU: a tracepoint's programs hang off the tracepoint itself, the perf event only names it
 * (libbpf opens it with pid -1, cpu 0 for the same reason).
 */
import { PerfType, perfEventAttr, perfEventOpen } from '../perf-event.js';
import type { Program } from '../program.js';
import { attachToPerfEvent } from './perf-attach.js';
import type { Link } from './link.js';
import { tracepointId } from './tracefs.js';

/** Options of {@link attachTracepoint}. */
export interface TracepointOptions {
  /** Value for bpf_get_attach_cookie(). */
  cookie?: bigint;
}

/**
 * Attaches a tracepoint program to `category/name` (as in `/sys/kernel/tracing/events`).
 *
 * @example
 * using link = attachTracepoint(program, 'syscalls', 'sys_enter_getpid');
 */
export function attachTracepoint(program: Program, category: string, name: string, options: TracepointOptions = {}): Link {
  const id = tracepointId(category, name);
  const attr = perfEventAttr({ type: PerfType.TRACEPOINT, config: id, samplePeriod: 1, wakeupEvents: 1 });
  const perfFd = perfEventOpen(attr, { pid: -1, cpu: 0, syscalls: program.syscalls });
  return attachToPerfEvent(program, perfFd, {
    kind: 'tracepoint',
    description: `tracepoint ${category}/${name}`,
    ...(options.cookie !== undefined ? { cookie: options.cookie } : {}),
  });
}
