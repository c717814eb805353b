/**
 * Where a program's run in the VM and in the kernel part: the first instruction at which a
 * register the instruction reads holds a different value on the two machines.
 *
 * The VM side is a trace (the interpreter's `trace` hook): the registers before every
 * instruction. The kernel shows only r0 at exit, so its side is read by probing: a copy of the
 * program with, before instruction `k`,
 *
 *     if r10 == 0 goto k      ; never taken (r10 is the frame pointer), but an edge for check_cfg
 *     r0 = rX                 ; [r0 >>= 32 for the high half]
 *     exit
 *
 * run with the same input and fresh maps: its 32-bit return value is rX's low or high half at
 * the first arrival at `k` — the kernel's run cut short there. Jumps and calls over the probe are
 * moved; jumps to `k` land on the probe. The probes walk the VM trace in order, first arrivals
 * at each instruction of the main program only (an `exit` inside a subprogram would return from
 * it, not end the run), skipping registers the VM holds an address in (addresses differ between
 * machines) and probes the kernel refuses (a register not read on every path to `k`, a return
 * range the program type enforces). Where nothing differs, the report says so.
 */
import { decodeRawProgram, disassemble, type Instruction, type RawInstruction } from '../../src/isa/index.js';

/** One traced step of the VM: the slot about to run and r0..r10 before it. */
export interface TraceStep {
  readonly pc: number;
  readonly regs: readonly bigint[];
}

/** Collects a {@link TraceStep} per executed instruction (pass `hook` as the interpreter's `trace`). */
export class VmTrace {
  readonly steps: TraceStep[] = [];
  /** Steps recorded at most; a longer run keeps its first `limit`. */
  readonly limit: number;

  constructor(limit = 100_000) {
    this.limit = limit;
  }

  readonly hook = (pc: number, R: Int32Array): void => {
    if (this.steps.length >= this.limit) return;
    const regs: bigint[] = new Array(11);
    for (let r = 0; r < 11; r++) regs[r] = (BigInt(R[2 * r + 1]! >>> 0) << 32n) | BigInt(R[2 * r]! >>> 0);
    this.steps.push({ pc, regs });
  };
}

/** The kernel's r0 (32 bits) for a transformed copy of the program, or the reason it refused. */
export type KernelProbe = (transform: (raw: RawInstruction[]) => RawInstruction[]) => number | { refused: string };

export interface LocateOptions {
  /** The program's instructions as slots, the same as the kernel loads (fixups applied or not: the probe keeps them). */
  readonly raw: readonly RawInstruction[];
  /** The VM's trace of the diverging run. */
  readonly trace: VmTrace;
  /** Runs a probe copy in the kernel with the diverging input. */
  readonly kernel: KernelProbe;
  /** Whether a VM value is an address (compared values must be plain numbers). */
  readonly isAddress?: (value: bigint) => boolean;
  /** Kernel runs at most (two per register half). */
  readonly maxProbes?: number;
}

/** The first differing instruction, as a sentence, and how many kernel runs it took. */
export interface Located {
  readonly text: string;
  readonly probes: number;
  /** Slot of the first instruction whose input differs, when found. */
  readonly pc?: number;
}

/** The probe copy of `raw`: before slot `at`, exit with rX (or its high half). */
export function insertProbe(raw: readonly RawInstruction[], at: number, reg: number, high: boolean): RawInstruction[] {
  const body: RawInstruction[] = [
    { code: 0x15, dst: 10, src: 0, off: 0, imm: 0 }, // if r10 == 0 goto <the original insn> (offset set below)
    { code: 0xbf, dst: 0, src: reg, off: 0, imm: 0 }, // r0 = rX
    ...(high ? [{ code: 0x77, dst: 0, src: 0, off: 0, imm: 32 }] : []), // r0 >>= 32
    { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }, // exit
  ];
  const n = body.length;
  body[0] = { ...body[0]!, off: n - 1 };
  const moved = (slot: number): number => (slot < at ? slot : slot + n);
  // A jump to `at` lands on the probe, so every arrival there is probed.
  const target = (slot: number): number => (slot <= at ? slot : slot + n);
  const second = new Set<number>();
  for (let i = 0; i < raw.length; i += raw[i]!.code === 0x18 ? 2 : 1) if (raw[i]!.code === 0x18) second.add(i + 1);
  const out: RawInstruction[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (i === at) out.push(...body);
    const insn = raw[i]!;
    const cls = insn.code & 7;
    const op = insn.code & 0xf0;
    const from = moved(i);
    const rel = (offset: number): number => target(i + 1 + offset) - from - 1;
    if (second.has(i)) out.push(insn);
    else if ((cls === 5 || cls === 6) && op === 0x80) {
      // call: a bpf-to-bpf call (src 1) is relative in imm; helpers and kfuncs are not.
      out.push(insn.src === 1 ? { ...insn, imm: rel(insn.imm) } : insn);
    } else if ((cls === 5 || cls === 6) && op === 0x90) out.push(insn); // exit
    else if (cls === 6 && op === 0x00) out.push({ ...insn, imm: rel(insn.imm) }); // gotol
    else if (cls === 5 || cls === 6) out.push({ ...insn, off: rel(insn.off) });
    else if (insn.code === 0x18 && insn.src === 4) out.push({ ...insn, imm: rel(insn.imm) }); // lddw BPF_PSEUDO_FUNC
    else out.push(insn);
  }
  return out;
}

