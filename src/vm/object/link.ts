/**
 * {@link VmLink}: a program attached to one of the VM's hooks, until `close()` — the VM's
 * counterpart of the kernel backend's Link (src/kernel/link/link.ts), with the same lifetime rules.
 */

/** A program attached to a VM hook, until `close()`. */
export class VmLink implements Disposable {
  /** `'tracepoint'`, `'raw_tracepoint'`, `'kprobe'`, `'kretprobe'`, `'uprobe'`, `'uretprobe'`, `'perf_event'`. */
  readonly kind: string;
  /** Where, for messages: `tracepoint app:request`. */
  readonly description: string;
  readonly #detach: () => void;
  #closed = false;

  /** @internal Made by {@link VmHooks.attach}. */
  constructor(kind: string, description: string, detach: () => void) {
    this.kind = kind;
    this.description = description;
    this.#detach = detach;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Detaches the program. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#detach();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
