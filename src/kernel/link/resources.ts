/**
 * What an attachment holds and must give back, in order: file descriptors (a bpf_link, a perf
 * event, a cgroup directory, a program's second fd) and calls (PROG_DETACH, SO_DETACH_BPF, the
 * removal of a tracefs probe event). Kept apart from the {@link Link} object so that the
 * safety net of a forgotten link — a `FinalizationRegistry` — can release it without keeping
 * the link alive.
 */
import { KernelError } from '../error.js';
import type { Syscalls } from '../syscalls.js';

/** One thing to release. */
export type Resource =
  | { readonly kind: 'fd'; readonly fd: number; readonly what: string }
  /** `gc`: also run when the link is garbage-collected without `close()`. */
  | { readonly kind: 'call'; readonly run: () => void; readonly what: string; readonly gc: boolean };

/** An ordered list of resources and the syscalls that close their fds. */
export class Resources {
  readonly #syscalls: Syscalls;
  readonly #items: Resource[] = [];
  #released = false;

  constructor(syscalls: Syscalls) {
    this.#syscalls = syscalls;
  }

  /** Adds an fd to close. */
  fd(fd: number, what: string): this {
    this.#items.push({ kind: 'fd', fd, what });
    return this;
  }

  /** Puts an fd first: released before everything added so far (a link before the perf event it holds). */
  fdFirst(fd: number, what: string): this {
    this.#items.unshift({ kind: 'fd', fd, what });
    return this;
  }

  /** Adds a call; with `gc` it also runs from the safety net. */
  call(what: string, run: () => void, gc = false): this {
    this.#items.push({ kind: 'call', run, what, gc });
    return this;
  }

  /**
   * Releases everything in order, once, even when a step fails; the first failure is thrown
   * after the rest ran.
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    let first: unknown;
    for (const item of this.#items) {
      try {
        if (item.kind === 'fd') {
          const ret = this.#syscalls.close(item.fd);
          if (ret < 0) throw new KernelError(`close ${item.what} (fd ${item.fd})`, -ret);
        } else {
          item.run();
        }
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== undefined) throw first;
  }

  /** The safety net's release: fds and `gc` calls, errors ignored (nobody is left to hear them). */
  releaseForgotten(): void {
    if (this.#released) return;
    this.#released = true;
    for (const item of this.#items) {
      try {
        if (item.kind === 'fd') this.#syscalls.close(item.fd);
        else if (item.gc) item.run();
      } catch {
        // ignored: see above
      }
    }
  }
}

/**
 * Closes the fds of links that were garbage-collected without `close()` — which detaches
 * a bpf_link, as the kernel frees it with its last fd. Attachments made with BPF_PROG_ATTACH
 * or setsockopt have no fd of their own and stay in the kernel (as with libbpf and cilium/ebpf).
 */
export const forgottenLinks: FinalizationRegistry<Resources> = new FinalizationRegistry((resources) => resources.releaseForgotten());
