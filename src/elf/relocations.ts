/** Relocation sections (SHT_REL, and SHT_RELA for completeness). */
import { ParseError } from '../errors.js';
import { REL64_SIZE, RELA64_SIZE, SHT_NOBITS, SHT_RELA } from './constants.js';
import type { ByteReader } from './reader.js';
import { SHDR, type ElfSection } from './sections.js';
import type { ElfSymbol } from './symbols.js';

/** One relocation entry. */
export interface ElfRelocation {
  /** r_offset: byte offset inside the target section. */
  readonly offset: number;
  /** Index of the symbol in the symbol table (ELF64_R_SYM). */
  readonly symbol: number;
  /** Relocation type (ELF64_R_TYPE): R_BPF_64_64, R_BPF_64_32, … */
  readonly type: number;
  /** r_addend of SHT_RELA entries; 0 for SHT_REL (eBPF uses SHT_REL, the addend is in place). */
  readonly addend: number;
}

/** A relocation section and the section it patches. */
export interface ElfRelocationSection {
  /** The SHT_REL/SHT_RELA section itself (`.relxdp`, `.rel.text`, …). */
  readonly section: ElfSection;
  /** Index of the section the entries patch (sh_info). */
  readonly target: number;
  readonly relocations: readonly ElfRelocation[];
}

/** Reads the entries of one relocation section, checking symbol indexes and offsets. */
export function readRelocations(
  r: ByteReader, sections: readonly ElfSection[], symbols: readonly ElfSymbol[], symtabIndex: number, rel: ElfSection,
): ElfRelocationSection {
  const rela = rel.type === SHT_RELA;
  const entsize = rela ? RELA64_SIZE : REL64_SIZE;
  if (rel.entsize !== entsize && rel.entsize !== 0) {
    throw new ParseError(`relocation entry size is ${rel.entsize}, expected ${entsize}`, rel.headerOffset + SHDR.entsize);
  }
  if (rel.size % entsize !== 0) {
    throw new ParseError(`relocation section size ${rel.size} is not a multiple of ${entsize}`, rel.headerOffset + SHDR.size);
  }
  if (rel.link !== symtabIndex) {
    throw new ParseError(`relocation section links to section ${rel.link}, not the symbol table`, rel.headerOffset + SHDR.link);
  }
  const target = sections[rel.info];
  if (target === undefined || rel.info === 0) {
    throw new ParseError(`relocation section targets section ${rel.info}, which does not exist`, rel.headerOffset + SHDR.info);
  }
  const relocations: ElfRelocation[] = [];
  for (let at = rel.offset; at < rel.offset + rel.size; at += entsize) {
    const offset = r.u64(at, 'r_offset');
    const type = r.u32(at + (r.littleEndian ? 8 : 12));
    const symbol = r.u32(at + (r.littleEndian ? 12 : 8));
    if (symbol >= symbols.length) {
      throw new ParseError(`relocation refers to symbol ${symbol}, but there are ${symbols.length}`, at + 8);
    }
    if (target.type !== SHT_NOBITS && offset >= target.size) {
      throw new ParseError(`relocation offset ${offset} is outside section '${target.name}' (${target.size} bytes)`, at);
    }
    const addend = rela ? r.i64(at + 16, 'r_addend') : 0;
    relocations.push({ offset, symbol, type, addend });
  }
  return { section: rel, target: rel.info, relocations };
}
