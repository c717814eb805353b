/**
 * The system calls attaching needs beyond bpf() and perf_event_open() — sockets, if_nametoindex,
 * setns — are members of the one syscall layer (`../syscalls.ts`, implemented in `../native.ts`).
 * Links take a {@link LinkSyscalls} so a test can substitute its own.
 */
import { nativeSyscalls } from '../native.js';
import type { LinkSyscalls } from '../syscalls.js';

export type { LinkSyscalls } from '../syscalls.js';

/** The process-wide native syscalls, as the attach code uses them. */
export function nativeLinkSyscalls(): LinkSyscalls {
  return nativeSyscalls();
}
