/**
 * `serializeBtf`: a `Btf` back to raw BTF bytes (header, type section, string section), as
 * the kernel's BTF_LOAD and libbpf's btf__new read them.
 *
 * By default the string section the BTF was parsed from is kept byte for byte and new names
 * are appended, so `serializeBtf(parseBtf(x))` is `x` itself for clang's `.BTF` and for
 * /sys/kernel/btf/vmlinux (the tests check this). `stringTable: 'compact'` writes a fresh
 * deduplicated section holding only the names the types use.
 */
import { Btf, BtfError } from './btf.js';
import { BtfStrings, StringTableBuilder } from './strings.js';
import { BtfKind, type BtfType } from './types.js';
import { BTF_HDR, BTF_HEADER_SIZE, BTF_MAGIC, BTF_MAX_VLEN, BTF_VERSION } from './wire.js';
import { HOST_LE, swapWords } from './_words.js';

/** Options of `serializeBtf`. */
export interface SerializeBtfOptions {
  /** Byte order to write; defaults to the order the BTF was read in (`btf.bigEndian`). */
  bigEndian?: boolean;
  /**
   * `'reuse'` (default) starts from the parsed string section, keeping its offsets;
   * `'compact'` writes only the strings the types use, in type order.
   */
  stringTable?: 'reuse' | 'compact';
  /**
   * A string table to add the names to and write out, e.g. one that `.BTF.ext` strings were
   * already added to (see `serializeBtfExt`). Overrides `stringTable`.
   */
  strings?: StringTableBuilder;
}

/**
 * A string table for serializing `btf`: the parsed section (unless `compact`), then every
 * type's names. Use it to add `.BTF.ext` strings before `serializeBtf(btf, { strings })`.
 */
export function btfStringTable(btf: Btf, options: Pick<SerializeBtfOptions, 'stringTable'> = {}): StringTableBuilder {
  const base = btf.base === undefined ? undefined : baseStrings(btf.base);
  const seed = options.stringTable === 'compact' ? undefined : btf.strings;
  const table = new StringTableBuilder({ base, seed: seed?.firstOffset === (base?.end ?? 0) ? seed : undefined });
  addNames(btf, table);
  return table;
}

/**
 * Encodes `btf` (its own types: for split BTF, not the base's) as raw BTF.
 *
 * @example
 * const bytes = serializeBtf(parseBtf(section.data));  // equal to section.data for clang output
 */
export function serializeBtf(btf: Btf, options: SerializeBtfOptions = {}): Uint8Array {
  const strings = options.strings ?? btfStringTable(btf, options);
  if (options.strings !== undefined) addNames(btf, strings);
  const bigEndian = options.bigEndian ?? btf.bigEndian;

  const own = btf.base === undefined ? btf.own.slice(1) : btf.own;
  let typeWords = 0;
  for (const t of own) typeWords += 3 + bodyWords(t);
  const w = new Uint32Array(typeWords);
  let i = 0;
  own.forEach((t, k) => {
    i = writeType(w, i, t, strings, btf.firstId + (btf.base === undefined ? 1 : 0) + k);
  });

  const str = strings.bytes();
  const typeLen = typeWords * 4;
  const out = new Uint8Array(BTF_HEADER_SIZE + typeLen + str.length);
  const view = new DataView(out.buffer);
  const le = !bigEndian;
  view.setUint16(BTF_HDR.magic, BTF_MAGIC, le);
  out[BTF_HDR.version] = BTF_VERSION;
  out[BTF_HDR.flags] = 0;
  view.setUint32(BTF_HDR.hdrLen, BTF_HEADER_SIZE, le);
  view.setUint32(BTF_HDR.typeOff, 0, le);
  view.setUint32(BTF_HDR.typeLen, typeLen, le);
  view.setUint32(BTF_HDR.strOff, typeLen, le);
  view.setUint32(BTF_HDR.strLen, str.length, le);
  const types = new Uint8Array(w.buffer);
  if (bigEndian === HOST_LE) swapWords(w);
  out.set(types, BTF_HEADER_SIZE);
  out.set(str, BTF_HEADER_SIZE + typeLen);
  return out;
}

/** The base's strings: the parsed section, or (for a BTF built in code) the compact table serializeBtf would write. */
function baseStrings(base: Btf): BtfStrings {
  if (base.strings !== undefined) return base.strings;
  const table = btfStringTable(base, { stringTable: 'compact' });
  return new BtfStrings(table.bytes(), base.base === undefined ? undefined : baseStrings(base.base));
}

function addNames(btf: Btf, table: StringTableBuilder): void {
  for (const t of btf.own) {
    table.add(t.name);
    switch (t.kind) {
      case 'struct': case 'union': for (const m of t.members) table.add(m.name); break;
      case 'enum': case 'enum64': for (const v of t.values) table.add(v.name); break;
      case 'func_proto': for (const p of t.params) table.add(p.name); break;
      default: break;
    }
  }
}

/** Words after `struct btf_type` for `t`. */
function bodyWords(t: BtfType): number {
  switch (t.kind) {
    case 'int': case 'var': case 'decl_tag': return 1;
    case 'array': return 3;
    case 'struct': case 'union': return 3 * t.members.length;
    case 'enum': return 2 * t.values.length;
    case 'enum64': return 3 * t.values.length;
    case 'func_proto': return 2 * t.params.length;
    case 'datasec': return 3 * t.vars.length;
    default: return 0;
  }
}

