/**
 * Linking one entry program with the subprograms it uses, as libbpf does
 * (bpf_object__relocate_calls, bpf_object__reloc_code, bpf_object__relocate_data):
 * subprograms of `.text` are appended in first-use order, depth first — a subprogram's own
 * calls are followed before its caller's next one — and every `call` and BPF_PSEUDO_FUNC
 * `lddw` gets the offset of its target in the linked program. Their `.BTF.ext` records come
 * along, shifted to the linked positions. Map, data and extern uses are rewritten to the
 * pseudo forms a loader completes and listed as references.
 */
import type { BtfExt } from '../btf/ext.js';
import { decodeRawProgram } from '../isa/decode.js';
import type { Instruction, RawInstruction } from '../isa/instruction.js';
import { BPF_PSEUDO_FUNC, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE } from '../isa/opcodes.js';
import { ObjectError } from './errors.js';
import { type ElfFunction, functionAt, INSN_SIZE } from './functions.js';
import { type FunctionRelocation, isPseudoFunc, isSubprogCall, type RelocationTable } from './relocations.js';
import type { CoreRelocationRecord, FuncInfo, FunctionSpan, LineInfo, ProgramReference } from './spec.js';

/** What linking needs besides the entry function. */
export interface LinkContext {
  readonly functions: readonly ElfFunction[];
  readonly relocations: RelocationTable;
  readonly textIndex: number;
  readonly ext: BtfExt | undefined;
  /** Offsets of `.kconfig` externs in the `.kconfig` map. */
  readonly kconfigOffsets: ReadonlyMap<string, number>;
  /** The subprogram a `exception_callback:NAME` BTF decl tag names for an entry program. */
  readonly exceptionCallback?: (entry: ElfFunction) => ElfFunction | undefined;
}

/** The parts of a ProgramSpec that linking produces. */
export interface LinkedProgram {
  readonly instructions: Instruction[];
  readonly functions: FunctionSpan[];
  readonly references: ProgramReference[];
  readonly lineInfo: LineInfo[];
  readonly funcInfo: FuncInfo[];
  readonly coreRelocations: CoreRelocationRecord[];
}

/**
 * Bound on a linked program, well above what the kernel verifies (BPF_COMPLEXITY_LIMIT_INSNS,
 * 1M): a hostile object whose entry points each pull in a huge `.text` would otherwise make
 * linking quadratic in time and memory.
 */
export const MAX_LINKED_SLOTS = 4_000_000;

interface Placed {
  readonly fn: ElfFunction;
  readonly base: number;
}

