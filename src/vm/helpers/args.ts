/**
 * Reading helper arguments that point into the VM's memory. The kernel's verifier proves such
 * pointers valid before a program runs; the VM checks them again at the call, so a bad one
 * is a typed fault at the calling instruction instead of a read of whatever lies there.
 */
import { MemoryFault, VmError } from '../errors.js';
import type { HelperContext } from '../helpers.js';
import type { VmMap } from '../maps/map.js';
import type { MapRegistry } from '../maps/registry.js';

/** A copy of `size` bytes at the address in argument register `n`, which must be readable. */
export function readArg(ctx: HelperContext, n: number, size: number): Uint8Array {
  const address = ctx.argNumber(n);
  if (size === 0) return new Uint8Array(0);
  if (ctx.memory.find(address, size) === undefined) {
    throw new MemoryFault(ctx.index, address, size, 'read', `helper argument r${n} does not point to ${size} readable bytes`);
  }
  return ctx.memory.bytes.slice(address, address + size);
}

/** A view of `size` bytes at the address in argument register `n`, which must be writable. */
export function writableArg(ctx: HelperContext, n: number, size: number): Uint8Array {
  const address = ctx.argNumber(n);
  const region = size === 0 ? undefined : ctx.memory.find(address, size);
  if (size !== 0 && (region === undefined || !region.writable)) {
    throw new MemoryFault(ctx.index, address, size, 'write', `helper argument r${n} does not point to ${size} writable bytes`);
  }
  return ctx.memory.bytes.subarray(address, address + size);
}

/** The map whose pointer is in argument register `n`. */
export function mapArg(registry: MapRegistry, ctx: HelperContext, n: number): VmMap {
  const address = ctx.argNumber(n);
  const map = registry.byAddress(address);
  if (map === undefined) throw new VmError(`helper argument r${n} (0x${address.toString(16)}) is not a map pointer`, ctx.index);
  return map;
}

/** Checks that the helper runs in the registry's memory. */
export function sameMemory(registry: MapRegistry, ctx: HelperContext): void {
  if (ctx.memory !== registry.memory) throw new VmError('map helpers called from an interpreter whose memory is not the map registry\'s', ctx.index);
}
