/**
 * Structural checks before any state is tracked (kernel: verifier.c check_subprogs and
 * check_cfg): subprogram boundaries, jumps that stay inside their subprogram, a last
 * instruction that cannot fall through, no unreachable instruction, and the prune points.
 */
import type { Instruction } from '../isa/index.js';
import { VerifierReject } from './env.js';

/**
 * Helper ids that call a callback (bpf_for_each_map_elem, bpf_loop) or schedule one
 * (bpf_timer_set_callback: a prune point, or its async state is pushed at every visit).
 */
const CALLBACK_CALLS: ReadonlySet<number> = new Set([164, 181, 170]);

export interface ControlFlow {
  /** Subprogram start slots, sorted, [0] = 0. */
  readonly subprogs: number[];
  /** Slots where states are compared for pruning (jump targets, after conditional jumps, after calls). */
  readonly prunePoints: Uint8Array;
}

/** Jump target slot of a jump at `idx`, or undefined. */
export function jumpTarget(insn: Instruction, idx: number): number | undefined {
  switch (insn.kind) {
    case 'jump': case 'may_goto': return idx + insn.off + 1;
    case 'ja': return idx + (insn.long ? insn.imm : insn.off) + 1;
    default: return undefined;
  }
}

/** Runs check_subprogs and check_cfg; throws VerifierReject with the kernel's message. */
/**
 * `roots`: further subprogram entries reached without a call, searched after the main program
 * (kernel: the exception callback, add_subprog_and_kfunc and check_cfg's second walk).
 */
export function checkControlFlow(slots: readonly (Instruction | undefined)[], privileged: boolean, roots: readonly number[] = []): ControlFlow {
  const n = slots.length;
  const starts = new Set<number>([0, ...roots]);
  slots.forEach((insn, i) => {
    if (insn === undefined) return;
    const isCall = insn.kind === 'call' && insn.target === 'local';
    const isFunc = insn.kind === 'lddw' && insn.src === 4;
    if (!isCall && !isFunc) return;
    const t = i + insn.imm + 1;
    if (t < 0 || t >= n) throw new VerifierReject(isCall ? 'call to invalid destination' : 'invalid pseudo func target', i);
    starts.add(t);
  });
  const subprogs = [...starts].sort((a, b) => a - b);
  for (let s = 0; s < subprogs.length; s++) {
    const start = subprogs[s]!;
    const end = subprogs[s + 1] ?? n;
    for (let i = start; i < end; i++) {
      const insn = slots[i];
      if (insn === undefined) continue;
      if (insn.kind === 'jump' || insn.kind === 'ja' || insn.kind === 'may_goto') {
        const t = jumpTarget(insn, i)!;
        if (t < start || t >= end) throw new VerifierReject(`jump out of range from insn ${i} to ${t}`, i);
      }
    }
    let last = end - 1;
    if (slots[last] === undefined && last > start) last--;
    const li = slots[last];
    if (li === undefined || (li.kind !== 'exit' && li.kind !== 'ja')) throw new VerifierReject('last insn is not an exit or jmp', last);
  }

  // check_cfg: depth-first search from every subprogram entry reachable from 0.
  const prunePoints = new Uint8Array(n);
  const state = new Uint8Array(n); // 0 unseen, 1 on stack, 2 done
  const stack: Array<{ i: number; succ: number[]; k: number }> = [];
  const successors = (i: number): number[] => {
    const insn = slots[i]!;
    const next = i + (insn.kind === 'lddw' ? 2 : 1);
    switch (insn.kind) {
      case 'exit': return [];
      case 'ja': { const t = jumpTarget(insn, i)!; prunePoints[t] = 1; return [t]; }
      case 'jump': case 'may_goto': {
        const t = jumpTarget(insn, i)!;
        prunePoints[t] = 1;
        prunePoints[next] = 1;
        return [next, t];
      }
      case 'call': {
        if (insn.target === 'local') {
          const t = i + insn.imm + 1;
          prunePoints[t] = 1;
          prunePoints[next] = 1;
          return [next, t];
        }
        prunePoints[next] = 1;
        // kernel: mark_force_checkpoint for calls that schedule a callback: where its iterations converge.
        if (insn.target === 'helper' && CALLBACK_CALLS.has(insn.imm)) prunePoints[i] = 1;
        return [next];
      }
      case 'lddw':
        if (insn.src === 4) return [next, i + insn.imm + 1];
        return [next];
      default: return [next];
    }
  };
  const visit = (i: number, from: number): void => {
    if (i < 0 || i >= n) throw new VerifierReject(`jump out of range from insn ${from} to ${i}`, from);
    if (slots[i] === undefined) throw new VerifierReject(`jump into the middle of ldimm64 insn ${i - 1}`, from);
    if (state[i] === 1) {
      if (!privileged) throw new VerifierReject(`back-edge from insn ${from} to ${i}`, from);
      return;
    }
    if (state[i] === 2) return;
    state[i] = 1;
    stack.push({ i, succ: successors(i), k: 0 });
  };
  for (const root of [0, ...roots]) {
    if (state[root] !== 0) continue;
    visit(root, root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.k < top.succ.length) {
        const t = top.succ[top.k++]!;
        visit(t, top.i);
      } else {
        state[top.i] = 2;
        stack.pop();
      }
    }
  }
  for (let i = 0; i < n; i++) {
    if (slots[i] !== undefined && state[i] !== 2) throw new VerifierReject(`unreachable insn ${i}`, i);
  }
  return { subprogs, prunePoints };
}
