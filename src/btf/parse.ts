/**
 * `parseBtf`: raw BTF (a `.BTF` section, /sys/kernel/btf/vmlinux, a module's split BTF) into
 * a `Btf`. Checks what libbpf's btf__new checks (kernel: btf.c btf_parse_hdr/str_sec/type_sec):
 * the header and section layout, every string offset, every kind's size and every referenced
 * type id. Anything wrong is a `ParseError` with the byte offset of the bad field.
 */
import { ParseError } from '../errors.js';
import { Btf, BtfError } from './btf.js';
import { BtfStrings } from './strings.js';
import type { BtfEnumValue, BtfMember, BtfParam, BtfType, BtfVarSecinfo } from './types.js';
import { BtfKind } from './types.js';
import { BTF_HDR, BTF_HEADER_SIZE, BTF_MAGIC, BTF_VERSION } from './wire.js';
import { HOST_LE, swapWords } from './_words.js';

/** Options of `parseBtf`. */
export interface ParseBtfOptions {
  /** The base BTF of a split BTF (vmlinux under a module's BTF); must itself come from parseBtf. */
  base?: Btf;
}

/** The fields of a `struct btf_header`. */
export interface BtfHeader {
  readonly bigEndian: boolean;
  readonly version: number;
  readonly flags: number;
  readonly hdrLen: number;
  readonly typeOff: number;
  readonly typeLen: number;
  readonly strOff: number;
  readonly strLen: number;
}

/** True when `bytes` start with the BTF magic in either byte order. */
export function isRawBtf(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && ((bytes[0] === 0x9f && bytes[1] === 0xeb) || (bytes[0] === 0xeb && bytes[1] === 0x9f));
}

/**
 * Reads and checks the header of raw BTF: magic (either byte order), version, hdr_len, and
 * that the type and string sections lie inside the input, in that order, the type section
 * 4-byte aligned.
 */
