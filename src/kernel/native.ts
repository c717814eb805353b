/**
 * The real {@link Syscalls}: libc's `syscall()` called through koffi (no native build step).
 *
 * Pointers inside `bpf_attr` must stay valid and unmoved for the whole call, so everything the
 * kernel reads or writes — the attr itself included — is copied into memory from
 * `koffi.alloc()` (C heap, never moved by V8's GC) and freed when the call's
 * `withMemory` scope ends. `errno` is read with `koffi.errno()` right after the call, before any
 * other FFI call can overwrite it.
 */
import { createRequire } from 'node:module';
import type * as KoffiModule from 'koffi';
import type { EpollEvent, LinkSyscalls, Mapping, OutputBuffer, Syscalls, UserMemory } from './syscalls.js';

type Koffi = typeof KoffiModule;

/**
 * `__NR_bpf` per Node architecture (arch/<arch>/include/uapi/asm/unistd.h and friends): the asm-generic
 * table (arm64, riscv64, loongarch64) has 280.
 */
const SYS_BPF: Readonly<Partial<Record<string, number>>> = {
  x64: 321,
  arm64: 280,
  riscv64: 280,
  loong64: 280,
  ia32: 357,
  arm: 386,
  ppc64: 361,
  s390x: 351,
};

/** `__NR_perf_event_open` per Node architecture (the asm-generic table has 241). */
const SYS_PERF_EVENT_OPEN: Readonly<Partial<Record<string, number>>> = {
  x64: 298,
  arm64: 241,
  riscv64: 241,
  loong64: 241,
  ia32: 336,
  arm: 364,
  ppc64: 319,
  s390x: 331,
};

/**
 * `struct epoll_event` is `{ u32 events; u64 data; }`, packed on x86 (12 bytes: data at 4) and
 * naturally aligned elsewhere (16 bytes: data at 8) — include/uapi/linux/eventpoll.h EPOLL_PACKED.
 */
const EPOLL_EVENT = process.arch === 'x64' || process.arch === 'ia32' ? { size: 12, data: 4 } : { size: 16, data: 8 };

/** Structures passed to the kernel are in the host's byte order. */
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const MAP_SHARED = 0x01;
const MAP_FAILED = (1n << 64n) - 1n;
const EPOLL_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;
const SC_PAGESIZE = 30;
/** `SOCK_CLOEXEC` (O_CLOEXEC on every Linux architecture Node runs on but sparc/alpha/parisc). */
const SOCK_CLOEXEC = 0o2000000;

type CFunction = ((...args: unknown[]) => unknown) & { async: (...args: unknown[]) => void };

interface Native {
  koffi: Koffi;
  syscall: (...args: unknown[]) => number | bigint;
  close: (fd: number) => number;
  sysBpf: number;
  sysPerfEventOpen: number | undefined;
  sysconf: (name: number) => number | bigint;
  mmap: (addr: null, length: number, prot: number, flags: number, fd: number, offset: number) => unknown;
  munmap: (addr: bigint, length: number) => number;
  ioctl: (...args: unknown[]) => number;
  epollCreate1: (flags: number) => number;
  epollCtl: (epfd: number, op: number, fd: number, event: Uint8Array) => number;
  epollWait: CFunction;
  eventfd: (initval: number, flags: number) => number;
  read: (fd: number, buf: Uint8Array, count: number) => number | bigint;
  write: (fd: number, buf: Uint8Array, count: number) => number | bigint;
  socket: (domain: number, type: number, protocol: number) => number;
  setsockopt: (fd: number, level: number, name: number, value: Uint8Array, length: number) => number;
  getsockopt: (fd: number, level: number, name: number, value: Uint8Array, length: Uint32Array) => number;
  bind: (fd: number, address: Uint8Array, length: number) => number;
  ifNameToIndex: (name: string) => number;
  setns: (fd: number, nstype: number) => number;
}

