/**
 * The kernel's enumerations that an object file names: program types, attach types, map types
 * and the flags that section names and map definitions carry. Linux UAPI names and numbers
 * (include/uapi/linux/bpf.h, Linux 6.18, plus the attach types newer libbpf's section table
 * already uses). Keys drop the common prefix: `ProgramType.XDP` is `BPF_PROG_TYPE_XDP` (6),
 * `MapType.LPM_TRIE` is `BPF_MAP_TYPE_LPM_TRIE` (11). Use the `*Name()` functions for the
 * full kernel spelling in messages.
 *
 * This module is platform-neutral data: `src/object` owns it so that every backend (kernel,
 * verifier, VM) can import the same table.
 */

/** `enum bpf_prog_type`. Key `SOCKET_FILTER` is `BPF_PROG_TYPE_SOCKET_FILTER`. */
export const ProgramType = {
  UNSPEC: 0,
  SOCKET_FILTER: 1,
  KPROBE: 2,
  SCHED_CLS: 3,
  SCHED_ACT: 4,
  TRACEPOINT: 5,
  XDP: 6,
  PERF_EVENT: 7,
  CGROUP_SKB: 8,
  CGROUP_SOCK: 9,
  LWT_IN: 10,
  LWT_OUT: 11,
  LWT_XMIT: 12,
  SOCK_OPS: 13,
  SK_SKB: 14,
  CGROUP_DEVICE: 15,
  SK_MSG: 16,
  RAW_TRACEPOINT: 17,
  CGROUP_SOCK_ADDR: 18,
  LWT_SEG6LOCAL: 19,
  LIRC_MODE2: 20,
  SK_REUSEPORT: 21,
  FLOW_DISSECTOR: 22,
  CGROUP_SYSCTL: 23,
  RAW_TRACEPOINT_WRITABLE: 24,
  CGROUP_SOCKOPT: 25,
  TRACING: 26,
  STRUCT_OPS: 27,
  EXT: 28,
  LSM: 29,
  SK_LOOKUP: 30,
  SYSCALL: 31,
  NETFILTER: 32,
} as const;
export type ProgramType = (typeof ProgramType)[keyof typeof ProgramType];

/**
 * `enum bpf_attach_type`. Key `CGROUP_INET_INGRESS` is `BPF_CGROUP_INET_INGRESS`. Values
 * 58..61 come after Linux 6.18 (libbpf's section table already names them).
 */
export const AttachType = {
  CGROUP_INET_INGRESS: 0,
  CGROUP_INET_EGRESS: 1,
  CGROUP_INET_SOCK_CREATE: 2,
  CGROUP_SOCK_OPS: 3,
  SK_SKB_STREAM_PARSER: 4,
  SK_SKB_STREAM_VERDICT: 5,
  CGROUP_DEVICE: 6,
  SK_MSG_VERDICT: 7,
  CGROUP_INET4_BIND: 8,
  CGROUP_INET6_BIND: 9,
  CGROUP_INET4_CONNECT: 10,
  CGROUP_INET6_CONNECT: 11,
  CGROUP_INET4_POST_BIND: 12,
  CGROUP_INET6_POST_BIND: 13,
  CGROUP_UDP4_SENDMSG: 14,
  CGROUP_UDP6_SENDMSG: 15,
  LIRC_MODE2: 16,
  FLOW_DISSECTOR: 17,
  CGROUP_SYSCTL: 18,
  CGROUP_UDP4_RECVMSG: 19,
  CGROUP_UDP6_RECVMSG: 20,
  CGROUP_GETSOCKOPT: 21,
  CGROUP_SETSOCKOPT: 22,
  TRACE_RAW_TP: 23,
  TRACE_FENTRY: 24,
  TRACE_FEXIT: 25,
  MODIFY_RETURN: 26,
  LSM_MAC: 27,
  TRACE_ITER: 28,
  CGROUP_INET4_GETPEERNAME: 29,
  CGROUP_INET6_GETPEERNAME: 30,
  CGROUP_INET4_GETSOCKNAME: 31,
  CGROUP_INET6_GETSOCKNAME: 32,
  XDP_DEVMAP: 33,
  CGROUP_INET_SOCK_RELEASE: 34,
  XDP_CPUMAP: 35,
  SK_LOOKUP: 36,
  XDP: 37,
  SK_SKB_VERDICT: 38,
  SK_REUSEPORT_SELECT: 39,
  SK_REUSEPORT_SELECT_OR_MIGRATE: 40,
  PERF_EVENT: 41,
  TRACE_KPROBE_MULTI: 42,
  LSM_CGROUP: 43,
  STRUCT_OPS: 44,
  NETFILTER: 45,
  TCX_INGRESS: 46,
  TCX_EGRESS: 47,
  TRACE_UPROBE_MULTI: 48,
  CGROUP_UNIX_CONNECT: 49,
  CGROUP_UNIX_SENDMSG: 50,
  CGROUP_UNIX_RECVMSG: 51,
  CGROUP_UNIX_GETPEERNAME: 52,
  CGROUP_UNIX_GETSOCKNAME: 53,
  NETKIT_PRIMARY: 54,
  NETKIT_PEER: 55,
  TRACE_KPROBE_SESSION: 56,
  TRACE_UPROBE_SESSION: 57,
  TRACE_FSESSION: 58,
  TRACE_FENTRY_MULTI: 59,
  TRACE_FEXIT_MULTI: 60,
  TRACE_FSESSION_MULTI: 61,
} as const;
export type AttachType = (typeof AttachType)[keyof typeof AttachType];

