/**
 * Context access rules per program type: which offsets of the context struct a program may
 * read or write, with which sizes, and what a load yields (kernel: the *_is_valid_access
 * functions of net/core/filter.c and kernel/trace/bpf_trace.c). Types without a table here are
 * refused as a whole by the verifier rather than guessed.
 */
import { AttachType, ProgramType } from '../object/uapi-types.js';
import type { RegType } from './reg.js';
import { rawTpWritableCtxValid, syscallCtxValid, tracingReturnRange } from './ctx-tracing.js';

/** What a valid access yields: the loaded register's type (scalar unless a pointer field). */
export interface CtxAccess {
  readonly regType: RegType;
  readonly maybeNull?: boolean;
  /** btf_id: the kernel BTF struct the loaded pointer points to, and its `BtfFlag` bits (ctx-tracing.ts). */
  readonly btfId?: number;
  readonly btfFlags?: number;
}

/** Context struct sizes, for the log and the `ctx` description. */
export const SK_BUFF_SIZE = 192;
export const XDP_MD_SIZE = 24;
/** sizeof(struct pt_regs) on x86_64. */
export const PT_REGS_SIZE = 168;
/** The kernel's PERF_MAX_TRACE_SIZE is 8192; tracepoint contexts are allowed up to this (kept lower to be safe). */
const TRACEPOINT_CTX_LIMIT = 2048;

// struct __sk_buff field offsets (include/uapi/linux/bpf.h)
const SKB = {
  len: 0, pkt_type: 4, mark: 8, queue_mapping: 12, protocol: 16, vlan_present: 20, vlan_tci: 24, vlan_proto: 28,
  priority: 32, ingress_ifindex: 36, ifindex: 40, tc_index: 44, cb0: 48, cb_end: 68, hash: 68, tc_classid: 72,
  data: 76, data_end: 80, napi_id: 84, family: 88, local_port_end: 140, data_meta: 140, flow_keys: 144,
  tstamp: 152, wire_len: 160, gso_segs: 164, sk: 168, gso_size: 176, tstamp_type: 180, hwtstamp: 184,
} as const;

const inRange = (off: number, start: number, size: number): boolean => off >= start && off < start + size;

/** kernel: bpf_ctx_narrow_access_ok — a power-of-two size no larger than the field. */
const narrowOk = (size: number, fieldSize: number): boolean => size <= fieldSize && (size & (size - 1)) === 0;

type Result = CtxAccess | undefined;
const SCALAR: CtxAccess = { regType: 'scalar' };

/** kernel: bpf_skb_is_valid_access. */
function skbValid(off: number, size: number, write: boolean): Result {
  if (off < 0 || off >= SK_BUFF_SIZE) return undefined;
  if (off % size !== 0) return undefined;
  if (off >= SKB.cb0 && off < SKB.cb_end) {
    if (off + size > SKB.cb_end) return undefined;
    return SCALAR;
  }
  if (off >= 100 && off < 132) return size === 4 ? SCALAR : undefined; // remote_ip6, local_ip6
  if (inRange(off, 92, 4) || inRange(off, 96, 4)) return size === 4 ? SCALAR : undefined; // remote_ip4, local_ip4
  if (inRange(off, SKB.data, 4) || inRange(off, SKB.data_meta, 4) || inRange(off, SKB.data_end, 4)) return size === 4 ? SCALAR : undefined;
  if (inRange(off, SKB.flow_keys, 8)) return undefined;
  if (inRange(off, SKB.hwtstamp, 8)) return !write && size === 8 ? SCALAR : undefined;
  if (inRange(off, SKB.tstamp, 8)) return size === 8 ? SCALAR : undefined;
  if (inRange(off, SKB.sk, 8)) {
    if (off !== SKB.sk || write || size !== 8) return undefined;
    return { regType: 'sock_common', maybeNull: true };
  }
  if (off >= SKB.tstamp_type && off < SKB.hwtstamp) return undefined; // tstamp_type and padding: not modelled
  if (write) return size === 4 ? SCALAR : undefined;
  return narrowOk(size, 4) ? SCALAR : undefined;
}

