/**
 * Just enough rtnetlink (include/uapi/linux/netlink.h, rtnetlink.h) for the attachments that
 * predate bpf_links: XDP through RTM_SETLINK/IFLA_XDP and TC classifiers through RTM_NEWQDISC
 * (clsact) and RTM_NEWTFILTER/RTM_DELTFILTER. A request is one message with NLM_F_ACK; the
 * answer is an NLMSG_ERROR carrying 0 or -errno (and an extended-ack text when the kernel
 * gives one). The socket is made in the namespace of its interface and used for the undo too,
 * so a link detaches in the right namespace whatever thread closes it.
 */
import { HOST_LITTLE_ENDIAN } from '../attr.js';
import { KernelError } from '../error.js';
import { nativeSyscalls } from '../native.js';
import { requireSyscall, type Syscalls } from '../syscalls.js';
import { nativeLinkSyscalls, type LinkSyscalls } from './native.js';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const NETLINK_ROUTE = 0;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const SOL_NETLINK = 270;
const NETLINK_EXT_ACK = 11;

/** `nlmsghdr` flags. */
export const NlmFlag = { REQUEST: 0x1, ACK: 0x4, REPLACE: 0x100, EXCL: 0x200, CREATE: 0x400 } as const;
const NLMSG_ERROR = 2;
const NLMSG_HDRLEN = 16;
const NLA_F_NESTED = 0x8000;
/** `NLMSGERR_ATTR_MSG`: the extended ack's text. */
const NLMSGERR_ATTR_MSG = 1;
const NLM_F_ACK_TLVS = 0x200;

/** An rtattr / nlattr: type and payload (nested ones are built with {@link nested}). */
export interface NetlinkAttribute {
  readonly type: number;
  readonly payload: Uint8Array;
}

const align4 = (n: number): number => (n + 3) & ~3;

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function encodeAttributes(attributes: readonly NetlinkAttribute[]): Uint8Array {
  return concat(attributes.map((a) => {
    const bytes = new Uint8Array(align4(4 + a.payload.length));
    const view = new DataView(bytes.buffer);
    view.setUint16(0, 4 + a.payload.length, HOST_LITTLE_ENDIAN);
    view.setUint16(2, a.type, HOST_LITTLE_ENDIAN);
    bytes.set(a.payload, 4);
    return bytes;
  }));
}

/** A `__u32` attribute. */
export const u32Attribute = (type: number, value: number): NetlinkAttribute => {
  const payload = new Uint8Array(4);
  new DataView(payload.buffer).setUint32(0, value >>> 0, HOST_LITTLE_ENDIAN);
  return { type, payload };
};

/** A `__s32` attribute. */
export const s32Attribute = (type: number, value: number): NetlinkAttribute => {
  const payload = new Uint8Array(4);
  new DataView(payload.buffer).setInt32(0, value, HOST_LITTLE_ENDIAN);
  return { type, payload };
};

/** A NUL-terminated string attribute. */
export const stringAttribute = (type: number, value: string): NetlinkAttribute =>
  ({ type, payload: concat([new TextEncoder().encode(value), new Uint8Array(1)]) });

/** A nested attribute holding `attributes`. */
export const nested = (type: number, attributes: readonly NetlinkAttribute[]): NetlinkAttribute =>
  ({ type: type | NLA_F_NESTED, payload: encodeAttributes(attributes) });

/** A route netlink socket in the calling thread's network namespace. */
export class NetlinkSocket {
  readonly fd: number;
  readonly #syscalls: Syscalls;
  #sequence = 1;

