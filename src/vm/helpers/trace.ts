/**
 * bpf_trace_printk (6), bpf_trace_vprintk (177) and bpf_snprintf (165), with the kernel's
 * format rules and return values (kernel/trace/bpf_trace.c, kernel/bpf/helpers.c; the format
 * itself in bprintf.ts). The trace helpers write their line to the host's trace pipe.
 */
import { MemoryFault } from '../errors.js';
import type { Helper, HelperContext } from '../helpers.js';
import type { Memory } from '../memory.js';
import { readArg, writableArg } from './args.js';
import { bprintf, MAX_BPRINTF_VARARGS, type BprintfMemory } from './bprintf.js';
import { compatSpace, copyString, readSpace, type VmHost } from './host.js';

export const BPF_FUNC_trace_printk = 6;
export const BPF_FUNC_snprintf = 165;
export const BPF_FUNC_trace_vprintk = 177;

/** bpf_trace_printk takes three arguments (MAX_TRACE_PRINTK_VARARGS). */
const MAX_TRACE_PRINTK_VARARGS = 3;
/** MAX_BPRINTF_BUF: the buffer a trace line is formatted into. */
const MAX_BPRINTF_BUF = 1024;
const EINVAL = 22;

/** How the printf reads pointers: the host's user memory, or the VM's and the host's kernel memory. */
function printfMemory(host: VmHost, memory: Memory): BprintfMemory {
  return {
    readString: (kind, address, out) => {
      const space = kind === 'k' ? 'kernel' : kind === 'u' ? 'user' : compatSpace(host, address);
      return copyString(host, memory, space, address, out);
    },
    readKernel: (address, size) => readSpace(host, memory, 'kernel', address, size),
  };
}

/** The format at the pointer in r`n`: its bytes before the NUL, which must come within `size` bytes. */
function boundedFormat(ctx: HelperContext, n: number, size: number): Uint8Array | undefined {
  const bytes = readArg(ctx, n, size);
  const end = bytes.indexOf(0);
  return end < 0 ? undefined : bytes.subarray(0, end);
}

/** A constant string (ARG_PTR_TO_CONST_STR): the verifier proved it NUL-terminated in its map. */
function constString(ctx: HelperContext, n: number): Uint8Array {
  const address = ctx.argNumber(n);
  const region = ctx.memory.find(address, 1);
  const bytes = region === undefined ? undefined : ctx.memory.bytes.subarray(address, region.end);
  const end = bytes?.indexOf(0) ?? -1;
  if (bytes === undefined || end < 0) {
    throw new MemoryFault(ctx.index, address, 1, 'read', `helper argument r${n} is not a NUL-terminated string`);
  }
  return bytes.slice(0, end);
}

/** The u64 arguments of the v-variants: `len` bytes at r`n` (-EINVAL unless 8-aligned and at most 12). */
function argArray(ctx: HelperContext, n: number, len: number): bigint[] | number {
  if (len % 8 !== 0 || len > MAX_BPRINTF_VARARGS * 8 || (len !== 0 && ctx.arg(n) === 0n)) return -EINVAL;
  const bytes = readArg(ctx, n, len);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const args: bigint[] = [];
  for (let i = 0; i < len; i += 8) args.push(view.getBigUint64(i, true));
  return args;
}

/** Formats into the trace buffer and writes the line; returns bstr_printf's length. */
function traceLine(host: VmHost, memory: Memory, fmt: Uint8Array, args: bigint[], numArgs: number): number {
  const out = bprintf(fmt, args, numArgs, printfMemory(host, memory));
  if (typeof out === 'number') return out;
  host.tracePipe.write(out.subarray(0, MAX_BPRINTF_BUF - 1));
  return out.length;
}

/** The printf helpers, writing trace lines to `host.tracePipe`. */
export function traceHelpers(host: VmHost): Map<number, Helper> {
  return new Map<number, Helper>([
    [BPF_FUNC_trace_printk, (ctx) => {
      const fmt = boundedFormat(ctx, 1, ctx.argU32(2));
      if (fmt === undefined) return -EINVAL;
      return traceLine(host, ctx.memory, fmt, [ctx.arg(3), ctx.arg(4), ctx.arg(5)], MAX_TRACE_PRINTK_VARARGS);
    }],
    [BPF_FUNC_trace_vprintk, (ctx) => {
      const args = argArray(ctx, 3, ctx.argU32(4));
      if (typeof args === 'number') return args;
      const fmt = boundedFormat(ctx, 1, ctx.argU32(2));
      if (fmt === undefined) return -EINVAL;
      return traceLine(host, ctx.memory, fmt, args, args.length);
    }],
    [BPF_FUNC_snprintf, (ctx) => {
      const args = argArray(ctx, 4, ctx.argU32(5));
      if (typeof args === 'number') return args;
      const out = bprintf(constString(ctx, 3), args, args.length, printfMemory(host, ctx.memory));
      if (typeof out === 'number') return out;
      const size = ctx.argU32(2);
      if (size > 0) {
        const str = writableArg(ctx, 1, size);
        const n = Math.min(out.length, size - 1);
        str.set(out.subarray(0, n));
        str[n] = 0;
      }
      return out.length + 1;
    }],
  ]);
}
