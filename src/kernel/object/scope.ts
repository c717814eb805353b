/**
 * {@link Scope}: the kernel resources of one loaded object, released together and in reverse
 * order of acquisition — links before programs, programs before maps, maps before the BTF — the
 * way libbpf's bpf_object__close tears an object down. A failed load releases what it made so
 * far through the same scope.
 */
import { EbpfError } from '../../errors.js';
import type { Syscalls } from '../syscalls.js';

/** Anything with an idempotent `close()`: a map, program, BTF or link handle. */
export interface Closeable {
  close(): void;
}

export class Scope {
  #items: Closeable[] = [];
  #closed = false;

  /** Whether {@link close} has run. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Takes ownership of `item`; returns it. */
  add<T extends Closeable>(item: T): T {
    if (this.#closed) {
      item.close();
      throw new EbpfError('the object is disposed');
    }
    this.#items.push(item);
    return item;
  }

  /** Takes ownership of a bare fd. */
  addFd(fd: number, syscalls: Syscalls): void {
    let open = true;
    this.add({ close: () => { if (open) { open = false; syscalls.close(fd); } } });
  }

  /** Closes an item early and forgets it (an inner-map template once its outer map exists). */
  release(item: Closeable): void {
    const i = this.#items.indexOf(item);
    if (i >= 0) this.#items.splice(i, 1);
    item.close();
  }

  /** Forgets items already closed by their owner (links a caller closed), so a long-lived scope does not grow. */
  prune(): void {
    this.#items = this.#items.filter((item) => (item as { closed?: unknown }).closed !== true);
  }

  /** Closes everything, newest first. Idempotent; throws the first failure after closing the rest. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    let first: unknown;
    for (let i = this.#items.length - 1; i >= 0; i--) {
      try {
        this.#items[i]!.close();
      } catch (err) {
        first ??= err;
      }
    }
    this.#items = [];
    if (first !== undefined) throw first;
  }
}

/**
 * Safety net for objects dropped without `dispose()`: their scope is closed when the object is
 * garbage-collected. Handles keep a reference to their object, so this runs only when nothing
 * of the object is reachable. When that happens is up to the collector — dispose objects.
 */
export const forgottenObjects = new FinalizationRegistry<Scope>((scope) => {
  try {
    scope.close();
  } catch { /* nothing to report to */ }
});
