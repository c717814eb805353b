/**
 * perf_event_open(2) for the backend: `struct perf_event_attr` (include/uapi/linux/perf_event.h)
 * built from named fields, the constants the readers and attachments need, and the BPF output
 * event that a perf-event-array map's entries point at.
 */
import { Attr } from './attr.js';
import { KernelError } from './error.js';
import { nativeSyscalls } from './native.js';
import { requireSyscall, type Syscalls } from './syscalls.js';

/** `enum perf_type_id`. */
export const PerfType = {
  HARDWARE: 0,
  SOFTWARE: 1,
  TRACEPOINT: 2,
  HW_CACHE: 3,
  RAW: 4,
  BREAKPOINT: 5,
} as const;

/** `enum perf_sw_ids`: `config` of PERF_TYPE_SOFTWARE events. */
export const PerfSoftwareConfig = {
  CPU_CLOCK: 0,
  TASK_CLOCK: 1,
  PAGE_FAULTS: 2,
  CONTEXT_SWITCHES: 3,
  CPU_MIGRATIONS: 4,
  PAGE_FAULTS_MIN: 5,
  PAGE_FAULTS_MAJ: 6,
  ALIGNMENT_FAULTS: 7,
  EMULATION_FAULTS: 8,
  DUMMY: 9,
  /** The event bpf_perf_event_output() writes to. */
  BPF_OUTPUT: 10,
  CGROUP_SWITCHES: 11,
} as const;

/** `enum perf_event_sample_format` bits of `sample_type` (the common ones). */
export const PerfSample = {
  IP: 1 << 0,
  TID: 1 << 1,
  TIME: 1 << 2,
  ADDR: 1 << 3,
  READ: 1 << 4,
  CALLCHAIN: 1 << 5,
  ID: 1 << 6,
  CPU: 1 << 7,
  PERIOD: 1 << 8,
  STREAM_ID: 1 << 9,
  /** The raw bytes a BPF program (or tracepoint) gave. */
  RAW: 1 << 10,
} as const;

/** `enum perf_event_type`: `type` of a record in the ring (the ones a BPF output ring holds, and neighbours). */
export const PerfRecordType = {
  MMAP: 1,
  /** Samples dropped because the ring was full: `u64 id; u64 lost`. */
  LOST: 2,
  COMM: 3,
  EXIT: 4,
  THROTTLE: 5,
  UNTHROTTLE: 6,
  FORK: 7,
  READ: 8,
  /** A sample: with PERF_SAMPLE_RAW, `u32 size; u8 data[size]`. */
  SAMPLE: 9,
  LOST_SAMPLES: 13,
} as const;

/** Bits of the u64 bit-field word of `perf_event_attr` (offset 40), in declaration order. */
export const PerfAttrFlag = {
  DISABLED: 1n << 0n,
  INHERIT: 1n << 1n,
  PINNED: 1n << 2n,
  EXCLUSIVE: 1n << 3n,
  EXCLUDE_USER: 1n << 4n,
  EXCLUDE_KERNEL: 1n << 5n,
  EXCLUDE_HV: 1n << 6n,
  EXCLUDE_IDLE: 1n << 7n,
  MMAP: 1n << 8n,
  COMM: 1n << 9n,
  FREQ: 1n << 10n,
  INHERIT_STAT: 1n << 11n,
  ENABLE_ON_EXEC: 1n << 12n,
  TASK: 1n << 13n,
  /** `wakeup_watermark` (bytes) instead of `wakeup_events`. */
  WATERMARK: 1n << 14n,
} as const;

/** `flags` of perf_event_open(2). */
export const PerfOpenFlag = {
  FD_NO_GROUP: 1 << 0,
  FD_OUTPUT: 1 << 1,
  PID_CGROUP: 1 << 2,
  FD_CLOEXEC: 1 << 3,
} as const;

/**
 * perf ioctls (`_IO('$', n)` / `_IOW('$', 8, u32)`) in the generic ioctl encoding of x86, arm,
 * arm64, riscv, loongarch and s390 (powerpc, mips and sparc encode directions differently).
 */
export const PerfIoctl = {
  ENABLE: 0x2400,
  DISABLE: 0x2401,
  REFRESH: 0x2402,
  RESET: 0x2403,
  SET_BPF: 0x4004_2408,
} as const;

