/**
 * A shared memory mapping of a kernel object's pages (ring buffers, perf rings) owned by
 * JavaScript: the mapped bytes as an ArrayBuffer without copies, and an unmap that refuses
 * further use instead of letting a stale view fault the process.
 */
import { EbpfError } from '../errors.js';
import { KernelError } from './error.js';
import { requireSyscall, type Mapping, type Syscalls } from './syscalls.js';

/** Pages mapped with mmap(MAP_SHARED); `unmap()` or `using` releases them. */
export class MappedRegion implements Disposable {
  readonly length: number;
  readonly #syscalls: Syscalls;
  readonly #what: string;
  #mapping: Mapping | undefined;

  private constructor(mapping: Mapping, syscalls: Syscalls, what: string) {
    this.#mapping = mapping;
    this.length = mapping.length;
    this.#syscalls = syscalls;
    this.#what = what;
  }

  /** Maps `length` bytes of `fd` at `offset` with `prot` (`Prot.*` bits); `what` names it in errors. */
  static map(syscalls: Syscalls, fd: number, length: number, prot: number, offset: number, what: string): MappedRegion {
    const mmap = requireSyscall(syscalls, 'mmap', `map ${what}`);
    const result = mmap(fd, length, prot, offset);
    if (typeof result === 'number') throw new KernelError(`mmap ${what} (${length} bytes at offset ${offset})`, -result);
    return new MappedRegion(result, syscalls, what);
  }

  /**
   * The mapped memory. Typed arrays over it read the kernel's writes as they happen; none may
   * be used after {@link unmap} (the pages are gone).
   */
  get buffer(): ArrayBuffer {
    if (!this.#mapping) throw new EbpfError(`${this.#what} is unmapped`);
    return this.#mapping.buffer;
  }

  get mapped(): boolean {
    return this.#mapping !== undefined;
  }

  /** Unmaps the pages. Idempotent. */
  unmap(): void {
    const mapping = this.#mapping;
    if (!mapping) return;
    this.#mapping = undefined;
    const ret = requireSyscall(this.#syscalls, 'munmap', `unmap ${this.#what}`)(mapping);
    if (ret < 0) throw new KernelError(`munmap ${this.#what}`, -ret);
  }

  [Symbol.dispose](): void {
    this.unmap();
  }
}

/** The page size, from the syscall layer (4096 where it cannot say). */
export function pageSizeOf(syscalls: Syscalls): number {
  return syscalls.pageSize?.() ?? 4096;
}
