/**
 * `parseElf`: a relocatable eBPF object (or any ELF64 file) as plain data — header, named
 * sections, symbols and relocations — with every offset checked against the input.
 */
import { ParseError } from '../errors.js';
import { SHT_REL, SHT_RELA } from './constants.js';
import { openElf, readRawHeader, type ElfHeader } from './header.js';
import { readRelocations, type ElfRelocation, type ElfRelocationSection } from './relocations.js';
import { readSections, resolveSectionCounts, type ElfSection } from './sections.js';
import { findSymtab, readSymbols, type ElfSymbol } from './symbols.js';

/** A parsed ELF64 file. Section and symbol arrays are indexed by their ELF index. */
export interface ElfFile {
  /** The input, which section contents are views into. */
  readonly bytes: Uint8Array;
  readonly header: ElfHeader;
  /** All sections, `sections[i].index === i`; section 0 is the null section. */
  readonly sections: readonly ElfSection[];
  /** All symbols of SHT_SYMTAB, `symbols[i].index === i` (symbol 0 is null); empty without one. */
  readonly symbols: readonly ElfSymbol[];
  /** Every SHT_REL/SHT_RELA section with its entries, in section order. */
  readonly relocations: readonly ElfRelocationSection[];
}

/**
 * Parses an ELF64 file of either byte order. Throws `ParseError` (with the byte offset of the
 * bad field) for truncated or inconsistent input; never reads outside `bytes`.
 *
 * @example
 * const elf = parseElf(readFileSync('prog.o'));
 * const xdp = findSection(elf, 'xdp');
 */
export function parseElf(bytes: Uint8Array): ElfFile {
  try {
    const r = openElf(bytes);
    const header = resolveSectionCounts(r, readRawHeader(r));
    const sections = readSections(r, header);
    const symtab = findSymtab(sections);
    const symbols = symtab === undefined ? [] : readSymbols(r, sections, symtab);
    const relocations = sections
      .filter((s) => s.type === SHT_REL || s.type === SHT_RELA)
      .map((s) => readRelocations(r, sections, symbols, symtab?.index ?? 0, s));
    return { bytes, header, sections, symbols, relocations };
  } catch (err) {
    if (err instanceof ParseError) throw err;
    // Defence in depth: any other failure on hostile input still surfaces as a ParseError.
    throw new ParseError(`malformed ELF: ${err instanceof Error ? err.message : String(err)}`, 0, { cause: err });
  }
}

/** The first section named `name`, or undefined. */
export function findSection(file: ElfFile, name: string): ElfSection | undefined {
  return file.sections.find((s) => s.name === name);
}

/** The relocations that patch section `index`, or an empty list. */
export function relocationsFor(file: ElfFile, index: number): ElfRelocation[] {
  return file.relocations.filter((r) => r.target === index).flatMap((r) => r.relocations);
}

/** The symbols defined in section `index`, in symbol-table order. */
export function symbolsIn(file: ElfFile, index: number): ElfSymbol[] {
  return file.symbols.filter((s) => s.index !== 0 && s.section === index);
}