function info(kind: number, vlen: number, kflag: boolean, id: number): number {
  if (!Number.isInteger(vlen) || vlen < 0 || vlen > BTF_MAX_VLEN) throw new BtfError(`BTF type ${id}: vlen ${vlen} does not fit in 16 bits`);
  return ((kflag ? 0x80000000 : 0) | (kind << 24) | vlen) >>> 0;
}

/** Writes `t` at word `i` of `w`; returns the index after it. */
function writeType(w: Uint32Array, i: number, t: BtfType, strings: StringTableBuilder, id: number): number {
  w[i] = strings.add(t.name);
  const body = i + 3;
  switch (t.kind) {
    case 'void':
      throw new BtfError(`BTF type ${id}: void can only be type 0`);
    case 'int':
      w[i + 1] = info(BtfKind.INT, 0, false, id);
      w[i + 2] = t.size;
      w[body] = ((t.encoding & 0x0f) << 24) | ((t.offset & 0xff) << 16) | (t.bits & 0xff);
      return body + 1;
    case 'ptr':
      w[i + 1] = info(BtfKind.PTR, 0, false, id);
      w[i + 2] = t.type;
      return body;
    case 'typedef': case 'volatile': case 'const': case 'restrict': case 'type_tag':
      w[i + 1] = info(REF_KIND[t.kind], 0, t.attribute === true, id);
      w[i + 2] = t.type;
      return body;
    case 'array':
      w[i + 1] = info(BtfKind.ARRAY, 0, false, id);
      w[i + 2] = 0;
      w[body] = t.type;
      w[body + 1] = t.indexType;
      w[body + 2] = t.nelems;
      return body + 3;
    case 'struct': case 'union': {
      // libbpf (btf__add_field) sets the kind flag as soon as one member is a bitfield.
      const kflag = t.kindFlag || t.members.some((m) => m.bitfieldSize !== 0);
      w[i + 1] = info(t.kind === 'struct' ? BtfKind.STRUCT : BtfKind.UNION, t.members.length, kflag, id);
      w[i + 2] = t.size;
      let m = body;
      for (const member of t.members) {
        if (kflag && (member.bitOffset > 0xffffff || member.bitfieldSize > 0xff)) {
          throw new BtfError(`BTF type ${id}: member '${member.name}' bit offset ${member.bitOffset} or size ${member.bitfieldSize} does not fit`);
        }
        w[m] = strings.add(member.name);
        w[m + 1] = member.type;
        w[m + 2] = kflag ? ((member.bitfieldSize << 24) | member.bitOffset) >>> 0 : member.bitOffset;
        m += 3;
      }
      return m;
    }
    case 'enum': {
      w[i + 1] = info(BtfKind.ENUM, t.values.length, t.signed, id);
      w[i + 2] = t.size;
      let v = body;
      for (const value of t.values) {
        w[v] = strings.add(value.name);
        w[v + 1] = typeof value.value === 'bigint' ? Number(BigInt.asUintN(32, value.value)) : value.value >>> 0;
        v += 2;
      }
      return v;
    }
    case 'enum64': {
      w[i + 1] = info(BtfKind.ENUM64, t.values.length, t.signed, id);
      w[i + 2] = t.size;
      let v = body;
      for (const value of t.values) {
        const u = BigInt.asUintN(64, BigInt(value.value));
        w[v] = strings.add(value.name);
        w[v + 1] = Number(u & 0xffffffffn);
        w[v + 2] = Number(u >> 32n);
        v += 3;
      }
      return v;
    }
    case 'fwd':
      w[i + 1] = info(BtfKind.FWD, 0, t.union, id);
      w[i + 2] = 0;
      return body;
    case 'func':
      w[i + 1] = info(BtfKind.FUNC, t.linkage, false, id);
      w[i + 2] = t.type;
      return body;
    case 'func_proto': {
      w[i + 1] = info(BtfKind.FUNC_PROTO, t.params.length, false, id);
      w[i + 2] = t.returnType;
      let p = body;
      for (const param of t.params) {
        w[p] = strings.add(param.name);
        w[p + 1] = param.type;
        p += 2;
      }
      return p;
    }
    case 'var':
      w[i + 1] = info(BtfKind.VAR, 0, false, id);
      w[i + 2] = t.type;
      w[body] = t.linkage;
      return body + 1;
    case 'datasec': {
      w[i + 1] = info(BtfKind.DATASEC, t.vars.length, false, id);
      w[i + 2] = t.size;
      let v = body;
      for (const s of t.vars) {
        w[v] = s.type;
        w[v + 1] = s.offset;
        w[v + 2] = s.size;
        v += 3;
      }
      return v;
    }
    case 'float':
      w[i + 1] = info(BtfKind.FLOAT, 0, false, id);
      w[i + 2] = t.size;
      return body;
    case 'decl_tag':
      w[i + 1] = info(BtfKind.DECL_TAG, 0, t.attribute === true, id);
      w[i + 2] = t.type;
      w[body] = t.componentIdx;
      return body + 1;
  }
}

const REF_KIND = {
  typedef: BtfKind.TYPEDEF, volatile: BtfKind.VOLATILE, const: BtfKind.CONST, restrict: BtfKind.RESTRICT, type_tag: BtfKind.TYPE_TAG,
} as const;
