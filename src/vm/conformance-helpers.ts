/**
 * The helper the bpf_conformance suite expects (`callx.data`, `call_unwind_fail.data`):
 * id 5 is uBPF's "unwind" helper. It returns its argument, and when that is 0 the program
 * stops at once with r0 = 0 (uBPF: ubpf_set_unwind_function_index).
 */
import type { HelperTable } from './helpers.js';

export const CONFORMANCE_UNWIND_HELPER = 5;

/** Helpers for running the bpf_conformance suite. */
export const conformanceHelpers: HelperTable = new Map([
  [CONFORMANCE_UNWIND_HELPER, (ctx) => {
    const value = ctx.arg(1);
    if (value === 0n) ctx.stop(0);
    return value;
  }],
]);
