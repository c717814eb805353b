/**
 * Contexts whose bytes the host provides as they are (tracing programs, syscall programs):
 * a region of exactly the struct's size, read-only unless the program type may write it.
 */
import type { Memory } from '../memory.js';
import { allocContext, contextBytes, releaseContext, type ContextStruct } from './layout.js';

/** Host-provided context bytes in VM memory. */
export class HostContext {
  readonly struct: ContextStruct;
  readonly #memory: Memory;

  constructor(memory: Memory, name: string, bytes: Uint8Array, writable: boolean) {
    if (bytes.length === 0) throw new RangeError(`${name}: a context needs at least one byte`);
    this.#memory = memory;
    this.struct = allocContext(memory, name, bytes.length, bytes, writable ? [['*', 0, bytes.length]] : []);
  }

  /** Address of the context: the program's r1. */
  get address(): number {
    return this.struct.address;
  }

  /** A copy of the context's bytes now (after a run: what the program left there). */
  bytes(): Uint8Array {
    return contextBytes(this.#memory, this.struct);
  }

  /** Frees the region. */
  release(): void {
    releaseContext(this.#memory, this.struct);
  }

  [Symbol.dispose](): void {
    this.release();
  }
}