/** kernel: sk_filter_is_valid_access. */
function socketFilterValid(off: number, size: number, write: boolean): Result {
  if (inRange(off, SKB.tc_classid, 4) || inRange(off, SKB.data, 4) || inRange(off, SKB.data_meta, 4)
    || inRange(off, SKB.data_end, 4) || (off >= SKB.family && off < SKB.local_port_end) || inRange(off, SKB.tstamp, 8)
    || inRange(off, SKB.wire_len, 4) || inRange(off, SKB.hwtstamp, 8)) return undefined;
  if (write && !(off >= SKB.cb0 && off < SKB.cb_end)) return undefined;
  return skbValid(off, size, write);
}

/** kernel: tc_cls_act_is_valid_access. */
function tcValid(off: number, size: number, write: boolean): Result {
  if (write) {
    const ok = inRange(off, SKB.mark, 4) || inRange(off, SKB.tc_index, 4) || inRange(off, SKB.priority, 4)
      || inRange(off, SKB.tc_classid, 4) || (off >= SKB.cb0 && off < SKB.cb_end) || inRange(off, SKB.tstamp, 8)
      || inRange(off, SKB.queue_mapping, 4);
    if (!ok) return undefined;
  }
  if (off >= SKB.family && off < SKB.local_port_end) return undefined;
  const base = skbValid(off, size, write);
  if (base === undefined) return undefined;
  if (inRange(off, SKB.data, 4)) return { regType: 'pkt' };
  if (inRange(off, SKB.data_meta, 4)) return { regType: 'pkt_meta' };
  if (inRange(off, SKB.data_end, 4)) return { regType: 'pkt_end' };
  return base;
}

/** kernel: cg_skb_is_valid_access. */
function cgroupSkbValid(off: number, size: number, write: boolean): Result {
  if (inRange(off, SKB.tc_classid, 4) || inRange(off, SKB.data_meta, 4) || inRange(off, SKB.wire_len, 4)) return undefined;
  if (write) {
    const ok = inRange(off, SKB.mark, 4) || inRange(off, SKB.priority, 4) || (off >= SKB.cb0 && off < SKB.cb_end)
      || inRange(off, SKB.tstamp, 8);
    if (!ok) return undefined;
  }
  const base = skbValid(off, size, write);
  if (base === undefined) return undefined;
  if (inRange(off, SKB.data, 4)) return { regType: 'pkt' };
  if (inRange(off, SKB.data_end, 4)) return { regType: 'pkt_end' };
  return base;
}

/** kernel: sk_skb_is_valid_access. */
function skSkbValid(off: number, size: number, write: boolean): Result {
  if (inRange(off, SKB.tc_classid, 4) || inRange(off, SKB.data_meta, 4) || inRange(off, SKB.tstamp, 8)
    || inRange(off, SKB.wire_len, 4) || inRange(off, SKB.hwtstamp, 8)) return undefined;
  if (write && !(inRange(off, SKB.tc_index, 4) || inRange(off, SKB.priority, 4))) return undefined;
  if (inRange(off, SKB.mark, 4)) return undefined;
  const base = skbValid(off, size, write);
  if (base === undefined) return undefined;
  if (inRange(off, SKB.data, 4)) return { regType: 'pkt' };
  if (inRange(off, SKB.data_end, 4)) return { regType: 'pkt_end' };
  return base;
}

/** kernel: xdp_is_valid_access (struct xdp_md). */
function xdpValid(off: number, size: number, write: boolean, attachType: number): Result {
  if (attachType !== AttachType.XDP_DEVMAP && off === 20) return undefined; // egress_ifindex
  if (write) return undefined;
  if (off < 0 || off >= XDP_MD_SIZE || off % size !== 0 || size !== 4) return undefined;
  if (off === 0) return { regType: 'pkt' };
  if (off === 4) return { regType: 'pkt_end' };
  if (off === 8) return { regType: 'pkt_meta' };
  return SCALAR;
}

