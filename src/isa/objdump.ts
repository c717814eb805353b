/**
 * `objdumpListing`: the whole text `llvm-objdump-19 -d` prints for an eBPF object — the file
 * line, `Disassembly of section X:`, `<symbol>:` headers, instructions with branch targets —
 * reproduced byte for byte, so a test can diff it against the real tool.
 *
 * The object comes in as plain data (the shape `parseElf` of src/elf returns satisfies it), so
 * this module needs no ELF code. The section and symbol rules follow llvm-objdump's
 * disassembleObject (llvm/tools/llvm-objdump/llvm-objdump.cpp, LLVM 19): executable non-empty
 * sections in index order; symbols without STT_SECTION/STT_FILE/empty names, sorted by
 * (address, name, type); a dummy `<section>` symbol when none starts the section; the last
 * code symbol at an address names the chunk; runs of >= 8 zero bytes fold into `...`.
 *
 * Known divergence: slots that our strict decoder rejects print as `<unknown>`. LLVM 19 is
 * laxer with malformed code — it ignores fields an opcode does not use (src of K-form ALU
 * and jumps, imm of X-forms, all but imm of `call`/`gotol`, …) and accepts register 11 — so
 * listings of such bytes differ. Code that clang emits is valid and lists identically.
 */
import { decodeInstruction, decodeSlots } from './decode.js';
import {
  branchTarget, formatOrUnknown, hexBytes, targetAnnotation, UNKNOWN_INSTRUCTION,
  type FormatOptions,
} from './disasm.js';
import type { Instruction, RawInstruction } from './instruction.js';

// The few ELF numbers this needs (System V ABI), kept here so src/isa imports nothing else.
const SHT_NOBITS = 8;
const SHF_EXECINSTR = 0x4;
const STT_OBJECT = 1;
const STT_FUNC = 2;
const STT_SECTION = 3;
const STT_FILE = 4;
const STT_COMMON = 5;
const SHN_LORESERVE = 0xff00;
const ET_REL = 1;
const EM_BPF = 247;

/** A section as `objdumpListing` needs it (a subset of src/elf's `ElfSection`). */
export interface ListingSection {
  readonly index: number;
  readonly name: string;
  readonly type: number;
  readonly flags: number;
  readonly addr: number;
  readonly data: Uint8Array;
}

/** A symbol as `objdumpListing` needs it (a subset of src/elf's `ElfSymbol`). */
export interface ListingSymbol {
  readonly name: string;
  readonly value: number;
  readonly type: number;
  /** Section index, or SHN_UNDEF/SHN_ABS/SHN_COMMON. */
  readonly section: number;
}

/** An object file as `objdumpListing` needs it; `parseElf`'s result fits. */
export interface ListingObject {
  readonly header: { readonly bigEndian: boolean; readonly type?: number; readonly machine?: number };
  readonly sections: readonly ListingSection[];
  readonly symbols: readonly ListingSymbol[];
}

/** Options of `objdumpListing`. */
export interface ListingOptions extends FormatOptions {
  /** File name for the first line, as given to llvm-objdump. Default `'a.o'`. */
  fileName?: string;
  /** Print raw instruction bytes (llvm-objdump's default; false = `--no-show-raw-insn`). Default true. */
  rawBytes?: boolean;
}

interface SymbolInfo {
  readonly addr: bigint;
  readonly name: string;
  readonly type: number;
}

/** llvm's SymbolInfoTy ordering for ELF: address, then name (bytewise), then type. */
function compareSymbols(a: SymbolInfo, b: SymbolInfo): number {
  if (a.addr !== b.addr) return a.addr < b.addr ? -1 : 1;
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return a.type - b.type;
}

/** Last symbol with address <= target in a sorted list (llvm's partition_point lookup). */
function symbolAtOrBefore(symbols: readonly SymbolInfo[], target: bigint): SymbolInfo | undefined {
  let found: SymbolInfo | undefined;
  for (const s of symbols) {
    if (s.addr > target) break;
    found = s;
  }
  return found;
}

/** Bytes of a run of zeros llvm-objdump folds into `...` (countSkippableZeroBytes). */
function skippableZeroes(bytes: Uint8Array, from: number, to: number): number {
  let n = 0;
  while (from + n < to && bytes[from + n] === 0) n++;
  return n < 8 ? 0 : n & ~3;
}

/**
 * Decodes at byte `index` of `bytes` as LLVM's BPFDisassembler::getInstruction would:
 * returns the instruction (undefined when LLVM fails) and the bytes it covers.
 */
function decodeAt(bytes: Uint8Array, index: number, bigEndian: boolean): { insn?: Instruction; size: number } {
  const rest = bytes.length - index;
  if (rest < 8) return { size: 1 }; // readInstruction64 fails; llvm-objdump skips one byte
  const slots: RawInstruction[] = decodeSlots(bytes.subarray(index, index + Math.min(16, rest - (rest % 8))), { bigEndian });
  const first = slots[0]!;
  if (first.code === 0x18) {
    // LLVM reads only the immediate of lddw's second slot and does not check its other fields.
    if (rest < 16) return { size: 1 };
    const second = slots[1]!;
    slots[1] = { code: 0, dst: 0, src: 0, off: 0, imm: second.imm };
  }
  try {
    const insn = decodeInstruction(slots, 0);
    return { insn, size: insn.kind === 'lddw' ? 16 : 8 };
  } catch {
    return { size: 8 };
  }
}

