/**
 * What each relocation of a code section means (libbpf: bpf_object__collect_prog_relos and
 * bpf_program__record_reloc): a call or function address into `.text`, a map, a global
 * variable, a `.kconfig` value, a kernel symbol or a kfunc. Relocations are recorded per
 * function, at function-relative slots, so linking can carry them along.
 */
import {
  type ElfFile, type ElfSymbol, SHN_LORESERVE, SHN_UNDEF, STB_GLOBAL, STB_LOCAL, STB_WEAK, STT_FUNC,
  STT_NOTYPE, STT_SECTION,
} from '../elf/index.js';
import { BPF_CALL, BPF_DW, BPF_IMM, BPF_JMP, BPF_K, BPF_LD, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC } from '../isa/opcodes.js';
import type { RawInstruction } from '../isa/instruction.js';
import { ObjectError } from './errors.js';
import { type ElfFunction, functionAt, INSN_SIZE } from './functions.js';

/** A relocation of one instruction of a function, at a function-relative slot. */
export type FunctionRelocation =
  /** `call` into `.text`: the target slot is `symOff / 8 + imm + 1` (libbpf: RELO_CALL). */
  | { readonly kind: 'call'; readonly slot: number; readonly symOff: number }
  /**
   * `lddw` of a function's address (a callback): target byte `symOff + imm` of `.text`.
   * Clang leaves src 0; the linker makes it BPF_PSEUDO_FUNC (libbpf: bpf_object__relocate).
   */
  | { readonly kind: 'subprog_addr'; readonly slot: number; readonly symOff: number }
  | { readonly kind: 'map'; readonly slot: number; readonly map: string }
  /** Global data: the value's offset is `imm + symOff` (libbpf: RELO_DATA). */
  | { readonly kind: 'data'; readonly slot: number; readonly map: string; readonly symOff: number; readonly symbol: string | undefined }
  | { readonly kind: 'kconfig' | 'ksym' | 'kfunc'; readonly slot: number; readonly extern: string };

/** What relocations may point at, besides `.text`. */
export interface RelocationContext {
  readonly elf: ElfFile;
  readonly functions: readonly ElfFunction[];
  /** Index of `.text` (0 when the object has none). */
  readonly textIndex: number;
  /** Map definitions by section index, then symbol offset (`.maps`, `maps`). */
  readonly mapsAt: ReadonlyMap<number, ReadonlyMap<number, string>>;
  /** Global-data map names by section index. */
  readonly dataMaps: ReadonlyMap<number, string>;
  /** Sections relocations may not point into, with the reason (arena, jump tables…). */
  readonly unsupported: ReadonlyMap<number, string>;
  /** Externs by ELF symbol index. */
  readonly externs: ReadonlyMap<number, { readonly name: string; readonly kind: 'kconfig' | 'ksym' }>;
}

/** Relocations of every function, keyed by the function. */
export type RelocationTable = Map<ElfFunction, FunctionRelocation[]>;

const isLddw = (i: RawInstruction): boolean => i.code === (BPF_LD | BPF_IMM | BPF_DW);
const isCall = (i: RawInstruction): boolean => i.code === (BPF_JMP | BPF_CALL);

/** libbpf: insn_is_subprog_call. */
export function isSubprogCall(i: RawInstruction): boolean {
  return i.code === (BPF_JMP | BPF_CALL | BPF_K) && i.src === BPF_PSEUDO_CALL && i.dst === 0 && i.off === 0;
}

/** libbpf: insn_is_pseudo_func. */
export function isPseudoFunc(i: RawInstruction): boolean {
  return isLddw(i) && i.src === BPF_PSEUDO_FUNC;
}

/** libbpf: sym_is_extern — an undefined global or weak symbol without a type. */
export function symbolIsExtern(sym: ElfSymbol): boolean {
  return sym.section === SHN_UNDEF && (sym.bind === STB_GLOBAL || sym.bind === STB_WEAK) && sym.type === STT_NOTYPE && sym.index !== 0;
}

/** libbpf: sym_is_subprog — a section symbol of `.text` or a global function in it. */
function symbolIsSubprog(sym: ElfSymbol, textIndex: number): boolean {
  if (textIndex === 0 || sym.section !== textIndex) return false;
  if (sym.bind === STB_LOCAL && sym.type === STT_SECTION) return true;
  return (sym.bind === STB_GLOBAL || sym.bind === STB_WEAK) && sym.type === STT_FUNC;
}

