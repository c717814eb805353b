/**
 * Map creation checks against the kernel's: the same BPF_MAP_CREATE parameters given to both,
 * the errno (or success) compared; and the VM's own rules for types it does not implement.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NotSupportedError } from '../../../src/errors.js';
import { MapError, MapFlag, MapRegistry, MapType, Memory, type MapOptions, type VmMap } from '../../../src/vm/index.js';
import { kernelSkip } from '../../support/kernel.js';
import { KernelMap, possibleCpus } from './kernel-maps.js';

const F = MapFlag;
const T = MapType;
const KMALLOC_MAX = 1 << 22;
/** An fd that is not open: what a map-of-maps without an inner map template amounts to (EBADF). */
const NO_FD = 999_999;

interface Case {
  options: Omit<MapOptions, 'innerMap'>;
  /** Create an inner map with these options first and pass it. */
  inner?: Omit<MapOptions, 'innerMap'>;
}

const c = (type: number, keySize: number, valueSize: number, maxEntries: number, flags = 0, mapExtra = 0n): Case =>
  ({ options: { type, keySize, valueSize, maxEntries, flags, mapExtra } });
const inner = (cs: Case, innerOptions: Omit<MapOptions, 'innerMap'>): Case => ({ ...cs, inner: innerOptions });

const INNER_ARRAY = { type: T.ARRAY, keySize: 4, valueSize: 4, maxEntries: 4 };

