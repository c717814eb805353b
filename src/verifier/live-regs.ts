/**
 * The "Live regs before insn:" table a level-2 log starts with (kernel: verifier.c
 * compute_live_registers and compute_scc): for each instruction the registers R0–R9 whose
 * value some later instruction reads, and the number of the loop (strongly connected
 * component) the instruction is in.
 */
import type { Instruction } from '../isa/index.js';
import { jumpTarget } from './cfg.js';
import { HELPER_PROTOS } from './helpers.js';
import { type ImmNamer, formatKernelInsn } from './log.js';

const bit = (r: number): number => 1 << r;
const CALLER_SAVED = 0b111111;

/** kernel: compute_insn_live_regs: registers an instruction reads (use) and writes (def). */
function useDef(insn: Instruction): { use: number; def: number } {
  const dst = bit(insn.dst);
  const src = bit(insn.src);
  switch (insn.kind) {
    case 'lddw': return { use: 0, def: dst };
    case 'ld_abs': case 'ld_ind': return { use: 0xffff, def: 0 };
    case 'ldx': return { use: src, def: dst };
    case 'st': return { use: dst, def: 0 };
    case 'stx': return { use: dst | src, def: 0 };
    case 'atomic':
      if (insn.op === 'cmpxchg') return { use: 1 | dst | src, def: 1 };
      if (insn.op === 'load_acq') return { use: src, def: dst };
      if (insn.op === 'store_rel') return { use: dst | src, def: 0 };
      return { use: dst | src, def: insn.fetch ? src : 0 };
    case 'endian': return { use: dst, def: dst };
    case 'alu':
      if (insn.op === 'mov' || insn.op === 'movsx') return { use: insn.useReg ? src : 0, def: dst };
      if (insn.op === 'neg') return { use: dst, def: dst };
      return { use: insn.useReg ? dst | src : dst, def: dst };
    case 'addr_space_cast': return { use: src, def: dst };
    case 'ja': case 'may_goto': return { use: 0, def: 0 };
    case 'exit': return { use: 1, def: 0 };
    case 'call': {
      const proto = insn.target === 'helper' ? HELPER_PROTOS.get(insn.imm) : undefined;
      const use = proto !== undefined ? ((1 << (proto.args.length + 1)) - 2) : CALLER_SAVED & ~1;
      return { use, def: CALLER_SAVED };
    }
    case 'callx': return { use: dst, def: CALLER_SAVED };
    case 'jump': return { use: insn.useReg ? dst | src : dst, def: 0 };
  }
}

/** kernel: bpf_insn_successors. */
function successors(slots: readonly (Instruction | undefined)[], i: number): number[] {
  const insn = slots[i]!;
  if (insn.kind === 'exit') return [];
  const fall = i + (insn.kind === 'lddw' ? 2 : 1);
  const target = jumpTarget(insn, i);
  if (insn.kind === 'ja') return [target!];
  return [fall, ...(target !== undefined && target !== fall ? [target] : [])].filter((s) => s >= 0 && s < slots.length);
}

/** kernel: compute_scc: loop numbers (0 for an instruction in no loop), Tarjan's order. */
function loops(slots: readonly (Instruction | undefined)[]): number[] {
  const n = slots.length;
  const index = new Array<number>(n).fill(-1);
  const low = new Array<number>(n).fill(0);
  const onStack = new Array<boolean>(n).fill(false);
  const scc = new Array<number>(n).fill(0);
  const stack: number[] = [];
  let counter = 0;
  let nextScc = 1;
  for (let root = 0; root < n; root++) {
    if (slots[root] === undefined || index[root] !== -1) continue;
    const work: { v: number; succ: number[]; k: number }[] = [];
    const enter = (v: number): void => {
      index[v] = low[v] = counter++;
      stack.push(v);
      onStack[v] = true;
      work.push({ v, succ: successors(slots, v), k: 0 });
    };
    enter(root);
    while (work.length > 0) {
      const top = work[work.length - 1]!;
      if (top.k < top.succ.length) {
        const w = top.succ[top.k++]!;
        if (index[w] === -1) enter(w);
        else if (onStack[w]) low[top.v] = Math.min(low[top.v]!, index[w]!);
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) low[parent.v] = Math.min(low[parent.v]!, low[top.v]!);
      if (low[top.v] !== index[top.v]) continue;
      const members: number[] = [];
      let w: number;
      do { w = stack.pop()!; onStack[w] = false; members.push(w); } while (w !== top.v);
      const selfLoop = successors(slots, top.v).includes(top.v);
      if (members.length > 1 || selfLoop) {
        for (const m of members) scc[m] = nextScc;
        nextScc++;
      }
    }
  }
  return scc;
}

/** The lines of the table, as the kernel prints them at log level 2 before the first state. */
export function liveRegsTable(slots: readonly (Instruction | undefined)[], namer?: ImmNamer): string[] {
  const n = slots.length;
  const ud = slots.map((insn) => (insn === undefined ? { use: 0, def: 0 } : useDef(insn)));
  const liveIn = new Array<number>(n).fill(0);
  for (let changed = true; changed;) {
    changed = false;
    for (let i = n - 1; i >= 0; i--) {
      if (slots[i] === undefined) continue;
      let out = 0;
      for (const s of successors(slots, i)) out |= liveIn[s]!;
      const inn = ((out & ~ud[i]!.def) | ud[i]!.use) & 0xffff;
      if (inn !== liveIn[i]) { liveIn[i] = inn; changed = true; }
    }
  }
  const scc = loops(slots);
  const lines = ['Live regs before insn:'];
  slots.forEach((insn, i) => {
    if (insn === undefined) return;
    let regs = '';
    for (let r = 0; r < 10; r++) regs += liveIn[i]! & bit(r) ? String(r) : '.';
    const loop = scc[i] ? String(scc[i]).padStart(3) + ' ' : '    ';
    lines.push(`${loop}${String(i).padStart(3)}: ${regs} ${formatKernelInsn(insn, namer)}`);
  });
  return lines;
}
