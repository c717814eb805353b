/**
 * `.BTF.ext`: the per-instruction debug data clang writes beside `.BTF` — function info
 * (which BTF FUNC starts at which instruction), line info (source file, line text, line and
 * column) and CO-RE relocations — each grouped by the ELF section of the instructions
 * (kernel: include/uapi/linux/bpf.h bpf_func_info/bpf_line_info/bpf_core_relo; libbpf:
 * btf.c btf_ext_parse_hdr, btf_ext_setup_info). Strings are offsets into the `.BTF` string
 * section, so parsing needs the parsed `Btf`.
 */
import { ParseError } from '../errors.js';
import { type Btf, BtfError } from './btf.js';
import { relocateParseError, type ElfSectionsLike } from './parse.js';
import type { BtfStrings } from './strings.js';
import {
  BTF_EXT_HDR, BTF_EXT_HEADER_MIN_SIZE, BTF_EXT_HEADER_SIZE, BTF_MAGIC, BTF_VERSION, CORE_RELO_SIZE,
  EXT_INFO_SEC_SIZE, FUNC_INFO_SIZE, LINE_COL_MASK, LINE_COL_SHIFT, LINE_INFO_SIZE,
} from './wire.js';

/**
 * Offsets of instructions in `.BTF.ext` records (`insnOff`) are kept as stored in the ELF
 * object: **bytes** from the start of the record group's section (instruction index × 8).
 * libbpf divides them by 8 when loading, as the kernel's BPF_PROG_LOAD wants instruction
 * indexes.
 */

/** `struct bpf_func_info`: the BTF FUNC of the function starting at `insnOff`. */
export interface BtfExtFuncInfo {
  /** Byte offset of the function's first instruction in its section. */
  readonly insnOff: number;
  /** Id of the FUNC type in `.BTF`. */
  readonly typeId: number;
}

/** `struct bpf_line_info`: the source position of the instruction at `insnOff`. */
export interface BtfExtLineInfo {
  /** Byte offset of the instruction in its section. */
  readonly insnOff: number;
  /** Source file name (`file_name_off`). */
  readonly fileName: string;
  /** Text of the source line (`line_off`), '' when not recorded. */
  readonly line: string;
  /** 1-based line number (`line_col >> 10`). */
  readonly lineNumber: number;
  /** 1-based column, 0 when unknown (`line_col & 0x3ff`). */
  readonly column: number;
}

/**
 * `struct bpf_core_relo`: one CO-RE relocation. Structurally a `CoreRelocation` of core.ts,
 * so the records can be handed to `applyCoreRelocations` (after making `insnOff` relative
 * to the program).
 */
export interface BtfExtCoreRelo {
  /** Byte offset of the relocated instruction in its section. */
  readonly insnOff: number;
  /** Root type id in `.BTF`. */
  readonly typeId: number;
  /** Access string: `0:1:2` for fields, `0` for types, the enumerator index for enum values. */
  readonly accessStr: string;
  /** `CoreRelocationKind` (kernel enum bpf_core_relo_kind): FIELD_BYTE_OFFSET = 0 … TYPE_MATCHES = 12. */
  readonly kind: number;
}

/**
 * A parsed `.BTF.ext`, records grouped by section name in file order. Two groups of one
 * section name (which clang never writes) are merged into one.
 */
export interface BtfExt {
  /** Byte order the section was read in (and is written in by default). */
  readonly bigEndian: boolean;
  readonly funcInfo: ReadonlyMap<string, readonly BtfExtFuncInfo[]>;
  readonly lineInfo: ReadonlyMap<string, readonly BtfExtLineInfo[]>;
  readonly coreRelos: ReadonlyMap<string, readonly BtfExtCoreRelo[]>;
}

/** Reads one record of a group; `at` is its byte offset, `str` resolves a string field. */
type RecordReader<R> = (view: DataView, at: number, le: boolean, str: (at: number) => string) => R;

const readFuncInfo: RecordReader<BtfExtFuncInfo> = (view, at, le) => ({
  insnOff: view.getUint32(at, le), typeId: view.getUint32(at + 4, le),
});

const readLineInfo: RecordReader<BtfExtLineInfo> = (view, at, le, str) => {
  const lineCol = view.getUint32(at + 12, le);
  return {
    insnOff: view.getUint32(at, le), fileName: str(at + 4), line: str(at + 8),
    lineNumber: lineCol >>> LINE_COL_SHIFT, column: lineCol & LINE_COL_MASK,
  };
};

const readCoreRelo: RecordReader<BtfExtCoreRelo> = (view, at, le, str) => ({
  insnOff: view.getUint32(at, le), typeId: view.getUint32(at + 4, le), accessStr: str(at + 8), kind: view.getUint32(at + 12, le),
});

/**
 * Parses `.BTF.ext` of either byte order. `btf` is the object's parsed `.BTF` (its string
 * section names the sections, files, lines and access strings). Record sizes larger than the
 * known ones (a newer format) are accepted and the extra bytes skipped, as libbpf does; a
 * longer header is accepted and its extra fields ignored. Bad input is a ParseError with the
 * byte offset in `bytes`.
 *
 * @example
 * const ext = parseBtfExt(findSection(elf, '.BTF.ext')!.data, btf);
 * for (const [section, lines] of ext.lineInfo) console.log(section, lines[0]?.line);
 */