/** kernel: kprobe_prog_is_valid_access (struct pt_regs). */
function kprobeValid(off: number, size: number, write: boolean): Result {
  if (off < 0 || off >= PT_REGS_SIZE || write || off % size !== 0 || off + size > PT_REGS_SIZE) return undefined;
  return SCALAR;
}

/** kernel: tp_prog_is_valid_access. */
function tracepointValid(off: number, size: number, write: boolean): Result {
  if (off < 8 || off >= TRACEPOINT_CTX_LIMIT || write || off % size !== 0) return undefined;
  return SCALAR;
}

/** kernel: raw_tp_prog_is_valid_access / bpf_tracing_ctx_access: up to 12 u64 arguments, read-only. */
function rawTracepointValid(off: number, size: number, write: boolean): Result {
  if (off < 0 || off >= 8 * 12 || write || off % size !== 0) return undefined;
  return SCALAR;
}

/** kernel: pe_prog_is_valid_access (struct bpf_perf_event_data: regs, sample_period, addr). */
function perfEventValid(off: number, size: number, write: boolean): Result {
  if (off < 0 || off >= PT_REGS_SIZE + 16 || write || off % size !== 0) return undefined;
  if (off >= PT_REGS_SIZE) return narrowOk(size, 8) ? SCALAR : undefined;
  return size === 8 ? SCALAR : undefined;
}


const A = AttachType;
/** Attach types a cgroup/sock_addr program may be loaded with (kernel: bpf_prog_load_check_attach). */
const SOCK_ADDR_ATTACH: ReadonlySet<number> = new Set([A.CGROUP_INET4_BIND, A.CGROUP_INET6_BIND, A.CGROUP_INET4_CONNECT,
  A.CGROUP_INET6_CONNECT, A.CGROUP_UDP4_SENDMSG, A.CGROUP_UDP6_SENDMSG, A.CGROUP_UDP4_RECVMSG, A.CGROUP_UDP6_RECVMSG,
  A.CGROUP_INET4_GETPEERNAME, A.CGROUP_INET6_GETPEERNAME, A.CGROUP_INET4_GETSOCKNAME, A.CGROUP_INET6_GETSOCKNAME,
  A.CGROUP_UNIX_CONNECT, A.CGROUP_UNIX_SENDMSG, A.CGROUP_UNIX_RECVMSG, A.CGROUP_UNIX_GETPEERNAME, A.CGROUP_UNIX_GETSOCKNAME]);
const SOCK_ATTACH: ReadonlySet<number> = new Set([A.CGROUP_INET_SOCK_CREATE, A.CGROUP_INET_SOCK_RELEASE,
  A.CGROUP_INET4_POST_BIND, A.CGROUP_INET6_POST_BIND]);

/**
 * The attach type the kernel checks a program against, or undefined when it refuses to load the
 * program with `attachType` (kernel: bpf_prog_load_fixup_attach_type, bpf_prog_load_check_attach).
 * Only the types modelled here are checked; the others keep what they were given.
 */
export function effectiveAttachType(progType: number, attachType: number): number | undefined {
  switch (progType) {
    case ProgramType.CGROUP_SOCK: {
      const t = attachType === 0 ? A.CGROUP_INET_SOCK_CREATE : attachType;
      return SOCK_ATTACH.has(t) ? t : undefined;
    }
    case ProgramType.CGROUP_SOCK_ADDR:
      return SOCK_ADDR_ATTACH.has(attachType) ? attachType : undefined;
    case ProgramType.SK_LOOKUP:
      return attachType === A.SK_LOOKUP ? attachType : undefined;
    case ProgramType.CGROUP_SKB:
      return attachType === A.CGROUP_INET_INGRESS || attachType === A.CGROUP_INET_EGRESS ? attachType : undefined;
    case ProgramType.CGROUP_SOCKOPT:
      return attachType === A.CGROUP_GETSOCKOPT || attachType === A.CGROUP_SETSOCKOPT ? attachType : undefined;
    case ProgramType.SK_REUSEPORT: {
      // kernel: bpf_prog_load_fixup_attach_type — 0 means BPF_SK_REUSEPORT_SELECT.
      const t = attachType === 0 ? A.SK_REUSEPORT_SELECT : attachType;
      return t === A.SK_REUSEPORT_SELECT || t === A.SK_REUSEPORT_SELECT_OR_MIGRATE ? t : undefined;
    }
    case ProgramType.NETFILTER:
      return attachType === A.NETFILTER ? attachType : undefined;
    default:
      return attachType;
  }
}