export function readBtfHeader(bytes: Uint8Array): BtfHeader {
  if (bytes.length < BTF_HEADER_SIZE) {
    throw new ParseError(`input of ${bytes.length} bytes is too short for a BTF header`, bytes.length);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint16(0, true);
  let le: boolean;
  if (magic === BTF_MAGIC) le = true;
  else if (magic === ((BTF_MAGIC >> 8) | ((BTF_MAGIC & 0xff) << 8))) le = false;
  else throw new ParseError(`not BTF (bad magic 0x${magic.toString(16).padStart(4, '0')})`, BTF_HDR.magic);
  const version = bytes[BTF_HDR.version]!;
  if (version !== BTF_VERSION) throw new ParseError(`unsupported BTF version ${version}`, BTF_HDR.version);
  const u32 = (at: number): number => view.getUint32(at, le);
  const hdrLen = u32(BTF_HDR.hdrLen);
  if (hdrLen < BTF_HEADER_SIZE) throw new ParseError(`BTF hdr_len ${hdrLen} is shorter than the ${BTF_HEADER_SIZE}-byte header`, BTF_HDR.hdrLen);
  if (hdrLen > bytes.length) throw new ParseError(`BTF hdr_len ${hdrLen} runs past the end of the ${bytes.length}-byte input`, BTF_HDR.hdrLen);
  const header: BtfHeader = {
    bigEndian: !le, version, flags: bytes[BTF_HDR.flags]!, hdrLen,
    typeOff: u32(BTF_HDR.typeOff), typeLen: u32(BTF_HDR.typeLen), strOff: u32(BTF_HDR.strOff), strLen: u32(BTF_HDR.strLen),
  };
  if (header.typeLen % 4 !== 0) throw new ParseError(`BTF type section length ${header.typeLen} is not a multiple of 4`, BTF_HDR.typeLen);
  const room = bytes.length - hdrLen;
  if (header.typeOff + header.typeLen > room) {
    throw new ParseError(`BTF type section ${header.typeOff}+${header.typeLen} runs past the end of the input (${room} bytes after the header)`, BTF_HDR.typeOff);
  }
  if (header.strOff + header.strLen > room) {
    throw new ParseError(`BTF string section ${header.strOff}+${header.strLen} runs past the end of the input (${room} bytes after the header)`, BTF_HDR.strOff);
  }
  // libbpf: "Invalid BTF data sections layout" — types first, strings after them.
  if (header.typeOff + header.typeLen > header.strOff) {
    throw new ParseError(`BTF type section ${header.typeOff}+${header.typeLen} overlaps or follows the string section at ${header.strOff}`, BTF_HDR.typeOff);
  }
  if (header.typeOff % 4 !== 0) throw new ParseError(`BTF type section offset ${header.typeOff} is not 4-byte aligned`, BTF_HDR.typeOff);
  return header;
}

/**
 * Parses raw BTF of either byte order. For split BTF pass the base (which must come from
 * `parseBtf` too, for its strings): string offsets and type ids then continue the base's.
 * Reference loops are not checked here; `Btf.resolve`/`sizeof` bound their depth. The
 * result's `strings` is a view into `bytes`: do not modify them afterwards.
 *
 * What the model does not keep (so `serializeBtf` writes it as zero): bits of a type's info
 * word that its kind does not use (vlen of a PTR, the kind flag of an INT, bits 16-23 and
 * 29-30), reserved bits of an INT's encoding word, the size/type field of ARRAY and FWD, and
 * the header's flags and any bytes of a longer header. clang and the kernel set none of these.
 *
 * @example
 * const vmlinux = parseBtf(readFileSync('/sys/kernel/btf/vmlinux'));
 * const task = vmlinux.findByName('task_struct', 'struct')[0];
 */
export function parseBtf(bytes: Uint8Array, options: ParseBtfOptions = {}): Btf {
  try {
    return parse(bytes, options.base);
  } catch (err) {
    if (err instanceof ParseError || err instanceof BtfError) throw err;
    // Defence in depth: any other failure on hostile input still surfaces as a ParseError.
    throw new ParseError(`malformed BTF: ${err instanceof Error ? err.message : String(err)}`, 0, { cause: err });
  }
}

/** The sections of an ELF file, as far as btfFromElf needs them (src/elf's ElfFile fits). */
export interface ElfSectionsLike {
  readonly sections: readonly { readonly name: string; readonly offset: number; readonly data: Uint8Array }[];
}

/**
 * The BTF in the `.BTF` section of an ELF object, or undefined when it has none. Error
 * offsets are file offsets.
 */
export function btfFromElf(elf: ElfSectionsLike, options: ParseBtfOptions = {}): Btf | undefined {
  const section = elf.sections.find((s) => s.name === '.BTF');
  if (section === undefined) return undefined;
  try {
    return parseBtf(section.data, options);
  } catch (err) {
    throw relocateParseError(err, 'section .BTF', section.offset);
  }
}

/** Re-bases a ParseError's offset by `delta` and prefixes its message with `context`. */
export function relocateParseError(err: unknown, context: string, delta: number): unknown {
  if (!(err instanceof ParseError)) return err;
  const message = err.message.replace(/ \(at byte offset \d+\)$/, '');
  return new ParseError(`${context}: ${message}`, delta + err.offset, { cause: err });
}

function parse(bytes: Uint8Array, base: Btf | undefined): Btf {
  const header = readBtfHeader(bytes);
  const strStart = header.hdrLen + header.strOff;
  const strEnd = strStart + header.strLen;
  if (base !== undefined && base.strings === undefined) {
    throw new BtfError('the base of a split BTF must come from parseBtf (its string section is needed)');
  }
  if (base === undefined) {
    if (header.strLen === 0) throw new ParseError('BTF string section is empty', BTF_HDR.strLen);
    if (bytes[strStart] !== 0) throw new ParseError('BTF string section does not start with the empty string', strStart);
  }
  if (header.strLen > 0 && bytes[strEnd - 1] !== 0) {
    throw new ParseError('BTF string section does not end with a NUL byte', strEnd - 1);
  }
  const strings = new BtfStrings(bytes.subarray(strStart, strEnd), base?.strings);
  const start = header.hdrLen + header.typeOff;
  const types = readTypes(words(bytes, start, header.typeLen, header.bigEndian), start, strings, base);
  return new Btf(types, { base, bigEndian: header.bigEndian, strings });
}

/**
 * The type section as host-order u32 words (a copy: aligned, swapped when the data's byte
 * order is not the host's). Indexing a Uint32Array is much faster than DataView calls before
 * the JIT has warmed up, which for a one-shot parse of vmlinux is most of the time.
 */
function words(bytes: Uint8Array, start: number, length: number, bigEndian: boolean): Uint32Array {
  // Copy into a fresh buffer: `bytes.slice` of a Node Buffer is a view, not a copy.
  const copy = new Uint8Array(length);
  copy.set(bytes.subarray(start, start + length));
  const w = new Uint32Array(copy.buffer);
  if (bigEndian === HOST_LE) swapWords(w);
  return w;
}

/**
 * Decodes the type section `w` (word i is at byte `start + 4 * i` of the input, for error
 * offsets). A base BTF's result starts with void (id 0), so Btf need not copy the array.
 */
function readTypes(w: Uint32Array, start: number, strings: BtfStrings, base: Btf | undefined): BtfType[] {
  const types: BtfType[] = base === undefined ? [{ kind: 'void', name: '' }] : [];
  const firstOwnId = base?.length ?? 0;
  const end = w.length;
  const name = (i: number): string => {
    const s = strings.lookup(w[i]!);
    if (s === undefined) throw new ParseError(`name offset ${w[i]} is outside the BTF string section (${strings.end} bytes)`, start + 4 * i);
    return s;
  };
  let maxRef = 0;
  let maxRefAt = 0;
  const ref = (i: number): number => {
    const id = w[i]!;
    if (id > maxRef) { maxRef = id; maxRefAt = i; }
    return id;
  };

  let i = 0;
  while (i < end) {
    if (i + 3 > end) throw new ParseError(`BTF type ${firstOwnId + types.length} is truncated`, start + 4 * i);
    const info = w[i + 1]!;
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const kflag = info >>> 31 === 1;
    const body = i + 3;
    const next = body + bodyWords(kind, vlen);
    if (next > end) {
      throw new ParseError(`BTF type ${firstOwnId + types.length} (kind ${kind}, vlen ${vlen}) runs past the end of the type section`, start + 4 * (i + 1));
    }
    let t: BtfType;
    switch (kind) {
      case BtfKind.INT: {
        const word = w[body]!;
        t = { kind: 'int', name: name(i), size: w[i + 2]!, encoding: (word >>> 24) & 0x0f, offset: (word >>> 16) & 0xff, bits: word & 0xff };
        break;
      }
      case BtfKind.PTR:
        t = { kind: 'ptr', name: name(i), type: ref(i + 2) };
        break;
      case BtfKind.TYPEDEF: case BtfKind.VOLATILE: case BtfKind.CONST: case BtfKind.RESTRICT:
        t = { kind: REF_KINDS[kind]!, name: name(i), type: ref(i + 2) };
        break;
      case BtfKind.TYPE_TAG:
        t = kflag ? { kind: 'type_tag', name: name(i), type: ref(i + 2), attribute: true } : { kind: 'type_tag', name: name(i), type: ref(i + 2) };
        break;
      case BtfKind.ARRAY:
        t = { kind: 'array', name: name(i), type: ref(body), indexType: ref(body + 1), nelems: w[body + 2]! };
        break;
      case BtfKind.STRUCT: case BtfKind.UNION: {
        const members: BtfMember[] = new Array(vlen);
        for (let k = 0, m = body; k < vlen; k++, m += 3) {
          const offset = w[m + 2]!;
          members[k] = kflag
            ? { name: name(m), type: ref(m + 1), bitOffset: offset & 0xffffff, bitfieldSize: offset >>> 24 }
            : { name: name(m), type: ref(m + 1), bitOffset: offset, bitfieldSize: 0 };
        }
        t = { kind: kind === BtfKind.STRUCT ? 'struct' : 'union', name: name(i), size: w[i + 2]!, kindFlag: kflag, members };
        break;
      }
      case BtfKind.ENUM: {
        const values: BtfEnumValue[] = new Array(vlen);
        for (let k = 0, v = body; k < vlen; k++, v += 2) values[k] = { name: name(v), value: kflag ? w[v + 1]! | 0 : w[v + 1]! };
        t = { kind: 'enum', name: name(i), size: w[i + 2]!, signed: kflag, values };
        break;
      }
      case BtfKind.ENUM64: {
        const values: BtfEnumValue[] = new Array(vlen);
        for (let k = 0, v = body; k < vlen; k++, v += 3) {
          const u = (BigInt(w[v + 2]!) << 32n) | BigInt(w[v + 1]!);
          values[k] = { name: name(v), value: kflag ? BigInt.asIntN(64, u) : u };
        }
        t = { kind: 'enum64', name: name(i), size: w[i + 2]!, signed: kflag, values };
        break;
      }
      case BtfKind.FWD:
        t = { kind: 'fwd', name: name(i), union: kflag };
        break;
      case BtfKind.FUNC:
        t = { kind: 'func', name: name(i), type: ref(i + 2), linkage: vlen };
        break;
      case BtfKind.FUNC_PROTO: {
        const params: BtfParam[] = new Array(vlen);
        for (let k = 0, p = body; k < vlen; k++, p += 2) params[k] = { name: name(p), type: ref(p + 1) };
        t = { kind: 'func_proto', name: name(i), returnType: ref(i + 2), params };
        break;
      }
      case BtfKind.VAR:
        t = { kind: 'var', name: name(i), type: ref(i + 2), linkage: w[body]! };
        break;
      case BtfKind.DATASEC: {
        const vars: BtfVarSecinfo[] = new Array(vlen);
        for (let k = 0, v = body; k < vlen; k++, v += 3) vars[k] = { type: ref(v), offset: w[v + 1]!, size: w[v + 2]! };
        t = { kind: 'datasec', name: name(i), size: w[i + 2]!, vars };
        break;
      }
      case BtfKind.FLOAT:
        t = { kind: 'float', name: name(i), size: w[i + 2]! };
        break;
      case BtfKind.DECL_TAG:
        t = kflag
          ? { kind: 'decl_tag', name: name(i), type: ref(i + 2), componentIdx: w[body]! | 0, attribute: true }
          : { kind: 'decl_tag', name: name(i), type: ref(i + 2), componentIdx: w[body]! | 0 };
        break;
      default:
        throw new ParseError(`BTF type ${firstOwnId + types.length} has unknown kind ${kind}`, start + 4 * (i + 1));
    }
    types.push(t);
    i = next;
  }

  const count = firstOwnId + types.length;
  if (maxRef >= count) {
    throw new ParseError(`BTF type id ${maxRef} is out of range (there are ${count} types)`, start + 4 * maxRefAt);
  }
  return types;
}

/** Words after the 12-byte `struct btf_type` for a kind (0 for an unknown kind, which the caller rejects). */
function bodyWords(kind: number, vlen: number): number {
  switch (kind) {
    case BtfKind.INT: case BtfKind.VAR: case BtfKind.DECL_TAG: return 1;
    case BtfKind.ARRAY: return 3;
    case BtfKind.STRUCT: case BtfKind.UNION: case BtfKind.DATASEC: case BtfKind.ENUM64: return 3 * vlen;
    case BtfKind.ENUM: case BtfKind.FUNC_PROTO: return 2 * vlen;
    default: return 0;
  }
}

const REF_KINDS: Partial<Record<number, 'typedef' | 'volatile' | 'const' | 'restrict'>> = {
  [BtfKind.TYPEDEF]: 'typedef',
  [BtfKind.VOLATILE]: 'volatile',
  [BtfKind.CONST]: 'const',
  [BtfKind.RESTRICT]: 'restrict',
};