/** Offsets of `struct perf_event_attr`; SIZE is PERF_ATTR_SIZE_VER8 (accepted since 6.x, and by older kernels while the tail is zero). */
const PERF_ATTR = {
  type: 0, size: 4, config: 8, sample_period: 16, sample_type: 24, read_format: 32, flags: 40,
  wakeup_events: 48, bp_type: 52, config1: 56, config2: 64, branch_sample_type: 72, SIZE: 136,
} as const;

/** Fields of `struct perf_event_attr`; everything not given is 0. */
export interface PerfEventAttrOptions {
  type: number;
  config: bigint | number;
  /** `sample_period` (or `sample_freq` with `PerfAttrFlag.FREQ`). */
  samplePeriod?: bigint | number;
  /** `PerfSample.*` bits. */
  sampleType?: number;
  readFormat?: number;
  /** `PerfAttrFlag.*` bits. */
  flags?: bigint;
  /** Wake a reader every n samples (or every n bytes with `PerfAttrFlag.WATERMARK`). */
  wakeupEvents?: number;
  bpType?: number;
  /** `config1` (kprobe_func, uprobe_path, bp_addr). */
  config1?: bigint;
  /** `config2` (kprobe_addr, probe_offset, bp_len). */
  config2?: bigint;
}

/** A `struct perf_event_attr` in host byte order. */
export function perfEventAttr(options: PerfEventAttrOptions): Uint8Array {
  return new Attr(PERF_ATTR.SIZE)
    .u32(PERF_ATTR.type, options.type)
    .u32(PERF_ATTR.size, PERF_ATTR.SIZE)
    .u64(PERF_ATTR.config, BigInt(options.config))
    .u64(PERF_ATTR.sample_period, BigInt(options.samplePeriod ?? 0))
    .u64(PERF_ATTR.sample_type, BigInt(options.sampleType ?? 0))
    .u64(PERF_ATTR.read_format, BigInt(options.readFormat ?? 0))
    .u64(PERF_ATTR.flags, options.flags ?? 0n)
    .u32(PERF_ATTR.wakeup_events, options.wakeupEvents ?? 0)
    .u32(PERF_ATTR.bp_type, options.bpType ?? 0)
    .u64(PERF_ATTR.config1, options.config1 ?? 0n)
    .u64(PERF_ATTR.config2, options.config2 ?? 0n).bytes;
}

/** Where a perf event counts: a process (`pid`, -1 for all) on a `cpu` (-1 for any). */
export interface PerfEventOpenOptions {
  pid?: number;
  cpu?: number;
  groupFd?: number;
  /** `PerfOpenFlag.*`; FD_CLOEXEC is always added. */
  flags?: number;
  syscalls?: Syscalls;
}

/** perf_event_open(2): a new fd the caller owns. Throws {@link KernelError} (`EACCES` under perf_event_paranoid, `ENODEV` for an offline CPU). */
export function perfEventOpen(attr: Uint8Array, options: PerfEventOpenOptions = {}): number {
  const syscalls = options.syscalls ?? nativeSyscalls();
  const open = requireSyscall(syscalls, 'perfEventOpen', 'open a perf event');
  const pid = options.pid ?? -1;
  const cpu = options.cpu ?? -1;
  const fd = open(attr, pid, cpu, options.groupFd ?? -1, (options.flags ?? 0) | PerfOpenFlag.FD_CLOEXEC);
  if (fd < 0) throw new KernelError(`perf_event_open (pid ${pid}, cpu ${cpu})`, -fd);
  return fd;
}

/**
 * The software event bpf_perf_event_output() writes to on `cpu`: PERF_COUNT_SW_BPF_OUTPUT,
 * sampling raw data, waking a reader every `wakeupEvents` samples (or at `watermark` bytes).
 */
export function openBpfOutputEvent(cpu: number, options: { wakeupEvents?: number; watermark?: number; syscalls?: Syscalls } = {}): number {
  const attr = perfEventAttr({
    type: PerfType.SOFTWARE,
    config: PerfSoftwareConfig.BPF_OUTPUT,
    samplePeriod: 1,
    sampleType: PerfSample.RAW,
    flags: options.watermark ? PerfAttrFlag.WATERMARK : 0n,
    wakeupEvents: options.watermark ?? options.wakeupEvents ?? 1,
  });
  return perfEventOpen(attr, { pid: -1, cpu, ...(options.syscalls ? { syscalls: options.syscalls } : {}) });
}