/** kernel: bpf_ctx_wide_access_ok — an aligned u64 access inside an array of u32 at [start, end). */
const wideOk = (off: number, size: number, start: number, end: number): boolean =>
  size === 8 && off >= start && off + size <= end && off % 8 === 0;

// struct bpf_sock_addr: user_family 0, user_ip4 4, user_ip6[4] 8, user_port 24, family 28, type 32,
// protocol 36, msg_src_ip4 40, msg_src_ip6[4] 44, sk 64; size 72.
const SOCK_ADDR_SIZE = 72;

/** kernel: sock_addr_is_valid_access. */
function sockAddrValid(off: number, size: number, write: boolean, attachType: number): Result {
  if (off < 0 || off >= SOCK_ADDR_SIZE || off % size !== 0) return undefined;
  const ip4: readonly number[] = [A.CGROUP_INET4_BIND, A.CGROUP_INET4_CONNECT, A.CGROUP_INET4_GETPEERNAME, A.CGROUP_INET4_GETSOCKNAME,
    A.CGROUP_UDP4_SENDMSG, A.CGROUP_UDP4_RECVMSG];
  const ip6: readonly number[] = [A.CGROUP_INET6_BIND, A.CGROUP_INET6_CONNECT, A.CGROUP_INET6_GETPEERNAME, A.CGROUP_INET6_GETSOCKNAME,
    A.CGROUP_UDP6_SENDMSG, A.CGROUP_UDP6_RECVMSG];
  if (inRange(off, 4, 4) && !ip4.includes(attachType)) return undefined;
  if (off >= 8 && off < 24 && !ip6.includes(attachType)) return undefined;
  if (inRange(off, 40, 4) && attachType !== A.CGROUP_UDP4_SENDMSG) return undefined;
  if (off >= 44 && off < 60 && attachType !== A.CGROUP_UDP6_SENDMSG) return undefined;
  if ((off >= 4 && off < 28) || (off >= 40 && off < 60)) {
    if (wideOk(off, size, 8, 24) || wideOk(off, size, 44, 60)) return SCALAR;
    if (write) return size === 4 ? SCALAR : undefined;
    return narrowOk(size, 4) ? SCALAR : undefined;
  }
  if (off === 64) return !write && size === 8 ? { regType: 'sock' } : undefined;
  if (off > 64) return undefined; // the rest of the sk pointer: refused here to be safe
  return !write && size === 4 ? SCALAR : undefined;
}

// struct bpf_sock: bound_dev_if 0, family 4, type 8, protocol 12, mark 16, priority 20, src_ip4 24,
// src_ip6[4] 28, src_port 44, dst_port 48 (be16 + 2 bytes padding), dst_ip4 52, dst_ip6[4] 56,
// state 72, rx_queue_mapping 76; size 80.
const BPF_SOCK_SIZE = 80;

