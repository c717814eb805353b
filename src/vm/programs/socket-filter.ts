/**
 * Running socket filters, TC programs and cgroup skb programs on a frame, with their verdicts
 * read the way their hooks read them.
 */
import { ProgramType } from '../../object/uapi-types.js';
import type { Interpreter } from '../interpreter.js';
import { runSkb, type SkbOptions, type SkbRunResult } from './skb.js';
import { tcActionName } from './verdicts.js';

/** The outcome of {@link runSocketFilter}. */
export interface SocketFilterResult extends SkbRunResult {
  /**
   * Bytes of the packet (from `data`) the socket keeps: 0 drops it, otherwise r0 capped at the
   * packet's length (kernel: sk_filter_trim_cap trims to r0; packet sockets' run_filter likewise).
   */
  readonly keep: number;
}

/**
 * Runs a socket filter on `frame`. By default the packet starts at the network header (an inet
 * socket, and BPF_PROG_TEST_RUN); `dataStart: 'mac'` runs it as an AF_PACKET socket's filter.
 */
export function runSocketFilter(vm: Interpreter, frame: Uint8Array, options: SkbOptions = {}): SocketFilterResult {
  const result = runSkb(vm, ProgramType.SOCKET_FILTER, frame, options);
  return { ...result, keep: Math.min(result.retval, result.ctx.len) };
}

/** The outcome of {@link runTc}. */
export interface TcResult extends SkbRunResult {
  /** r0 as a signed TC verdict (`TcAction`). */
  readonly verdict: number;
  /** `TC_ACT_OK`, `TC_ACT_SHOT`, … */
  readonly action: string;
}

/** Runs a TC classifier (sched_cls, direct action) on `frame`, from its Ethernet header. */
export function runTc(vm: Interpreter, frame: Uint8Array, options: SkbOptions = {}): TcResult {
  const result = runSkb(vm, ProgramType.SCHED_CLS, frame, options);
  return { ...result, verdict: result.retval | 0, action: tcActionName(result.retval) };
}

/** The outcome of {@link runCgroupSkb}. */
export interface CgroupSkbResult extends SkbRunResult {
  /** Bit 0 of r0: the packet may pass. */
  readonly allow: boolean;
  /** Bit 1 of r0 (egress): signal congestion to the sender (kernel: BPF_PROG_CGROUP_INET_EGRESS_RUN_ARRAY). */
  readonly congestion: boolean;
}

/** Runs a cgroup skb program on `frame` (data from the network header). */
export function runCgroupSkb(vm: Interpreter, frame: Uint8Array, options: SkbOptions = {}): CgroupSkbResult {
  const result = runSkb(vm, ProgramType.CGROUP_SKB, frame, options);
  return { ...result, allow: (result.retval & 1) !== 0, congestion: (result.retval & 2) !== 0 };
}
