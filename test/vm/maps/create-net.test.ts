/**
 * Creation checks of the device, CPU, socket, cgroup and stack trace maps against the kernel's
 * (devmap.c, cpumap.c, xskmap.c, arraymap.c, local_storage.c, stackmap.c): the same
 * BPF_MAP_CREATE parameters to both, the errno (or success) compared, and the flags the map
 * reports afterwards.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LOCAL_STORAGE_MAX_VALUE_SIZE, MapError, MapFlag, MapRegistry, MapType, Memory, NR_CPUS, type MapOptions } from '../../../src/vm/index.js';
import { mapInfo } from '../../../src/kernel/info.js';
import { kernelSkip } from '../../support/kernel.js';
import { KernelMap, possibleCpus } from './kernel-maps.js';

const F = MapFlag;
const T = MapType;
const c = (type: number, keySize: number, valueSize: number, maxEntries: number, flags = 0): MapOptions => ({ type, keySize, valueSize, maxEntries, flags });
const LS_MAX = LOCAL_STORAGE_MAX_VALUE_SIZE;

const cases: MapOptions[] = [
  // devmap, devmap_hash
  ...[T.DEVMAP, T.DEVMAP_HASH].flatMap((t) => [
    c(t, 4, 4, 1), c(t, 4, 8, 1), c(t, 4, 12, 1), c(t, 4, 0, 1), c(t, 8, 4, 1), c(t, 4, 4, 0), c(t, 4, 4, 1, F.NUMA_NODE),
    c(t, 4, 4, 1, F.RDONLY), c(t, 4, 4, 1, F.WRONLY), c(t, 4, 4, 1, F.RDONLY_PROG), c(t, 4, 4, 1, F.NO_PREALLOC), c(t, 4, 4, 1, F.ZERO_SEED),
    c(t, 4, 4, 1, F.RDONLY | F.WRONLY),
  ]),
  // A DEVMAP of 2^31 + 1 slots is a 16 GiB table the kernel may or may not get (ENOMEM): only the hash's limit is certain.
  c(T.DEVMAP_HASH, 4, 4, 2 ** 31 + 1), c(T.DEVMAP_HASH, 4, 8, 2 ** 31 + 1),
  // cpumap (NR_CPUS differs between kernel builds: sizes between 257 and 8192 are left out)
  c(T.CPUMAP, 4, 4, 1), c(T.CPUMAP, 4, 8, 4), c(T.CPUMAP, 4, 12, 4), c(T.CPUMAP, 4, 0, 4), c(T.CPUMAP, 8, 4, 4), c(T.CPUMAP, 4, 4, 0),
  c(T.CPUMAP, 4, 4, 256), c(T.CPUMAP, 4, 4, NR_CPUS + 1), c(T.CPUMAP, 4, 4, 1, F.NUMA_NODE), c(T.CPUMAP, 4, 4, 1, F.RDONLY),
  c(T.CPUMAP, 4, 4, 1, F.WRONLY), c(T.CPUMAP, 4, 4, 1, F.RDONLY_PROG), c(T.CPUMAP, 4, 8, 0, F.RDONLY),
  // xskmap
  c(T.XSKMAP, 4, 4, 4), c(T.XSKMAP, 4, 8, 4), c(T.XSKMAP, 8, 4, 4), c(T.XSKMAP, 4, 4, 0), c(T.XSKMAP, 4, 4, 4, F.NUMA_NODE),
  c(T.XSKMAP, 4, 4, 4, F.RDONLY), c(T.XSKMAP, 4, 4, 4, F.WRONLY), c(T.XSKMAP, 4, 4, 4, F.RDONLY_PROG), c(T.XSKMAP, 4, 4, 4, F.NO_PREALLOC),
  // cgroup array (an fd array)
  c(T.CGROUP_ARRAY, 4, 4, 2), c(T.CGROUP_ARRAY, 4, 8, 2), c(T.CGROUP_ARRAY, 8, 4, 2), c(T.CGROUP_ARRAY, 4, 4, 0),
  c(T.CGROUP_ARRAY, 4, 4, 2, F.RDONLY_PROG), c(T.CGROUP_ARRAY, 4, 4, 2, F.WRONLY_PROG), c(T.CGROUP_ARRAY, 4, 4, 2, F.MMAPABLE),
  c(T.CGROUP_ARRAY, 4, 4, 2, F.PRESERVE_ELEMS), c(T.CGROUP_ARRAY, 4, 4, 2, F.NUMA_NODE), c(T.CGROUP_ARRAY, 4, 4, 2, F.RDONLY),
  // cgroup storages
  ...[T.CGROUP_STORAGE, T.PERCPU_CGROUP_STORAGE].flatMap((t) => [
    c(t, 16, 8, 0), c(t, 8, 8, 0), c(t, 12, 8, 0), c(t, 4, 8, 0), c(t, 16, 0, 0), c(t, 16, 8, 1), c(t, 16, 32768, 0), c(t, 16, 32769, 0),
    c(t, 16, LS_MAX, 0), c(t, 16, LS_MAX + 1, 0), c(t, 16, 8, 0, F.NUMA_NODE), c(t, 16, 8, 0, F.RDONLY_PROG), c(t, 16, 8, 0, F.WRONLY_PROG),
    c(t, 16, 8, 0, F.RDONLY_PROG | F.WRONLY_PROG), c(t, 16, 8, 0, F.NO_PREALLOC), c(t, 16, 8, 0, F.RDONLY), c(t, 8, LS_MAX + 1, 1),
    c(t, 12, 0, 1),
  ]),
  // stack trace
  c(T.STACK_TRACE, 4, 8, 1), c(T.STACK_TRACE, 4, 1016, 16), c(T.STACK_TRACE, 4, 1024, 16), c(T.STACK_TRACE, 4, 12, 16), c(T.STACK_TRACE, 4, 4, 16),
  c(T.STACK_TRACE, 8, 8, 16), c(T.STACK_TRACE, 4, 8, 0), c(T.STACK_TRACE, 4, 8, 2 ** 31 + 1), c(T.STACK_TRACE, 4, 8, 16, F.NUMA_NODE),
  c(T.STACK_TRACE, 4, 8, 16, F.RDONLY_PROG), c(T.STACK_TRACE, 4, 8, 16, F.NO_PREALLOC), c(T.STACK_TRACE, 4, 8, 16, F.RDONLY),
  c(T.STACK_TRACE, 4, 32, 16, F.STACK_BUILD_ID), c(T.STACK_TRACE, 4, 40, 16, F.STACK_BUILD_ID), c(T.STACK_TRACE, 4, 127 * 32, 16, F.STACK_BUILD_ID),
  c(T.STACK_TRACE, 4, 128 * 32, 16, F.STACK_BUILD_ID), c(T.STACK_TRACE, 4, 24, 16, F.STACK_BUILD_ID), c(T.STACK_TRACE, 4, 8, 16, F.RDONLY | F.WRONLY),
];

function label(o: MapOptions): string {
  return `type ${o.type} key ${o.keySize} value ${o.valueSize} max ${o.maxEntries} flags 0x${(o.flags ?? 0).toString(16)}`;
}

function vmCreate(registry: MapRegistry, options: MapOptions): number {
  try {
    registry.create(options).close();
    return 0;
  } catch (err) {
    if (err instanceof MapError) return err.errno;
    throw err;
  }
}

describe('creation of devmaps, cpumaps, xskmaps, cgroup maps and stack trace maps', () => {
  it('answers as the kernel does for each parameter set', { skip: kernelSkip() }, (t) => {
    const registry = new MapRegistry(new Memory(), { cpus: possibleCpus() });
    let accepted = 0;
    for (const options of cases) {
      const k = KernelMap.create({ ...options, mapExtra: 0n });
      const want = typeof k === 'number' ? k : 0;
      assert.equal(vmCreate(registry, options), want, label(options));
      if (typeof k !== 'number') {
        // What bpf_map_info reports: the flags (devmaps gain BPF_F_RDONLY_PROG) and sizes. The
        // kernel leaves out BPF_F_RDONLY/WRONLY (properties of an fd, not of the map:
        // bpf_map_flags_retain_permanent); the VM's map is its own fd and keeps them.
        const info = mapInfo(k.fd);
        using vm = registry.create(options);
        const fdFlags = F.RDONLY | F.WRONLY;
        assert.deepEqual([vm.flags & ~fdFlags, vm.keySize, vm.valueSize, vm.maxEntries], [info.flags, info.keySize, info.valueSize, info.maxEntries], `${label(options)}: map info`);
        k.close();
        accepted++;
      }
    }
    t.diagnostic(`${cases.length} parameter sets compared (${accepted} accepted, ${cases.length - accepted} refused)`);
  });

  it('reports BPF_F_RDONLY_PROG on devmaps, which the kernel adds at creation', () => {
    const registry = new MapRegistry(new Memory());
    for (const type of [T.DEVMAP, T.DEVMAP_HASH]) {
      using map = registry.create({ type, keySize: 4, valueSize: 4, maxEntries: 2 });
      assert.equal(map.flags, F.RDONLY_PROG);
    }
    using cpumap = registry.create({ type: T.CPUMAP, keySize: 4, valueSize: 4, maxEntries: 2 });
    assert.equal(cpumap.flags, 0);
  });

  it('refuses a CPUMAP larger than NR_CPUS with E2BIG', () => {
    const registry = new MapRegistry(new Memory());
    assert.equal(vmCreate(registry, c(T.CPUMAP, 4, 4, NR_CPUS)), 0);
    assert.equal(vmCreate(registry, c(T.CPUMAP, 4, 4, NR_CPUS + 1)), 7);
  });
});
