/**
 * uprobes and uretprobes (`uprobe/<path>:<function>[+offset]`), BPF_PROG_TYPE_KPROBE on user
 * code: a perf event on the uprobe PMU (4.17+) with the file and the offset in it, or on
 * kernels without it a probe event in tracefs `uprobe_events`. The target is a function name
 * resolved through the file's symbol table, or a raw file offset; `pid` limits it to one process.
 * uprobe_multi (many offsets, one link, 6.6+) is in `uprobe-multi.ts`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NotSupportedError } from '../../errors.js';
import { PerfType, perfEventAttr, perfEventOpen } from '../perf-event.js';
import type { Program } from '../program.js';
import { resolveElfFunction } from './elf-symbols.js';
import type { Link } from './link.js';
import { attachToPerfEvent } from './perf-attach.js';
import { openPmuProbe, probePmuType } from './probe-pmu.js';
import { createProbeEvent, tracefsRoot } from './tracefs.js';

/** Where a uprobe goes and what it does: `symbol` (plus `offset`) or `offset` alone. */
export interface UprobeOptions {
  /** A function of the file, resolved through its `.symtab`/`.dynsym`. */
  symbol?: string;
  /** Bytes past the symbol, or with no symbol the file offset itself. */
  offset?: number;
  /** A uretprobe: run when the function returns. */
  retprobe?: boolean;
  /** Only this process (default: every process that maps the file). */
  pid?: number;
  /** File offset of a USDT semaphore the kernel counts up while the probe is in place. */
  refCtrOffset?: number;
  /** Value for bpf_get_attach_cookie() (needs a bpf_link: 5.15+). */
  cookie?: bigint;
}

/** The file offset a uprobe on `path` with `options` is placed at. */
export function uprobeOffset(path: string, options: Pick<UprobeOptions, 'symbol' | 'offset'>): number {
  const extra = options.offset ?? 0;
  if (options.symbol === undefined) {
    if (options.offset === undefined) throw new TypeError(`uprobe on '${path}': give a symbol or an offset`);
    return extra;
  }
  return resolveElfFunction(path, options.symbol).offset + extra;
}

/**
 * Attaches a uprobe program to a function of the executable or library at `path`.
 *
 * @example
 * using link = attachUprobe(program, '/usr/lib/x86_64-linux-gnu/libc.so.6', { symbol: 'malloc' });
 */
export function attachUprobe(program: Program, path: string, options: UprobeOptions = {}): Link {
  const retprobe = options.retprobe ?? false;
  const kind = retprobe ? 'uretprobe' : 'uprobe';
  const offset = uprobeOffset(path, options);
  const pid = options.pid ?? -1;
  const target = options.symbol ? `${options.symbol}${options.offset ? `+0x${options.offset.toString(16)}` : ''}` : `0x${offset.toString(16)}`;
  const description = `${kind} ${path}:${target}${pid === -1 ? '' : ` (pid ${pid})`}`;
  const cookie = options.cookie !== undefined ? { cookie: options.cookie } : {};
  const syscalls = program.syscalls;
  const pmu = probePmuType('uprobe');
  if (pmu !== undefined) {
    const perfFd = openPmuProbe({
      pmu: 'uprobe', type: pmu, retprobe, name: path, offset: BigInt(offset), pid, syscalls,
      ...(options.refCtrOffset ? { refCtrOffset: BigInt(options.refCtrOffset) } : {}),
    });
    return attachToPerfEvent(program, perfFd, { kind, description, ...cookie });
  }
  if (!uprobeEventsAvailable()) throw new NotSupportedError(`attach ${description}: this kernel has no uprobes (CONFIG_UPROBES is off)`);
  const refCtr = options.refCtrOffset ? `(0x${options.refCtrOffset.toString(16)})` : '';
  const event = createProbeEvent('uprobe', `${path}:0x${offset.toString(16)}${refCtr}`, { retprobe });
  let perfFd: number;
  try {
    const attr = perfEventAttr({ type: PerfType.TRACEPOINT, config: event.id, samplePeriod: 1, wakeupEvents: 1 });
    perfFd = perfEventOpen(attr, { pid, cpu: pid === -1 ? 0 : -1, syscalls });
  } catch (err) {
    event.remove();
    throw err;
  }
  return attachToPerfEvent(program, perfFd, {
    kind, description, ...cookie,
    cleanups: [{ what: `remove uprobe event ${event.group}/${event.event}`, run: () => event.remove() }],
  });
}

function uprobeEventsAvailable(): boolean {
  try {
    return existsSync(join(tracefsRoot(), 'uprobe_events'));
  } catch {
    return false;
  }
}
