/**
 * perf_event programs (`perf_event`, BPF_PROG_TYPE_PERF_EVENT) run on a perf event's samples:
 * a software clock at some frequency, a hardware counter every N events. A perf event counts
 * one CPU (or one process), so sampling "everywhere" is one event per online CPU, each with the
 * program attached, closed together as a {@link LinkGroup} — as `bpftrace`'s `profile:hz:99`.
 */
import { onlineCpus } from '../map-percpu.js';
import { PerfAttrFlag, PerfSoftwareConfig, PerfType, perfEventAttr, perfEventOpen } from '../perf-event.js';
import type { Program } from '../program.js';
import { LinkGroup, type Link } from './link.js';
import { attachToPerfEvent } from './perf-attach.js';

/** What to sample and how often. Default: PERF_COUNT_SW_CPU_CLOCK at 99 Hz on every online CPU. */
export interface PerfEventOptions {
  /** `PerfType.*` (default SOFTWARE). */
  type?: number;
  /** The event of that type (default `PerfSoftwareConfig.CPU_CLOCK`). */
  config?: number | bigint;
  /** Samples per second (the kernel adjusts the period to it). Exclusive with `period`. */
  frequency?: number;
  /** A sample every `period` events (nanoseconds for the clocks). */
  period?: number | bigint;
  /** The CPUs (default: every online CPU). */
  cpus?: readonly number[];
  /** One process instead of all (-1, the default: all processes on each CPU). */
  pid?: number;
  /** Value for bpf_get_attach_cookie(). */
  cookie?: bigint;
}

/**
 * Attaches a perf_event program to a sampling event on each CPU; the returned group closes them all.
 *
 * @example
 * using link = attachPerfEvent(program, { frequency: 49 });
 */
export function attachPerfEvent(program: Program, options: PerfEventOptions = {}): LinkGroup {
  if (options.frequency !== undefined && options.period !== undefined) throw new TypeError('perf event: give a frequency or a period, not both');
  const type = options.type ?? PerfType.SOFTWARE;
  const config = options.config ?? PerfSoftwareConfig.CPU_CLOCK;
  const byFrequency = options.period === undefined;
  const attr = perfEventAttr({
    type,
    config,
    samplePeriod: byFrequency ? (options.frequency ?? 99) : options.period!,
    flags: byFrequency ? PerfAttrFlag.FREQ : 0n,
  });
  const pid = options.pid ?? -1;
  const cpus = options.cpus ?? (pid === -1 ? onlineCpus() : [-1]);
  const what = byFrequency ? `${options.frequency ?? 99} Hz` : `every ${options.period}`;
  const links: Link[] = [];
  try {
    for (const cpu of cpus) {
      const perfFd = perfEventOpen(attr, { pid, cpu, syscalls: program.syscalls });
      const where = cpu === -1 ? `pid ${pid}` : `CPU ${cpu}`;
      links.push(attachToPerfEvent(program, perfFd, {
        kind: 'perf_event',
        description: `perf event ${type}:${config} ${what} on ${where}`,
        ...(options.cookie !== undefined ? { cookie: options.cookie } : {}),
      }));
    }
  } catch (err) {
    for (const link of links) link.close();
    throw err;
  }
  return new LinkGroup('perf_event', `perf event ${type}:${config} ${what} on ${cpus.length} CPU${cpus.length === 1 ? '' : 's'}`, links, { syscalls: program.syscalls });
}
