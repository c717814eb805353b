/** The ring buffer helpers (kernel/bpf/ringbuf.c), over {@link RingbufMap}. */
import { VmError } from '../errors.js';
import type { Helper, HelperContext } from '../helpers.js';
import type { MapRegistry } from '../maps/registry.js';
import { RingbufMap } from '../maps/ringbuf.js';
import { mapArg, readArg, sameMemory } from './args.js';
import { HelperId } from './ids.js';

function ringbufArg(registry: MapRegistry, ctx: HelperContext, n: number): RingbufMap {
  const map = mapArg(registry, ctx, n);
  if (!(map instanceof RingbufMap)) throw new VmError(`helper argument r${n} is ${map.name ? `map '${map.name}'` : 'a map'}, not a ring buffer`, ctx.index);
  return map;
}

/** The ring buffer whose record data starts at the address in r1 (kernel: bpf_ringbuf_restore_from_rec). */
function recordRing(registry: MapRegistry, ctx: HelperContext): RingbufMap {
  const address = ctx.argNumber(1);
  for (const map of registry.maps) if (map instanceof RingbufMap && map.holdsRecord(address)) return map;
  throw new VmError(`helper argument r1 (0x${address.toString(16)}) is not a ring buffer record`, ctx.index);
}

/** The ring buffer helpers for maps of `registry`, by helper id. */
export function ringbufHelpers(registry: MapRegistry): Map<number, Helper> {
  return new Map<number, Helper>([
    [HelperId.ringbuf_output, (ctx) => {
      sameMemory(registry, ctx);
      const ring = ringbufArg(registry, ctx, 1);
      const size = ctx.arg(3);
      if (size > 0xffffffffn) return -7; // -E2BIG: the verifier bounds the size; a wild one cannot be read
      return ring.output(readArg(ctx, 2, Number(size)), ctx.arg(4));
    }],
    [HelperId.ringbuf_reserve, (ctx) => {
      sameMemory(registry, ctx);
      const ring = ringbufArg(registry, ctx, 1);
      if (ctx.arg(3) !== 0n) return 0;
      const size = ctx.arg(2);
      return size > 0xffffffffn ? 0 : ring.reserve(Number(size));
    }],
    [HelperId.ringbuf_submit, (ctx) => {
      sameMemory(registry, ctx);
      recordRing(registry, ctx).commit(ctx.argNumber(1), ctx.arg(2), false);
    }],
    [HelperId.ringbuf_discard, (ctx) => {
      sameMemory(registry, ctx);
      recordRing(registry, ctx).commit(ctx.argNumber(1), ctx.arg(2), true);
    }],
    [HelperId.ringbuf_query, (ctx) => {
      sameMemory(registry, ctx);
      return ringbufArg(registry, ctx, 1).query(ctx.arg(2));
    }],
  ]);
}