/** Reads and classifies the relocations of every code section. */
export function collectRelocations(ctx: RelocationContext): RelocationTable {
  const table: RelocationTable = new Map(ctx.functions.map((f) => [f, []]));
  const { elf } = ctx;
  for (const relSection of elf.relocations) {
    const target = elf.sections[relSection.target]!;
    const functionsHere = ctx.functions.some((f) => f.code.section.index === target.index);
    if (!functionsHere) continue;
    relSection.relocations.forEach((rel, n) => {
      const at = relSection.section.offset + n * relSection.section.entsize;
      const sym = elf.symbols[rel.symbol]!;
      const symName = sym.type === STT_SECTION && sym.name === '' ? elf.sections[sym.section]?.name ?? '' : sym.name;
      const where = { section: target.name, symbol: symName };
      if (rel.offset % INSN_SIZE !== 0) {
        throw new ObjectError(`section '${target.name}': relocation #${n} against '${symName}' at offset ${rel.offset} is not on an instruction boundary`, at, where);
      }
      const sectionSlot = rel.offset / INSN_SIZE;
      const fn = functionAt(ctx.functions, target.index, sectionSlot);
      // libbpf skips relocations outside any function (an overridden weak function's body).
      if (fn === undefined) return;
      const insn = fn.code.slots[sectionSlot]!;
      const slot = sectionSlot - fn.slotOffset;
      const fail = (why: string): never => {
        throw new ObjectError(`program '${fn.name}': ${why} (relocation #${n} of '${relSection.section.name}', insn ${slot})`, at, { section: target.name, symbol: symName });
      };
      table.get(fn)!.push(recordRelocation(ctx, insn, sym, symName, slot, fail));
    });
  }
  for (const list of table.values()) list.sort((a, b) => a.slot - b.slot);
  return table;
}

function recordRelocation(
  ctx: RelocationContext, insn: RawInstruction, sym: ElfSymbol, symName: string, slot: number, fail: (why: string) => never,
): FunctionRelocation {
  const { elf } = ctx;
  if (!isCall(insn) && !isLddw(insn)) {
    fail(`relocation against '${symName}' on an instruction that is neither a call nor lddw (opcode 0x${insn.code.toString(16)})`);
  }
  if (symbolIsExtern(sym)) {
    const ext = ctx.externs.get(sym.index);
    if (ext === undefined) fail(`relocation to undefined symbol '${symName}' (no BTF .kconfig/.ksyms extern of that name)`);
    if (isCall(insn)) {
      if (ext!.kind !== 'ksym') fail(`call to '${symName}', which is a .kconfig value`);
      return { kind: 'kfunc', slot, extern: ext!.name };
    }
    return { kind: ext!.kind, slot, extern: ext!.name };
  }
  if (sym.section === SHN_UNDEF) fail(`relocation to undefined symbol '${symName}'`);
  if (isCall(insn)) {
    if (insn.src !== BPF_PSEUDO_CALL) fail(`relocation against '${symName}' on a helper call`);
    if (sym.section !== ctx.textIndex) {
      fail(`call to '${symName}' in section '${elf.sections[sym.section]?.name ?? sym.section}'; subprograms must be in .text`);
    }
    if (sym.value % INSN_SIZE !== 0) fail(`call to '${symName}' at offset ${sym.value}, not an instruction boundary`);
    return { kind: 'call', slot, symOff: sym.value };
  }
  if (sym.section >= SHN_LORESERVE) {
    fail(`relocation against '${symName}' in special section 0x${sym.section.toString(16)} (an uninitialized global?)`);
  }
  if (symbolIsSubprog(sym, ctx.textIndex)) {
    if (sym.value % INSN_SIZE !== 0 || insn.imm % INSN_SIZE !== 0) fail(`address of '${symName}' at offset ${sym.value}+${insn.imm} is not an instruction`);
    return { kind: 'subprog_addr', slot, symOff: sym.value };
  }
  const secName = elf.sections[sym.section]?.name ?? String(sym.section);
  const unsupported = ctx.unsupported.get(sym.section);
  if (unsupported !== undefined) fail(`relocation against '${symName}' in section '${secName}': ${unsupported}`);
  const maps = ctx.mapsAt.get(sym.section);
  if (maps !== undefined) {
    const map = maps.get(sym.value);
    if (map === undefined) fail(`no map at offset ${sym.value} of section '${secName}' for '${symName}'`);
    return { kind: 'map', slot, map: map! };
  }
  const data = ctx.dataMaps.get(sym.section);
  if (data !== undefined) {
    return { kind: 'data', slot, map: data, symOff: sym.value, symbol: sym.type === STT_SECTION ? undefined : sym.name };
  }
  return fail(`relocation against '${symName}' in section '${secName}', which holds no maps or data`);
}
