/**
 * kprobes and kretprobes (`kprobe/<function>[+offset]`, `kretprobe/<function>`, and
 * `ksyscall/<name>` for a system call's entry), BPF_PROG_TYPE_KPROBE: a perf event on the
 * kprobe PMU (4.17+), or on kernels without it a probe event written to tracefs
 * `kprobe_events` and opened as a tracepoint. A kernel built without CONFIG_KPROBES has
 * neither: attaching throws `NotSupportedError` (kprobe programs still load there).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NotSupportedError } from '../../errors.js';
import { PerfType, perfEventAttr, perfEventOpen } from '../perf-event.js';
import type { Program } from '../program.js';
import { attachToPerfEvent } from './perf-attach.js';
import { openPmuProbe, probePmuType } from './probe-pmu.js';
import type { Link } from './link.js';
import { createProbeEvent, tracefsRoot } from './tracefs.js';

/** Options of {@link attachKprobe}. */
export interface KprobeOptions {
  /** Offset into the function, in bytes (must be an instruction boundary). */
  offset?: number;
  /** A kretprobe: run when the function returns. */
  retprobe?: boolean;
  /** Value for bpf_get_attach_cookie() (needs a bpf_link: 5.15+). */
  cookie?: bigint;
  /** kretprobe instances that can be pending at once (legacy tracefs interface only). */
  maxActive?: number;
}

/**
 * Attaches a kprobe program to kernel function `symbol` (at `offset`), or on its return.
 *
 * @example
 * using link = attachKprobe(program, 'do_unlinkat');
 */
export function attachKprobe(program: Program, symbol: string, options: KprobeOptions = {}): Link {
  const retprobe = options.retprobe ?? false;
  const kind = retprobe ? 'kretprobe' : 'kprobe';
  const offset = options.offset ?? 0;
  const description = `${kind} ${symbol}${offset ? `+0x${offset.toString(16)}` : ''}`;
  const cookie = options.cookie !== undefined ? { cookie: options.cookie } : {};
  const syscalls = program.syscalls;
  const pmu = probePmuType('kprobe');
  if (pmu !== undefined) {
    const perfFd = openPmuProbe({ pmu: 'kprobe', type: pmu, retprobe, name: symbol, offset: BigInt(offset), pid: -1, syscalls });
    return attachToPerfEvent(program, perfFd, { kind, description, ...cookie });
  }
  if (!kprobeEventsAvailable()) {
    throw new NotSupportedError(`attach ${description}: this kernel has no kprobes (no kprobe PMU, no tracefs kprobe_events: CONFIG_KPROBES is off)`);
  }
  const event = createProbeEvent('kprobe', `${symbol}${offset ? `+${offset}` : ''}`, { retprobe, ...(options.maxActive ? { maxActive: options.maxActive } : {}) });
  let perfFd: number;
  try {
    const attr = perfEventAttr({ type: PerfType.TRACEPOINT, config: event.id, samplePeriod: 1, wakeupEvents: 1 });
    perfFd = perfEventOpen(attr, { pid: -1, cpu: 0, syscalls });
  } catch (err) {
    event.remove();
    throw err;
  }
  return attachToPerfEvent(program, perfFd, {
    kind, description, ...cookie,
    cleanups: [{ what: `remove kprobe event ${event.group}/${event.event}`, run: () => event.remove() }],
  });
}

/** Whether kprobes can be made at all here: the kprobe PMU or tracefs `kprobe_events`. */
export function kprobesAvailable(): boolean {
  return probePmuType('kprobe') !== undefined || kprobeEventsAvailable();
}

function kprobeEventsAvailable(): boolean {
  try {
    return existsSync(join(tracefsRoot(), 'kprobe_events'));
  } catch {
    return false;
  }
}

/**
 * The prefix of system call entry points on this architecture (arch/<arch>/include/asm/
 * syscall_wrapper.h), as libbpf's arch_specific_syscall_pfx: `__x64_sys_` on x86-64.
 */
const SYSCALL_PREFIX: Readonly<Partial<Record<string, string>>> = {
  x64: '__x64_sys_',
  ia32: '__ia32_sys_',
  arm64: '__arm64_sys_',
  arm: '__arm_sys_',
  s390x: '__s390x_sys_',
  ppc64: '__powerpc_sys_',
  riscv64: '__riscv_sys_',
  loong64: 'sys_',
};

/** The kernel function of system call `name` (`'openat'` → `'__x64_sys_openat'`). */
export function syscallSymbol(name: string): string {
  return (SYSCALL_PREFIX[process.arch] ?? 'sys_') + name;
}

/** Attaches a kprobe program to the entry (or with `retprobe`, the return) of system call `name`. */
export function attachKsyscall(program: Program, name: string, options: Omit<KprobeOptions, 'offset'> = {}): Link {
  return attachKprobe(program, syscallSymbol(name), options);
}
