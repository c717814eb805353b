/**
 * XDP (`xdp`, BPF_PROG_TYPE_XDP): a program on a network interface's receive path, attached
 * as a bpf_link (BPF_LINK_CREATE with BPF_XDP on the ifindex, 5.9+) in the driver (native), on
 * the skb (generic, any device), or offloaded, or the kernel's choice; on older kernels through
 * rtnetlink (IFLA_XDP), detached on close like a link.
 */
import type { Program } from '../program.js';
import { AttachType } from '../types.js';
import { XdpFlag } from './attr.js';
import { KernelError } from '../error.js';
import { isUnsupportedAttach, tryLinkCreate } from './create.js';
import { BpfLink, RawLink, type Link } from './link.js';
import { NetlinkSocket, nested, s32Attribute, u32Attribute } from './netlink.js';
import { inTargetNetns, resolveIfindex, type InterfaceTarget } from './netns.js';
import { Resources } from './resources.js';

const RTM_SETLINK = 19;
const IFLA_XDP = 43;
const IFLA_XDP_FD = 1;
const IFLA_XDP_FLAGS = 3;

/** Where XDP runs: `'auto'` lets the kernel pick native when the driver has it, else generic. */
export type XdpMode = 'auto' | 'generic' | 'driver' | 'offload';

const MODE_FLAGS: Readonly<Record<XdpMode, number>> = {
  auto: 0,
  generic: XdpFlag.SKB_MODE,
  driver: XdpFlag.DRV_MODE,
  offload: XdpFlag.HW_MODE,
};

/** Options of {@link attachXdp}: the interface, and the mode. */
export interface XdpOptions extends InterfaceTarget {
  mode?: XdpMode;
  /** Raw `XdpFlag.*` bits, added to the mode's. */
  flags?: number;
  /**
   * `'link'`: a bpf_link only; `'netlink'`: the older RTM_SETLINK/IFLA_XDP attachment (no
   * link object; detached on close); `'auto'` (default): a link, or netlink on kernels
   * without XDP links (before 5.9).
   */
  via?: 'auto' | 'link' | 'netlink';
}

/**
 * Attaches an XDP program to an interface. One XDP link per interface and mode: a second
 * attach fails with EBUSY (use `link.update(program)` to swap programs).
 *
 * @example
 * using link = attachXdp(program, { ifname: 'veth0', netns: 'blue', mode: 'generic' });
 */
export function attachXdp(program: Program, options: XdpOptions): Link {
  const mode = options.mode ?? 'auto';
  const via = options.via ?? 'auto';
  const flags = MODE_FLAGS[mode] | (options.flags ?? 0);
  return inTargetNetns(options, () => {
    const ifindex = resolveIfindex(options);
    const where = `${options.ifname ?? `ifindex ${ifindex}`}${options.netns ? ` in ${options.netns}` : ''}`;
    const description = `xdp (${mode}) on ${where}`;
    const context = `attach program '${program.name}' as ${description}`;
    if (via !== 'netlink') {
      const fd = tryLinkCreate(program.syscalls, { programFd: program.fd, target: ifindex, attachType: AttachType.XDP, flags });
      if (fd >= 0) return new BpfLink(fd, 'xdp', description, { syscalls: program.syscalls });
      if (via === 'link' || !isUnsupportedAttach(-fd)) throw new KernelError(context, -fd);
    }
    return attachXdpNetlink(program, ifindex, flags, description, options);
  });
}

/** `struct ifinfomsg` for interface `ifindex`. */
function ifinfomsg(ifindex: number): Uint8Array {
  const bytes = new Uint8Array(16);
  new DataView(bytes.buffer).setInt32(4, ifindex, true);
  return bytes;
}

/** RTM_SETLINK with IFLA_XDP { FD, FLAGS }: `fd` -1 detaches. */
function setXdp(socket: NetlinkSocket, ifindex: number, fd: number, flags: number): { errno: number; message: string } {
  return socket.request(RTM_SETLINK, 0, ifinfomsg(ifindex), [nested(IFLA_XDP, [s32Attribute(IFLA_XDP_FD, fd), u32Attribute(IFLA_XDP_FLAGS, flags)])]);
}

function attachXdpNetlink(program: Program, ifindex: number, flags: number, description: string, options: XdpOptions): RawLink {
  const socket = new NetlinkSocket({ syscalls: program.syscalls, ...(options.linkSyscalls ? { linkSyscalls: options.linkSyscalls } : {}) });
  try {
    // UPDATE_IF_NOEXIST: never replace a program someone else attached.
    const answer = setXdp(socket, ifindex, program.fd, flags | XdpFlag.UPDATE_IF_NOEXIST);
    if (answer.errno !== 0) {
      throw new KernelError(`attach program '${program.name}' as ${description} (netlink)`, answer.errno, answer.message ? { detail: answer.message } : {});
    }
  } catch (err) {
    socket.close();
    throw err;
  }
  const resources = new Resources(program.syscalls)
    .call(`detach ${description}`, () => {
      const answer = setXdp(socket, ifindex, -1, flags);
      // ENODEV: the interface is gone, and the program with it.
      if (answer.errno !== 0 && answer.errno !== 19) throw new KernelError(`detach ${description}`, answer.errno, answer.message ? { detail: answer.message } : {});
    })
    .fd(socket.fd, 'rtnetlink socket');
  return new RawLink('xdp', `${description} (netlink)`, resources, { syscalls: program.syscalls });
}
