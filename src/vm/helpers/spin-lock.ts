/**
 * bpf_spin_lock (#93) and bpf_spin_unlock (#94) on the `struct bpf_spin_lock` of a map value
 * (kernel/bpf/helpers.c __bpf_spin_lock_irqsave / __bpf_spin_unlock_irqrestore). Both return 0.
 *
 * The VM runs one program at a time, so a lock is never contended; its word in the value is
 * still what the kernel's is — 1 while held, 0 when free — and what the kernel's verifier
 * rules out (a second lock before the unlock, a program that exits holding a lock, an unlock
 * of a lock not held, a pointer that is not a map value's lock) is a VmError at the call.
 * The host never sees the word: lookups show the lock field as zeros and updates leave it
 * alone (src/vm/maps/value-fields.ts), BPF_F_LOCK copies take it as the kernel does.
 */
import { VmError } from '../errors.js';
import type { Helper, HelperContext } from '../helpers.js';
import type { MapRegistry } from '../maps/registry.js';
import { BPF_SPIN_LOCK_SIZE } from '../maps/value-fields.js';

export const BPF_FUNC_spin_lock = 93;
export const BPF_FUNC_spin_unlock = 94;

/** The address of the lock in argument r1, checked to be a writable, aligned map-value word. */
function lockArg(registry: MapRegistry, ctx: HelperContext, name: string): number {
  const address = ctx.argNumber(1);
  const region = registry.memory.find(address, BPF_SPIN_LOCK_SIZE);
  if (region === undefined || region.kind !== 'map_value' || !region.writable || address % 4 !== 0) {
    throw new VmError(`${name}: r1 (0x${address.toString(16)}) is not the bpf_spin_lock of a map value`, ctx.index);
  }
  return address;
}

/** bpf_spin_lock and bpf_spin_unlock for the maps of `registry`. */
export function spinLockHelpers(registry: MapRegistry): Map<number, Helper> {
  return new Map<number, Helper>([
    [BPF_FUNC_spin_lock, (ctx) => {
      const address = lockArg(registry, ctx, 'bpf_spin_lock');
      const view = registry.memory.view;
      if (view.getUint32(address, true) !== 0) {
        // Single-threaded: a held lock was taken by this run or left held by an earlier one.
        throw new VmError('bpf_spin_lock: the lock is already held (the kernel\'s verifier refuses a second lock and an exit while holding one)', ctx.index);
      }
      view.setUint32(address, 1, true);
      return 0;
    }],
    [BPF_FUNC_spin_unlock, (ctx) => {
      const address = lockArg(registry, ctx, 'bpf_spin_unlock');
      const view = registry.memory.view;
      if (view.getUint32(address, true) === 0) {
        throw new VmError('bpf_spin_unlock: the lock is not held (the kernel\'s verifier refuses an unlock without a lock)', ctx.index);
      }
      view.setUint32(address, 0, true);
      return 0;
    }],
  ]);
}