/**
 * `enum bpf_map_type`. Key `HASH` is `BPF_MAP_TYPE_HASH`. CGROUP_STORAGE and
 * PERCPU_CGROUP_STORAGE are the kernel's (deprecated) names for 19 and 21.
 */
export const MapType = {
  UNSPEC: 0,
  HASH: 1,
  ARRAY: 2,
  PROG_ARRAY: 3,
  PERF_EVENT_ARRAY: 4,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  STACK_TRACE: 7,
  CGROUP_ARRAY: 8,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  LPM_TRIE: 11,
  ARRAY_OF_MAPS: 12,
  HASH_OF_MAPS: 13,
  DEVMAP: 14,
  SOCKMAP: 15,
  CPUMAP: 16,
  XSKMAP: 17,
  SOCKHASH: 18,
  CGROUP_STORAGE: 19,
  REUSEPORT_SOCKARRAY: 20,
  PERCPU_CGROUP_STORAGE: 21,
  QUEUE: 22,
  STACK: 23,
  SK_STORAGE: 24,
  DEVMAP_HASH: 25,
  STRUCT_OPS: 26,
  RINGBUF: 27,
  INODE_STORAGE: 28,
  TASK_STORAGE: 29,
  BLOOM_FILTER: 30,
  USER_RINGBUF: 31,
  CGRP_STORAGE: 32,
  ARENA: 33,
} as const;
export type MapType = (typeof MapType)[keyof typeof MapType];

/** `map_flags` of BPF_MAP_CREATE (`BPF_F_*`). */
export const MapFlag = {
  NO_PREALLOC: 1 << 0,
  NO_COMMON_LRU: 1 << 1,
  NUMA_NODE: 1 << 2,
  RDONLY: 1 << 3,
  WRONLY: 1 << 4,
  STACK_BUILD_ID: 1 << 5,
  ZERO_SEED: 1 << 6,
  RDONLY_PROG: 1 << 7,
  WRONLY_PROG: 1 << 8,
  CLONE: 1 << 9,
  MMAPABLE: 1 << 10,
  PRESERVE_ELEMS: 1 << 11,
  INNER_MAP: 1 << 12,
  LINK: 1 << 13,
  PATH_FD: 1 << 14,
  VTYPE_BTF_OBJ_FD: 1 << 15,
  TOKEN_FD: 1 << 16,
  SEGV_ON_FAULT: 1 << 17,
  NO_USER_CONV: 1 << 18,
} as const;

/** The `prog_flags` bits of BPF_PROG_LOAD that a section name implies. */
export const BPF_F_SLEEPABLE = 1 << 4;
export const BPF_F_XDP_HAS_FRAGS = 1 << 5;

/** Pinning of a BTF-defined map (`enum libbpf_pin_type` of bpf_helpers.h). */
export const PinType = {
  NONE: 0,
  /** Pin at `<pin root>/<map name>` (libbpf: /sys/fs/bpf by default). */
  BY_NAME: 1,
} as const;
export type PinType = (typeof PinType)[keyof typeof PinType];

function namer(table: Readonly<Record<string, number>>, prefix: string): (value: number) => string {
  const names = new Map<number, string>();
  for (const [key, value] of Object.entries(table)) if (!names.has(value)) names.set(value, prefix + key);
  return (value) => names.get(value) ?? `${prefix}UNKNOWN(${value})`;
}

function shortNamer(table: Readonly<Record<string, number>>): (value: number) => string {
  const names = new Map<number, string>();
  for (const [key, value] of Object.entries(table)) if (!names.has(value)) names.set(value, key.toLowerCase());
  return (value) => names.get(value) ?? `unknown(${value})`;
}

/** Kernel name of a program type: `6` → `'BPF_PROG_TYPE_XDP'`. */
export const programTypeName: (type: number) => string = namer(ProgramType, 'BPF_PROG_TYPE_');
/** Kernel name of an attach type: `37` → `'BPF_XDP'`. */
export const attachTypeName: (type: number) => string = namer(AttachType, 'BPF_');
/** Kernel name of a map type: `1` → `'BPF_MAP_TYPE_HASH'`. */
export const mapTypeName: (type: number) => string = namer(MapType, 'BPF_MAP_TYPE_');

/** bpftool's spelling of a program type (libbpf_bpf_prog_type_str): `6` → `'xdp'`. */
export const programTypeShortName: (type: number) => string = shortNamer(ProgramType);
/** bpftool's spelling of a map type (libbpf_bpf_map_type_str): `11` → `'lpm_trie'`. */
export const mapTypeShortName: (type: number) => string = shortNamer(MapType);
/** Lower-case attach type without prefix: `37` → `'xdp'`, `10` → `'cgroup_inet4_connect'`. */
export const attachTypeShortName: (type: number) => string = shortNamer(AttachType);

/** The names of the set bits of `flags` in `table` (`MapFlag`), unknown bits as hex. */
export function flagNames(table: Readonly<Record<string, number>>, flags: number): string[] {
  const out: string[] = [];
  let rest = flags >>> 0;
  for (const [key, bit] of Object.entries(table)) {
    if ((rest & bit) !== 0) {
      out.push(key);
      rest &= ~bit >>> 0;
    }
  }
  if (rest !== 0) out.push(`0x${rest.toString(16)}`);
  return out;
}
