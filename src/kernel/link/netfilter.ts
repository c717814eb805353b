/**
 * Netfilter programs (`netfilter`, BPF_PROG_TYPE_NETFILTER, 6.4+): a program on a netfilter
 * hook of a network namespace (the calling thread's), at a priority among the hook's other
 * functions, returning NF_DROP (0) or NF_ACCEPT (1).
 */
import type { Program } from '../program.js';
import { AttachType } from '../types.js';
import { LINK_CREATE, NETFILTER_IP_DEFRAG, NetfilterFamily, NetfilterHook } from './attr.js';
import { linkCreate } from './create.js';
import { BpfLink } from './link.js';
import { inTargetNetns } from './netns.js';

/** Netfilter verdicts a program may return. */
export const NetfilterVerdict = { DROP: 0, ACCEPT: 1 } as const;

/** Options of {@link attachNetfilter}. */
export interface NetfilterOptions {
  /** `'ipv4'`, `'ipv6'`, or an `NFPROTO_*` number. */
  family: 'ipv4' | 'ipv6' | number;
  /** `'prerouting'`, `'input'`, `'forward'`, `'output'`, `'postrouting'`, or an `NF_INET_*` number. */
  hook: 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting' | number;
  /** Order among the hook's functions; must not be NF_IP_PRI_FIRST/LAST (INT_MIN/INT_MAX). */
  priority: number;
  /** Reassemble fragments before the program runs (6.6+). */
  defrag?: boolean;
  /** Network namespace (name or path); default: the current one. */
  netns?: string;
}

const HOOKS = {
  prerouting: NetfilterHook.PRE_ROUTING,
  input: NetfilterHook.LOCAL_IN,
  forward: NetfilterHook.FORWARD,
  output: NetfilterHook.LOCAL_OUT,
  postrouting: NetfilterHook.POST_ROUTING,
} as const;

/**
 * Attaches a netfilter program.
 *
 * @example
 * using link = attachNetfilter(program, { family: 'ipv4', hook: 'input', priority: -128 });
 */
export function attachNetfilter(program: Program, options: NetfilterOptions): BpfLink {
  const pf = typeof options.family === 'number' ? options.family : options.family === 'ipv4' ? NetfilterFamily.IPV4 : NetfilterFamily.IPV6;
  const hooknum = typeof options.hook === 'number' ? options.hook : HOOKS[options.hook];
  const description = `netfilter ${typeof options.family === 'number' ? `pf ${pf}` : options.family} ${typeof options.hook === 'number' ? `hook ${hooknum}` : options.hook} priority ${options.priority}${options.netns ? ` in ${options.netns}` : ''}`;
  return inTargetNetns(options, () => {
    const fd = linkCreate(program.syscalls, {
      programFd: program.fd,
      attachType: AttachType.NETFILTER,
      fill: (attr) => attr
        .u32(LINK_CREATE.netfilter_pf, pf)
        .u32(LINK_CREATE.netfilter_hooknum, hooknum)
        .s32(LINK_CREATE.netfilter_priority, options.priority)
        .u32(LINK_CREATE.netfilter_flags, options.defrag ? NETFILTER_IP_DEFRAG : 0),
    }, `attach program '${program.name}' as ${description}`);
    return new BpfLink(fd, 'netfilter', description, { syscalls: program.syscalls });
  });
}
