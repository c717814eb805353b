/**
 * Does this kernel have map type X? Creates the smallest map of that type and closes it, as
 * `bpftool feature probe` and libbpf's libbpf_probe_bpf_map_type do (libbpf_probes.c, the
 * reference for each type's sizes and flags).
 */
import { Errno } from './errno.js';
import { KernelError } from './error.js';
import { loadBtf } from './btf-load.js';
import { createMap, type CreateMapOptions } from './map.js';
import { MapFlag, MapType } from './map-types.js';
import { pageSizeOf } from './mmap.js';
import { checkProbePrivilege } from './probe-programs.js';
import type { Syscalls } from './syscalls.js';

/**
 * Raw BTF for the local-storage probes: `int` [1], `struct bpf_spin_lock { int val; }` [2] and
 * `struct val { int cnt; struct bpf_spin_lock l; }` [3] — storage maps need BTF key and value types.
 */
function storageBtf(): Uint8Array {
  const strings = new TextEncoder().encode('\0bpf_spin_lock\0val\0cnt\0l\0');
  const INT = 1 << 24;
  const STRUCT = 4 << 24;
  const types = new Uint32Array([
    0, INT, 4, (1 << 24) | 32, // [1] int (signed, 32 bits)
    1, STRUCT | 1, 4, 15, 1, 0, // [2] struct bpf_spin_lock { int val; }
    15, STRUCT | 2, 8, 19, 1, 0, 23, 2, 32, // [3] struct val { int cnt; struct bpf_spin_lock l; }
  ]);
  const typeBytes = new Uint8Array(types.buffer);
  const out = new Uint8Array(24 + typeBytes.length + strings.length);
  const header = new DataView(out.buffer);
  const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  header.setUint16(0, 0xeb9f, le);
  header.setUint8(2, 1);
  header.setUint32(4, 24, le);
  header.setUint32(8, 0, le);
  header.setUint32(12, typeBytes.length, le);
  header.setUint32(16, typeBytes.length, le);
  header.setUint32(20, strings.length, le);
  out.set(typeBytes, 24);
  out.set(strings, 24 + typeBytes.length);
  return out;
}

/** The creation attributes that probe `type`, and the errno that means "supported" when creation must fail. */
function probeSpec(type: number, pageSize: number): { options: Omit<CreateMapOptions, 'syscalls'>; btf?: boolean; inner?: boolean; expectErrno?: number } | undefined {
  const base = { type, keySize: 4, valueSize: 4, maxEntries: 1 };
  switch (type) {
    case MapType.UNSPEC:
      return undefined;
    case MapType.STACK_TRACE:
      return { options: { ...base, valueSize: 8 } };
    case MapType.LPM_TRIE:
      return { options: { ...base, keySize: 8, valueSize: 8, flags: MapFlag.NO_PREALLOC } };
    case MapType.CGROUP_STORAGE:
    case MapType.PERCPU_CGROUP_STORAGE:
      return { options: { ...base, keySize: 16 /* struct bpf_cgroup_storage_key */, valueSize: 8, maxEntries: 0 } };
    case MapType.QUEUE:
    case MapType.STACK:
    case MapType.BLOOM_FILTER:
      return { options: { ...base, keySize: 0 } };
    case MapType.SK_STORAGE:
    case MapType.INODE_STORAGE:
    case MapType.TASK_STORAGE:
    case MapType.CGRP_STORAGE:
      return { options: { ...base, valueSize: 8, maxEntries: 0, flags: MapFlag.NO_PREALLOC, btfKeyTypeId: 1, btfValueTypeId: 3 }, btf: true };
    case MapType.RINGBUF:
    case MapType.USER_RINGBUF:
      return { options: { ...base, keySize: 0, valueSize: 0, maxEntries: pageSize } };
    case MapType.STRUCT_OPS:
      // BTF id 1 of vmlinux is no struct_ops type: ENOTSUPP says the map type exists.
      return { options: { ...base, btfVmlinuxValueTypeId: 1 }, expectErrno: Errno.ENOTSUPP };
    case MapType.ARENA:
      return { options: { ...base, keySize: 0, valueSize: 0, flags: MapFlag.MMAPABLE } };
    case MapType.ARRAY_OF_MAPS:
    case MapType.HASH_OF_MAPS:
      return { options: base, inner: true };
    default:
      return { options: base };
  }
}

/**
 * Whether this kernel can create maps of `type` (`MapType.*`). Throws the {@link KernelError}
 * of an EPERM when the process may not use bpf() at all.
 */
export function probeMapTypeUncached(type: number, syscalls: Syscalls): boolean {
  const spec = probeSpec(type, pageSizeOf(syscalls));
  if (!spec) return false;
  let btf: ReturnType<typeof loadBtf> | undefined;
  let inner: ReturnType<typeof createMap> | undefined;
  try {
    if (spec.btf) btf = loadBtf(storageBtf(), { syscalls });
    if (spec.inner) inner = createMap({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 1, syscalls });
    const map = createMap({
      ...spec.options,
      ...(btf ? { btfFd: btf.fd } : {}),
      ...(inner ? { innerMap: inner } : {}),
      syscalls,
    });
    map.close();
    return spec.expectErrno === undefined;
  } catch (err) {
    if (!(err instanceof KernelError)) throw err;
    if (err.errno === Errno.EPERM) checkProbePrivilege(err, syscalls);
    return spec.expectErrno !== undefined && err.errno === spec.expectErrno;
  } finally {
    inner?.close();
    btf?.close();
  }
}