const cases: Case[] = [
  // hash family
  c(T.HASH, 4, 8, 1), c(T.HASH, 4, 8, 0), c(T.HASH, 0, 8, 1), c(T.HASH, 4, 0, 1), c(T.HASH, 4, 8, 1, 1 << 23),
  c(T.HASH, 4, 8, 1, F.NO_COMMON_LRU), c(T.HASH, 4, 8, 1, F.RDONLY_PROG | F.WRONLY_PROG), c(T.HASH, 4, 8, 1, F.RDONLY | F.WRONLY),
  c(T.HASH, 4, 8, 1, F.NUMA_NODE), c(T.HASH, 4, 8, 1, F.ZERO_SEED | F.NO_PREALLOC), c(T.HASH, 4, 8, 1, 0, 1n),
  c(T.HASH, 4, 8, 1, F.MMAPABLE), c(T.HASH, 512, 8, 1), c(T.HASH, 1000, KMALLOC_MAX - 48 - 1000, 1), c(T.HASH, 1000, KMALLOC_MAX - 48 - 1001, 1),
  c(T.HASH, 4, 8, 2 ** 31 + 1), c(T.HASH, 4, 8, 1, F.RDONLY), c(T.HASH, 4, 8, 1, F.WRONLY_PROG),
  c(T.PERCPU_HASH, 4, 32768, 1), c(T.PERCPU_HASH, 4, 32769, 1), c(T.PERCPU_HASH, 4, 8, 1, F.NUMA_NODE), c(T.PERCPU_HASH, 4, 8, 1, F.NO_PREALLOC),
  c(T.LRU_HASH, 4, 8, 1), c(T.LRU_HASH, 4, 8, 1, F.NO_PREALLOC), c(T.LRU_HASH, 4, 8, 3, F.NO_COMMON_LRU), c(T.LRU_HASH, 4, 8, 1, F.NO_COMMON_LRU | F.NUMA_NODE),
  c(T.LRU_HASH, 4, 8, 1, F.NUMA_NODE), c(T.LRU_PERCPU_HASH, 4, 8, 1, F.NUMA_NODE), c(T.LRU_PERCPU_HASH, 8, 32769, 1), c(T.LRU_PERCPU_HASH, 8, 16, 5, F.NO_COMMON_LRU),
  // arrays
  c(T.ARRAY, 4, 8, 1), c(T.ARRAY, 8, 8, 1), c(T.ARRAY, 4, 0, 1), c(T.ARRAY, 4, 8, 0), c(T.ARRAY, 4, 8, 1, F.MMAPABLE), c(T.ARRAY, 4, 8, 1, F.INNER_MAP),
  c(T.ARRAY, 4, 8, 1, F.PRESERVE_ELEMS), c(T.ARRAY, 4, 8, 1, F.NO_PREALLOC), c(T.ARRAY, 4, 0x80000000, 1), c(T.ARRAY, 4, 8, 1, F.ZERO_SEED),
  c(T.ARRAY, 4, 8, 1, F.RDONLY_PROG), c(T.ARRAY, 4, 8, 1, F.NUMA_NODE), c(T.ARRAY, 4, 8, 1, 0, 5n),
  c(T.PERCPU_ARRAY, 4, 8, 1), c(T.PERCPU_ARRAY, 4, 8, 1, F.MMAPABLE), c(T.PERCPU_ARRAY, 4, 32769, 1), c(T.PERCPU_ARRAY, 4, 32768, 1), c(T.PERCPU_ARRAY, 4, 8, 1, F.NUMA_NODE),
  c(T.PROG_ARRAY, 4, 4, 4), c(T.PROG_ARRAY, 4, 8, 4), c(T.PROG_ARRAY, 4, 4, 4, F.RDONLY_PROG), c(T.PROG_ARRAY, 8, 4, 4), c(T.PROG_ARRAY, 4, 4, 4, F.MMAPABLE),
  c(T.PERF_EVENT_ARRAY, 4, 4, 2), c(T.PERF_EVENT_ARRAY, 4, 4, 2, F.PRESERVE_ELEMS), c(T.PERF_EVENT_ARRAY, 4, 8, 2), c(T.PERF_EVENT_ARRAY, 4, 4, 0),
  // maps of maps
  c(T.ARRAY_OF_MAPS, 4, 4, 2), inner(c(T.ARRAY_OF_MAPS, 4, 4, 2), INNER_ARRAY), inner(c(T.ARRAY_OF_MAPS, 4, 8, 2), INNER_ARRAY),
  inner(c(T.ARRAY_OF_MAPS, 4, 4, 2, F.RDONLY_PROG), INNER_ARRAY),
  c(T.HASH_OF_MAPS, 4, 4, 2), inner(c(T.HASH_OF_MAPS, 4, 4, 2), INNER_ARRAY), inner(c(T.HASH_OF_MAPS, 8, 8, 2), INNER_ARRAY),
  inner(c(T.HASH_OF_MAPS, 4, 4, 2, F.NO_COMMON_LRU), INNER_ARRAY),
  inner(c(T.HASH_OF_MAPS, 4, 4, 2), { type: T.HASH, keySize: 8, valueSize: 8, maxEntries: 10 }),
  // LPM trie
  c(T.LPM_TRIE, 8, 8, 10, F.NO_PREALLOC), c(T.LPM_TRIE, 8, 8, 10), c(T.LPM_TRIE, 4, 8, 10, F.NO_PREALLOC), c(T.LPM_TRIE, 5, 8, 10, F.NO_PREALLOC),
  c(T.LPM_TRIE, 260, 8, 10, F.NO_PREALLOC), c(T.LPM_TRIE, 261, 8, 10, F.NO_PREALLOC), c(T.LPM_TRIE, 8, 0, 10, F.NO_PREALLOC), c(T.LPM_TRIE, 8, 8, 0, F.NO_PREALLOC),
  c(T.LPM_TRIE, 8, 8, 10, F.NO_PREALLOC | F.ZERO_SEED), c(T.LPM_TRIE, 8, 8, 10, F.NO_PREALLOC | F.RDONLY_PROG),
  // queue, stack
  c(T.QUEUE, 0, 8, 4), c(T.QUEUE, 4, 8, 4), c(T.QUEUE, 0, 0, 4), c(T.QUEUE, 0, 8, 0), c(T.QUEUE, 0, 8, 4, F.NO_PREALLOC), c(T.QUEUE, 0, KMALLOC_MAX + 1, 1),
  c(T.STACK, 0, 8, 4), c(T.STACK, 0, 8, 4, F.RDONLY_PROG), c(T.STACK, 0, 8, 4, F.ZERO_SEED),
  // bloom filter
  c(T.BLOOM_FILTER, 0, 8, 100), c(T.BLOOM_FILTER, 4, 8, 100), c(T.BLOOM_FILTER, 0, 8, 100, 0, 3n), c(T.BLOOM_FILTER, 0, 8, 100, 0, 16n),
  c(T.BLOOM_FILTER, 0, 0, 100), c(T.BLOOM_FILTER, 0, 8, 0), c(T.BLOOM_FILTER, 0, 8, 100, F.ZERO_SEED), c(T.BLOOM_FILTER, 0, 8, 100, F.NO_PREALLOC),
  c(T.BLOOM_FILTER, 0, KMALLOC_MAX + 1, 100),
  // ring buffer
  c(T.RINGBUF, 0, 0, 4096), c(T.RINGBUF, 0, 0, 8192), c(T.RINGBUF, 0, 0, 4095), c(T.RINGBUF, 0, 0, 12288), c(T.RINGBUF, 0, 0, 2048), c(T.RINGBUF, 0, 0, 0),
  c(T.RINGBUF, 4, 0, 4096), c(T.RINGBUF, 0, 4, 4096), c(T.RINGBUF, 0, 0, 4096, F.NO_PREALLOC), c(T.RINGBUF, 0, 0, 4096, F.NUMA_NODE),
  // unknown types
  c(T.UNSPEC, 4, 4, 1), c(34, 4, 4, 1), c(200, 4, 4, 1),
];

