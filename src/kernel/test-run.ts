/**
 * Running a loaded program once or more on given input, without attaching it
 * (BPF_PROG_TEST_RUN, also called BPF_PROG_RUN).
 */
import { Attr, PROG_TEST_RUN } from './attr.js';
import { Errno } from './errno.js';
import { KernelError } from './error.js';
import { nativeSyscalls } from './native.js';
import type { Program } from './program.js';
import type { Syscalls } from './syscalls.js';
import { Command } from './types.js';

/** Input of {@link testRun}; which fields a program type accepts is the kernel's rule (net/bpf/test_run.c). */
export interface TestRunOptions {
  /** Packet (or other data) given to the program: for skb and XDP programs, from the Ethernet header. */
  data?: Uint8Array;
  /** Room for the data after the run, in bytes; default `data.length + 256` (XDP may grow a packet). */
  dataSizeOut?: number;
  /** Context given to the program (`struct __sk_buff`, `struct xdp_md`, raw tracepoint args, …). */
  ctx?: Uint8Array;
  /** Room for the context after the run; default `ctx.length` (0 without ctx). */
  ctxSizeOut?: number;
  /** Number of runs; `durationNs` is their average. Default: once (sent as 0, which raw_tp and syscall programs require). */
  repeat?: number;
  /** `TestRunFlag.*` bits. */
  flags?: number;
  /** CPU to run on, with `TestRunFlag.RUN_ON_CPU`. */
  cpu?: number;
  /** XDP live-frames batch size. */
  batchSize?: number;
  /** Syscalls to use when `program` is a bare fd; a {@link Program} brings its own. */
  syscalls?: Syscalls;
}

/** Output of {@link testRun}. */
export interface TestRunResult {
  /** The program's return value: r0, truncated to 32 bits (`u32 retval` in the attr). */
  retval: number;
  /** The data after the run (as long as the kernel says it is). */
  dataOut: Uint8Array;
  /** The context after the run, when one was requested. */
  ctxOut: Uint8Array | undefined;
  /** Average duration of one run, in nanoseconds. */
  durationNs: number;
}

/** Default extra room for `data_out` over `data_in` (packets may grow by bpf_xdp_adjust_head/tail). */
const DATA_OUT_PAD = 256;

/**
 * Runs `program` with BPF_PROG_TEST_RUN. Throws {@link KernelError}: `ENOTSUPP` when the
 * program type cannot be test-run, `EINVAL` for input it does not accept, `ENOSPC` when
 * `dataSizeOut`/`ctxSizeOut` are too small for what the program produced.
 */
export function testRun(program: Program | number, options: TestRunOptions = {}): TestRunResult {
  const fd = typeof program === 'number' ? program : program.fd;
  const syscalls = typeof program === 'number' ? (options.syscalls ?? nativeSyscalls()) : program.syscalls;
  const label = typeof program === 'number' ? `fd ${fd}` : `'${program.name}'`;
  const data = options.data ?? new Uint8Array(0);
  const dataSizeOut = options.dataSizeOut ?? (options.data ? data.length + DATA_OUT_PAD : 0);
  const ctxSizeOut = options.ctxSizeOut ?? options.ctx?.length ?? 0;

  return syscalls.withMemory((memory) => {
    // The kernel writes data_out even with data_size_out 0 (meaning "unbounded"): never pass
    // a buffer without its size.
    const dataOut = dataSizeOut > 0 ? memory.output(dataSizeOut) : undefined;
    const ctxOut = ctxSizeOut > 0 ? memory.output(ctxSizeOut) : undefined;
    const attr = new Attr(PROG_TEST_RUN.SIZE)
      .u32(PROG_TEST_RUN.prog_fd, fd)
      .u32(PROG_TEST_RUN.data_size_in, data.length)
      .u32(PROG_TEST_RUN.data_size_out, dataOut?.size ?? 0)
      .u64(PROG_TEST_RUN.data_in, memory.input(data))
      .u64(PROG_TEST_RUN.data_out, dataOut?.address ?? 0n)
      .u32(PROG_TEST_RUN.repeat, options.repeat ?? 0) // 0 runs once; raw_tp and syscall programs refuse any other value
      .u32(PROG_TEST_RUN.ctx_size_in, options.ctx?.length ?? 0)
      .u32(PROG_TEST_RUN.ctx_size_out, ctxOut?.size ?? 0)
      .u64(PROG_TEST_RUN.ctx_in, options.ctx ? memory.input(options.ctx) : 0n)
      .u64(PROG_TEST_RUN.ctx_out, ctxOut?.address ?? 0n)
      .u32(PROG_TEST_RUN.flags, options.flags ?? 0)
      .u32(PROG_TEST_RUN.cpu, options.cpu ?? 0)
      .u32(PROG_TEST_RUN.batch_size, options.batchSize ?? 0);
    const result = syscalls.bpf(Command.PROG_TEST_RUN, attr.bytes);
    const context = `test run program ${label}`;
    if (result < 0) {
      const errno = -result;
      if (errno === Errno.ENOSPC) {
        const needData = attr.readU32(PROG_TEST_RUN.data_size_out);
        const needCtx = attr.readU32(PROG_TEST_RUN.ctx_size_out);
        throw new KernelError(context, errno, {
          detail: `output buffers too small (data ${needData} bytes for ${dataSizeOut}, ctx ${needCtx} for ${ctxSizeOut})`,
        });
      }
      throw new KernelError(context, errno);
    }
    const dataLen = Math.min(attr.readU32(PROG_TEST_RUN.data_size_out), dataSizeOut);
    const ctxLen = Math.min(attr.readU32(PROG_TEST_RUN.ctx_size_out), ctxSizeOut);
    return {
      retval: attr.readU32(PROG_TEST_RUN.retval),
      dataOut: dataOut ? dataOut.read().subarray(0, dataLen) : new Uint8Array(0),
      ctxOut: ctxOut ? ctxOut.read().subarray(0, ctxLen) : undefined,
      durationNs: attr.readU32(PROG_TEST_RUN.duration),
    };
  });
}
