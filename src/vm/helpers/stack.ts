/**
 * bpf_get_stackid (#27) and bpf_get_stack (#67) (kernel/bpf/stackmap.c) over the call stacks
 * the host gives (`VmHostOptions.stack`: kernel and user return addresses, innermost first) —
 * the VM has no stack of its own to walk. The kernel collects at most
 * kernel.perf_event_max_stack (127) frames, skipped ones included; bpf_get_stackid stores the
 * trace in a STACK_TRACE map and returns its id, bpf_get_stack copies it into the program's
 * buffer and returns the bytes copied. Build ids (BPF_F_USER_BUILD_ID, BPF_F_STACK_BUILD_ID
 * maps) come out as the kernel's fallback for frames it cannot map to a file: status
 * BPF_STACK_BUILD_ID_IP and the address.
 */
import { VmError } from '../errors.js';
import type { Helper } from '../helpers.js';
import { Errno } from '../maps/errno.js';
import { mapTypeName } from '../maps/flags.js';
import type { MapRegistry } from '../maps/registry.js';
import { buildIdEntry, ipBytes, PERF_MAX_STACK_DEPTH, STACK_BUILD_ID_SIZE, StackFlag, StackTraceMap } from '../maps/stack-trace.js';
import { mapArg, sameMemory, writableArg } from './args.js';
import type { VmHost } from './host.js';

export const BPF_FUNC_get_stackid = 27;
export const BPF_FUNC_get_stack = 67;

const F = StackFlag;

/** get_perf_callchain: the first `maxDepth` frames of the kernel or user stack. */
function callchain(host: VmHost, user: boolean, maxDepth: number): readonly bigint[] {
  const frames = (user ? host.stack.user : host.stack.kernel) ?? [];
  return frames.slice(0, Math.min(maxDepth, PERF_MAX_STACK_DEPTH));
}

/** bpf_get_stackid and bpf_get_stack for the maps of `registry`, stacks from `host`. */
export function stackHelpers(registry: MapRegistry, host: VmHost): Map<number, Helper> {
  return new Map<number, Helper>([
    [BPF_FUNC_get_stackid, (ctx) => {
      sameMemory(registry, ctx);
      const map = mapArg(registry, ctx, 2);
      if (!(map instanceof StackTraceMap)) {
        throw new VmError(`bpf_get_stackid: ${mapTypeName(map.type)} is not a stack trace map (the verifier refuses it)`, ctx.index);
      }
      const flags = ctx.arg(3);
      if (flags & ~BigInt(F.SKIP_FIELD_MASK | F.USER_STACK | F.FAST_STACK_CMP | F.REUSE_STACKID)) return -Errno.EINVAL;
      const f = Number(flags);
      const skip = f & F.SKIP_FIELD_MASK;
      const trace = callchain(host, (f & F.USER_STACK) !== 0, Math.floor(map.valueSize / map.entrySize) + skip);
      return map.storeTrace(trace, f);
    }],
    [BPF_FUNC_get_stack, (ctx) => {
      const size = ctx.argU32(3);
      const buf = writableArg(ctx, 2, size);
      const flags = ctx.arg(4);
      const fail = (errno: number): number => {
        buf.fill(0);
        return -errno;
      };
      if (flags & ~BigInt(F.SKIP_FIELD_MASK | F.USER_STACK | F.USER_BUILD_ID)) return fail(Errno.EINVAL);
      const f = Number(flags);
      const user = (f & F.USER_STACK) !== 0;
      const buildId = (f & F.USER_BUILD_ID) !== 0;
      if (!user && buildId) return fail(Errno.EINVAL);
      const elem = buildId ? STACK_BUILD_ID_SIZE : 8;
      if (size % elem) return fail(Errno.EINVAL);
      const skip = f & F.SKIP_FIELD_MASK;
      const count = size / elem;
      const trace = callchain(host, user, count + skip);
      if (trace.length < skip) return fail(Errno.EFAULT);
      const ips = trace.slice(skip, skip + count);
      const bytes = buildId ? ips.map(buildIdEntry) : [ipBytes(ips)];
      let at = 0;
      for (const b of bytes) { buf.set(b, at); at += b.length; }
      buf.fill(0, at);
      return at;
    }],
  ]);
}
