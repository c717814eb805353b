/**
 * Waiting for a file descriptor to become readable without blocking Node's event loop — the
 * ring-buffer and perf readers' wake-up.
 *
 * One epoll set per syscall layer (per process, in practice) is shared by every reader, and a
 * single `epoll_wait` at a time runs on a thread of libuv's pool (koffi's async calls), so a
 * process with many readers holds one pool thread, and only while someone is waiting. Each wait
 * adds its fd to the set and removes it when it fires: the map and perf fds are level-triggered
 * (ready while data is unread), so a standing registration would spin while its reader is not
 * reading. An eventfd in the set wakes the waiting thread when the last wait is cancelled, so
 * the loop ends, its fds are closed and the process may exit.
 *
 * Alternatives considered: a timer polling with timeout 0 (latency or CPU, never both), a
 * worker thread per reader (a V8 isolate each, and messages to cross), Atomics.wait (not allowed
 * on the main thread, and the kernel does not notify futexes here).
 */
import { EbpfError } from '../errors.js';
import { KernelError } from './error.js';
import { Epoll, requireSyscall, type Syscalls } from './syscalls.js';

/** `data` of the eventfd's registration; fds are below 2^31. */
const WAKE = 0xffff_ffff;
const MAX_EVENTS = 64;

interface Waiter {
  resolve(ready: boolean): void;
  /** Removes the abort listener once settled. */
  detach(): void;
}

/** Waits for readability of fds through a shared epoll set; see the module comment. */
export class Poller {
  readonly #syscalls: Syscalls;
  readonly #waiting = new Map<number, Set<Waiter>>();
  #epfd = -1;
  #eventfd = -1;
  #loop: Promise<void> | undefined;
  #failure: Error | undefined;

  constructor(syscalls: Syscalls) {
    this.#syscalls = syscalls;
  }

  /**
   * Resolves true once `fd` is readable (or has an error or hang-up to report), false if the
   * wait is aborted through `signal` or {@link cancel}ed. Waits on the same fd share one
   * registration.
   */
  waitReadable(fd: number, signal?: AbortSignal): Promise<boolean> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve, reject) => {
      let waiters = this.#waiting.get(fd);
      if (!waiters) {
        try {
          this.#open();
          const ret = requireSyscall(this.#syscalls, 'epollCtl', 'wait for a reader')(this.#epfd, Epoll.CTL_ADD, fd, Epoll.IN, fd);
          if (ret < 0) throw new KernelError(`epoll_ctl add fd ${fd}`, -ret);
        } catch (err) {
          reject(err);
          this.#closeIfIdle();
          return;
        }
        waiters = new Set();
        this.#waiting.set(fd, waiters);
        this.#loop ??= this.#run();
      }
      const onAbort = (): void => {
        const set = this.#waiting.get(fd);
        if (!set?.delete(waiter)) return;
        if (set.size === 0) this.#unregister(fd);
        resolve(false);
      };
      const waiter: Waiter = { resolve, detach: () => signal?.removeEventListener('abort', onAbort) };
      signal?.addEventListener('abort', onAbort, { once: true });
      waiters.add(waiter);
    });
  }

  /** Ends every wait on `fd` (they resolve false). */
  cancel(fd: number): void {
    this.#settle(fd, false);
  }

  /** Resolves once no wait is pending and the epoll fds are closed (tests check for fd leaks). */
  async idle(): Promise<void> {
    while (this.#loop) await this.#loop;
  }

  #settle(fd: number, ready: boolean): void {
    const waiters = this.#waiting.get(fd);
    if (!waiters) return;
    this.#unregister(fd);
    for (const waiter of waiters) {
      waiter.detach();
      waiter.resolve(ready);
    }
  }

  /** Drops `fd` from the set; wakes the waiting thread when nothing is left to wait for. */
  #unregister(fd: number): void {
    this.#waiting.delete(fd);
    // The fd may be closed already (a reader closing): then the kernel dropped it from the set.
    this.#syscalls.epollCtl?.(this.#epfd, Epoll.CTL_DEL, fd, 0, 0);
    if (this.#waiting.size === 0 && this.#loop) this.#wake();
  }

  #open(): void {
    if (this.#epfd >= 0) return;
    const epfd = requireSyscall(this.#syscalls, 'epollCreate', 'wait for a reader')();
    if (epfd < 0) throw new KernelError('epoll_create1', -epfd);
    const efd = requireSyscall(this.#syscalls, 'eventfd', 'wait for a reader')(0);
    if (efd < 0) {
      this.#syscalls.close(epfd);
      throw new KernelError('eventfd', -efd);
    }
    const ret = requireSyscall(this.#syscalls, 'epollCtl', 'wait for a reader')(epfd, Epoll.CTL_ADD, efd, Epoll.IN, WAKE);
    if (ret < 0) {
      this.#syscalls.close(efd);
      this.#syscalls.close(epfd);
      throw new KernelError('epoll_ctl add eventfd', -ret);
    }
    this.#epfd = epfd;
    this.#eventfd = efd;
  }

  #wake(): void {
    const one = new Uint8Array(8);
    new DataView(one.buffer).setBigUint64(0, 1n, new Uint8Array(new Uint16Array([1]).buffer)[0] === 1);
    this.#syscalls.write?.(this.#eventfd, one);
  }

  #closeIfIdle(): void {
    if (this.#waiting.size > 0 || this.#loop || this.#epfd < 0) return;
    this.#syscalls.close(this.#eventfd);
    this.#syscalls.close(this.#epfd);
    this.#epfd = -1;
    this.#eventfd = -1;
  }

  async #run(): Promise<void> {
    const wait = requireSyscall(this.#syscalls, 'epollWait', 'wait for a reader');
    let failures = 0;
    try {
      while (this.#waiting.size > 0) {
        const events = await wait(this.#epfd, MAX_EVENTS, -1);
        if (typeof events === 'number') {
          // EINTR and friends: wait again, but not forever on a broken epoll set.
          if (++failures > 100) throw new KernelError('epoll_wait', -events);
          continue;
        }
        failures = 0;
        for (const event of events) {
          if (event.data === WAKE) {
            this.#syscalls.read?.(this.#eventfd, 8);
            continue;
          }
          this.#settle(event.data, true);
        }
      }
    } catch (err) {
      this.#failure = err instanceof Error ? err : new EbpfError(String(err));
      for (const fd of [...this.#waiting.keys()]) this.#settle(fd, false);
    } finally {
      this.#loop = undefined;
      this.#closeIfIdle();
    }
  }
}

const pollers = new WeakMap<Syscalls, Poller>();

/** The shared {@link Poller} of a syscall layer. */
export function pollerFor(syscalls: Syscalls): Poller {
  let poller = pollers.get(syscalls);
  if (!poller) {
    poller = new Poller(syscalls);
    pollers.set(syscalls, poller);
  }
  return poller;
}
