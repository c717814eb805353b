/**
 * The generic map helpers, with the kernel's return values (kernel/bpf/helpers.c):
 * bpf_map_lookup_elem returns the address of the value (0 for NULL), the others 0 or -errno.
 */
import type { Helper } from '../helpers.js';
import { MapType } from '../maps/flags.js';
import type { MapRegistry } from '../maps/registry.js';
import { mapArg, readArg, sameMemory, writableArg } from './args.js';
import { HelperId } from './ids.js';

/** The map helpers for maps of `registry`, by helper id. */
export function mapElemHelpers(registry: MapRegistry): Map<number, Helper> {
  return new Map<number, Helper>([
    [HelperId.map_lookup_elem, (ctx) => {
      sameMemory(registry, ctx);
      const map = mapArg(registry, ctx, 1);
      return map.programLookup(readArg(ctx, 2, map.keySize));
    }],
    [HelperId.map_update_elem, (ctx) => {
      sameMemory(registry, ctx);
      const map = mapArg(registry, ctx, 1);
      return map.programUpdate(readArg(ctx, 2, map.keySize), readArg(ctx, 3, map.valueSize), ctx.arg(4));
    }],
    [HelperId.map_delete_elem, (ctx) => {
      sameMemory(registry, ctx);
      const map = mapArg(registry, ctx, 1);
      return map.programDelete(readArg(ctx, 2, map.keySize));
    }],
    [HelperId.map_push_elem, (ctx) => {
      sameMemory(registry, ctx);
      const map = mapArg(registry, ctx, 1);
      return map.programPush(readArg(ctx, 2, map.valueSize), ctx.arg(3));
    }],
    [HelperId.map_pop_elem, (ctx) => {
      sameMemory(registry, ctx);
      const map = mapArg(registry, ctx, 1);
      return map.programPop(writableArg(ctx, 2, map.valueSize));
    }],
    [HelperId.map_peek_elem, (ctx) => {
      sameMemory(registry, ctx);
      const map = mapArg(registry, ctx, 1);
      // A bloom filter reads the value to test; queues and stacks write the element into it.
      const value = map.type === MapType.BLOOM_FILTER ? readArg(ctx, 2, map.valueSize) : writableArg(ctx, 2, map.valueSize);
      return map.programPeek(value);
    }],
    [HelperId.map_lookup_percpu_elem, (ctx) => {
      sameMemory(registry, ctx);
      const map = mapArg(registry, ctx, 1);
      return map.programLookupPercpu(readArg(ctx, 2, map.keySize), ctx.argU32(3));
    }],
  ]);
}
