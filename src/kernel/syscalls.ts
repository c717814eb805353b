/**
 * The system-call boundary of the Linux backend. Everything above it builds `bpf_attr` bytes
 * and reads results; only an implementation of {@link Syscalls} touches the kernel. The real one
 * goes through `koffi` ({@link nativeSyscalls}); a test can substitute its own to exercise the
 * logic above without root.
 */
import { NotSupportedError } from '../errors.js';

/**
 * Memory the kernel can read and write during a call, for the pointers inside `bpf_attr`
 * (instructions, license, log buffer, packet in/out). Valid only inside
 * {@link Syscalls.withMemory}.
 */
export interface UserMemory {
  /** Copies `bytes` into kernel-readable memory and returns its address (0 for no bytes). */
  input(bytes: Uint8Array): bigint;
  /**
   * Reserves `size` bytes for the kernel to write, zeroed or starting as a copy of `init` (for
   * structures the kernel both reads and writes, such as `bpf_prog_info`); `read()` copies them out.
   */
  output(size: number, init?: Uint8Array): OutputBuffer;
}

/** A buffer the kernel writes into; read it before `withMemory` returns. */
export interface OutputBuffer {
  readonly address: bigint;
  readonly size: number;
  /** A copy of the buffer's current bytes. */
  read(): Uint8Array;
}

/**
 * A shared memory mapping of a file (`mmap(MAP_SHARED)`): a ring buffer's pages. `buffer`
 * aliases the mapped memory itself, so reads see the kernel's writes as they happen; it must
 * not be touched after {@link Syscalls.munmap} (the pages are gone: the process would fault).
 */
export interface Mapping {
  /** Start address of the mapping. */
  readonly address: bigint;
  /** Length in bytes. */
  readonly length: number;
  /** The mapped memory, without a copy. */
  readonly buffer: ArrayBuffer;
}

/** One ready file of an `epoll_wait`: the `data` it was registered with and its `EPOLL*` bits. */
export interface EpollEvent {
  readonly data: number;
  readonly events: number;
}

/** `mmap` protection bits (`PROT_*`). */
export const Prot = { READ: 1, WRITE: 2 } as const;

/** `epoll_ctl` operations and event bits (include/uapi/linux/eventpoll.h). */
export const Epoll = {
  CTL_ADD: 1,
  CTL_DEL: 2,
  CTL_MOD: 3,
  IN: 0x001,
  ERR: 0x008,
  HUP: 0x010,
  ONESHOT: 1 << 30,
} as const;

/**
 * The system calls the backend needs. `bpf`, `close` and `withMemory` are the core every
 * implementation has; the others (memory mappings, perf events, epoll) serve the ring-buffer and
 * perf readers, and an implementation without them cannot open readers — callers reach them
 * through {@link requireSyscall}, which names what is missing.
 */
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

  /** The size of a memory page (sysconf(_SC_PAGESIZE)). */
  pageSize?(): number;
  /** mmap(2) of `length` bytes of `fd` at `offset`, `MAP_SHARED` with `prot` ({@link Prot} bits): the mapping, or `-errno`. */
  mmap?(fd: number, length: number, prot: number, offset: number): Mapping | number;
  /** munmap(2) of a mapping `mmap` returned: 0, or `-errno`. */
  munmap?(mapping: Mapping): number;
  /** perf_event_open(2) with a `struct perf_event_attr`: an fd, or `-errno`. */
  perfEventOpen?(attr: Uint8Array, pid: number, cpu: number, groupFd: number, flags: number): number;
  /** ioctl(2) with an integer argument: the result, or `-errno`. */
  ioctl?(fd: number, request: number, arg: number): number;
  /** epoll_create1(EPOLL_CLOEXEC): an fd, or `-errno`. */
  epollCreate?(): number;
  /** epoll_ctl(2): registers `fd` for `events` ({@link Epoll} bits) with `data` (an int) given back by `epollWait`. */
  epollCtl?(epfd: number, op: number, fd: number, events: number, data: number): number;
  /**
   * epoll_wait(2) on a thread of its own, so Node's event loop keeps running: the ready events
   * (none on timeout or interruption), or `-errno`.
   */
  epollWait?(epfd: number, maxEvents: number, timeoutMs: number): Promise<EpollEvent[] | number>;
  /** eventfd(2) with `EFD_NONBLOCK | EFD_CLOEXEC`: an fd, or `-errno`. */
  eventfd?(initval: number): number;
  /** read(2) of at most `length` bytes: the bytes read, or `-errno`. */
  read?(fd: number, length: number): Uint8Array | number;
  /** write(2): the count written, or `-errno`. */
  write?(fd: number, bytes: Uint8Array): number;

  // Attaching: a packet socket for a socket filter (`setsockopt(SO_ATTACH_BPF)`), netlink for
  // XDP and TC, interface names (which mean something only inside one network namespace).
  /** socket(2): an fd, or `-errno`. `SOCK_CLOEXEC` is always added. */
  socket?(domain: number, type: number, protocol: number): number;
  /** setsockopt(2) with the option's bytes: 0, or `-errno`. */
  setsockopt?(fd: number, level: number, name: number, value: Uint8Array): number;
  /** getsockopt(2): the option's bytes (at most `size`), or `-errno`. */
  getsockopt?(fd: number, level: number, name: number, size: number): Uint8Array | number;
  /** bind(2) with a `struct sockaddr_*` in bytes: 0, or `-errno`. */
  bind?(fd: number, address: Uint8Array): number;
  /** if_nametoindex(3) in the calling thread's network namespace: the index, or `-errno`. */
  ifNameToIndex?(name: string): number;
  /** setns(2) of the calling thread: 0, or `-errno`. */
  setns?(fd: number, nstype: number): number;
}

/** The system calls attaching to sockets, netlink and network namespaces needs. */
export type LinkSyscalls = Required<Pick<Syscalls, 'socket' | 'setsockopt' | 'getsockopt' | 'bind' | 'ifNameToIndex' | 'setns'>>;

/** The optional members of {@link Syscalls}. */
export type OptionalSyscall = Exclude<keyof Syscalls, 'bpf' | 'close' | 'withMemory'>;

/**
 * `syscalls[name]` bound to `syscalls`, or a {@link NotSupportedError} saying that `purpose`
 * needs it — for the optional system calls of the readers.
 */
export function requireSyscall<K extends OptionalSyscall>(syscalls: Syscalls, name: K, purpose: string): NonNullable<Syscalls[K]> {
  const fn = syscalls[name];
  if (typeof fn !== 'function') throw new NotSupportedError(`${purpose}: the syscall layer has no ${name}()`);
  return (fn as (...args: unknown[]) => unknown).bind(syscalls) as NonNullable<Syscalls[K]>;
}
