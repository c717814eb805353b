/**
 * How the interpreter calls helper functions: by Linux helper id (`call 1` is
 * `bpf_map_lookup_elem`). A helper reads its arguments r1..r5 through a `HelperContext` and
 * returns r0. Numbers must be safe integers (negative values are sign-extended, so
 * `return -2` is `-ENOENT`); a bigint is taken modulo 2^64.
 */
import type { Memory } from './memory.js';

export interface HelperContext {
  /** The VM's linear memory, for helpers that read or write through pointer arguments. */
  readonly memory: Memory;
  /** Slot index of the calling instruction, for error messages. */
  readonly index: number;
  /** Argument register `n` (1..5) as an unsigned 64-bit bigint. */
  arg(n: number): bigint;
  /** Low 32 bits of argument register `n`, unsigned. */
  argU32(n: number): number;
  /** Argument register `n` as an unsigned number; exact below 2^53 (pointers, sizes). */
  argNumber(n: number): number;
  /**
   * Ends the program when the helper returns, with `r0` as its result — for helpers that
   * do not return to the program (uBPF's unwind helper, and later a successful tail call).
   */
  stop(r0: number | bigint): void;
  /**
   * Calls the program's function at code address `fn` (a `BPF_PSEUDO_FUNC` value the
   * program passed, as to bpf_loop) with up to five arguments; returns its r0.
   */
  call(fn: number | bigint, ...args: Array<number | bigint>): bigint;
  /**
   * bpf_tail_call's jump, for the helper that implements it: with the kernel's checks (index
   * within the array, fewer than MAX_TAIL_CALL_CNT tail calls so far in the run, a program in
   * the slot — an `Interpreter` sharing this one's execution state), makes the program continue
   * in the slot's program when the helper returns. r0 keeps its value either way. True when
   * the jump will happen (only then is it counted).
   */
  tailCall(array: TailCallArray, index: number): boolean;
}

/** What bpf_tail_call indexes: a prog array's size and slots (`ProgArrayMap`). */
export interface TailCallArray {
  readonly maxEntries: number;
  /** The program in slot `index`, or undefined. */
  program(index: number): unknown;
}

/** A helper implementation. Returning nothing sets r0 to 0. */
export type Helper = (ctx: HelperContext) => number | bigint | void;

/** Helpers by id, as a Map or a plain object keyed by id. */
export type HelperTable = ReadonlyMap<number, Helper> | Readonly<Record<number, Helper>>;

/** Flattens a helper table to an array indexed by helper id. */
export function helperArray(table: HelperTable | undefined): Array<Helper | undefined> {
  const out: Array<Helper | undefined> = [];
  if (table === undefined) return out;
  const entries: Iterable<[number | string, Helper]> = table instanceof Map ? table.entries() : Object.entries(table);
  for (const [id, fn] of entries) {
    const n = Number(id);
    if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new RangeError(`helper id ${id} is out of range`);
    out[n] = fn;
  }
  return out;
}