/** kernel: bpf_sock_is_valid_access followed by __sock_filter_check_attach_type (cgroup/sock programs). */
function cgroupSockValid(off: number, size: number, write: boolean, attachType: number): Result {
  if (off < 0 || off >= BPF_SOCK_SIZE || off % size !== 0) return undefined;
  let sizeOk: boolean;
  if (off === 72 || off === 4 || off === 8 || off === 12 || off === 44 || off === 76
    || (off >= 24 && off < 44) || (off >= 52 && off < 72)) sizeOk = narrowOk(size, 4);
  else if (off >= 48 && off < 50) sizeOk = size === 4 || narrowOk(size, 2);
  else if (off >= 50 && off < 52) sizeOk = false;
  else sizeOk = size === 4;
  if (!sizeOk) return undefined;
  const t = attachType === 0 ? A.CGROUP_INET_SOCK_CREATE : attachType;
  if (off === 0 || off === 16 || off === 20) {
    return t === A.CGROUP_INET_SOCK_CREATE || t === A.CGROUP_INET_SOCK_RELEASE ? SCALAR : undefined;
  }
  if (inRange(off, 24, 4) && t !== A.CGROUP_INET4_POST_BIND) return undefined;
  if (off >= 28 && off < 44 && t !== A.CGROUP_INET6_POST_BIND) return undefined;
  if (inRange(off, 44, 4) && t !== A.CGROUP_INET4_POST_BIND && t !== A.CGROUP_INET6_POST_BIND) return undefined;
  return write ? undefined : SCALAR;
}

// struct sk_msg_md: data 0, data_end 8, family 16, remote_ip4 20, local_ip4 24, remote_ip6[4] 28,
// local_ip6[4] 44, remote_port 60, local_port 64, size 68, sk 72; size 80.
const SK_MSG_MD_SIZE = 80;

/** kernel: sk_msg_is_valid_access. */
function skMsgValid(off: number, size: number, write: boolean): Result {
  if (write || off < 0 || off >= SK_MSG_MD_SIZE || off % size !== 0) return undefined;
  if (off === 0) return size === 8 ? { regType: 'pkt' } : undefined;
  if (off === 8) return size === 8 ? { regType: 'pkt_end' } : undefined;
  if (off === 72) return size === 8 ? { regType: 'sock' } : undefined;
  if (off >= 16 && off < 72) return size === 4 ? SCALAR : undefined;
  return undefined;
}

// struct bpf_sk_lookup: sk/cookie 0, family 8, protocol 12, remote_ip4 16, remote_ip6[4] 20,
// remote_port 36 (be16 + 2 bytes zero padding), local_ip4 40, local_ip6[4] 44, local_port 60,
// ingress_ifindex 64; size 72.
const SK_LOOKUP_SIZE = 72;

/** kernel: sk_lookup_is_valid_access. */
function skLookupValid(off: number, size: number, write: boolean): Result {
  if (write || off < 0 || off >= SK_LOOKUP_SIZE || off % size !== 0) return undefined;
  if (off === 0) return size === 8 ? { regType: 'sock', maybeNull: true } : undefined;
  if (off > 0 && off < 8) return undefined;
  if (off >= 36 && off < 38) return size === 4 || narrowOk(size, 2) ? SCALAR : undefined;
  if (off >= 38 && off < 40) return narrowOk(size, 2) ? SCALAR : undefined;
  if (off >= 68) return undefined; // past ingress_ifindex: refused here to be safe
  return narrowOk(size, 4) ? SCALAR : undefined;
}

/** kernel: lwt_is_valid_access (LWT_IN, LWT_OUT, LWT_XMIT; __sk_buff). */
function lwtValid(off: number, size: number, write: boolean): Result {
  if (inRange(off, SKB.tc_classid, 4) || (off >= SKB.family && off < SKB.local_port_end) || inRange(off, SKB.data_meta, 4)
    || inRange(off, SKB.tstamp, 8) || inRange(off, SKB.wire_len, 4) || inRange(off, SKB.hwtstamp, 8)) return undefined;
  if (write && !(inRange(off, SKB.mark, 4) || inRange(off, SKB.priority, 4) || (off >= SKB.cb0 && off < SKB.cb_end))) return undefined;
  const base = skbValid(off, size, write);
  if (base === undefined) return undefined;
  if (inRange(off, SKB.data, 4)) return { regType: 'pkt' };
  if (inRange(off, SKB.data_end, 4)) return { regType: 'pkt_end' };
  return base;
}

