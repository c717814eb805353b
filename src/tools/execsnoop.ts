/**
 * execsnoop: every exec() on the system, after it returned (bpf/tools/execsnoop.c) — BCC's
 * tool of the same name, on the sys_enter_execve/sys_exit_execve tracepoints.
 */
import type { BtfValue } from '../btf/codec.js';
import { EventSession } from './event-session.js';

/** Argument slots of the program (MAX_ARGS in execsnoop.c), the file name included. */
export const EXECSNOOP_MAX_ARGS = 20;

/** One exec. */
export interface ExecEvent {
  /** CLOCK_MONOTONIC at the exec's return, in nanoseconds. */
  readonly timeNs: bigint;
  /** The new program's name (PCOMM). */
  readonly comm: string;
  readonly pid: number;
  readonly ppid: number;
  readonly uid: number;
  /** execve's return value: 0, or -errno with `includeFailed`. */
  readonly ret: number;
  /** The file name given to execve, then argv[1…]. */
  readonly args: readonly string[];
  /** More arguments followed than the program keeps. */
  readonly truncated: boolean;
}

/** Options of {@link startExecsnoop}. */
export interface ExecsnoopOptions {
  /** Arguments to read, the file name included (1 to 20, default 20). */
  maxArgs?: number;
  /** Report failed execs too (BCC's -x). */
  includeFailed?: boolean;
}

/**
 * Loads and attaches execsnoop. Read `events()`; dispose to detach.
 *
 * @example
 * using snoop = startExecsnoop();
 * for await (const e of snoop.events(signal)) console.log(e.pid, e.args.join(' '));
 */
export function startExecsnoop(options: ExecsnoopOptions = {}): EventSession<ExecEvent> {
  const maxArgs = options.maxArgs ?? EXECSNOOP_MAX_ARGS;
  if (!Number.isInteger(maxArgs) || maxArgs < 1 || maxArgs > EXECSNOOP_MAX_ARGS) {
    throw new RangeError(`max args ${maxArgs}: from 1 to ${EXECSNOOP_MAX_ARGS}`);
  }
  return EventSession.start('execsnoop', {
    constants: { max_args: maxArgs, include_failed: options.includeFailed ?? false },
    toEvent: toExecEvent,
  });
}

function toExecEvent(r: Record<string, BtfValue>): ExecEvent {
  const argc = Math.min(Number(r.argc), EXECSNOOP_MAX_ARGS);
  return {
    timeNs: BigInt(r.time_ns as bigint),
    comm: r.comm as string,
    pid: r.pid as number,
    ppid: r.ppid as number,
    uid: r.uid as number,
    ret: r.retval as number,
    args: (r.argv as readonly string[]).slice(0, argc),
    truncated: r.truncated !== 0,
  };
}