/** Registers an instruction reads (for calls: r1..r5, whichever the kernel lets a probe read). */
export function registersRead(insn: Instruction): number[] {
  switch (insn.kind) {
    case 'alu':
      return [...(insn.op === 'mov' || insn.op === 'movsx' ? [] : [insn.dst]), ...(insn.useReg ? [insn.src] : [])];
    case 'endian': return [insn.dst];
    case 'jump': return insn.useReg ? [insn.dst, insn.src] : [insn.dst];
    case 'ldx': return [insn.src];
    case 'st': return [insn.dst];
    case 'stx': return [insn.dst, insn.src];
    case 'atomic': return insn.op === 'cmpxchg' ? [insn.dst, insn.src, 0] : insn.op === 'load_acq' ? [insn.src] : [insn.dst, insn.src];
    case 'call': return [1, 2, 3, 4, 5];
    case 'callx': return [insn.dst];
    case 'exit': return [0];
    case 'ld_ind': return [insn.src];
    default: return [];
  }
}

/** Registers an instruction writes. */
function registersWritten(insn: Instruction): number[] {
  switch (insn.kind) {
    case 'alu': case 'endian': case 'lddw': case 'ldx': return [insn.dst];
    case 'atomic': return insn.op === 'cmpxchg' ? [0] : insn.op === 'load_acq' ? [insn.dst] : insn.fetch || insn.op === 'xchg' ? [insn.src] : [];
    case 'call': case 'callx': case 'ld_abs': case 'ld_ind': return [0, 1, 2, 3, 4, 5];
    default: return [];
  }
}

/** Slots of the main program: up to the first bpf-to-bpf call or callback target. */
function mainProgramEnd(insns: readonly Instruction[], slots: readonly number[]): number {
  let end = Infinity;
  insns.forEach((insn, i) => {
    if ((insn.kind === 'call' && insn.target === 'local') || (insn.kind === 'lddw' && insn.src === 4)) end = Math.min(end, slots[i]! + 1 + insn.imm);
  });
  return end;
}

const hex = (v: bigint | number): string => `0x${v.toString(16)}`;

/** Probes the kernel along the VM's trace until a register differs; see the file comment. */
export function locateFirstDifference(options: LocateOptions): Located {
  const insns = decodeRawProgram(options.raw);
  const text = disassemble(insns);
  const slots: number[] = [];
  let slot = 0;
  for (const insn of insns) {
    slots.push(slot);
    slot += insn.kind === 'lddw' ? 2 : 1;
  }
  const bySlot = new Map(slots.map((s, i) => [s, i]));
  const line = (pc: number): string => `insn ${pc} (${text[bySlot.get(pc) ?? -1]?.replace(/^\s*\d+:\s*/, '') ?? '?'})`;
  const mainEnd = mainProgramEnd(insns, slots);
  const maxProbes = options.maxProbes ?? 400;
  const isAddress = options.isAddress ?? (() => false);
  const seen = new Set<number>();
  let probes = 0;
  for (let step = 0; step < options.trace.steps.length; step++) {
    const { pc, regs } = options.trace.steps[step]!;
    if (pc >= mainEnd || seen.has(pc)) continue;
    seen.add(pc);
    const insn = insns[bySlot.get(pc) ?? -1];
    if (insn === undefined) continue;
    for (const reg of registersRead(insn)) {
      const vm = regs[reg]!;
      if (isAddress(vm)) continue;
      for (const high of [false, true]) {
        if (probes >= maxProbes) return { text: `no difference in the first ${probes} probes (stopped there)`, probes };
        probes++;
        const got = options.kernel((raw) => insertProbe(raw, pc, reg, high));
        if (typeof got !== 'number') break; // the kernel refuses to read rX here: not an input on every path
        const ours = Number(high ? vm >> 32n : vm & 0xffffffffn);
        if (got >>> 0 === ours) continue;
        const writer = lastWriter(options.trace.steps, step, reg, insns, bySlot);
        const kernelValue = high ? `${hex(got >>> 0)}xxxxxxxx (high half)` : `0x…${(got >>> 0).toString(16).padStart(8, '0')} (low half)`;
        return {
          pc, probes,
          text: `first differing instruction: ${line(pc)} reads r${reg} = ${kernelValue} in the kernel, ${hex(vm)} in the VM` +
            (writer === undefined ? ' (an input of the program)' : `; r${reg} was last written by ${line(writer)}`),
        };
      }
    }
  }
  return {
    probes,
    text: `no register read by a first-visited instruction of the main program differs (${probes} probes): the runs part ` +
      'inside a subprogram, a later loop iteration, a tail-called program, or in memory (maps, packet) only',
  };
}

function lastWriter(steps: readonly TraceStep[], before: number, reg: number, insns: readonly Instruction[], bySlot: ReadonlyMap<number, number>): number | undefined {
  for (let s = before - 1; s >= 0; s--) {
    const insn = insns[bySlot.get(steps[s]!.pc) ?? -1];
    if (insn !== undefined && registersWritten(insn).includes(reg)) return steps[s]!.pc;
  }
  return undefined;
}
