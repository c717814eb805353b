/**
 * The map behind helpers 1 and 2 of the shared benchmark ABI (../shared/bench/README.md):
 * handle 0 is a hash map from u32 keys to u64 values whose values live in VM memory, so
 * `bpf_map_lookup_elem` returns a pointer the program writes through.
 */
import type { HelperTable, Memory, Region } from '../src/vm/index.js';

export function benchMapHelpers(memory: Memory, maxEntries = 1024): HelperTable {
  const values = new Map<number, Region>();
  return new Map([
    [1, (ctx) => { // map_lookup_elem(map, key)
      const key = memory.view.getUint32(ctx.argNumber(2), true);
      return values.get(key)?.start ?? 0;
    }],
    [2, (ctx) => { // map_update_elem(map, key, value, flags) with BPF_ANY
      const key = memory.view.getUint32(ctx.argNumber(2), true);
      const src = ctx.argNumber(3);
      let region = values.get(key);
      if (region === undefined) {
        if (values.size >= maxEntries) return -7; // -E2BIG
        region = memory.alloc(8, { kind: 'map_value', name: 'map value' });
        values.set(key, region);
      }
      memory.bytes.copyWithin(region.start, src, src + 8);
      return 0;
    }],
  ]);
}