/** kernel: flow_dissector_is_valid_access (__sk_buff: data, data_end and flow_keys only, read-only). */
function flowDissectorValid(off: number, size: number, write: boolean): Result {
  if (off < 0 || off >= SK_BUFF_SIZE || off % size !== 0 || write) return undefined;
  if (inRange(off, SKB.data, 4)) return size === 4 ? { regType: 'pkt' } : undefined;
  if (inRange(off, SKB.data_end, 4)) return size === 4 ? { regType: 'pkt_end' } : undefined;
  if (inRange(off, SKB.flow_keys, 8)) return size === 8 ? { regType: 'flow_keys' } : undefined;
  return undefined;
}

/** sizeof(struct bpf_flow_keys): the memory a flow_keys pointer reaches (kernel: check_flow_keys_access). */
export const BPF_FLOW_KEYS_SIZE = 56;

// struct bpf_sock_ops: op 0, args[4]/reply/replylong[4] 4, family 20, … sk_txhash 164, bytes_received 168,
// bytes_acked 176, sk 184, skb_data 192, skb_data_end 200, skb_len 208, skb_tcp_flags 212, skb_hwtstamp 216; size 224.
const SOCK_OPS = { reply: 4, sk_txhash: 164, bytes_received: 168, sk: 184, skb_data: 192, skb_data_end: 200, skb_tcp_flags: 212, skb_hwtstamp: 216, size: 224 } as const;

/** kernel: sock_ops_is_valid_access. */
function sockOpsValid(off: number, size: number, write: boolean): Result {
  if (off < 0 || off >= SOCK_OPS.size || off % size !== 0) return undefined;
  if (write) return (off === SOCK_OPS.reply || off === SOCK_OPS.sk_txhash) && size === 4 ? SCALAR : undefined;
  if (off >= SOCK_OPS.bytes_received && off < SOCK_OPS.sk) return size === 8 ? SCALAR : undefined;
  if (inRange(off, SOCK_OPS.sk, 8)) return size === 8 ? { regType: 'sock', maybeNull: true } : undefined;
  if (inRange(off, SOCK_OPS.skb_data, 8)) return size === 8 ? { regType: 'pkt' } : undefined;
  if (inRange(off, SOCK_OPS.skb_data_end, 8)) return size === 8 ? { regType: 'pkt_end' } : undefined;
  if (off === SOCK_OPS.skb_tcp_flags) return narrowOk(size, 4) ? SCALAR : undefined;
  if (inRange(off, SOCK_OPS.skb_hwtstamp, 8)) return size === 8 ? SCALAR : undefined;
  return size === 4 ? SCALAR : undefined;
}

// struct sk_reuseport_md: data 0, data_end 8, len 16, eth_protocol 20, ip_protocol 24, bind_inany 28, hash 32,
// sk 40, migrating_sk 48; size 56.
const SK_REUSEPORT_MD_SIZE = 56;

/** kernel: sk_reuseport_is_valid_access. */
function skReuseportValid(off: number, size: number, write: boolean): Result {
  if (off < 0 || off >= SK_REUSEPORT_MD_SIZE || off % size !== 0 || write) return undefined;
  switch (off) {
    case 0: return size === 8 ? { regType: 'pkt' } : undefined;
    case 8: return size === 8 ? { regType: 'pkt_end' } : undefined;
    case 32: return size === 4 ? SCALAR : undefined;
    case 40: return size === 8 ? { regType: 'sock' } : undefined;
    case 48: return size === 8 ? { regType: 'sock_common', maybeNull: true } : undefined;
    default: break;
  }
  if (off >= 20 && off < 24 && size < 2) return undefined; // eth_protocol: at least sizeof(skb->protocol)
  if (off >= 16 && off < 32) return narrowOk(size, 4) ? SCALAR : undefined; // len, eth_protocol, ip_protocol, bind_inany
  return undefined;
}

