/**
 * Helpers that call back into the program. `bpf_loop` (id 181) as the kernel defines it
 * (kernel/bpf/bpf_iter.c BPF_CALL_4(bpf_loop)): up to BPF_MAX_LOOPS iterations of
 * `callback(i, ctx)`, stopping early when the callback returns non-zero.
 *
 * The other helpers that call back into a program live with their area:
 * bpf_for_each_map_elem (helpers/for-each.ts, through `HelperContext.call` like this one) and
 * the BPF timers (helpers/timer.ts), whose callbacks the host fires later as runs of their own
 * (`Interpreter.runFunction`).
 */
import type { HelperTable } from './helpers.js';

export const BPF_FUNC_loop = 181;
/** Kernel limit on bpf_loop iterations (BPF_MAX_LOOPS). */
export const BPF_MAX_LOOPS = 8 * 1024 * 1024;

const EINVAL = 22;
const E2BIG = 7;

/** Helpers that take a callback function. */
export const callbackHelpers: HelperTable = new Map([
  [BPF_FUNC_loop, (ctx) => {
    const nrLoops = ctx.argU32(1);
    const fn = ctx.arg(2);
    const callbackCtx = ctx.arg(3);
    if (ctx.arg(4) !== 0n) return -EINVAL;
    if (nrLoops > BPF_MAX_LOOPS) return -E2BIG;
    for (let i = 0; i < nrLoops; i++) {
      if (ctx.call(fn, i, callbackCtx) !== 0n) return i + 1;
    }
    return nrLoops;
  }],
]);
