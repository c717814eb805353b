/** Section headers (Elf64_Shdr), their names and their bytes. */
import { ParseError } from '../errors.js';
import { SHDR64_SIZE, SHN_LORESERVE, SHN_XINDEX, SHT_NOBITS, SHT_NULL } from './constants.js';
import { EHDR, type ElfHeader } from './header.js';
import type { ByteReader } from './reader.js';
import { readString } from './strings.js';

/** One section: its header fields, name and contents. */
export interface ElfSection {
  /** Index in the section header table (0 is the null section). */
  readonly index: number;
  readonly name: string;
  /** sh_type: SHT_PROGBITS, SHT_SYMTAB, SHT_REL, … */
  readonly type: number;
  /** sh_flags: SHF_ALLOC, SHF_EXECINSTR, … */
  readonly flags: number;
  readonly addr: number;
  /** File offset of the contents. */
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly addralign: number;
  readonly entsize: number;
  /** The contents, a view into the input (empty for SHT_NOBITS and SHT_NULL). */
  readonly data: Uint8Array;
  /** File offset of this section's header, for error positions. */
  readonly headerOffset: number;
}

/** Offsets of fields inside a section header. */
export const SHDR = {
  name: 0, type: 4, flags: 8, addr: 16, offset: 24, size: 32, link: 40, info: 44, addralign: 48, entsize: 56,
} as const;

/**
 * Resolves extended section numbering (e_shnum = 0 or e_shstrndx = SHN_XINDEX, where section
 * 0 holds the real values) and returns the header with final counts.
 */
export function resolveSectionCounts(r: ByteReader, header: ElfHeader): ElfHeader {
  let { shnum, shstrndx } = header;
  if (header.shoff === 0) {
    if (shnum !== 0) throw new ParseError(`e_shnum is ${shnum} but e_shoff is 0`, EHDR.shoff);
    return { ...header, shnum: 0, shstrndx: 0 };
  }
  if (header.shoff + SHDR64_SIZE > r.length) {
    throw new ParseError(`section header table at ${header.shoff} starts past the end of the file`, EHDR.shoff);
  }
  if (shnum === 0) shnum = r.u64(header.shoff + SHDR.size, 'extended section count');
  if (shstrndx === SHN_XINDEX) shstrndx = r.u32(header.shoff + SHDR.link, 'extended e_shstrndx');
  if (header.shoff + shnum * SHDR64_SIZE > r.length) {
    throw new ParseError(`section header table (${shnum} entries at ${header.shoff}) runs past the end of the file`, EHDR.shoff);
  }
  if (shstrndx !== 0 && shstrndx >= shnum) {
    throw new ParseError(`e_shstrndx ${shstrndx} is not a section (there are ${shnum})`, EHDR.shstrndx);
  }
  if (shnum >= SHN_LORESERVE && header.shnum !== 0) {
    throw new ParseError(`e_shnum ${shnum} is in the reserved range`, EHDR.shnum);
  }
  return { ...header, shnum, shstrndx };
}

interface RawSection extends Omit<ElfSection, 'name'> {
  readonly nameIndex: number;
}

function readSectionHeader(r: ByteReader, header: ElfHeader, index: number): RawSection {
  const at = header.shoff + index * SHDR64_SIZE;
  const type = r.u32(at + SHDR.type);
  const offset = r.u64(at + SHDR.offset, 'sh_offset');
  const size = r.u64(at + SHDR.size, 'sh_size');
  const hasBytes = type !== SHT_NOBITS && type !== SHT_NULL && index !== 0;
  if (hasBytes && size > 0 && offset + size > r.length) {
    throw new ParseError(
      `section ${index}: contents at ${offset}+${size} run past the end of the ${r.length}-byte file`,
      at + SHDR.offset,
    );
  }
  return {
    index,
    nameIndex: r.u32(at + SHDR.name),
    type,
    flags: r.u64(at + SHDR.flags, 'sh_flags'),
    addr: r.u64(at + SHDR.addr, 'sh_addr'),
    offset,
    size,
    link: r.u32(at + SHDR.link),
    info: r.u32(at + SHDR.info),
    addralign: r.u64(at + SHDR.addralign, 'sh_addralign'),
    entsize: r.u64(at + SHDR.entsize, 'sh_entsize'),
    data: hasBytes && size > 0 ? r.slice(offset, size, `section ${index}`) : new Uint8Array(0),
    headerOffset: at,
  };
}

/** Reads every section header and names the sections from the e_shstrndx string table. */
export function readSections(r: ByteReader, header: ElfHeader): ElfSection[] {
  const raw: RawSection[] = [];
  for (let i = 0; i < header.shnum; i++) raw.push(readSectionHeader(r, header, i));
  const names = header.shstrndx === 0 ? new Uint8Array(0) : raw[header.shstrndx]!.data;
  return raw.map(({ nameIndex, ...s }) => ({
    ...s,
    name: nameIndex === 0 && names.length === 0 ? '' : readString(names, nameIndex, s.headerOffset + SHDR.name, `section ${s.index} name`),
  }));
}
