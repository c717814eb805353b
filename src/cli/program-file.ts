/**
 * Reads a program for the CLI from raw bytecode, assembly text (either syntax) or a section
 * of an ELF object. Platform-neutral: the caller reads the file.
 */
import { NotSupportedError, ParseError } from '../errors.js';
import { type ElfFile, findSection, parseElf, relocationsFor, SHF_EXECINSTR, SHT_PROGBITS, R_BPF_64_32 } from '../elf/index.js';
import { assemble } from '../isa/asm.js';
import { assembleConformance } from '../isa/conformance-asm.js';
import { decodeProgram } from '../isa/decode.js';
import type { Instruction } from '../isa/instruction.js';
import { UsageError } from './command.js';

export type Syntax = 'llvm' | 'conformance';

/** True when `bytes` start with the ELF magic. */
export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

/** Assembly files are recognised by extension. */
export function isAssemblyPath(path: string): boolean {
  return /\.(s|asm)$/i.test(path);
}

/** The assembly syntax of `text`: the conformance syntax writes registers as `%rN`. */
export function detectSyntax(text: string): Syntax {
  return /%r\d/.test(text) ? 'conformance' : 'llvm';
}

/** Assembles `text` in the given (or detected) syntax. */
export function assembleText(text: string, syntax: Syntax = detectSyntax(text)): Instruction[] {
  return syntax === 'conformance' ? assembleConformance(text) : assemble(text);
}

/** Executable sections of an ELF object that hold code (what llvm-objdump -d lists). */
export function codeSections(elf: ElfFile): ElfFile['sections'] {
  return elf.sections.filter((s) => s.type === SHT_PROGBITS && (s.flags & SHF_EXECINSTR) !== 0 && s.size > 0);
}

/**
 * The program in `section` (or the first code section) of an ELF object. Sections that
 * need relocating (map references, calls into other sections) are refused: running those
 * needs the object loader, not a single section.
 */
export function programFromElf(bytes: Uint8Array, section?: string): Instruction[] {
  const elf = parseElf(bytes);
  const code = codeSections(elf);
  const chosen = section === undefined ? code[0] : findSection(elf, section);
  if (chosen === undefined) {
    throw new UsageError(section === undefined ? 'the object has no code section'
      : `no section '${section}' (code sections: ${code.map((s) => s.name).join(', ') || 'none'})`);
  }
  const foreign = relocationsFor(elf, chosen.index).filter((r) => {
    const sym = elf.symbols[r.symbol];
    return !(r.type === R_BPF_64_32 && sym !== undefined && sym.section === chosen.index);
  });
  if (foreign.length > 0) {
    const first = foreign[0]!;
    const name = elf.symbols[first.symbol]?.name || `symbol ${first.symbol}`;
    throw new NotSupportedError(
      `section '${chosen.name}' has ${foreign.length} relocation(s) (first: '${name}' at byte ${first.offset}); ` +
      'it references maps, globals or other sections and cannot run on its own');
  }
  return decodeProgram(chosen.data, { bigEndian: elf.header.bigEndian });
}

/** Loads a program from a file's bytes, by its kind: ELF, assembly (by extension) or raw slots. */
export function loadProgramFile(path: string, bytes: Uint8Array, options: { section?: string; syntax?: Syntax } = {}): Instruction[] {
  if (isElf(bytes)) return programFromElf(bytes, options.section);
  if (options.section !== undefined) throw new UsageError('--section applies to ELF objects only');
  if (isAssemblyPath(path) || options.syntax !== undefined) {
    return assembleText(new TextDecoder().decode(bytes), options.syntax);
  }
  if (bytes.length % 8 !== 0) {
    throw new ParseError(`${path}: raw bytecode must be a multiple of 8 bytes, got ${bytes.length}`, bytes.length);
  }
  return decodeProgram(bytes);
}
