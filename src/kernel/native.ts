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
import type { OutputBuffer, Syscalls, UserMemory } from './syscalls.js';

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

interface Native {
  koffi: Koffi;
  syscall: (...args: unknown[]) => number | bigint;
  close: (fd: number) => number;
  sysBpf: number;
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

  output(size: number): OutputBuffer {
    const { address, view } = this.allocate(size);
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

class NativeSyscalls implements Syscalls {
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
    const { koffi, close } = this.#native;
    koffi.errno(0);
    const ret = close(fd);
    const errno = koffi.errno();
    return ret === 0 ? 0 : -(errno || 5);
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

let instance: Syscalls | undefined;
let failure: Error | undefined;

/**
 * The process-wide native syscalls, loaded on first use. Throws (the same error each time) when
 * koffi or libc cannot be loaded or the architecture has no known bpf() number.
 */
export function nativeSyscalls(): Syscalls {
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
