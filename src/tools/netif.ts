/**
 * Network interfaces by name and index inside a network namespace (`ip netns` name or path),
 * for the network tools: an index means something only in its namespace.
 */
import { readFileSync } from 'node:fs';
import { nativeLinkSyscalls } from '../kernel/link/native.js';
import { inTargetNetns, resolveIfindex } from '../kernel/link/netns.js';

/** The index of interface `ifname` in `netns` (or here); throws KernelError when there is none. */
export function interfaceIndex(ifname: string, netns?: string): number {
  const target = netns === undefined ? { ifname } : { ifname, netns };
  return inTargetNetns(target, () => resolveIfindex(target));
}

/** Every interface of `netns` (or here), index → name (from /proc/thread-self/net/dev). */
export function interfaceNames(netns?: string): Map<number, string> {
  const names = new Map<number, string>();
  inTargetNetns(netns === undefined ? {} : { netns }, () => {
    const sys = nativeLinkSyscalls();
    for (const line of readFileSync('/proc/thread-self/net/dev', 'utf8').split('\n').slice(2)) {
      const name = line.split(':')[0]?.trim();
      if (!name) continue;
      const index = sys.ifNameToIndex(name);
      if (index > 0) names.set(index, name);
    }
  });
  return names;
}
