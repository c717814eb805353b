/**
 * The `bpf_attr` layouts and constants of attaching (include/uapi/linux/bpf.h as of Linux 6.18,
 * offsets checked against pahole of the kernel's struct): BPF_LINK_CREATE and its per-type
 * unions, BPF_LINK_UPDATE/DETACH, BPF_ITER_CREATE, BPF_RAW_TRACEPOINT_OPEN, BPF_PROG_ATTACH/
 * DETACH, `struct bpf_link_info`, and the flag tables with the kernel's names.
 */
import { HOST_LITTLE_ENDIAN } from '../attr.js';

/** Offsets of the BPF_LINK_CREATE struct; the union at 16 differs per attach kind. */
export const LINK_CREATE = {
  prog_fd: 0, // u32 (map_fd for struct_ops)
  target_fd: 4, // u32, union with target_ifindex
  target_ifindex: 4,
  attach_type: 8, // u32
  flags: 12, // u32
  /** tracing / tp_btf / freplace: BTF id of the target (union member). */
  target_btf_id: 16, // u32
  /** tracing: cookie (after target_btf_id). */
  tracing_cookie: 24, // u64
  /** iterators: pointer to `union bpf_iter_link_info` and its length. */
  iter_info: 16, // u64 pointer
  iter_info_len: 24, // u32
  /** perf events (tracepoint, kprobe, uprobe, perf_event). */
  perf_event_bpf_cookie: 16, // u64
  /** kprobe_multi. */
  kprobe_multi_flags: 16, // u32
  kprobe_multi_cnt: 20, // u32
  kprobe_multi_syms: 24, // u64 pointer to char *[]
  kprobe_multi_addrs: 32, // u64 pointer to u64[]
  kprobe_multi_cookies: 40, // u64 pointer to u64[]
  /** netfilter. */
  netfilter_pf: 16, // u32
  netfilter_hooknum: 20, // u32
  netfilter_priority: 24, // s32
  netfilter_flags: 28, // u32
  /** tcx, netkit (and cgroup mprog, 6.16+): anchor and expected revision. */
  relative_fd: 16, // u32, union with relative_id
  expected_revision: 24, // u64
  /** uprobe_multi. */
  uprobe_multi_path: 16, // u64 pointer
  uprobe_multi_offsets: 24, // u64 pointer to u64[]
  uprobe_multi_ref_ctr_offsets: 32, // u64 pointer to u64[]
  uprobe_multi_cookies: 40, // u64 pointer to u64[]
  uprobe_multi_cnt: 48, // u32
  uprobe_multi_flags: 52, // u32
  uprobe_multi_pid: 56, // u32
  SIZE: 64,
} as const;

/** Offsets of the BPF_LINK_UPDATE struct. */
export const LINK_UPDATE = { link_fd: 0, new_prog_fd: 4, flags: 8, old_prog_fd: 12, SIZE: 16 } as const;

/** Offsets of the BPF_LINK_DETACH struct. */
export const LINK_DETACH = { link_fd: 0, SIZE: 8 } as const;

/** Offsets of the BPF_ITER_CREATE struct. */
export const ITER_CREATE = { link_fd: 0, flags: 4, SIZE: 8 } as const;

/** Offsets of the BPF_RAW_TRACEPOINT_OPEN struct (`cookie` is 6.10+). */
export const RAW_TRACEPOINT_OPEN = { name: 0, prog_fd: 8, cookie: 16, SIZE: 24 } as const;

/** Offsets of the BPF_PROG_ATTACH / BPF_PROG_DETACH struct (`relative_fd`, `expected_revision`: 6.6+). */
export const PROG_ATTACH = {
  target_fd: 0, // u32, union with target_ifindex
  attach_bpf_fd: 4,
  attach_type: 8,
  attach_flags: 12,
  replace_bpf_fd: 16,
  relative_fd: 20, // union with relative_id
  expected_revision: 24, // u64
  SIZE: 32,
} as const;

/** `union bpf_iter_link_info` (16 bytes): one of its members is used per iterator target. */
export const ITER_LINK_INFO = {
  map_fd: 0,
  cgroup_order: 0,
  cgroup_fd: 4,
  cgroup_id: 8, // u64
  task_tid: 0,
  task_pid: 4,
  task_pid_fd: 8,
  SIZE: 16,
} as const;

