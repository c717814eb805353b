/**
 * `serializeBtfExt`: a `BtfExt` back to `.BTF.ext` bytes, laid out as clang lays it out
 * (32-byte header; func_info, line_info, core_relo one after the other, each starting with
 * its record size; an empty kind has offset at the end of the previous one and length 0).
 */
import type { Btf } from './btf.js';
import type { BtfExt } from './ext.js';
import { btfStringTable, serializeBtf, type SerializeBtfOptions } from './serialize.js';
import type { StringTableBuilder } from './strings.js';
import {
  BTF_EXT_HDR, BTF_EXT_HEADER_SIZE, BTF_MAGIC, BTF_VERSION, CORE_RELO_SIZE, FUNC_INFO_SIZE,
  LINE_COL_MASK, LINE_COL_SHIFT, LINE_INFO_SIZE,
} from './wire.js';

/** Options of `serializeBtfExt`. */
export interface SerializeBtfExtOptions {
  /** The string table of the `.BTF` it goes with; names are added to it (write the `.BTF` after). */
  strings: StringTableBuilder;
  /** Byte order; defaults to `ext.bigEndian`. */
  bigEndian?: boolean;
}

/**
 * Encodes `ext`. Its strings go into `options.strings`, so serialize the `.BTF` with that
 * same table afterwards — or use `serializeBtfAndExt`, which does both.
 */
export function serializeBtfExt(ext: BtfExt, options: SerializeBtfExtOptions): Uint8Array {
  const { strings } = options;
  const le = !(options.bigEndian ?? ext.bigEndian);
  const encode = <R>(groups: ReadonlyMap<string, readonly R[]>, recordSize: number, write: (r: R, out: number[]) => void): number[] => {
    const out: number[] = [];
    const nonEmpty = [...groups].filter(([, records]) => records.length > 0);
    if (nonEmpty.length === 0) return out;
    out.push(recordSize);
    for (const [section, records] of nonEmpty) {
      out.push(strings.add(section), records.length);
      for (const r of records) write(r, out);
    }
    return out;
  };
  const funcs = encode(ext.funcInfo, FUNC_INFO_SIZE, (r, out) => { out.push(r.insnOff, r.typeId); });
  const lines = encode(ext.lineInfo, LINE_INFO_SIZE, (r, out) => {
    out.push(r.insnOff, strings.add(r.fileName), strings.add(r.line), ((r.lineNumber << LINE_COL_SHIFT) | (r.column & LINE_COL_MASK)) >>> 0);
  });
  const relos = encode(ext.coreRelos, CORE_RELO_SIZE, (r, out) => { out.push(r.insnOff, r.typeId, strings.add(r.accessStr), r.kind); });
  const parts = [funcs, lines, relos];

  const bodyLen = 4 * (funcs.length + lines.length + relos.length);
  const out = new Uint8Array(BTF_EXT_HEADER_SIZE + bodyLen);
  const view = new DataView(out.buffer);
  view.setUint16(BTF_EXT_HDR.magic, BTF_MAGIC, le);
  out[BTF_EXT_HDR.version] = BTF_VERSION;
  out[BTF_EXT_HDR.flags] = 0;
  view.setUint32(BTF_EXT_HDR.hdrLen, BTF_EXT_HEADER_SIZE, le);
  const fields = [BTF_EXT_HDR.funcInfoOff, BTF_EXT_HDR.lineInfoOff, BTF_EXT_HDR.coreReloOff];
  let off = 0;
  parts.forEach((words, k) => {
    view.setUint32(fields[k]!, off, le);
    view.setUint32(fields[k]! + 4, words.length * 4, le);
    let at = BTF_EXT_HEADER_SIZE + off;
    for (const word of words) { view.setUint32(at, word, le); at += 4; }
    off += words.length * 4;
  });
  return out;
}

/**
 * Encodes a `.BTF` and its `.BTF.ext` with one shared string table (what an ELF object
 * needs). With the default `stringTable: 'reuse'` both come out byte for byte as clang
 * wrote them when nothing was changed.
 */
export function serializeBtfAndExt(btf: Btf, ext: BtfExt, options: SerializeBtfOptions = {}): { btf: Uint8Array; ext: Uint8Array } {
  const strings = options.strings ?? btfStringTable(btf, options);
  const extBytes = serializeBtfExt(ext, { strings, bigEndian: options.bigEndian ?? btf.bigEndian });
  return { btf: serializeBtf(btf, { ...options, strings }), ext: extBytes };
}
