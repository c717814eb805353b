/** bpf_perf_event_output (kernel/trace/bpf_trace.c, net/core/filter.c), over {@link PerfEventArrayMap}. */
import { VmError } from '../errors.js';
import type { Helper } from '../helpers.js';
import { BPF_F_CTXLEN_MASK } from '../maps/flags.js';
import { PerfEventArrayMap } from '../maps/perf-event-array.js';
import type { MapRegistry } from '../maps/registry.js';
import { mapArg, readArg, sameMemory } from './args.js';
import { HelperId } from './ids.js';

/** Options of {@link perfHelpers}. */
export interface PerfHelperOptions {
  /**
   * For skb and XDP programs: the first `length` bytes of the packet behind context `ctx`,
   * appended to a sample when the flags ask for them (BPF_F_CTXLEN_MASK), or undefined when
   * the packet is shorter (the helper then answers -EFAULT). Without it such flags are EINVAL,
   * as they are for tracing programs.
   */
  packetBytes?: (ctx: bigint, length: number) => Uint8Array | undefined;
}

/** bpf_perf_event_output for maps of `registry`, by helper id. */
export function perfHelpers(registry: MapRegistry, options: PerfHelperOptions = {}): Map<number, Helper> {
  return new Map<number, Helper>([
    [HelperId.perf_event_output, (ctx) => {
      sameMemory(registry, ctx);
      const map = mapArg(registry, ctx, 2);
      if (!(map instanceof PerfEventArrayMap)) throw new VmError('helper argument r2 is not a perf event array', ctx.index);
      const flags = ctx.arg(3);
      const size = ctx.arg(5);
      if (size > 0xffffffffn) return -7; // -E2BIG
      let data = readArg(ctx, 4, Number(size));
      const packet = options.packetBytes;
      const extra = packet ? BPF_F_CTXLEN_MASK : 0n;
      const ctxLen = Number((flags & BPF_F_CTXLEN_MASK) >> 32n);
      if (packet && ctxLen > 0 && (flags & ~(BPF_F_CTXLEN_MASK | 0xffffffffn)) === 0n) {
        const bytes = packet(ctx.arg(1), ctxLen);
        if (bytes === undefined) return -14; // -EFAULT
        const joined = new Uint8Array(data.length + bytes.length);
        joined.set(data);
        joined.set(bytes, data.length);
        data = joined;
      }
      return map.output(flags, data, extra);
    }],
  ]);
}