/** llvm-objdump's dumpELFData: a chunk headed only by data symbols, as hex and ASCII. */
function dumpData(out: string[], sectionAddr: bigint, bytes: Uint8Array, start: number, end: number): void {
  for (let i = start; i < end; i += 8) {
    const chunk = bytes.subarray(i, Math.min(i + 8, end));
    const hex = Array.from(chunk, (b) => ` ${b.toString(16).padStart(2, '0')}`).join('');
    const ascii = Array.from(chunk, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    out.push(`${(sectionAddr + BigInt(i)).toString(16).padStart(8)}:${hex}${' '.repeat(3 * (8 - chunk.length))}         ${ascii}\n`);
  }
}

/**
 * The exact text of `llvm-objdump-19 -d FILE` (add `rawBytes: false` for
 * `--no-show-raw-insn`) for an eBPF object.
 *
 * @example
 * const text = objdumpListing(parseElf(bytes), { fileName: 'xdp_parse.o' });
 */
export function objdumpListing(object: ListingObject, options: ListingOptions = {}): string {
  const { bigEndian } = object.header;
  const rawBytes = options.rawBytes ?? true;
  const isRel = (object.header.type ?? ET_REL) === ET_REL;
  const format = (object.header.machine ?? EM_BPF) === EM_BPF ? 'elf64-bpf' : 'elf64-unknown';
  const out: string[] = [`\n${options.fileName ?? 'a.o'}:\tfile format ${format}\n`];

  // Symbols by section, as llvm-objdump collects them: no empty names, no STT_SECTION/STT_FILE.
  const bySection = new Map<number, SymbolInfo[]>();
  const absolute: SymbolInfo[] = [];
  for (const [i, sym] of object.symbols.entries()) {
    if (i === 0 || sym.name === '' || sym.type === STT_SECTION || sym.type === STT_FILE) continue;
    const inSection = sym.section !== 0 && sym.section < SHN_LORESERVE;
    const section = inSection ? object.sections[sym.section] : undefined;
    const addr = BigInt(sym.value) + (section !== undefined && isRel ? BigInt(section.addr) : 0n);
    const info = { addr, name: sym.name, type: sym.type };
    if (section === undefined) absolute.push(info);
    else bySection.set(sym.section, [...(bySection.get(sym.section) ?? []), info]);
  }
  absolute.sort(compareSymbols);

  for (const section of object.sections) {
    if ((section.flags & SHF_EXECINSTR) === 0 || section.type === SHT_NOBITS || section.data.length === 0) continue;
    const bytes = section.data;
    const sectionAddr = BigInt(section.addr);
    const symbols = [...(bySection.get(section.index) ?? [])].sort(compareSymbols);
    if (symbols.length === 0 || symbols[0]!.addr !== sectionAddr) {
      const dummy = { addr: sectionAddr, name: section.name, type: STT_FUNC };
      const at = symbols.findIndex((s) => compareSymbols(s, dummy) >= 0);
      symbols.splice(at < 0 ? symbols.length : at, 0, dummy);
    }
    let printedSection = false;
    for (let si = 0; si < symbols.length;) {
      const start = symbols[si]!.addr;
      const here: SymbolInfo[] = [];
      while (si < symbols.length && symbols[si]!.addr === start) here.push(symbols[si++]!);
      // The displayed symbol is the last code symbol here; only data symbols → dump as data.
      let display = here.length - 1;
      let asData = true;
      here.forEach((s, i) => {
        if (s.type !== STT_OBJECT && s.type !== STT_COMMON) { asData = false; display = i; }
      });
      if (start < sectionAddr) continue;
      let end = sectionAddr + BigInt(bytes.length);
      if (si < symbols.length && symbols[si]!.addr < end) end = symbols[si]!.addr;
      if (start >= end) continue;
      if (!printedSection) {
        out.push(`\nDisassembly of section ${section.name}:\n`);
        printedSection = true;
      }
      out.push(`\n${start.toString(16).padStart(16, '0')} <${here[display]!.name}>:\n`);
      const from = Number(start - sectionAddr);
      const to = Number(end - sectionAddr);
      if (asData) {
        dumpData(out, sectionAddr, bytes, from, to);
        continue;
      }
      for (let index = from; index < to;) {
        const zeroes = skippableZeroes(bytes, index, to);
        if (zeroes > 0) {
          out.push('\t\t...\n');
          index += zeroes;
          continue;
        }
        const { insn, size } = decodeAt(bytes, index, bigEndian);
        const address = sectionAddr + BigInt(index);
        let line = `${(address / 8n).toString().padStart(8)}:`;
        if (rawBytes) line += `\t${hexBytes(bytes.subarray(index, index + size))}`;
        const text = insn === undefined ? undefined : formatOrUnknown(insn, options);
        line += `\t${text ?? UNKNOWN_INSTRUCTION}`;
        if (insn !== undefined && text !== undefined) {
          const target = branchTarget(insn, address);
          if (target !== undefined) {
            const sym = symbolAtOrBefore(symbols, target) ?? symbolAtOrBefore(absolute, target);
            if (sym !== undefined) line += targetAnnotation(target, sym.name, sym.addr);
          }
        }
        out.push(`${line}\n`);
        index += size;
      }
    }
  }
  return out.join('');
}