/** Links `entry` with every subprogram it reaches. */
export function linkProgram(entry: ElfFunction, ctx: LinkContext): LinkedProgram {
  const out: RawInstruction[] = [];
  const placed = new Map<ElfFunction, number>();
  const order: Placed[] = [];
  const fail = (fn: ElfFunction, slot: number, why: string): never => {
    const section = fn.code.section;
    throw new ObjectError(`program '${entry.name}': ${why} (in '${fn.name}', insn ${slot})`,
      section.offset + (fn.slotOffset + slot) * INSN_SIZE, { section: section.name, symbol: fn.name });
  };
  const append = (fn: ElfFunction): number => {
    const base = out.length;
    if (base + fn.slotCount > MAX_LINKED_SLOTS) {
      fail(fn, 0, `more than ${MAX_LINKED_SLOTS} instructions after linking (the kernel's limit is 1,000,000)`);
    }
    placed.set(fn, base);
    order.push({ fn, base });
    for (let i = 0; i < fn.slotCount; i++) out.push(fn.code.slots[fn.slotOffset + i]!);
    for (const r of ctx.relocations.get(fn) ?? []) {
      if (r.kind === 'subprog_addr') out[base + r.slot] = { ...out[base + r.slot]!, src: BPF_PSEUDO_FUNC };
    }
    return base;
  };
  const relocsOf = (fn: ElfFunction): Map<number, FunctionRelocation> =>
    new Map((ctx.relocations.get(fn) ?? []).map((r) => [r.slot, r]));

  // An explicit stack instead of recursion: a hostile object may chain thousands of calls.
  const stack: { fn: ElfFunction; base: number; next: number; relocs: Map<number, FunctionRelocation> }[] = [];
  const start = (fn: ElfFunction): void => {
    stack.push({ fn, base: append(fn), next: 0, relocs: relocsOf(fn) });
  };
  start(entry);
  // libbpf appends the exception callback last, unless the program already called it.
  const callback = ctx.exceptionCallback?.(entry);
  for (let pass = 0; pass < 2; pass++) {
    if (pass === 1 && (callback === undefined || placed.has(callback))) break;
    if (pass === 1) start(callback!);
    drain();
  }

  function drain(): void {
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    if (frame.next >= frame.fn.slotCount) {
      stack.pop();
      continue;
    }
    const i = frame.next++;
    const at = frame.base + i;
    const insn = out[at]!;
    if (!isSubprogCall(insn) && !isPseudoFunc(insn)) continue;
    const relo = frame.relocs.get(i);
    if (relo?.kind === 'kfunc') continue;
    if (relo !== undefined && relo.kind !== 'call' && relo.kind !== 'subprog_addr') {
      fail(frame.fn, i, `unexpected ${relo.kind} relocation on a call or function address`);
    }
    let target: number;
    if (relo?.kind === 'call') {
      target = relo.symOff / INSN_SIZE + insn.imm + 1;
    } else if (relo?.kind === 'subprog_addr') {
      target = (relo.symOff + insn.imm) / INSN_SIZE;
    } else if (isPseudoFunc(insn)) {
      return fail(frame.fn, i, 'function address without a relocation');
    } else {
      // A call without relocation stays inside its own section, which must then be .text.
      if (!frame.fn.subprogram) fail(frame.fn, i, 'call without a relocation outside .text');
      target = frame.fn.slotOffset + i + insn.imm + 1;
    }
    const sub = functionAt(ctx.functions, ctx.textIndex, target);
    if (sub === undefined || sub.slotOffset !== target) {
      fail(frame.fn, i, `call target .text+${target * INSN_SIZE} is not the start of a function in .text`);
    }
    if (!placed.has(sub!)) start(sub!);
    out[at] = { ...insn, imm: placed.get(sub!)! - at - 1 };
  }
  }

  const references = applyDataRelocations(out, order, ctx, fail);
  const instructions = decodeLinked(out, entry);
  const insnAt = new Map<number, number>();
  for (let i = 0, slot = 0; i < instructions.length; i++) {
    insnAt.set(slot, i);
    slot += instructions[i]!.kind === 'lddw' ? 2 : 1;
  }
  const spans = order.map(({ fn, base }) => {
    const first = insnAt.get(base) ?? 0;
    const end = insnAt.get(base + fn.slotCount) ?? instructions.length;
    return {
      name: fn.name, section: fn.code.section.name, insn: first, slot: base, slotCount: fn.slotCount,
      insnCount: end - first, global: fn.global, hidden: fn.hidden,
    };
  });
  return {
    instructions,
    functions: spans,
    references: references.flatMap((r) => {
      const insn = insnAt.get(r.slot);
      return insn === undefined ? [] : [{ ...r, insn }];
    }),
    ...extInfo(order, ctx.ext, insnAt),
  };
}

type Unplaced<T> = T extends unknown ? Omit<T, 'insn'> : never;

