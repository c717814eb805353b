/**
 * Where a function of an executable or shared library is in its file, for uprobes: the
 * symbol's address from `.symtab` (or `.dynsym` of a stripped binary), turned into a file
 * offset through the section that holds it (offset = st_value − sh_addr + sh_offset), which is
 * what the uprobe interfaces take.
 */
import { readFileSync } from 'node:fs';
import { SHN_LORESERVE, SHT_DYNSYM, SHT_NOBITS, SHT_SYMTAB } from '../../elf/constants.js';
import { openElf, readRawHeader } from '../../elf/header.js';
import { readSections, resolveSectionCounts, type ElfSection } from '../../elf/sections.js';
import { readSymbols, type ElfSymbol } from '../../elf/symbols.js';
import { EbpfError } from '../../errors.js';

/** STT_FUNC and STT_GNU_IFUNC: symbols a uprobe can be placed on. */
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;

/** A function symbol of an ELF file. */
export interface ElfFunctionSymbol {
  readonly name: string;
  /** st_value: its virtual address in the file's own address space. */
  readonly address: number;
  readonly size: number;
  /** Its offset in the file: what a uprobe is placed at. */
  readonly offset: number;
}

/** No such function in the file. */
export class ElfSymbolNotFoundError extends EbpfError {
  override name = 'ElfSymbolNotFoundError';
  readonly code = 'ENOENT';
}

/**
 * Finds function `symbol` in the ELF file at `path` (or in `bytes`), in `.symtab` first,
 * then `.dynsym`. A symbol with a version suffix (`malloc@@GLIBC_2.2.5`) matches its bare name.
 */
export function resolveElfFunction(path: string, symbol: string, bytes: Uint8Array = readFileSync(path)): ElfFunctionSymbol {
  // Sections and symbol tables only: an executable's dynamic relocations link to .dynsym,
  // which parseElf (made for relocatable objects) does not accept.
  let sections: ElfSection[];
  const tables: ElfSymbol[][] = [];
  try {
    const r = openElf(bytes);
    sections = readSections(r, resolveSectionCounts(r, readRawHeader(r)));
    for (const type of [SHT_SYMTAB, SHT_DYNSYM]) {
      const table = sections.find((s) => s.type === type);
      if (table !== undefined) tables.push(readSymbols(r, sections, table));
    }
  } catch (err) {
    throw EbpfError.wrap(`read symbols of '${path}'`, err);
  }
  for (const symbols of tables) {
    const found = symbols.find((s) => (s.type === STT_FUNC || s.type === STT_GNU_IFUNC) && s.section !== 0 &&
      s.section < SHN_LORESERVE && (s.name === symbol || s.name.split('@')[0] === symbol));
    if (found === undefined) continue;
    const section = sections[found.section];
    if (section === undefined || section.type === SHT_NOBITS) continue;
    if (found.value < section.addr || found.value >= section.addr + section.size) {
      throw new EbpfError(`'${path}': symbol '${symbol}' at 0x${found.value.toString(16)} is outside its section ${section.name}`);
    }
    return { name: found.name, address: found.value, size: found.size, offset: found.value - section.addr + section.offset };
  }
  throw new ElfSymbolNotFoundError(`'${path}' has no function symbol '${symbol}'`);
}
