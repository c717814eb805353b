/**
 * The functions of an object's code sections, found by their STT_FUNC symbols (libbpf:
 * bpf_object__add_programs). Each keeps the raw slots of its section so linking can copy
 * and patch them; decoding happens once per section, so a bad instruction is reported at its
 * file offset.
 */
import { InstructionError, ParseError } from '../errors.js';
import {
  type ElfFile, type ElfSection, STB_LOCAL, STT_FUNC, STV_HIDDEN, STV_INTERNAL,
} from '../elf/index.js';
import { decodeRawProgram, decodeSlots } from '../isa/decode.js';
import type { RawInstruction } from '../isa/instruction.js';
import { ObjectError } from './errors.js';
import { TEXT_SEC, type SectionKind } from './elf-sections.js';

/** Size of one instruction slot. */
export const INSN_SIZE = 8;

/** A code section decoded into raw slots. */
export interface CodeSection {
  readonly section: ElfSection;
  readonly slots: readonly RawInstruction[];
}

/** One function: an entry program (outside `.text`) or a subprogram (in `.text`). */
export interface ElfFunction {
  readonly name: string;
  readonly code: CodeSection;
  /** First slot inside its section. */
  readonly slotOffset: number;
  readonly slotCount: number;
  readonly global: boolean;
  readonly hidden: boolean;
  /** In `.text`: only ever linked into entry programs. */
  readonly subprogram: boolean;
}

/**
 * Decodes one code section. Bytes that are not whole slots or not valid instructions are a
 * ParseError at their file offset.
 */
export function decodeCodeSection(elf: ElfFile, section: ElfSection): CodeSection {
  const bigEndian = elf.header.bigEndian;
  try {
    const slots = decodeSlots(section.data, { bigEndian });
    decodeRawProgram(slots); // validates every instruction once
    return { section, slots };
  } catch (err) {
    if (err instanceof InstructionError) {
      throw new ObjectError(`section '${section.name}': ${err.message.replace(/ \(at byte offset \d+\)$/, '')}`,
        section.offset + err.index * INSN_SIZE, { section: section.name, cause: err });
    }
    if (err instanceof ParseError) {
      throw new ObjectError(`section '${section.name}': ${err.message.replace(/ \(at byte offset \d+\)$/, '')}`,
        section.offset + err.offset, { section: section.name, cause: err });
    }
    throw err;
  }
}

/**
 * Every function of every code section, sorted by section index then offset (libbpf's
 * cmp_progs order). Rejects what libbpf rejects: a function that is empty, misaligned or
 * runs past its section, and a static function outside `.text`.
 */
export function collectFunctions(elf: ElfFile, kinds: readonly SectionKind[]): { functions: ElfFunction[]; code: Map<number, CodeSection> } {
  const code = new Map<number, CodeSection>();
  for (const s of elf.sections) if (kinds[s.index] === 'code') code.set(s.index, decodeCodeSection(elf, s));
  const functions: ElfFunction[] = [];
  for (const sym of elf.symbols) {
    if (sym.type !== STT_FUNC) continue;
    const sec = code.get(sym.section);
    if (sec === undefined) continue;
    const { section } = sec;
    const symAt = symbolOffset(elf, sym.index);
    const ctx = { section: section.name, symbol: sym.name };
    if (sym.size === 0 || sym.size % INSN_SIZE !== 0 || sym.value % INSN_SIZE !== 0) {
      throw new ObjectError(`section '${section.name}': corrupted function '${sym.name}' (offset ${sym.value}, size ${sym.size})`, symAt, ctx);
    }
    if (sym.value + sym.size > section.size) {
      throw new ObjectError(`section '${section.name}': function '${sym.name}' at offset ${sym.value} (${sym.size} bytes) crosses the section's end (${section.size} bytes)`, symAt, ctx);
    }
    const subprogram = section.name === TEXT_SEC;
    if (!subprogram && sym.bind === STB_LOCAL) {
      throw new ObjectError(`section '${section.name}': program '${sym.name}' is static, which libbpf does not support`, symAt, ctx);
    }
    functions.push({
      name: sym.name,
      code: sec,
      slotOffset: sym.value / INSN_SIZE,
      slotCount: sym.size / INSN_SIZE,
      global: sym.bind !== STB_LOCAL,
      hidden: sym.visibility === STV_HIDDEN || sym.visibility === STV_INTERNAL,
      subprogram,
    });
  }
  functions.sort((a, b) => a.code.section.index - b.code.section.index || a.slotOffset - b.slotOffset);
  for (let i = 1; i < functions.length; i++) {
    const prev = functions[i - 1]!;
    const cur = functions[i]!;
    if (prev.code === cur.code && cur.slotOffset < prev.slotOffset + prev.slotCount) {
      throw new ObjectError(`section '${cur.code.section.name}': functions '${prev.name}' and '${cur.name}' overlap`,
        cur.code.section.offset + cur.slotOffset * INSN_SIZE, { section: cur.code.section.name, symbol: cur.name });
    }
  }
  return { functions, code };
}

/** The function of section `sectionIndex` containing `slot` (libbpf: find_prog_by_sec_insn). */
export function functionAt(functions: readonly ElfFunction[], sectionIndex: number, slot: number): ElfFunction | undefined {
  // Functions are sorted; a binary search keeps this fast for objects with many functions.
  let lo = 0;
  let hi = functions.length - 1;
  let found: ElfFunction | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const f = functions[mid]!;
    const idx = f.code.section.index;
    if (idx < sectionIndex || (idx === sectionIndex && f.slotOffset <= slot)) {
      found = f;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  if (found === undefined || found.code.section.index !== sectionIndex) return undefined;
  return slot < found.slotOffset + found.slotCount ? found : undefined;
}

/** File offset of symbol `index`'s entry, for error positions. */
export function symbolOffset(elf: ElfFile, index: number): number {
  const symtab = elf.sections.find((s) => s.type === 2 /* SHT_SYMTAB */);
  return symtab === undefined ? 0 : symtab.offset + index * 24;
}
