/**
 * The kernel's enumerations for programs, as tables with the UAPI names and numbers
 * (include/uapi/linux/bpf.h, as of Linux 6.18): commands of bpf(), program types, attach
 * types and load flags. Keys drop the common prefix: `ProgramType.XDP` is
 * `BPF_PROG_TYPE_XDP` (6), `AttachType.CGROUP_INET_INGRESS` is `BPF_CGROUP_INET_INGRESS` (0).
 * Use the `*Name()` functions for the full kernel name in messages.
 */

/** `enum bpf_cmd`: the first argument of bpf(2). Key `PROG_LOAD` is `BPF_PROG_LOAD`. */
export const Command = {
  MAP_CREATE: 0,
  MAP_LOOKUP_ELEM: 1,
  MAP_UPDATE_ELEM: 2,
  MAP_DELETE_ELEM: 3,
  MAP_GET_NEXT_KEY: 4,
  PROG_LOAD: 5,
  OBJ_PIN: 6,
  OBJ_GET: 7,
  PROG_ATTACH: 8,
  PROG_DETACH: 9,
  PROG_TEST_RUN: 10,
  PROG_GET_NEXT_ID: 11,
  MAP_GET_NEXT_ID: 12,
  PROG_GET_FD_BY_ID: 13,
  MAP_GET_FD_BY_ID: 14,
  OBJ_GET_INFO_BY_FD: 15,
  PROG_QUERY: 16,
  RAW_TRACEPOINT_OPEN: 17,
  BTF_LOAD: 18,
  BTF_GET_FD_BY_ID: 19,
  TASK_FD_QUERY: 20,
  MAP_LOOKUP_AND_DELETE_ELEM: 21,
  MAP_FREEZE: 22,
  BTF_GET_NEXT_ID: 23,
  MAP_LOOKUP_BATCH: 24,
  MAP_LOOKUP_AND_DELETE_BATCH: 25,
  MAP_UPDATE_BATCH: 26,
  MAP_DELETE_BATCH: 27,
  LINK_CREATE: 28,
  LINK_UPDATE: 29,
  LINK_GET_FD_BY_ID: 30,
  LINK_GET_NEXT_ID: 31,
  ENABLE_STATS: 32,
  ITER_CREATE: 33,
  LINK_DETACH: 34,
  PROG_BIND_MAP: 35,
  TOKEN_CREATE: 36,
  PROG_STREAM_READ_BY_FD: 37,
} as const;
export type Command = (typeof Command)[keyof typeof Command];

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

/** `enum bpf_attach_type`. Key `CGROUP_INET_INGRESS` is `BPF_CGROUP_INET_INGRESS`. */
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
} as const;
export type AttachType = (typeof AttachType)[keyof typeof AttachType];

/** `prog_flags` of BPF_PROG_LOAD (`BPF_F_*`). */
export const ProgramFlag = {
  /** Verify alignment as if the CPU had no efficient unaligned access (NET_IP_ALIGN 2). */
  STRICT_ALIGNMENT: 1 << 0,
  /** Allow any alignment (testing: lets the verifier reach later checks). */
  ANY_ALIGNMENT: 1 << 1,
  /** Testing: randomize the upper 32 bits the verifier thinks are unused after 32-bit ops. */
  TEST_RND_HI32: 1 << 2,
  /** Testing: checkpoint verifier states at every jump (precision-tracking tests). */
  TEST_STATE_FREQ: 1 << 3,
  /** The program may sleep (only for hooks where sleeping is allowed). */
  SLEEPABLE: 1 << 4,
  /** The XDP program supports multi-buffer frames. */
  XDP_HAS_FRAGS: 1 << 5,
  /** The XDP program is bound to one device and may read its metadata. */
  XDP_DEV_BOUND_ONLY: 1 << 6,
  /** Testing: the verifier checks its register-bounds invariants and fails loudly. */
  TEST_REG_INVARIANTS: 1 << 7,
  /** `prog_token_fd` holds a BPF token. */
  TOKEN_FD: 1 << 16,
} as const;

/** `log_level` bits of BPF_PROG_LOAD (kernel include/linux/bpf_verifier.h `BPF_LOG_*`). */
export const LogLevel = {
  /** The verifier's path, one line per instruction, and the error. */
  LEVEL1: 1,
  /** Also the register state at every instruction (large). */
  LEVEL2: 2,
  /** Only the statistics line (`processed N insns ...`). */
  STATS: 4,
  /** Fixed-size log: keep the start instead of rotating to keep the end (6.4+). */
  FIXED: 8,
} as const;

/** `flags` of BPF_PROG_TEST_RUN (`BPF_F_TEST_*`). */
export const TestRunFlag = {
  /** Run on the CPU given in `cpu` (raw tracepoints only). */
  RUN_ON_CPU: 1 << 0,
  /** XDP: send the frames for real, `batch_size` at a time. */
  XDP_LIVE_FRAMES: 1 << 1,
  /** skb: set CHECKSUM_COMPLETE on the test packet. */
  SKB_CHECKSUM_COMPLETE: 1 << 2,
} as const;

function namer(table: Readonly<Record<string, number>>, prefix: string): (value: number) => string {
  const names = new Map<number, string>();
  for (const [key, value] of Object.entries(table)) if (!names.has(value)) names.set(value, prefix + key);
  return (value) => names.get(value) ?? `${prefix}UNKNOWN(${value})`;
}

/** Kernel name of a bpf() command: `5` → `'BPF_PROG_LOAD'`. */
export const commandName: (cmd: number) => string = namer(Command, 'BPF_');
/** Kernel name of a program type: `6` → `'BPF_PROG_TYPE_XDP'`. */
export const programTypeName: (type: number) => string = namer(ProgramType, 'BPF_PROG_TYPE_');
/** Kernel name of an attach type: `37` → `'BPF_XDP'`. */
export const attachTypeName: (type: number) => string = namer(AttachType, 'BPF_');
