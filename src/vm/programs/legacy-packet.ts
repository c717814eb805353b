/**
 * The packet that legacy `ld_abs`/`ld_ind` instructions read: they name no pointer, so the
 * interpreter asks for "the current skb's data". Each memory has at most one: the skb context
 * made most recently and not yet released.
 *
 * @example
 * const vm = new Interpreter(program, { memory, packet: legacyPacket(memory) });
 */
import type { Memory, Region } from '../memory.js';

const current = new WeakMap<Memory, Region[]>();

/** The `packet` option of an Interpreter running socket filters or TC programs in `memory`. */
export function legacyPacket(memory: Memory): () => Region | undefined {
  return () => {
    const stack = current.get(memory);
    return stack?.[stack.length - 1];
  };
}

/** Makes `region` the legacy packet of `memory`; returns the undo. */
export function bindLegacyPacket(memory: Memory, region: Region): () => void {
  let stack = current.get(memory);
  if (stack === undefined) current.set(memory, stack = []);
  stack.push(region);
  return () => {
    const i = stack.lastIndexOf(region);
    if (i >= 0) stack.splice(i, 1);
  };
}
