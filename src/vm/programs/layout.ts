/**
 * Context structs in VM memory: a struct is allocated as adjacent regions, read-only except
 * the ranges the kernel lets a program write (its `*_is_valid_access` with BPF_WRITE), so a
 * store elsewhere faults at run time the way the kernel's verifier would refuse it at load
 * time. Reads of fields the kernel refuses to a program type are not caught here: that is the
 * verifier's job (src/verifier/ctx.ts).
 */
import type { Memory, Region } from '../memory.js';

/** Unmapped bytes after every context struct, so reading just past its end faults. */
const CONTEXT_GUARD = 64;

/** A writable range of a context struct: field name, byte offset, size. */
export type WritableRange = readonly [name: string, offset: number, size: number];

/** A context struct laid out in VM memory. */
export interface ContextStruct {
  /** Address of the struct (what r1 holds). */
  readonly address: number;
  /** Size of the struct in bytes. */
  readonly size: number;
  /** The regions it is made of, in address order. */
  readonly regions: readonly Region[];
}

/**
 * Allocates a `size`-byte context struct named `name` initialised from `init`, writable only in
 * `writable` (sorted or not; ranges must not overlap).
 */
export function allocContext(memory: Memory, name: string, size: number, init: Uint8Array, writable: readonly WritableRange[] = []): ContextStruct {
  const parts: Array<{ size: number; writable: boolean; name: string }> = [];
  let at = 0;
  for (const [field, offset, length] of [...writable].sort((a, b) => a[1] - b[1])) {
    if (offset < at || offset + length > size) throw new RangeError(`writable range ${field} [${offset}, ${offset + length}) does not fit ${name}`);
    if (offset > at) parts.push({ size: offset - at, writable: false, name });
    parts.push({ size: length, writable: true, name: `${name}.${field}` });
    at = offset + length;
  }
  if (at < size) parts.push({ size: size - at, writable: false, name });
  const regions = memory.allocAdjacent(parts, { kind: 'context', init, guard: CONTEXT_GUARD });
  return { address: regions[0]!.start, size, regions };
}

/** Returns a context struct's regions to the allocator. */
export function releaseContext(memory: Memory, ctx: ContextStruct): void {
  for (const r of ctx.regions) memory.release(r);
}

/** A copy of a context struct's current bytes. */
export function contextBytes(memory: Memory, ctx: ContextStruct): Uint8Array {
  return memory.bytes.slice(ctx.address, ctx.address + ctx.size);
}
