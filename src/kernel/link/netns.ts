/**
 * Network namespaces for attaching: an interface index means something only in one
 * namespace, and BPF_LINK_CREATE for XDP, tcx and netfilter resolves its target in the calling
 * thread's namespace. {@link withNetns} runs a synchronous function with the main thread moved
 * into another namespace (setns), then moves it back; links made inside stay attached there.
 * Also the namespace-wide hooks: sk_lookup and flow_dissector (BPF_LINK_CREATE on a netns fd).
 */
import { closeSync, openSync } from 'node:fs';
import { KernelError } from '../error.js';
import type { Program } from '../program.js';
import { AttachType, attachTypeName } from '../types.js';
import { linkCreate } from './create.js';
import { BpfLink } from './link.js';
import { nativeLinkSyscalls, type LinkSyscalls } from './native.js';

/** `CLONE_NEWNET`: the nstype of setns for a network namespace. */
const CLONE_NEWNET = 0x4000_0000;

/** The file of a network namespace: a path as given, a name as `ip netns` keeps it (`/run/netns/<name>`). */
export function netnsPath(netns: string): string {
  if (netns.includes('/')) return netns;
  if (!/^[A-Za-z0-9_.-]+$/.test(netns) || netns === '.' || netns === '..') throw new TypeError(`network namespace name '${netns}'`);
  return `/run/netns/${netns}`;
}

/**
 * Runs `fn` with this thread in network namespace `netns` (a name from `ip netns`, or a path
 * such as `/proc/<pid>/ns/net`), and returns its result. `fn` must be synchronous: the thread
 * is moved back when it returns, before anything asynchronous could run there.
 *
 * @example
 * using link = withNetns('blue', () => attachXdp(program, { ifname: 'veth0' }));
 */
export function withNetns<T>(netns: string, fn: () => T, options: { linkSyscalls?: LinkSyscalls } = {}): T {
  const sys = options.linkSyscalls ?? nativeLinkSyscalls();
  const path = netnsPath(netns);
  const original = openSync('/proc/thread-self/ns/net', 'r');
  let target: number | undefined;
  try {
    target = openSync(path, 'r');
    const entered = sys.setns(target, CLONE_NEWNET);
    if (entered < 0) throw new KernelError(`enter network namespace '${path}'`, -entered);
    let result: T;
    try {
      result = fn();
    } finally {
      const back = sys.setns(original, CLONE_NEWNET);
      // Staying in the wrong namespace would put every later socket of the process there.
      if (back < 0) throw new KernelError(`return from network namespace '${path}'`, -back);
    }
    if (typeof (result as { then?: unknown } | undefined)?.then === 'function') {
      throw new TypeError('withNetns: the function must be synchronous (it returned a promise)');
    }
    return result;
  } finally {
    if (target !== undefined) closeSync(target);
    closeSync(original);
  }
}

/** Where a network program goes: an interface by index or name, optionally in a namespace. */
export interface InterfaceTarget {
  ifindex?: number;
  /** Interface name, resolved with if_nametoindex in `netns` (or the current namespace). */
  ifname?: string;
  /** Network namespace to attach in (name or path); default: the current one. */
  netns?: string;
  linkSyscalls?: LinkSyscalls;
}

/** The interface index of a target, resolved in the current namespace (call inside {@link withNetns}). */
export function resolveIfindex(target: InterfaceTarget): number {
  if (target.ifindex !== undefined) return target.ifindex;
  if (target.ifname === undefined) throw new TypeError('network attach: give an ifindex or an ifname');
  const ret = (target.linkSyscalls ?? nativeLinkSyscalls()).ifNameToIndex(target.ifname);
  if (ret < 0) throw new KernelError(`interface '${target.ifname}'${target.netns ? ` in network namespace '${target.netns}'` : ''}`, -ret);
  return ret;
}

/** Runs `fn` in the target's namespace when it names one, else here. */
export function inTargetNetns<T>(target: { netns?: string; linkSyscalls?: LinkSyscalls }, fn: () => T): T {
  if (target.netns === undefined) return fn();
  return withNetns(target.netns, fn, target.linkSyscalls ? { linkSyscalls: target.linkSyscalls } : {});
}

/** Options of {@link attachNetns}. */
export interface NetnsAttachOptions {
  /** `AttachType.SK_LOOKUP` (default) or `AttachType.FLOW_DISSECTOR`. */
  attachType?: number;
  /** The namespace (name or path); default: this thread's. */
  netns?: string;
}

/**
 * Attaches an sk_lookup or flow_dissector program to a whole network namespace.
 *
 * @example
 * using link = attachNetns(program, { netns: 'blue' }); // sk_lookup
 */
export function attachNetns(program: Program, options: NetnsAttachOptions = {}): BpfLink {
  const attachType = options.attachType ?? AttachType.SK_LOOKUP;
  const path = options.netns === undefined ? '/proc/thread-self/ns/net' : netnsPath(options.netns);
  const kind = attachType === AttachType.FLOW_DISSECTOR ? 'flow_dissector' : 'sk_lookup';
  const description = `${kind} on network namespace ${options.netns ?? '(current)'}`;
  const nsFd = openSync(path, 'r');
  try {
    const fd = linkCreate(program.syscalls, { programFd: program.fd, target: nsFd, attachType },
      `attach program '${program.name}' as ${attachTypeName(attachType)} to ${path}`);
    return new BpfLink(fd, kind, description, { syscalls: program.syscalls });
  } finally {
    // The link holds the namespace itself, not the fd.
    closeSync(nsFd);
  }
}
