/**
 * The kernel's enumerations for programs, as tables with the UAPI names and numbers
 * (include/uapi/linux/bpf.h, as of Linux 6.18): commands of bpf(), program types, attach
 * types and load flags. Keys drop the common prefix: `ProgramType.XDP` is
 * `BPF_PROG_TYPE_XDP` (6), `AttachType.CGROUP_INET_INGRESS` is `BPF_CGROUP_INET_INGRESS` (0).
 * Use the `*Name()` functions for the full kernel name in messages.
 *
 * Program and attach types are shared with the object layer: one table, in
 * src/object/uapi-types.ts, re-exported here.
 */
export { AttachType, ProgramType, attachTypeName, programTypeName } from '../object/uapi-types.js';

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