function loadNative(): Native {
  if (process.platform !== 'linux') throw new Error(`bpf() needs Linux, not ${process.platform}`);
  const sysBpf = SYS_BPF[process.arch];
  if (sysBpf === undefined) throw new Error(`no bpf() syscall number known for ${process.arch}`);
  const koffi = createRequire(import.meta.url)('koffi') as Koffi;
  const libc = koffi.load('libc.so.6');
  return {
    koffi,
    // Variadic: every argument is passed as `long`, as syscall(2) reads them.
    syscall: libc.func('long syscall(long number, ...)') as Native['syscall'],
    close: libc.func('int close(int fd)') as Native['close'],
    sysBpf,
    sysPerfEventOpen: SYS_PERF_EVENT_OPEN[process.arch],
    sysconf: libc.func('long sysconf(int name)') as Native['sysconf'],
    mmap: libc.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)') as Native['mmap'],
    // The address as an integer: the mapping's ArrayBuffer is all JavaScript keeps of it.
    munmap: libc.func('int munmap(uintptr_t addr, size_t length)') as Native['munmap'],
    ioctl: libc.func('int ioctl(int fd, unsigned long request, ...)') as Native['ioctl'],
    epollCreate1: libc.func('int epoll_create1(int flags)') as Native['epollCreate1'],
    epollCtl: libc.func('int epoll_ctl(int epfd, int op, int fd, void *event)') as Native['epollCtl'],
    epollWait: libc.func('int epoll_wait(int epfd, void *events, int maxevents, int timeout)') as CFunction,
    eventfd: libc.func('int eventfd(unsigned int initval, int flags)') as Native['eventfd'],
    read: libc.func('long read(int fd, void *buf, size_t count)') as Native['read'],
    write: libc.func('long write(int fd, const void *buf, size_t count)') as Native['write'],
    socket: libc.func('int socket(int domain, int type, int protocol)') as Native['socket'],
    setsockopt: libc.func('int setsockopt(int fd, int level, int name, const void *value, uint32_t length)') as Native['setsockopt'],
    getsockopt: libc.func('int getsockopt(int fd, int level, int name, void *value, _Inout_ uint32_t *length)') as Native['getsockopt'],
    bind: libc.func('int bind(int fd, const void *address, uint32_t length)') as Native['bind'],
    ifNameToIndex: libc.func('unsigned int if_nametoindex(const char *name)') as Native['ifNameToIndex'],
    setns: libc.func('int setns(int fd, int nstype)') as Native['setns'],
  };
}

/** Memory from the C heap for one `withMemory` scope; everything is freed at its end. */
class NativeMemory implements UserMemory {
  readonly #koffi: Koffi;
  readonly #blocks: unknown[] = [];
  #open = true;

  constructor(koffi: Koffi) {
    this.#koffi = koffi;
  }