/** Offsets of `struct bpf_link_info`: 16 common bytes, then a union per link type. */
export const LINK_INFO = {
  type: 0,
  id: 4,
  prog_id: 8,
  U: 16,
  SIZE: 64,
} as const;

/** `enum bpf_link_type`. Key `XDP` is `BPF_LINK_TYPE_XDP`. */
export const LinkType = {
  UNSPEC: 0,
  RAW_TRACEPOINT: 1,
  TRACING: 2,
  CGROUP: 3,
  ITER: 4,
  NETNS: 5,
  XDP: 6,
  PERF_EVENT: 7,
  KPROBE_MULTI: 8,
  STRUCT_OPS: 9,
  NETFILTER: 10,
  TCX: 11,
  UPROBE_MULTI: 12,
  NETKIT: 13,
  SOCKMAP: 14,
} as const;
export type LinkType = (typeof LinkType)[keyof typeof LinkType];

/** `enum bpf_perf_event_type`: what a perf-event link is attached to. */
export const PerfEventLinkType = {
  UNSPEC: 0,
  UPROBE: 1,
  URETPROBE: 2,
  KPROBE: 3,
  KRETPROBE: 4,
  TRACEPOINT: 5,
  EVENT: 6,
} as const;

/** `XDP_FLAGS_*` (include/uapi/linux/if_link.h): the `flags` of an XDP link. */
export const XdpFlag = {
  UPDATE_IF_NOEXIST: 1 << 0,
  /** Generic XDP: runs on the skb, any device. */
  SKB_MODE: 1 << 1,
  /** Native XDP in the driver. */
  DRV_MODE: 1 << 2,
  /** Offloaded to the NIC. */
  HW_MODE: 1 << 3,
  REPLACE: 1 << 4,
} as const;

/** Attach flags of BPF_PROG_ATTACH and the mprog (tcx, netkit) anchors. */
export const AttachFlag = {
  /** cgroup: a descendant may override this program. */
  ALLOW_OVERRIDE: 1 << 0,
  /** cgroup: several programs per hook, run in order. */
  ALLOW_MULTI: 1 << 1,
  /** Replace `replace_bpf_fd` (cgroup) or the anchor (mprog). */
  REPLACE: 1 << 2,
  /** mprog: insert before the anchor. */
  BEFORE: 1 << 3,
  /** mprog: insert after the anchor. */
  AFTER: 1 << 4,
  /** mprog: the anchor is an id, not an fd. */
  ID: 1 << 5,
  /** mprog: the anchor is a link, not a program. */
  LINK: 1 << 13,
} as const;

/** `BPF_F_KPROBE_MULTI_RETURN` / `BPF_F_UPROBE_MULTI_RETURN`. */
export const MULTI_RETURN = 1;

/** `BPF_F_NETFILTER_IP_DEFRAG`: reassemble IP fragments before the program sees them. */
export const NETFILTER_IP_DEFRAG = 1;

/** `enum bpf_cgroup_iter_order`. */
export const CgroupIterOrder = {
  UNSPEC: 0,
  SELF_ONLY: 1,
  DESCENDANTS_PRE: 2,
  DESCENDANTS_POST: 3,
  ANCESTORS_UP: 4,
} as const;

/** Netfilter protocol families (`NFPROTO_*`). */
export const NetfilterFamily = { IPV4: 2, IPV6: 10 } as const;

/** Netfilter IPv4/IPv6 hooks (`enum nf_inet_hooks`). */
export const NetfilterHook = { PRE_ROUTING: 0, LOCAL_IN: 1, FORWARD: 2, LOCAL_OUT: 3, POST_ROUTING: 4 } as const;

/** `values` as a `__u64[]` in host byte order, for the arrays a link attr points at. */
export function u64Array(values: readonly bigint[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setBigUint64(i * 8, BigInt.asUintN(64, v), HOST_LITTLE_ENDIAN));
  return bytes;
}

function namer(table: Readonly<Record<string, number>>, prefix: string): (value: number) => string {
  const names = new Map<number, string>();
  for (const [key, value] of Object.entries(table)) if (!names.has(value)) names.set(value, prefix + key);
  return (value) => names.get(value) ?? `${prefix}UNKNOWN(${value})`;
}

/** Kernel name of a link type: `6` → `'BPF_LINK_TYPE_XDP'`. */
export const linkTypeName: (type: number) => string = namer(LinkType, 'BPF_LINK_TYPE_');