/** Types the VM refuses with NotSupportedError, and a kernel-valid example of each. */
const UNSUPPORTED: Case[] = [
  c(T.REUSEPORT_SOCKARRAY, 4, 4, 2),
  c(T.USER_RINGBUF, 0, 0, 4096), c(T.SK_STORAGE, 4, 8, 0, F.NO_PREALLOC), c(T.ARENA, 0, 0, 1, F.MMAPABLE),
];

function vmCreate(registry: MapRegistry, cs: Case, innerMap: VmMap | undefined): number | 'unsupported' {
  try {
    registry.create({ ...cs.options, innerMap }).close();
    return 0;
  } catch (err) {
    if (err instanceof NotSupportedError) return 'unsupported';
    if (err instanceof MapError) return err.errno;
    throw err;
  }
}

function label(cs: Case): string {
  const o = cs.options;
  return `type ${o.type} key ${o.keySize} value ${o.valueSize} max ${o.maxEntries} flags 0x${(o.flags ?? 0).toString(16)}`
    + `${o.mapExtra ? ` extra ${o.mapExtra}` : ''}${cs.inner ? ' +inner' : ''}`;
}

describe('map creation', () => {
  it('answers as the kernel does for each parameter set', { skip: kernelSkip() }, (t) => {
    const registry = new MapRegistry(new Memory(), { cpus: possibleCpus() });
    let compared = 0;
    let accepted = 0;
    for (const cs of cases) {
      let kernelInner: KernelMap | undefined;
      let vmInner: VmMap | undefined;
      if (cs.inner) {
        const k = KernelMap.create({ ...cs.inner, mapExtra: 0n });
        assert.ok(typeof k !== 'number', `inner map of ${label(cs)}`);
        kernelInner = k;
        vmInner = registry.create(cs.inner);
      }
      const k = KernelMap.create({ ...cs.options, mapExtra: BigInt(cs.options.mapExtra ?? 0), innerMapFd: kernelInner?.fd ?? NO_FD });
      const want = typeof k === 'number' ? k : 0;
      if (typeof k !== 'number') k.close();
      kernelInner?.close();
      const got = vmCreate(registry, cs, vmInner);
      vmInner?.close();
      assert.equal(got, want, label(cs));
      compared++;
      if (want === 0) accepted++;
    }
    t.diagnostic(`${compared} parameter sets compared (${accepted} accepted, ${compared - accepted} refused)`);
  });

  it('refuses types the VM does not implement with NotSupportedError naming them', () => {
    const registry = new MapRegistry(new Memory());
    for (const cs of UNSUPPORTED) {
      assert.throws(() => registry.create(cs.options), (e: unknown) =>
        e instanceof NotSupportedError && /BPF_MAP_TYPE_[A-Z_]+ is not supported by the VM/.test(e.message), label(cs));
    }
  });

  it('rounds max_entries of a per-CPU LRU up to a multiple of the CPUs, as the kernel reports it', () => {
    const registry = new MapRegistry(new Memory(), { cpus: 4 });
    assert.equal(registry.create({ type: T.LRU_HASH, keySize: 4, valueSize: 4, maxEntries: 5, flags: F.NO_COMMON_LRU }).maxEntries, 8);
    assert.equal(registry.create({ type: T.LRU_HASH, keySize: 4, valueSize: 4, maxEntries: 5 }).maxEntries, 5);
  });
});