  /** A zeroed block of `size` bytes and a view of it. */
  allocate(size: number): { address: bigint; view: Uint8Array } {
    if (!this.#open) throw new Error('memory used after its withMemory() scope ended');
    if (size === 0) return { address: 0n, view: new Uint8Array(0) };
    const block = this.#koffi.alloc('uint8_t', size);
    this.#blocks.push(block);
    const view = new Uint8Array(this.#koffi.view(block, size));
    view.fill(0); // koffi.alloc is malloc: not zeroed
    return { address: this.#koffi.address(block), view };
  }

  input(bytes: Uint8Array): bigint {
    const { address, view } = this.allocate(bytes.length);
    view.set(bytes);
    return address;
  }

  output(size: number, init?: Uint8Array): OutputBuffer {
    const { address, view } = this.allocate(size);
    if (init) view.set(init.subarray(0, size));
    const isOpen = (): boolean => this.#open;
    return {
      address,
      size,
      read(): Uint8Array {
        // The view aliases C memory: copy it, and never after it was freed.
        if (!isOpen()) throw new Error('output buffer read after its withMemory() scope ended');
        return view.slice();
      },
    };
  }

  free(): void {
    this.#open = false;
    for (const block of this.#blocks) this.#koffi.free(block);
    this.#blocks.length = 0;
  }
}

class NativeSyscalls implements Syscalls, LinkSyscalls {
  readonly #native: Native;

  constructor(native: Native) {
    this.#native = native;
  }

  bpf(cmd: number, attr: Uint8Array): number {
    const { koffi, syscall, sysBpf } = this.#native;
    return this.withMemory((memory) => {
      const block = (memory as NativeMemory).allocate(attr.length);
      block.view.set(attr);
      koffi.errno(0);
      const ret = Number(syscall(sysBpf, 'long', cmd, 'long', block.address, 'long', attr.length));
      const errno = koffi.errno();
      attr.set(block.view);
      if (ret >= 0) return ret;
      // errno 0 after a failure would mean something between the call and errno() reset it.
      return -(errno || 5 /* EIO */);
    });
  }

  close(fd: number): number {
    return this.#checked(() => this.#native.close(fd));
  }

  /**
   * Runs a libc call that returns -1 and sets errno on failure (`failed` says otherwise, as for
   * if_nametoindex's 0): its result, or `-errno`.
   */
  #checked(call: () => number | bigint, failed: (ret: number) => boolean = (ret) => ret < 0): number {
    const { koffi } = this.#native;
    koffi.errno(0);
    const ret = Number(call());
    const errno = koffi.errno();
    return failed(ret) ? -(errno || 5 /* EIO */) : ret;
  }

  pageSize(): number {
    return Number(this.#native.sysconf(SC_PAGESIZE));
  }

  mmap(fd: number, length: number, prot: number, offset: number): Mapping | number {
    const { koffi, mmap } = this.#native;
    koffi.errno(0);
    const pointer = mmap(null, length, prot, MAP_SHARED, fd, offset);
    const errno = koffi.errno();
    const address = pointer === null ? 0n : koffi.address(pointer);
    if (address === MAP_FAILED || address === 0n) return -(errno || 5);
    // koffi.view: an external ArrayBuffer over the mapped pages, no copy (koffi 2.11+).
    return { address, length, buffer: koffi.view(pointer, length) };
  }

  munmap(mapping: Mapping): number {
    return this.#checked(() => this.#native.munmap(mapping.address, mapping.length));
  }

  perfEventOpen(attr: Uint8Array, pid: number, cpu: number, groupFd: number, flags: number): number {
    const { syscall, sysPerfEventOpen } = this.#native;
    if (sysPerfEventOpen === undefined) return -38; // ENOSYS
    return this.withMemory((memory) => {
      const address = memory.input(attr);
      return this.#checked(() => syscall(sysPerfEventOpen, 'long', address, 'long', pid, 'long', cpu, 'long', groupFd, 'long', flags));
    });
  }

  ioctl(fd: number, request: number, arg: number): number {
    return this.#checked(() => this.#native.ioctl(fd, request, 'long', arg));
  }

  epollCreate(): number {
    return this.#checked(() => this.#native.epollCreate1(EPOLL_CLOEXEC));
  }

  epollCtl(epfd: number, op: number, fd: number, events: number, data: number): number {
    const event = new Uint8Array(EPOLL_EVENT.size);
    const view = new DataView(event.buffer);
    view.setUint32(0, events >>> 0, HOST_LE);
    view.setBigUint64(EPOLL_EVENT.data, BigInt(data >>> 0), HOST_LE);
    return this.#checked(() => this.#native.epollCtl(epfd, op, fd, event));
  }

  epollWait(epfd: number, maxEvents: number, timeoutMs: number): Promise<EpollEvent[] | number> {
    const { koffi, epollWait } = this.#native;
    // The kernel writes the events from another thread, after this call returns: C memory
    // that stays put until the callback, not a JavaScript buffer the GC may move.
    const block = koffi.alloc('uint8_t', EPOLL_EVENT.size * maxEvents);
    return new Promise((resolve) => {
      epollWait.async(epfd, block, maxEvents, timeoutMs, (err: unknown, count: number) => {
        try {
          // koffi does not carry errno back from a worker thread: a failure (EINTR in
          // practice) reads as "nothing ready", and the caller waits again.
          if (err || count <= 0) {
            resolve([]);
            return;
          }
          const view = new DataView(koffi.view(block, EPOLL_EVENT.size * count));
          const events: EpollEvent[] = [];
          for (let i = 0; i < count; i++) {
            const at = i * EPOLL_EVENT.size;
            events.push({ events: view.getUint32(at, HOST_LE), data: Number(view.getBigUint64(at + EPOLL_EVENT.data, HOST_LE) & 0xffff_ffffn) });
          }
          resolve(events);
        } finally {
          koffi.free(block);
        }
      });
    });
  }

  eventfd(initval: number): number {
    return this.#checked(() => this.#native.eventfd(initval, EFD_NONBLOCK | EFD_CLOEXEC));
  }

  read(fd: number, length: number): Uint8Array | number {
    const buffer = new Uint8Array(length);
    const ret = this.#checked(() => this.#native.read(fd, buffer, length));
    return ret < 0 ? ret : buffer.subarray(0, ret);
  }

  write(fd: number, bytes: Uint8Array): number {
    return this.#checked(() => this.#native.write(fd, bytes, bytes.length));
  }

  socket(domain: number, type: number, protocol: number): number {
    return this.#checked(() => this.#native.socket(domain, type | SOCK_CLOEXEC, protocol));
  }

  setsockopt(fd: number, level: number, name: number, value: Uint8Array): number {
    return this.#checked(() => this.#native.setsockopt(fd, level, name, value, value.length));
  }

  getsockopt(fd: number, level: number, name: number, size: number): Uint8Array | number {
    const value = new Uint8Array(size);
    const length = new Uint32Array([size]);
    const ret = this.#checked(() => this.#native.getsockopt(fd, level, name, value, length));
    return ret < 0 ? ret : value.subarray(0, Math.min(size, length[0]!));
  }

  bind(fd: number, address: Uint8Array): number {
    return this.#checked(() => this.#native.bind(fd, address, address.length));
  }

  ifNameToIndex(name: string): number {
    return this.#checked(() => this.#native.ifNameToIndex(name), (ret) => ret === 0);
  }

  setns(fd: number, nstype: number): number {
    return this.#checked(() => this.#native.setns(fd, nstype));
  }

  withMemory<T>(use: (memory: UserMemory) => T): T {
    const memory = new NativeMemory(this.#native.koffi);
    try {
      return use(memory);
    } finally {
      memory.free();
    }
  }
}

let instance: NativeSyscalls | undefined;
let failure: Error | undefined;

/**
 * The process-wide native syscalls, loaded on first use. Throws (the same error each time) when
 * koffi or libc cannot be loaded or the architecture has no known bpf() number.
 */
export function nativeSyscalls(): Syscalls & LinkSyscalls {
  if (instance) return instance;
  if (failure) throw failure;
  try {
    instance = new NativeSyscalls(loadNative());
    return instance;
  } catch (err) {
    failure = err instanceof Error ? err : new Error(String(err));
    throw failure;
  }
}
