/**
 * opensnoop: every openat() on the system (or of one process), after it returned
 * (bpf/tools/opensnoop.c) — BCC's tool, on the sys_enter_openat/sys_exit_openat tracepoints.
 */
import type { BtfValue } from '../btf/codec.js';
import { EventSession } from './event-session.js';

/** One open. */
export interface OpenEvent {
  /** CLOCK_MONOTONIC at the return, in nanoseconds. */
  readonly timeNs: bigint;
  readonly pid: number;
  readonly tid: number;
  readonly uid: number;
  readonly comm: string;
  /** The fd, or -1 on failure. */
  readonly fd: number;
  /** The errno of a failure, else 0. */
  readonly err: number;
  /** openat's flags (`O_*`). */
  readonly flags: number;
  /** The path as given (relative ones relative to the dirfd), cut at 255 bytes. */
  readonly path: string;
}

/** Options of {@link startOpensnoop}. */
export interface OpensnoopOptions {
  /** Only this process (tgid). */
  pid?: number;
  /** Only failed opens (BCC's -x). */
  failedOnly?: boolean;
}

/**
 * Loads and attaches opensnoop. Read `events()`; dispose to detach.
 *
 * @example
 * using snoop = startOpensnoop({ pid: process.pid });
 * for await (const e of snoop.events(signal)) console.log(e.fd, e.path);
 */
export function startOpensnoop(options: OpensnoopOptions = {}): EventSession<OpenEvent> {
  const pid = options.pid ?? 0;
  if (!Number.isInteger(pid) || pid < 0 || pid > 0x7fff_ffff) throw new RangeError(`pid ${pid}`);
  return EventSession.start('opensnoop', {
    constants: { target_pid: pid, failed_only: options.failedOnly ?? false },
    toEvent: toOpenEvent,
  });
}

function toOpenEvent(r: Record<string, BtfValue>): OpenEvent {
  const ret = r.ret as number;
  return {
    timeNs: BigInt(r.time_ns as bigint),
    pid: r.pid as number,
    tid: r.tid as number,
    uid: r.uid as number,
    comm: r.comm as string,
    fd: ret >= 0 ? ret : -1,
    err: ret >= 0 ? 0 : -ret,
    flags: r.flags as number,
    path: r.path as string,
  };
}