/** kernel: cgroup_dev_is_valid_access (struct bpf_cgroup_dev_ctx: access_type 0, major 4, minor 8). */
function cgroupDevValid(off: number, size: number, write: boolean): Result {
  if (write || off < 0 || off + size > 12 || off % size !== 0) return undefined;
  if (off < 4) return narrowOk(size, 4) ? SCALAR : undefined;
  return size === 4 ? SCALAR : undefined;
}

/** kernel: sysctl_is_valid_access (struct bpf_sysctl: write 0 read-only, file_pos 4). */
function sysctlValid(off: number, size: number, write: boolean): Result {
  if (off < 0 || off + size > 8 || off % size !== 0) return undefined;
  if (off < 4) return !write && narrowOk(size, 4) ? SCALAR : undefined;
  if (write) return size === 4 ? SCALAR : undefined;
  return narrowOk(size, 4) ? SCALAR : undefined;
}

// struct bpf_sockopt: sk 0, optval 8, optval_end 16, level 24, optname 28, optlen 32, retval 36; size 40.
const SOCKOPT_SIZE = 40;

/** kernel: cg_sockopt_is_valid_access. optval/optval_end bound a packet-like buffer. */
function sockoptValid(off: number, size: number, write: boolean, attachType: number): Result {
  if (off < 0 || off >= SOCKOPT_SIZE || off % size !== 0) return undefined;
  if (write) {
    switch (off) {
      case 36: return size === 4 && attachType === A.CGROUP_GETSOCKOPT ? SCALAR : undefined;
      case 24: case 28: return size === 4 && attachType === A.CGROUP_SETSOCKOPT ? SCALAR : undefined;
      case 32: return size === 4 ? SCALAR : undefined;
      default: return undefined;
    }
  }
  if (inRange(off, 0, 8)) return size === 8 ? { regType: 'sock' } : undefined;
  if (inRange(off, 8, 8)) return size === 8 ? { regType: 'pkt' } : undefined;
  if (inRange(off, 16, 8)) return size === 8 ? { regType: 'pkt_end' } : undefined;
  if (off === 36) return size === 4 && attachType === A.CGROUP_GETSOCKOPT ? SCALAR : undefined;
  return size === 4 ? SCALAR : undefined;
}

/**
 * kernel: nf_is_valid_access (struct bpf_nf_ctx: state 0, skb 8). Both fields load trusted BTF
 * pointers (nf_hook_state, sk_buff), which this verifier does not model: every access is refused.
 */
function netfilterValid(): Result {
  return undefined;
}

type Validator = (off: number, size: number, write: boolean, attachType: number) => Result;

const VALIDATORS: ReadonlyMap<number, Validator> = new Map<number, Validator>([
  [ProgramType.SOCKET_FILTER, socketFilterValid],
  [ProgramType.SCHED_CLS, tcValid],
  [ProgramType.SCHED_ACT, tcValid],
  [ProgramType.CGROUP_SKB, cgroupSkbValid],
  [ProgramType.SK_SKB, skSkbValid],
  [ProgramType.XDP, xdpValid],
  [ProgramType.KPROBE, kprobeValid],
  [ProgramType.TRACEPOINT, tracepointValid],
  [ProgramType.PERF_EVENT, perfEventValid],
  [ProgramType.RAW_TRACEPOINT, rawTracepointValid],
  [ProgramType.CGROUP_SOCK_ADDR, sockAddrValid],
  [ProgramType.CGROUP_SOCK, cgroupSockValid],
  [ProgramType.SK_MSG, skMsgValid],
  [ProgramType.SK_LOOKUP, skLookupValid],
  [ProgramType.LWT_IN, lwtValid],
  [ProgramType.LWT_OUT, lwtValid],
  [ProgramType.LWT_XMIT, lwtValid],
  [ProgramType.SOCK_OPS, sockOpsValid],
  [ProgramType.CGROUP_DEVICE, cgroupDevValid],
  [ProgramType.SK_REUSEPORT, skReuseportValid],
  [ProgramType.FLOW_DISSECTOR, flowDissectorValid],
  [ProgramType.CGROUP_SYSCTL, sysctlValid],
  [ProgramType.CGROUP_SOCKOPT, sockoptValid],
  [ProgramType.NETFILTER, netfilterValid],
  // Tracing helper (ctx-tracing.ts); TRACING itself is typed by its attach target in mem.ts.
  [ProgramType.RAW_TRACEPOINT_WRITABLE, rawTpWritableCtxValid],
  [ProgramType.SYSCALL, syscallCtxValid],
]);

