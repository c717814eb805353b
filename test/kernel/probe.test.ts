/**
 * Feature probes: against the running kernel (what every 6.x kernel has must be found, what
 * no kernel has must not), their cache, and — with a fake syscall layer — that a process without
 * privilege gets an error rather than a report of "nothing supported".
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  Errno, KernelError, MapType, ProgramType, countHelpers, nativeSyscalls, probeFeatures, probeHelper,
  probeHelperDetail, probeMapType, probeProgramType, type Syscalls,
} from '../../src/kernel/index.js';
import { NotSupportedError } from '../../src/errors.js';
import { kernelSkip } from '../support/kernel.js';

/** The native syscalls, counting bpf() calls (a fresh object: a fresh probe cache). */
function counting(): Syscalls & { calls: number } {
  const real = nativeSyscalls();
  const wrapper = {
    calls: 0,
    bpf(cmd: number, attr: Uint8Array): number {
      wrapper.calls++;
      return real.bpf(cmd, attr);
    },
    close: (fd: number) => real.close(fd),
    withMemory: <T>(use: Parameters<Syscalls['withMemory']>[0]): T => real.withMemory(use) as T,
    pageSize: () => real.pageSize?.() ?? 4096,
  };
  return wrapper;
}

describe('kernel feature probes', { skip: kernelSkip() }, () => {
  it('finds the map types every 6.x kernel has, and not an unknown one', () => {
    for (const type of [MapType.HASH, MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.LPM_TRIE, MapType.ARRAY_OF_MAPS,
      MapType.QUEUE, MapType.RINGBUF, MapType.BLOOM_FILTER, MapType.SK_STORAGE, MapType.TASK_STORAGE,
      MapType.STRUCT_OPS, MapType.CGROUP_STORAGE, MapType.ARENA]) {
      assert.equal(probeMapType(type), true, `map type ${type}`);
    }
    assert.equal(probeMapType(MapType.UNSPEC), false);
    assert.equal(probeMapType(200), false);
  });

  it('finds program types and tells helpers a type may call from those it may not', () => {
    for (const type of [ProgramType.SOCKET_FILTER, ProgramType.XDP, ProgramType.SCHED_CLS, ProgramType.KPROBE,
      ProgramType.CGROUP_SOCK_ADDR, ProgramType.SK_LOOKUP, ProgramType.SYSCALL, ProgramType.STRUCT_OPS]) {
      assert.equal(probeProgramType(type), true, `program type ${type}`);
    }
    assert.equal(probeProgramType(200), false);
    assert.equal(probeHelper(ProgramType.SOCKET_FILTER, 1), true); // map_lookup_elem
    assert.equal(probeHelper(ProgramType.SOCKET_FILTER, 44), false); // xdp_adjust_head
    assert.equal(probeHelper(ProgramType.XDP, 44), true);
    assert.equal(probeHelper(ProgramType.XDP, 130), true); // ringbuf_output
    assert.deepEqual(probeHelperDetail(ProgramType.SOCKET_FILTER, 44), { supported: false, name: 'bpf_xdp_adjust_head', unknown: false });
    assert.deepEqual(probeHelperDetail(ProgramType.XDP, 5000), { supported: false, name: undefined, unknown: true });
    assert.throws(() => probeHelper(ProgramType.TRACING, 1), NotSupportedError);
  });

  it('counts the helper ids the kernel knows', () => {
    assert.ok(countHelpers() >= 212, `${countHelpers()}`); // 6.18 knows ids up to 211
  });

  it('caches: a second question makes no system call', () => {
    const syscalls = counting();
    assert.equal(probeMapType(MapType.RINGBUF, { syscalls }), true);
    assert.equal(probeProgramType(ProgramType.XDP, { syscalls }), true);
    assert.equal(probeHelper(ProgramType.XDP, 6, { syscalls }), true);
    const calls = syscalls.calls;
    assert.ok(calls >= 3);
    probeMapType(MapType.RINGBUF, { syscalls });
    probeProgramType(ProgramType.XDP, { syscalls });
    probeHelper(ProgramType.XDP, 6, { syscalls });
    assert.equal(syscalls.calls, calls);
  });

  it('reports every map and program type', () => {
    const report = probeFeatures();
    assert.ok(report.mapTypes.length >= 33);
    assert.ok(report.programTypes.length >= 32);
    assert.ok(report.mapTypes.some((e) => e.name === 'BPF_MAP_TYPE_RINGBUF' && e.supported));
    assert.ok(report.programTypes.some((e) => e.name === 'BPF_PROG_TYPE_XDP' && e.supported));
    assert.deepEqual(report.helpers, {});
  });
});

describe('feature probes without privilege', () => {
  it('throw the EPERM instead of reporting nothing supported', () => {
    const eperm: Syscalls = {
      bpf: () => -Errno.EPERM,
      close: () => 0,
      withMemory: (use) => use({ input: () => 0n, output: (size) => ({ address: 0n, size, read: () => new Uint8Array(size) }) }),
    };
    assert.throws(() => probeMapType(MapType.HASH, { syscalls: eperm }), (err: unknown) => err instanceof KernelError && err.code === 'EPERM');
    assert.throws(() => probeProgramType(ProgramType.XDP, { syscalls: eperm }), (err: unknown) => err instanceof KernelError && err.code === 'EPERM');
  });
});
