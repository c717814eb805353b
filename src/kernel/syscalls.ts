/**
 * The system-call boundary of the Linux backend. Everything above it builds `bpf_attr` bytes
 * and reads results; only an implementation of {@link Syscalls} touches the kernel. The real one
 * goes through `koffi` ({@link nativeSyscalls}); a test can substitute its own to exercise the
 * logic above without root.
 */

/**
 * Memory the kernel can read and write during a call, for the pointers inside `bpf_attr`
 * (instructions, license, log buffer, packet in/out). Valid only inside
 * {@link Syscalls.withMemory}.
 */
export interface UserMemory {
  /** Copies `bytes` into kernel-readable memory and returns its address (0 for no bytes). */
  input(bytes: Uint8Array): bigint;
  /** Reserves `size` zeroed bytes for the kernel to write; `read()` copies them out. */
  output(size: number): OutputBuffer;
}

/** A buffer the kernel writes into; read it before `withMemory` returns. */
export interface OutputBuffer {
  readonly address: bigint;
  readonly size: number;
  /** A copy of the buffer's current bytes. */
  read(): Uint8Array;
}

/** The system calls the backend needs; grows with it (perf_event_open, mmap, ioctl, …). */
export interface Syscalls {
  /**
   * bpf(2) with `cmd` and `attr` (its size is `attr.length`). The kernel's writes to the attr
   * (`retval`, `log_true_size`, …) are copied back into `attr`. Returns the call's result
   * (an fd, or 0) when it is not negative, else `-errno` — the kernel's own convention.
   */
  bpf(cmd: number, attr: Uint8Array): number;
  /** close(2): 0, or `-errno`. */
  close(fd: number): number;
  /** Runs `use` with memory for pointers in an attr; the memory is released when it returns. */
  withMemory<T>(use: (memory: UserMemory) => T): T;
}