/** Whether this verifier models the context of `progType`. */
export function hasContextRules(progType: number): boolean {
  return VALIDATORS.has(progType);
}

/** The access's result, or undefined when the kernel refuses it ("invalid bpf_context access"). */
export function checkContextAccess(progType: number, attachType: number, off: number, size: number, write: boolean,
  signed = false): CtxAccess | undefined {
  const v = VALIDATORS.get(progType);
  const r = v === undefined ? undefined : v(off, size, write, attachType);
  // A sign-extending load (BPF_MEMSX) of a pointer field is refused (kernel: info->is_ldsx).
  if (r !== undefined && signed && r.regType !== 'scalar') return undefined;
  return r;
}

/** Program types with direct packet access, and whether they may write (kernel: may_access_direct_pkt_data). */
export function directPacketAccess(progType: number): 'rw' | 'r' | undefined {
  switch (progType) {
    case ProgramType.LWT_IN: case ProgramType.LWT_OUT: case ProgramType.LWT_SEG6LOCAL: case ProgramType.SK_REUSEPORT:
    case ProgramType.FLOW_DISSECTOR: case ProgramType.CGROUP_SKB:
      return 'r';
    case ProgramType.SCHED_CLS: case ProgramType.SCHED_ACT: case ProgramType.XDP: case ProgramType.LWT_XMIT:
    case ProgramType.SK_SKB: case ProgramType.SK_MSG: case ProgramType.CGROUP_SOCKOPT:
      return 'rw';
    default:
      return undefined;
  }
}

/** Program types whose context is an sk_buff usable by LD_ABS/LD_IND (kernel: may_access_skb). */
export function mayAccessSkb(progType: number): boolean {
  return progType === ProgramType.SOCKET_FILTER || progType === ProgramType.SCHED_CLS || progType === ProgramType.SCHED_ACT;
}

/**
 * The range R0 must be in at program exit, or undefined when the type does not check it
 * (kernel: check_return_code).
 */
export function returnRange(progType: number, attachType: number): [bigint, bigint] | undefined {
  switch (progType) {
    case ProgramType.CGROUP_SKB:
      return attachType === AttachType.CGROUP_INET_EGRESS ? [0n, 3n] : [0n, 1n];
    case ProgramType.CGROUP_SOCK_ADDR:
      switch (attachType) {
        case A.CGROUP_INET4_BIND: case A.CGROUP_INET6_BIND: return [0n, 3n];
        case A.CGROUP_UDP4_RECVMSG: case A.CGROUP_UDP6_RECVMSG: case A.CGROUP_INET4_GETPEERNAME: case A.CGROUP_INET6_GETPEERNAME:
        case A.CGROUP_INET4_GETSOCKNAME: case A.CGROUP_INET6_GETSOCKNAME: case A.CGROUP_UNIX_RECVMSG:
        case A.CGROUP_UNIX_GETPEERNAME: case A.CGROUP_UNIX_GETSOCKNAME:
          return [1n, 1n];
        default: return [0n, 1n];
      }
    case ProgramType.TRACING: // ctx-tracing.ts
      return tracingReturnRange(attachType);
    case ProgramType.CGROUP_SOCK: case ProgramType.SOCK_OPS: case ProgramType.CGROUP_DEVICE: case ProgramType.CGROUP_SYSCTL:
    case ProgramType.CGROUP_SOCKOPT: case ProgramType.SK_LOOKUP: case ProgramType.NETFILTER:
      return [0n, 1n];
    default:
      return undefined;
  }
}
