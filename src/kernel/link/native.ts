/**
 * The system calls attaching needs beyond bpf() and perf_event_open(): sockets (a packet socket
 * for a socket filter, `setsockopt(SO_ATTACH_BPF)`), `if_nametoindex` and `setns` (an
 * interface name means something only inside one network namespace). Same pattern as
 * `../native.ts`: libc through koffi, loaded on first use, results as `-errno`.
 *
 * To be merged into `Syscalls` (syscalls.ts / native.ts) as optional members once that file is
 * free; until then links take a {@link LinkSyscalls} of their own.
 */
import { createRequire } from 'node:module';
import type * as KoffiModule from 'koffi';

type Koffi = typeof KoffiModule;

/** The calls of this file; a test may substitute its own. */
export interface LinkSyscalls {
  /** socket(2): an fd, or `-errno`. `SOCK_CLOEXEC` is always added. */
  socket(domain: number, type: number, protocol: number): number;
  /** setsockopt(2) with the option's bytes: 0, or `-errno`. */
  setsockopt(fd: number, level: number, name: number, value: Uint8Array): number;
  /** getsockopt(2): the option's bytes (at most `size`), or `-errno`. */
  getsockopt(fd: number, level: number, name: number, size: number): Uint8Array | number;
  /** bind(2) with a `struct sockaddr_*` in bytes: 0, or `-errno`. */
  bind(fd: number, address: Uint8Array): number;
  /** if_nametoindex(3) in the calling thread's network namespace: the index, or `-errno`. */
  ifNameToIndex(name: string): number;
  /** setns(2) of the calling thread: 0, or `-errno`. */
  setns(fd: number, nstype: number): number;
}

/** `SOCK_CLOEXEC` (O_CLOEXEC on every Linux architecture Node runs on but sparc/alpha/parisc). */
const SOCK_CLOEXEC = 0o2000000;

interface Native {
  koffi: Koffi;
  socket: (domain: number, type: number, protocol: number) => number;
  setsockopt: (fd: number, level: number, name: number, value: Uint8Array, length: number) => number;
  getsockopt: (fd: number, level: number, name: number, value: Uint8Array, length: Uint32Array) => number;
  bind: (fd: number, address: Uint8Array, length: number) => number;
  ifNameToIndex: (name: string) => number;
  setns: (fd: number, nstype: number) => number;
}

function loadNative(): Native {
  if (process.platform !== 'linux') throw new Error(`attaching programs needs Linux, not ${process.platform}`);
  const koffi = createRequire(import.meta.url)('koffi') as Koffi;
  const libc = koffi.load('libc.so.6');
  return {
    koffi,
    socket: libc.func('int socket(int domain, int type, int protocol)') as Native['socket'],
    setsockopt: libc.func('int setsockopt(int fd, int level, int name, const void *value, uint32_t length)') as Native['setsockopt'],
    getsockopt: libc.func('int getsockopt(int fd, int level, int name, void *value, _Inout_ uint32_t *length)') as Native['getsockopt'],
    bind: libc.func('int bind(int fd, const void *address, uint32_t length)') as Native['bind'],
    ifNameToIndex: libc.func('unsigned int if_nametoindex(const char *name)') as Native['ifNameToIndex'],
    setns: libc.func('int setns(int fd, int nstype)') as Native['setns'],
  };
}

class NativeLinkSyscalls implements LinkSyscalls {
  readonly #native: Native;

  constructor(native: Native) {
    this.#native = native;
  }

  /** A libc call returning -1 with errno on failure (0 for if_nametoindex): its result, or `-errno`. */
  #checked(call: () => number, failed: (ret: number) => boolean = (ret) => ret < 0): number {
    const { koffi } = this.#native;
    koffi.errno(0);
    const ret = call();
    const errno = koffi.errno();
    return failed(ret) ? -(errno || 5 /* EIO */) : ret;
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
}

let instance: LinkSyscalls | undefined;

/** The process-wide native {@link LinkSyscalls}, loaded on first use. */
export function nativeLinkSyscalls(): LinkSyscalls {
  instance ??= new NativeLinkSyscalls(loadNative());
  return instance;
}
