/** The ELF64 file header (Elf64_Ehdr). */
import { ParseError } from '../errors.js';
import {
  EHDR64_SIZE, ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB, ELFMAG, EV_CURRENT, SHDR64_SIZE,
} from './constants.js';
import { ByteReader } from './reader.js';

/** The fields of the ELF header that matter to an object reader. */
export interface ElfHeader {
  /** True for ELFDATA2MSB (big-endian, e.g. `-target bpfeb`). */
  readonly bigEndian: boolean;
  /** EI_OSABI. */
  readonly osabi: number;
  /** e_type: ET_REL (1) for a clang-compiled object. */
  readonly type: number;
  /** e_machine: EM_BPF (247) for eBPF. */
  readonly machine: number;
  readonly version: number;
  readonly entry: number;
  readonly flags: number;
  /** File offset of the section header table (e_shoff). */
  readonly shoff: number;
  /** Number of section headers, after extended numbering (e_shnum, or section 0's sh_size). */
  readonly shnum: number;
  /** Index of the section-name string table, after extended numbering. */
  readonly shstrndx: number;
}

/** Offsets of header fields, for error positions. */
export const EHDR = {
  ident: 0, class: 4, data: 5, identVersion: 6, osabi: 7, type: 16, machine: 18, version: 20,
  entry: 24, phoff: 32, shoff: 40, flags: 48, ehsize: 52, phentsize: 54, phnum: 56,
  shentsize: 58, shnum: 60, shstrndx: 62,
} as const;

/**
 * Checks the identification bytes and returns a reader of the right byte order. Throws
 * `ParseError` for anything but a 64-bit ELF file.
 */
export function openElf(bytes: Uint8Array): ByteReader {
  if (bytes.length < EHDR64_SIZE) {
    throw new ParseError(`input of ${bytes.length} bytes is too short for an ELF64 header`, bytes.length);
  }
  ELFMAG.forEach((b, i) => {
    if (bytes[i] !== b) throw new ParseError('not an ELF file (bad magic)', i);
  });
  const cls = bytes[EHDR.class];
  if (cls === ELFCLASS32) throw new ParseError('32-bit ELF is not supported (eBPF objects are ELF64)', EHDR.class);
  if (cls !== ELFCLASS64) throw new ParseError(`invalid ELF class ${cls}`, EHDR.class);
  const data = bytes[EHDR.data];
  if (data !== ELFDATA2LSB && data !== ELFDATA2MSB) throw new ParseError(`invalid ELF data encoding ${data}`, EHDR.data);
  if (bytes[EHDR.identVersion] !== EV_CURRENT) {
    throw new ParseError(`invalid ELF identification version ${bytes[EHDR.identVersion]}`, EHDR.identVersion);
  }
  return new ByteReader(bytes, data === ELFDATA2LSB);
}

/** Reads the header fields; section counts are resolved later (extended numbering). */
export function readRawHeader(r: ByteReader): ElfHeader {
  const shoff = r.u64(EHDR.shoff, 'e_shoff');
  const shnum = r.u16(EHDR.shnum, 'e_shnum');
  if ((shnum !== 0 || shoff !== 0) && r.u16(EHDR.shentsize) !== SHDR64_SIZE) {
    throw new ParseError(`e_shentsize is ${r.u16(EHDR.shentsize)}, expected ${SHDR64_SIZE}`, EHDR.shentsize);
  }
  return {
    bigEndian: !r.littleEndian,
    osabi: r.u8(EHDR.osabi),
    type: r.u16(EHDR.type),
    machine: r.u16(EHDR.machine),
    version: r.u32(EHDR.version),
    entry: r.u64(EHDR.entry, 'e_entry'),
    flags: r.u32(EHDR.flags),
    shoff,
    shnum,
    shstrndx: r.u16(EHDR.shstrndx),
  };
}
