/**
 * The context of BPF_PROG_TYPE_SYSCALL programs: bytes the caller passes (test_run's
 * `ctx_in`), readable and writable by the program, handed back after the run (`ctx_out`).
 */
import type { Memory } from '../memory.js';
import { HostContext } from './host-context.js';

/** A writable context of exactly `bytes.length` bytes. */
export function syscallContext(memory: Memory, bytes: Uint8Array): HostContext {
  return new HostContext(memory, 'syscall ctx', bytes, true);
}
