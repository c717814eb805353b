/**
 * TC classifiers the way before tcx (kernels before 6.6; `tc filter add … bpf da`): a `clsact`
 * qdisc on the interface and a `bpf` filter in direct-action mode on its ingress or egress,
 * made over rtnetlink. Closing the link deletes the filter; the clsact qdisc stays (other
 * filters may share it; it goes with the interface). Verdicts are TC_ACT_OK (0), TC_ACT_SHOT
 * (2), TC_ACT_UNSPEC (-1), … — the same numbers tcx uses.
 */
import { Errno } from '../errno.js';
import { KernelError } from '../error.js';
import type { Program } from '../program.js';
import { RawLink } from './link.js';
import { NetlinkSocket, NlmFlag, nested, stringAttribute, u32Attribute, type NetlinkAttribute } from './netlink.js';
import { inTargetNetns, resolveIfindex, type InterfaceTarget } from './netns.js';
import { Resources } from './resources.js';

const RTM_NEWQDISC = 36;
const RTM_NEWTFILTER = 44;
const RTM_DELTFILTER = 45;
const TCA_KIND = 1;
const TCA_OPTIONS = 2;
const TCA_BPF_FD = 6;
const TCA_BPF_NAME = 7;
const TCA_BPF_FLAGS = 8;
const TCA_BPF_FLAG_ACT_DIRECT = 1;
/** `TC_H_CLSACT` and its two minor handles (include/uapi/linux/pkt_sched.h). */
const TC_H_CLSACT = 0xffff_fff1;
const TC_H_MIN_INGRESS = 0xfff2;
const TC_H_MIN_EGRESS = 0xfff3;
const ETH_P_ALL = 0x0003;

/** Options of {@link attachTc}. */
export interface TcOptions extends InterfaceTarget {
  direction: 'ingress' | 'egress';
  /** Filter priority (1–65535; default 1): lower runs first. */
  priority?: number;
  /** Filter handle (default 1). */
  handle?: number;
}

/** `struct tcmsg`: family, ifindex, handle, parent, info. */
function tcmsg(ifindex: number, handle: number, parent: number, info: number): Uint8Array {
  const bytes = new Uint8Array(20);
  const view = new DataView(bytes.buffer);
  view.setInt32(4, ifindex, true);
  view.setUint32(8, handle >>> 0, true);
  view.setUint32(12, parent >>> 0, true);
  view.setUint32(16, info >>> 0, true);
  return bytes;
}

function check(context: string, answer: { errno: number; message: string }, allow: number[] = []): void {
  if (answer.errno !== 0 && !allow.includes(answer.errno)) {
    throw new KernelError(context, answer.errno, answer.message ? { detail: answer.message } : {});
  }
}

/**
 * Attaches a SCHED_CLS program as a direct-action `bpf` filter on an interface's clsact
 * ingress or egress (legacy TC; prefer {@link attachTcx} on 6.6+, which falls back to this).
 */
export function attachTc(program: Program, options: TcOptions): RawLink {
  const priority = options.priority ?? 1;
  const handle = options.handle ?? 1;
  if (priority < 1 || priority > 0xffff) throw new RangeError(`tc filter priority ${priority}: 1 to 65535`);
  return inTargetNetns(options, () => {
    const ifindex = resolveIfindex(options);
    const where = `${options.ifname ?? `ifindex ${ifindex}`}${options.netns ? ` in ${options.netns}` : ''}`;
    const description = `tc ${options.direction} filter (prio ${priority}, handle ${handle}) on ${where}`;
    const socket = new NetlinkSocket({ syscalls: program.syscalls, ...(options.linkSyscalls ? { linkSyscalls: options.linkSyscalls } : {}) });
    try {
      const qdisc = tcmsg(ifindex, 0xffff_0000, TC_H_CLSACT, 0);
      check(`add clsact qdisc on ${where}`, socket.request(RTM_NEWQDISC, NlmFlag.CREATE | NlmFlag.EXCL, qdisc, [stringAttribute(TCA_KIND, 'clsact')]), [Errno.EEXIST]);
      const parent = (0xffff_0000 | (options.direction === 'ingress' ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS)) >>> 0;
      // info: priority in the upper half, protocol (network order) in the lower.
      const info = ((priority << 16) | ((ETH_P_ALL & 0xff) << 8) | (ETH_P_ALL >> 8)) >>> 0;
      const filter = tcmsg(ifindex, handle, parent, info);
      const attributes: NetlinkAttribute[] = [
        stringAttribute(TCA_KIND, 'bpf'),
        nested(TCA_OPTIONS, [
          u32Attribute(TCA_BPF_FD, program.fd),
          stringAttribute(TCA_BPF_NAME, program.name || 'ebpf'),
          u32Attribute(TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT),
        ]),
      ];
      check(`attach program '${program.name}' as ${description}`, socket.request(RTM_NEWTFILTER, NlmFlag.CREATE | NlmFlag.EXCL, filter, attributes));
      const resources = new Resources(program.syscalls)
        .call(`detach ${description}`, () => {
          const answer = socket.request(RTM_DELTFILTER, 0, filter, [stringAttribute(TCA_KIND, 'bpf')]);
          // ENOENT: the filter (or the interface) is already gone.
          check(`detach ${description}`, answer, [Errno.ENOENT, Errno.ENODEV, Errno.EINVAL]);
        })
        .fd(socket.fd, 'rtnetlink socket');
      return new RawLink('tc', description, resources, { syscalls: program.syscalls });
    } catch (err) {
      socket.close();
      throw err;
    }
  });
}
