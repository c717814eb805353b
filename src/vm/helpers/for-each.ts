/**
 * bpf_for_each_map_elem (#164) as the kernel defines it (kernel/bpf/bpf_iter.c
 * BPF_CALL_4(bpf_for_each_map_elem), then the map's map_for_each_callback:
 * bpf_for_each_array_elem, bpf_for_each_hash_elem): `callback(map, key, value, ctx)` for every
 * element in the map's own order — arrays by index, hashes bucket by bucket, the order
 * BPF_MAP_GET_NEXT_KEY walks — stopping after a callback that returns non-zero (the verifier
 * holds it to 0 or 1). Returns the number of elements visited, the stopping one included;
 * -EINVAL for non-zero flags. Per-CPU maps give this CPU's value.
 *
 * Works on any map through the generic VmMap API (LRU maps through their lookup that does not
 * set the element's reference bit, as the kernel's walk does not): the keys are taken before the first call,
 * and an element a callback deletes before it is reached is skipped (as the kernel's RCU walk
 * skips an unlinked element); elements a callback adds are not visited.
 */
import { VmError } from '../errors.js';
import type { Helper } from '../helpers.js';
import { MapType, mapTypeName } from '../maps/flags.js';
import { LruHashMap, LruPercpuHashMap } from '../maps/lru-hash.js';
import type { MapRegistry } from '../maps/registry.js';
import { mapArg, sameMemory } from './args.js';

export const BPF_FUNC_for_each_map_elem = 164;

const EINVAL = 22;

/** Map types with a map_for_each_callback (the verifier refuses the helper on others). */
const FOR_EACH_TYPES: ReadonlySet<number> = new Set([
  MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH, MapType.LRU_PERCPU_HASH,
]);

/** bpf_for_each_map_elem for the maps of `registry`. */
export function forEachHelpers(registry: MapRegistry): Map<number, Helper> {
  return new Map<number, Helper>([
    [BPF_FUNC_for_each_map_elem, (ctx) => {
      sameMemory(registry, ctx);
      const map = mapArg(registry, ctx, 1);
      const fn = ctx.arg(2);
      const callbackCtx = ctx.arg(3);
      if (ctx.arg(4) !== 0n) return -EINVAL;
      if (!FOR_EACH_TYPES.has(map.type)) {
        throw new VmError(`bpf_for_each_map_elem: map '${map.name}' is a ${mapTypeName(map.type)}, which has no for-each callback (the kernel's verifier refuses it)`, ctx.index);
      }
      const memory = registry.memory;
      const keys = [...map.keys()];
      // The callback gets a read-only pointer to the key (PTR_TO_MAP_KEY).
      const keyRegion = memory.alloc(map.keySize, { kind: 'map_key', name: `map '${map.name}' for-each key`, writable: false });
      let visited = 0;
      try {
        for (const key of keys) {
          // The kernel walks the elements without marking LRU elements used.
          const value = map instanceof LruHashMap || map instanceof LruPercpuHashMap ? map.valueAddress(key) : map.programLookup(key);
          if (value === 0) continue; // deleted by an earlier callback
          memory.bytes.set(key, keyRegion.start);
          visited++;
          if (ctx.call(fn, map.address, keyRegion.start, value, callbackCtx) !== 0n) break;
        }
      } finally {
        memory.release(keyRegion);
      }
      return visited;
    }],
  ]);
}