/** Rewrites map, data and extern uses into their pseudo forms; returns them as references. */
function applyDataRelocations(
  out: RawInstruction[], order: readonly Placed[], ctx: LinkContext, fail: (fn: ElfFunction, slot: number, why: string) => never,
): Unplaced<ProgramReference>[] {
  const refs: Unplaced<ProgramReference>[] = [];
  for (const { fn, base } of order) {
    for (const relo of ctx.relocations.get(fn) ?? []) {
      if (relo.kind === 'call' || relo.kind === 'subprog_addr') continue;
      const slot = base + relo.slot;
      const insn = out[slot]!;
      if (relo.kind === 'kfunc') {
        out[slot] = { ...insn, src: BPF_PSEUDO_KFUNC_CALL, imm: 0, off: 0 };
        refs.push({ kind: 'kfunc', slot, extern: relo.extern });
        continue;
      }
      if (relo.slot + 1 >= fn.slotCount) fail(fn, relo.slot, 'lddw relocation on the last slot of the function');
      const hi = out[slot + 1]!;
      switch (relo.kind) {
        case 'map':
          out[slot] = { ...insn, src: BPF_PSEUDO_MAP_FD, imm: 0 };
          out[slot + 1] = { ...hi, imm: 0 };
          refs.push({ kind: 'map', slot, map: relo.map });
          break;
        case 'data': {
          // libbpf: insn[1].imm = insn[0].imm + sym_off — the addend is in the first imm.
          const offset = insn.imm + relo.symOff;
          out[slot] = { ...insn, src: BPF_PSEUDO_MAP_VALUE, imm: 0 };
          out[slot + 1] = { ...hi, imm: offset | 0 };
          refs.push(relo.symbol === undefined
            ? { kind: 'map_value', slot, map: relo.map, offset }
            : { kind: 'map_value', slot, map: relo.map, offset, symbol: relo.symbol });
          break;
        }
        case 'kconfig': {
          const offset = ctx.kconfigOffsets.get(relo.extern) ?? 0;
          out[slot] = { ...insn, src: BPF_PSEUDO_MAP_VALUE, imm: 0 };
          out[slot + 1] = { ...hi, imm: offset };
          refs.push({ kind: 'map_value', slot, map: '.kconfig', offset, extern: relo.extern });
          break;
        }
        case 'ksym':
          out[slot] = { ...insn, src: 0, imm: 0 };
          out[slot + 1] = { ...hi, imm: 0 };
          refs.push({ kind: 'ksym', slot, extern: relo.extern });
          break;
      }
    }
  }
  return refs.sort((a, b) => a.slot - b.slot);
}

function decodeLinked(out: RawInstruction[], entry: ElfFunction): Instruction[] {
  try {
    return decodeRawProgram(out);
  } catch (err) {
    const section = entry.code.section;
    throw new ObjectError(`program '${entry.name}': linked program does not decode: ${err instanceof Error ? err.message : String(err)}`,
      section.offset + entry.slotOffset * INSN_SIZE, { section: section.name, symbol: entry.name, cause: err });
  }
}

/** The `.BTF.ext` records of each placed function, shifted to linked positions (libbpf: adjust_prog_btf_ext_info). */
function extInfo(order: readonly Placed[], ext: BtfExt | undefined, insnAt: ReadonlyMap<number, number>): Pick<LinkedProgram, 'lineInfo' | 'funcInfo' | 'coreRelocations'> {
  const lineInfo: LineInfo[] = [];
  const funcInfo: FuncInfo[] = [];
  const coreRelocations: CoreRelocationRecord[] = [];
  if (ext === undefined) return { lineInfo, funcInfo, coreRelocations };
  for (const { fn, base } of order) {
    const section = fn.code.section.name;
    // A record belongs to the function when its slot lies inside it; returns the linked slot.
    const place = (insnOff: number): { slot: number; insn: number } | undefined => {
      if (insnOff % INSN_SIZE !== 0) return undefined;
      const local = insnOff / INSN_SIZE - fn.slotOffset;
      if (local < 0 || local >= fn.slotCount) return undefined;
      const insn = insnAt.get(base + local);
      return insn === undefined ? undefined : { slot: base + local, insn };
    };
    for (const r of ext.funcInfo.get(section) ?? []) {
      const p = place(r.insnOff);
      if (p !== undefined) funcInfo.push({ ...p, typeId: r.typeId });
    }
    for (const r of ext.lineInfo.get(section) ?? []) {
      const p = place(r.insnOff);
      if (p !== undefined) lineInfo.push({ ...p, fileName: r.fileName, lineText: r.line, line: r.lineNumber, column: r.column });
    }
    for (const r of ext.coreRelos.get(section) ?? []) {
      const p = place(r.insnOff);
      if (p !== undefined) coreRelocations.push({ ...p, insnOff: p.slot * INSN_SIZE, typeId: r.typeId, accessStr: r.accessStr, kind: r.kind });
    }
  }
  return { lineInfo, funcInfo, coreRelocations };
}