export function parseBtfExt(bytes: Uint8Array, btf: Btf): BtfExt {
  const strings = btf.strings;
  if (strings === undefined) throw new BtfError('.BTF.ext needs a Btf from parseBtf (its string section)');
  try {
    return parse(bytes, strings);
  } catch (err) {
    if (err instanceof ParseError || err instanceof BtfError) throw err;
    throw new ParseError(`malformed .BTF.ext: ${err instanceof Error ? err.message : String(err)}`, 0, { cause: err });
  }
}

/** The `.BTF.ext` of an ELF object, or undefined when it has none. Error offsets are file offsets. */
export function btfExtFromElf(elf: ElfSectionsLike, btf: Btf): BtfExt | undefined {
  const section = elf.sections.find((s) => s.name === '.BTF.ext');
  if (section === undefined) return undefined;
  try {
    return parseBtfExt(section.data, btf);
  } catch (err) {
    throw relocateParseError(err, 'section .BTF.ext', section.offset);
  }
}

function parse(bytes: Uint8Array, strings: BtfStrings): BtfExt {
  if (bytes.length < 8) throw new ParseError(`input of ${bytes.length} bytes is too short for a .BTF.ext header`, bytes.length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint16(0, true);
  let le: boolean;
  if (magic === BTF_MAGIC) le = true;
  else if (magic === ((BTF_MAGIC >> 8) | ((BTF_MAGIC & 0xff) << 8))) le = false;
  else throw new ParseError(`not .BTF.ext (bad magic 0x${magic.toString(16).padStart(4, '0')})`, BTF_EXT_HDR.magic);
  if (bytes[BTF_EXT_HDR.version] !== BTF_VERSION) {
    throw new ParseError(`unsupported .BTF.ext version ${bytes[BTF_EXT_HDR.version]}`, BTF_EXT_HDR.version);
  }
  if (bytes[BTF_EXT_HDR.flags] !== 0) throw new ParseError(`unsupported .BTF.ext flags 0x${bytes[BTF_EXT_HDR.flags]!.toString(16)}`, BTF_EXT_HDR.flags);
  const hdrLen = view.getUint32(BTF_EXT_HDR.hdrLen, le);
  if (hdrLen > bytes.length) throw new ParseError(`.BTF.ext hdr_len ${hdrLen} runs past the end of the ${bytes.length}-byte input`, BTF_EXT_HDR.hdrLen);
  // libbpf: "BTF.ext header missing func_info, line_info".
  if (hdrLen < BTF_EXT_HEADER_MIN_SIZE) throw new ParseError(`.BTF.ext hdr_len ${hdrLen} is too short for func_info and line_info`, BTF_EXT_HDR.hdrLen);

  const str = (at: number): string => {
    const off = view.getUint32(at, le);
    const s = strings.lookup(off);
    if (s === undefined) throw new ParseError(`string offset ${off} is outside the BTF string section (${strings.end} bytes)`, at);
    return s;
  };
  const group = <R>(offField: number, what: string, minSize: number, read: RecordReader<R>): Map<string, R[]> => {
    const groups = new Map<string, R[]>();
    const off = view.getUint32(offField, le);
    const len = view.getUint32(offField + 4, le);
    if (len === 0) return groups;
    if (off % 4 !== 0) throw new ParseError(`.BTF.ext ${what} offset ${off} is not 4-byte aligned`, offField);
    const room = bytes.length - hdrLen;
    if (off > room || len > room - off) throw new ParseError(`.BTF.ext ${what} ${off}+${len} runs past the end of the input`, offField);
    let at = hdrLen + off;
    const end = at + len;
    if (len < 4) throw new ParseError(`.BTF.ext ${what} is too short for its record size`, at);
    const recordSize = view.getUint32(at, le);
    if (recordSize < minSize || recordSize % 4 !== 0) {
      throw new ParseError(`.BTF.ext ${what} record size ${recordSize} is invalid (at least ${minSize}, a multiple of 4)`, at);
    }
    at += 4;
    while (at < end) {
      if (end - at < EXT_INFO_SEC_SIZE) throw new ParseError(`.BTF.ext ${what} section header is truncated`, at);
      const section = str(at);
      const count = view.getUint32(at + 4, le);
      if (count === 0) throw new ParseError(`.BTF.ext ${what} of section '${section}' has no records`, at + 4);
      at += EXT_INFO_SEC_SIZE;
      if (count * recordSize > end - at) {
        throw new ParseError(`.BTF.ext ${what} of section '${section}': ${count} records of ${recordSize} bytes run past the end`, at - 4);
      }
      let records = groups.get(section);
      if (records === undefined) groups.set(section, (records = []));
      for (let k = 0; k < count; k++, at += recordSize) records.push(read(view, at, le, str));
    }
    return groups;
  };

  return {
    bigEndian: !le,
    funcInfo: group(BTF_EXT_HDR.funcInfoOff, 'func_info', FUNC_INFO_SIZE, readFuncInfo),
    lineInfo: group(BTF_EXT_HDR.lineInfoOff, 'line_info', LINE_INFO_SIZE, readLineInfo),
    coreRelos: hdrLen >= BTF_EXT_HEADER_SIZE
      ? group(BTF_EXT_HDR.coreReloOff, 'core_relo', CORE_RELO_SIZE, readCoreRelo)
      : new Map(),
  };
}
