/** The symbol table (SHT_SYMTAB, Elf64_Sym). */
import { ParseError } from '../errors.js';
import {
  SHN_LORESERVE, SHN_XINDEX, SHT_STRTAB, SHT_SYMTAB, SHT_SYMTAB_SHNDX, SYM64_SIZE,
} from './constants.js';
import type { ByteReader } from './reader.js';
import { SHDR, type ElfSection } from './sections.js';
import { readString } from './strings.js';

/** One symbol. */
export interface ElfSymbol {
  /** Index in the symbol table (0 is the null symbol); relocations refer to it. */
  readonly index: number;
  readonly name: string;
  /** st_value: for an object file, the offset inside section `section`. */
  readonly value: number;
  readonly size: number;
  /** STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION, STT_FILE, … */
  readonly type: number;
  /** STB_LOCAL, STB_GLOBAL, STB_WEAK. */
  readonly bind: number;
  /** STV_DEFAULT, STV_HIDDEN, … (st_other & 3). */
  readonly visibility: number;
  /**
   * Section index (st_shndx, or its SHT_SYMTAB_SHNDX entry): SHN_UNDEF (0) for an extern,
   * SHN_ABS, SHN_COMMON, or a section of the file.
   */
  readonly section: number;
}

/** Offsets of fields inside an Elf64_Sym. */
const SYM = { name: 0, info: 4, other: 5, shndx: 6, value: 8, size: 16 } as const;

/** The SHT_SYMTAB section, or undefined; more than one is an error. */
export function findSymtab(sections: readonly ElfSection[]): ElfSection | undefined {
  const tables = sections.filter((s) => s.type === SHT_SYMTAB);
  if (tables.length > 1) throw new ParseError('more than one symbol table', tables[1]!.headerOffset);
  return tables[0];
}

/** Reads the symbols of `symtab`, naming them from its linked string table. */
export function readSymbols(r: ByteReader, sections: readonly ElfSection[], symtab: ElfSection): ElfSymbol[] {
  if (symtab.entsize !== SYM64_SIZE) {
    throw new ParseError(`symbol table entry size is ${symtab.entsize}, expected ${SYM64_SIZE}`, symtab.headerOffset + SHDR.entsize);
  }
  if (symtab.size % SYM64_SIZE !== 0) {
    throw new ParseError(`symbol table size ${symtab.size} is not a multiple of ${SYM64_SIZE}`, symtab.headerOffset + SHDR.size);
  }
  const strtab = sections[symtab.link];
  if (strtab === undefined || strtab.index === 0 || strtab.type !== SHT_STRTAB) {
    throw new ParseError(`symbol table links to section ${symtab.link}, which is not a string table`, symtab.headerOffset + SHDR.link);
  }
  const shndxTable = sections.find((s) => s.type === SHT_SYMTAB_SHNDX && s.link === symtab.index);
  const count = symtab.size / SYM64_SIZE;
  const out: ElfSymbol[] = [];
  for (let i = 0; i < count; i++) {
    const at = symtab.offset + i * SYM64_SIZE;
    const info = r.u8(at + SYM.info);
    let section = r.u16(at + SYM.shndx);
    if (section === SHN_XINDEX) {
      if (shndxTable === undefined || (i + 1) * 4 > shndxTable.size) {
        throw new ParseError(`symbol ${i} uses SHN_XINDEX without an SHT_SYMTAB_SHNDX entry`, at + SYM.shndx);
      }
      section = r.u32(shndxTable.offset + i * 4, 'extended section index');
      if (section >= sections.length) {
        throw new ParseError(`symbol ${i}: section index ${section} is out of range`, shndxTable.offset + i * 4);
      }
    } else if (section < SHN_LORESERVE && section >= sections.length) {
      throw new ParseError(`symbol ${i}: section index ${section} is out of range (${sections.length} sections)`, at + SYM.shndx);
    }
    out.push({
      index: i,
      name: readString(strtab.data, r.u32(at + SYM.name), at + SYM.name, `symbol ${i} name`),
      value: r.u64(at + SYM.value, 'st_value'),
      size: r.u64(at + SYM.size, 'st_size'),
      type: info & 0xf,
      bind: info >> 4,
      visibility: r.u8(at + SYM.other) & 0x3,
      section,
    });
  }
  return out;
}