  constructor(options: { syscalls?: Syscalls; linkSyscalls?: LinkSyscalls } = {}) {
    const sys = options.linkSyscalls ?? nativeLinkSyscalls();
    this.#syscalls = options.syscalls ?? nativeSyscalls();
    const fd = sys.socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    if (fd < 0) throw new KernelError('open rtnetlink socket', -fd);
    this.fd = fd;
    // Bound every wait for an answer; ask for the kernel's error text.
    const timeout = new Uint8Array(16);
    new DataView(timeout.buffer).setBigInt64(0, 5n, HOST_LITTLE_ENDIAN);
    sys.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeout);
    sys.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, u32Attribute(0, 1).payload);
  }

  /**
   * Sends one request (`header` is the family struct: ifinfomsg, tcmsg) with NLM_F_REQUEST |
   * NLM_F_ACK | `flags`, and waits for its acknowledgement: 0, or `-errno` with the kernel's text.
   */
  request(type: number, flags: number, header: Uint8Array, attributes: readonly NetlinkAttribute[]): { errno: number; message: string } {
    const write = requireSyscall(this.#syscalls, 'write', 'rtnetlink request');
    const read = requireSyscall(this.#syscalls, 'read', 'rtnetlink request');
    const body = concat([header, encodeAttributes(attributes)]);
    const message = new Uint8Array(NLMSG_HDRLEN + body.length);
    const view = new DataView(message.buffer);
    const sequence = this.#sequence++;
    view.setUint32(0, message.length, HOST_LITTLE_ENDIAN);
    view.setUint16(4, type, HOST_LITTLE_ENDIAN);
    view.setUint16(6, NlmFlag.REQUEST | NlmFlag.ACK | flags, HOST_LITTLE_ENDIAN);
    view.setUint32(8, sequence, HOST_LITTLE_ENDIAN);
    message.set(body, NLMSG_HDRLEN);
    const sent = write(this.fd, message);
    if (sent < 0) return { errno: -sent, message: '' };
    // Bounded: a few unrelated messages at most before our acknowledgement.
    for (let attempt = 0; attempt < 16; attempt++) {
      const answer = read(this.fd, 65536);
      if (typeof answer === 'number') return { errno: -answer, message: '' };
      const ack = findAck(answer, sequence);
      if (ack) return ack;
    }
    return { errno: 5 /* EIO */, message: 'no acknowledgement' };
  }

  close(): void {
    this.#syscalls.close(this.fd);
  }
}

/** The NLMSG_ERROR for `sequence` in a datagram of messages, if there is one. */
function findAck(bytes: Uint8Array, sequence: number): { errno: number; message: string } | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at + NLMSG_HDRLEN <= bytes.length) {
    const length = view.getUint32(at, HOST_LITTLE_ENDIAN);
    if (length < NLMSG_HDRLEN || at + length > bytes.length) break;
    const type = view.getUint16(at + 4, HOST_LITTLE_ENDIAN);
    const flags = view.getUint16(at + 6, HOST_LITTLE_ENDIAN);
    if (type === NLMSG_ERROR && view.getUint32(at + 8, HOST_LITTLE_ENDIAN) === sequence) {
      const errno = -view.getInt32(at + NLMSG_HDRLEN, HOST_LITTLE_ENDIAN);
      let message = '';
      if (flags & NLM_F_ACK_TLVS) {
        // After the error: the request's header (its payload too unless capped), then TLVs.
        const requestLength = view.getUint32(at + NLMSG_HDRLEN + 4, HOST_LITTLE_ENDIAN);
        const capped = flags & 0x100; // NLM_F_CAPPED
        let tlv = at + NLMSG_HDRLEN + 4 + (capped ? NLMSG_HDRLEN : align4(requestLength));
        while (tlv + 4 <= at + length) {
          const len = view.getUint16(tlv, HOST_LITTLE_ENDIAN);
          if (len < 4) break;
          if (view.getUint16(tlv + 2, HOST_LITTLE_ENDIAN) === NLMSGERR_ATTR_MSG) {
            const text = bytes.subarray(tlv + 4, tlv + len);
            const end = text.indexOf(0);
            message = new TextDecoder().decode(end < 0 ? text : text.subarray(0, end));
          }
          tlv += align4(len);
        }
      }
      return { errno: Math.max(errno, 0), message };
    }
    at += align4(length);
  }
  return undefined;
}
