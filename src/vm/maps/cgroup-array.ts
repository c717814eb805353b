/**
 * BPF_MAP_TYPE_CGROUP_ARRAY (kernel/bpf/arraymap.c, cgroup_array_map_ops): cgroups for
 * bpf_current_task_under_cgroup and bpf_skb_under_cgroup. An fd array: the host sets a slot
 * with a cgroup fd — in the VM, the id of a cgroup of the registry's {@link MapEnvironment}
 * (as a u32; EBADF for an unknown one) — and bpf() cannot read slots back (ENOTSUPP, as for
 * every fd array without map_fd_sys_lookup_elem).
 */
import { findCgroup, mapEnvironment, type VmCgroup } from './environment.js';
import { Errno } from './errno.js';
import { FdArrayMap } from './fd-array.js';
import type { MapInfo, MapValue } from './map.js';
import type { MapRegistry } from './registry.js';

/** BPF_MAP_TYPE_CGROUP_ARRAY. */
export class CgroupArrayMap extends FdArrayMap<VmCgroup> {
  constructor(registry: MapRegistry, info: Omit<MapInfo, 'id'>) {
    super(registry, info);
  }

  /** cgroup_fd_array_get_ptr: cgroup_get_from_fd answers EBADF for anything but a cgroup. */
  protected resolve(id: number): VmCgroup | number {
    return findCgroup(mapEnvironment(this.registry), BigInt(id)) ?? -Errno.EBADF;
  }

  protected idOf(entry: VmCgroup): number {
    return Number(entry.id);
  }

  /** bpf_fd_array_map_lookup_elem without map_fd_sys_lookup_elem. */
  protected override sysLookup(): MapValue | number {
    return -Errno.ENOTSUPP;
  }

  /** The cgroup in slot `index`, if any (what the under_cgroup helpers read). */
  cgroup(index: number): VmCgroup | undefined {
    return index >>> 0 < this.maxEntries ? this.slots[index >>> 0] : undefined;
  }
}
