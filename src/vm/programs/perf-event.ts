/**
 * `struct bpf_perf_event_data` (include/uapi/linux/bpf_perf_event.h), the context of
 * perf_event programs: the registers at the sample, then `sample_period` and `addr`. The kernel
 * lets a program read the registers as whole u64s and the two counters at any narrower size.
 */
import type { Memory } from '../memory.js';
import { HostContext } from './host-context.js';
import { PT_REGS_SIZE, encodePtRegs, type PtRegs } from './pt-regs.js';

/** sizeof(struct bpf_perf_event_data) on x86_64. */
export const PERF_EVENT_DATA_SIZE = PT_REGS_SIZE + 16;

/** What a sample gives the program. */
export interface PerfEventData {
  regs?: PtRegs;
  samplePeriod?: bigint | number;
  addr?: bigint | number;
}

/** The bytes of a `struct bpf_perf_event_data`. */
export function encodePerfEventData(data: PerfEventData): Uint8Array {
  const out = new Uint8Array(PERF_EVENT_DATA_SIZE);
  out.set(encodePtRegs(data.regs ?? {}));
  const v = new DataView(out.buffer);
  v.setBigUint64(PT_REGS_SIZE, BigInt.asUintN(64, BigInt(data.samplePeriod ?? 0)), true);
  v.setBigUint64(PT_REGS_SIZE + 8, BigInt.asUintN(64, BigInt(data.addr ?? 0)), true);
  return out;
}

/** A read-only `struct bpf_perf_event_data` context for a perf_event program. */
export function perfEventContext(memory: Memory, data: PerfEventData): HostContext {
  return new HostContext(memory, 'bpf_perf_event_data', encodePerfEventData(data), false);
}
