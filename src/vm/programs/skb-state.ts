/**
 * Per-run state an sk_buff keeps outside `struct __sk_buff`, shared by the sk_buff helper
 * tables (skb-helpers.ts, skb-resize.ts).
 */
import type { Memory, Region } from '../memory.js';

/** Per-run state the sk_buff keeps outside `struct __sk_buff`. */
export interface SkbHelperState {
  /** skb->sw_hash: the hash was set by software (bpf_set_hash) and is not recomputed. */
  swHash: boolean;
}

/** State by the context struct's first region, so it starts afresh with every context. */
const states = new WeakMap<Region, SkbHelperState>();

/** The helper state of the `struct __sk_buff` at `address` (created on first use). */
export function skbHelperState(memory: Memory, address: number): SkbHelperState {
  const region = memory.near(address);
  if (region === undefined || region.kind !== 'context') throw new RangeError(`no context struct at 0x${address.toString(16)}`);
  let state = states.get(region);
  if (state === undefined) states.set(region, state = { swHash: false });
  return state;
}

/** Forgets the state of the struct at `address` (a reused context loading its next packet). */
export function resetSkbHelperState(memory: Memory, address: number): void {
  const region = memory.near(address);
  if (region !== undefined) states.delete(region);
}
