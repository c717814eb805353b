/**
 * Helpers that read strings and memory the program does not own, with the kernel's return
 * values: bpf_strncmp (182, kernel/bpf/helpers.c) and the probe-read family
 * (kernel/trace/bpf_trace.c): bpf_probe_read_user/kernel (112/113), their `_str` forms
 * (114/115) and the legacy bpf_probe_read/bpf_probe_read_str (4/45), which pick the address
 * space by address. A read that faults answers -EFAULT and zeroes the destination, as the
 * kernel does; see host.ts for what user and kernel memory are in the VM.
 */
import { MemoryFault } from '../errors.js';
import type { Helper, HelperContext } from '../helpers.js';
import { readArg, writableArg } from './args.js';
import { compatSpace, copyString, readSpace, type AddressSpace, type VmHost } from './host.js';

export const BPF_FUNC_probe_read = 4;
export const BPF_FUNC_probe_read_str = 45;
export const BPF_FUNC_probe_read_user = 112;
export const BPF_FUNC_probe_read_kernel = 113;
export const BPF_FUNC_probe_read_user_str = 114;
export const BPF_FUNC_probe_read_kernel_str = 115;
export const BPF_FUNC_strncmp = 182;

const EFAULT = 14;

/** bpf_probe_read_{user,kernel}_common: copy or -EFAULT with the destination zeroed. */
function probeRead(host: VmHost, ctx: HelperContext, space: AddressSpace | 'compat'): number {
  const size = ctx.argU32(2);
  const dst = writableArg(ctx, 1, size);
  const address = ctx.arg(3);
  const bytes = readSpace(host, ctx.memory, space === 'compat' ? compatSpace(host, address) : space, address, size);
  if (bytes === undefined) {
    dst.fill(0);
    return -EFAULT;
  }
  dst.set(bytes);
  return 0;
}

/** bpf_probe_read_{user,kernel}_str_common: the string's length with its NUL, or -EFAULT with the destination zeroed. */
function probeReadStr(host: VmHost, ctx: HelperContext, space: AddressSpace | 'compat'): number {
  const size = ctx.argU32(2);
  const dst = writableArg(ctx, 1, size);
  const address = ctx.arg(3);
  // Into a scratch buffer: a string may overlap its destination in the VM's memory.
  const out = new Uint8Array(size);
  const n = copyString(host, ctx.memory, space === 'compat' ? compatSpace(host, address) : space, address, out);
  if (n < 0) {
    dst.fill(0);
    return n;
  }
  dst.set(out.subarray(0, n));
  return n;
}

/**
 * lib/string.c strncmp, as bpf_strncmp calls it: compares at most `s1_sz` bytes, stopping
 * after a NUL, and answers -1, 0 or 1 (not the difference of the bytes).
 */
function strncmp(ctx: HelperContext): number {
  const count = ctx.argU32(2);
  const s1 = readArg(ctx, 1, count);
  // s2 is a constant string (ARG_PTR_TO_CONST_STR): read it byte by byte, in bounds.
  const address = ctx.argNumber(3);
  const region = ctx.memory.find(address, 1);
  const end = region?.end ?? address;
  const bytes = ctx.memory.bytes;
  for (let i = 0; i < count; i++) {
    if (address + i >= end) throw new MemoryFault(ctx.index, address + i, 1, 'read', 'helper argument r3 is not a NUL-terminated string');
    const c1 = s1[i]!;
    const c2 = bytes[address + i]!;
    if (c1 !== c2) return c1 < c2 ? -1 : 1;
    if (c1 === 0) break;
  }
  return 0;
}

/** bpf_strncmp and the probe-read helpers, reading through `host`. */
export function stringHelpers(host: VmHost): Map<number, Helper> {
  return new Map<number, Helper>([
    [BPF_FUNC_strncmp, strncmp],
    [BPF_FUNC_probe_read, (ctx) => probeRead(host, ctx, 'compat')],
    [BPF_FUNC_probe_read_str, (ctx) => probeReadStr(host, ctx, 'compat')],
    [BPF_FUNC_probe_read_user, (ctx) => probeRead(host, ctx, 'user')],
    [BPF_FUNC_probe_read_kernel, (ctx) => probeRead(host, ctx, 'kernel')],
    [BPF_FUNC_probe_read_user_str, (ctx) => probeReadStr(host, ctx, 'user')],
    [BPF_FUNC_probe_read_kernel_str, (ctx) => probeReadStr(host, ctx, 'kernel')],
  ]);
}
