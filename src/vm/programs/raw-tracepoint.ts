/**
 * `struct bpf_raw_tracepoint_args`: the context of raw tracepoint programs, the tracepoint's
 * arguments as an array of u64 (`ctx->args[i]`), read-only. BPF_PROG_TEST_RUN passes up to
 * MAX_BPF_FUNC_ARGS (12) of them.
 */
import type { Memory } from '../memory.js';
import { HostContext } from './host-context.js';

/** Most arguments a raw tracepoint test run takes (kernel: MAX_BPF_FUNC_ARGS). */
export const MAX_BPF_FUNC_ARGS = 12;

/** The bytes of `args` as u64s. */
export function encodeRawTracepointArgs(args: ReadonlyArray<bigint | number>): Uint8Array {
  const out = new Uint8Array(8 * args.length);
  const v = new DataView(out.buffer);
  args.forEach((a, i) => v.setBigUint64(8 * i, BigInt.asUintN(64, BigInt(a)), true));
  return out;
}

/**
 * A raw tracepoint context of `args` (a region of exactly `8 * args.length` bytes, so a read of
 * an argument the tracepoint does not have faults).
 */
export function rawTracepointContext(memory: Memory, args: ReadonlyArray<bigint | number>): HostContext {
  return new HostContext(memory, 'bpf_raw_tracepoint_args', encodeRawTracepointArgs(args), false);
}
