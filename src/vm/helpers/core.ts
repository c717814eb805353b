/**
 * The core helpers, by Linux id with the kernel's return values (kernel/bpf/helpers.c):
 * the clocks (bpf_ktime_get_ns 5, _boot_ns 125, _coarse_ns 160, _tai_ns 208),
 * bpf_get_prandom_u32 (7), bpf_get_smp_processor_id (8), the current task
 * (bpf_get_current_pid_tgid 14, _uid_gid 15, _comm 16) — all from the {@link VmHost} — and
 * bpf_tail_call (12) through the program arrays of a map registry.
 */
import { VmError } from '../errors.js';
import type { Helper } from '../helpers.js';
import { ProgArrayMap } from '../maps/fd-array.js';
import type { MapRegistry } from '../maps/registry.js';
import { mapArg, writableArg } from './args.js';
import type { VmHost } from './host.js';

export const BPF_FUNC_ktime_get_ns = 5;
export const BPF_FUNC_get_prandom_u32 = 7;
export const BPF_FUNC_get_smp_processor_id = 8;
export const BPF_FUNC_tail_call = 12;
export const BPF_FUNC_get_current_pid_tgid = 14;
export const BPF_FUNC_get_current_uid_gid = 15;
export const BPF_FUNC_get_current_comm = 16;
export const BPF_FUNC_ktime_get_boot_ns = 125;
export const BPF_FUNC_ktime_get_coarse_ns = 160;
export const BPF_FUNC_ktime_get_tai_ns = 208;

/** TASK_COMM_LEN: a task's name with its NUL. */
export const TASK_COMM_LEN = 16;

const encoder = new TextEncoder();

/** Options of {@link coreHelpers}. */
export interface CoreHelperOptions {
  /**
   * The maps bpf_tail_call finds its program array in, and whose CPU
   * bpf_get_smp_processor_id reports (CPU 0 without one; no tail calls either).
   */
  registry?: MapRegistry;
}

/** The core helpers, answering from `host`. */
export function coreHelpers(host: VmHost, options: CoreHelperOptions = {}): Map<number, Helper> {
  const { registry } = options;
  const helpers = new Map<number, Helper>([
    [BPF_FUNC_ktime_get_ns, () => BigInt.asUintN(64, host.clock('monotonic'))],
    [BPF_FUNC_ktime_get_boot_ns, () => BigInt.asUintN(64, host.clock('boot'))],
    [BPF_FUNC_ktime_get_coarse_ns, () => BigInt.asUintN(64, host.clock('coarse'))],
    [BPF_FUNC_ktime_get_tai_ns, () => BigInt.asUintN(64, host.clock('tai'))],
    [BPF_FUNC_get_prandom_u32, () => host.random.next()],
    [BPF_FUNC_get_smp_processor_id, () => registry?.cpu ?? 0],
    [BPF_FUNC_get_current_pid_tgid, () => (BigInt(host.task.tgid >>> 0) << 32n) | BigInt(host.task.pid >>> 0)],
    [BPF_FUNC_get_current_uid_gid, () => (BigInt(host.task.gid >>> 0) << 32n) | BigInt(host.task.uid >>> 0)],
    [BPF_FUNC_get_current_comm, (ctx) => {
      // strscpy_pad(buf, task->comm, size): the name (at most 15 bytes), a NUL, zeros after.
      const buf = writableArg(ctx, 1, ctx.argU32(2));
      const comm = encoder.encode(host.task.comm).subarray(0, TASK_COMM_LEN - 1);
      buf.fill(0);
      if (buf.length > 0) buf.set(comm.subarray(0, buf.length - 1));
      return 0;
    }],
  ]);
  if (registry !== undefined) {
    helpers.set(BPF_FUNC_tail_call, (ctx) => {
      const map = mapArg(registry, ctx, 2);
      if (!(map instanceof ProgArrayMap)) throw new VmError(`helper argument r2 is map '${map.name}', not a program array`, ctx.index);
      ctx.tailCall(map, ctx.argU32(3));
    });
  }
  return helpers;
}
