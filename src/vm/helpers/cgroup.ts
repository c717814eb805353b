/**
 * The cgroup helpers over the VM's cgroup maps and the host's cgroup table (`VmHostOptions.cgroups`,
 * the current task's `cgroup`): bpf_skb_under_cgroup (#33), bpf_current_task_under_cgroup (#37)
 * with a CGROUP_ARRAY (kernel/trace/bpf_trace.c, net/core/filter.c), and bpf_get_local_storage
 * (#81) with a (PERCPU_)CGROUP_STORAGE (kernel/bpf/helpers.c): the storage of the cgroup and
 * attach type the program runs under (`cgroup`, `cgroupAttachType`), made on first use as the
 * kernel makes it at attach time; and bpf_get_current_cgroup_id (#80),
 * bpf_get_current_ancestor_cgroup_id (#123), bpf_skb_cgroup_id (#79) and
 * bpf_skb_ancestor_cgroup_id (#83) from the same table.
 *
 * The sk_buffs of the VM's packet contexts stand for those of BPF_PROG_TEST_RUN, whose socket
 * is a dummy one the running task owns: the skb helpers ask about the current task's cgroup.
 */
import { VmError } from '../errors.js';
import type { Helper, HelperContext } from '../helpers.js';
import { CgroupArrayMap } from '../maps/cgroup-array.js';
import { CgroupStorageMap } from '../maps/cgroup-storage.js';
import { cgroupIsDescendant, findCgroup, mapEnvironment, type MapEnvironment } from '../maps/environment.js';
import { Errno } from '../maps/errno.js';
import { mapTypeName } from '../maps/flags.js';
import type { MapRegistry } from '../maps/registry.js';
import { mapArg, sameMemory } from './args.js';
import { bindHostEnvironment } from './environment.js';
import type { VmHost } from './host.js';

export const BPF_FUNC_get_cgroup_classid = 17;
export const BPF_FUNC_skb_under_cgroup = 33;
export const BPF_FUNC_current_task_under_cgroup = 37;
export const BPF_FUNC_skb_cgroup_id = 79;
export const BPF_FUNC_skb_ancestor_cgroup_id = 83;
export const BPF_FUNC_get_current_cgroup_id = 80;
export const BPF_FUNC_get_local_storage = 81;
export const BPF_FUNC_get_current_ancestor_cgroup_id = 123;

/** The cgroup `id` and its ancestors, root first (the kernel's `cgrp->ancestors[]`, level = index). */
function ancestry(env: MapEnvironment, id: bigint): bigint[] {
  const chain: bigint[] = [];
  let at: bigint | undefined = id;
  while (at !== undefined && chain.length <= env.cgroups.length) {
    chain.unshift(at);
    at = findCgroup(env, at)?.parent;
  }
  return chain;
}

/** The under_cgroup helpers' common part: 1 or 0, -E2BIG past the array, -EAGAIN for an empty slot. */
function underCgroup(registry: MapRegistry, host: VmHost, ctx: HelperContext, mapRegister: number, helper: string): number {
  sameMemory(registry, ctx);
  const map = mapArg(registry, ctx, mapRegister);
  if (!(map instanceof CgroupArrayMap)) throw new VmError(`${helper}: ${mapTypeName(map.type)} is not a cgroup array (the verifier refuses it)`, ctx.index);
  const index = ctx.argU32(mapRegister + 1);
  if (index >= map.maxEntries) return -Errno.E2BIG;
  const cgroup = map.cgroup(index);
  if (cgroup === undefined) return -Errno.EAGAIN;
  return cgroupIsDescendant(mapEnvironment(registry), host.cgroup, cgroup.id) ? 1 : 0;
}

/** The cgroup helpers for the maps of `registry`, cgroups from `host`. */
export function cgroupHelpers(registry: MapRegistry, host: VmHost): Map<number, Helper> {
  bindHostEnvironment(registry, host);
  return new Map<number, Helper>([
    [BPF_FUNC_skb_under_cgroup, (ctx) => underCgroup(registry, host, ctx, 2, 'bpf_skb_under_cgroup')],
    [BPF_FUNC_current_task_under_cgroup, (ctx) => underCgroup(registry, host, ctx, 1, 'bpf_current_task_under_cgroup')],
    [BPF_FUNC_get_current_cgroup_id, () => host.cgroup],
    // kernel: task_get_classid — outside softirq (a test run, a host-driven run) the current task's net_cls classid.
    [BPF_FUNC_get_cgroup_classid, () => host.netClassid],
    [BPF_FUNC_skb_cgroup_id, () => host.cgroup],
    [BPF_FUNC_skb_ancestor_cgroup_id, (ctx) => ancestry(mapEnvironment(registry), host.cgroup)[ctx.argU32(2) | 0] ?? 0n],
    // cgroup_ancestor: the ancestor at that level (the root is level 0), 0 past the cgroup's own level.
    [BPF_FUNC_get_current_ancestor_cgroup_id, (ctx) => ancestry(mapEnvironment(registry), host.cgroup)[ctx.argU32(1) | 0] ?? 0n],
    [BPF_FUNC_get_local_storage, (ctx) => {
      sameMemory(registry, ctx);
      const map = mapArg(registry, ctx, 1);
      if (!(map instanceof CgroupStorageMap)) {
        throw new VmError(`bpf_get_local_storage: ${mapTypeName(map.type)} is not a cgroup storage (the verifier refuses it)`, ctx.index);
      }
      return map.valueAddress(map.attach(host.cgroup, host.cgroupAttachType));
    }],
  ]);
}
