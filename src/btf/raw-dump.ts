/**
 * `formatBtfRaw` and `formatBtfJson`: what `bpftool btf dump file X` prints in its default
 * raw format, and with `-j` (or `-j -p`), line for line (bpftool: btf.c dump_btf_type,
 * json_writer.c). For split BTF only the split's own types are listed, as bpftool does.
 */
import type { Btf } from './btf.js';
import { BTF_INT_BOOL, BTF_INT_CHAR, BTF_INT_SIGNED, type BtfType } from './types.js';

/** Options of the dump functions. */
export interface BtfDumpOptions {
  /** Dump only these type ids (bpftool's root types), in this order. Default: every own type. */
  ids?: readonly number[];
}

/** Options of `formatBtfJson`. */
export interface BtfJsonOptions extends BtfDumpOptions {
  /** Indented output, as `bpftool -j -p` (`--pretty`) prints it. */
  pretty?: boolean;
}

/** bpftool's btf_kind_str: the kind names it prints, by kind ('UNKNOWN' for void). */
function kindLabel(t: BtfType): string {
  return t.kind === 'void' ? 'UNKNOWN' : KIND_LABELS[t.kind];
}

const KIND_LABELS: Record<Exclude<BtfType['kind'], 'void'>, string> = {
  int: 'INT', ptr: 'PTR', array: 'ARRAY', struct: 'STRUCT', union: 'UNION', enum: 'ENUM', fwd: 'FWD',
  typedef: 'TYPEDEF', volatile: 'VOLATILE', const: 'CONST', restrict: 'RESTRICT', func: 'FUNC',
  func_proto: 'FUNC_PROTO', var: 'VAR', datasec: 'DATASEC', float: 'FLOAT', decl_tag: 'DECL_TAG',
  type_tag: 'TYPE_TAG', enum64: 'ENUM64',
};

/** bpftool's btf_str: anonymous names print as `(anon)`. */
const label = (name: string): string => (name === '' ? '(anon)' : name);

function intEncoding(encoding: number): string {
  switch (encoding) {
    case 0: return '(none)';
    case BTF_INT_SIGNED: return 'SIGNED';
    case BTF_INT_CHAR: return 'CHAR';
    case BTF_INT_BOOL: return 'BOOL';
    default: return 'UNKN';
  }
}

const VAR_LINKAGE = ['static', 'global', 'extern'] as const;
const FUNC_LINKAGE = ['static', 'global', 'extern'] as const;
const linkageName = (names: readonly string[], linkage: number): string => names[linkage] ?? '(unknown)';

/** The ids a dump lists: the given ones, or every own type (without void). */
function dumpIds(btf: Btf, options: BtfDumpOptions): Iterable<number> {
  if (options.ids !== undefined) return options.ids;
  const first = btf.base === undefined ? 1 : btf.firstId;
  const ids: number[] = [];
  for (let id = first; id < btf.length; id++) ids.push(id);
  return ids;
}

/**
 * The raw dump of `bpftool btf dump file X` (format raw): one `[id] KIND 'name' …` line per
 * type, members, values and parameters on tab-indented lines below it.
 *
 * @example
 * formatBtfRaw(btf).split('\n')[0]  // "[1] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED"
 */
export function formatBtfRaw(btf: Btf, options: BtfDumpOptions = {}): string {
  const out: string[] = [];
  for (const id of dumpIds(btf, options)) out.push(rawType(btf, id, btf.type(id)), '\n');
  return out.join('');
}

function rawType(btf: Btf, id: number, t: BtfType): string {
  let s = `[${id}] ${kindLabel(t)} '${label(t.name)}'`;
  switch (t.kind) {
    case 'void':
      return s;
    case 'int':
      return `${s} size=${t.size} bits_offset=${t.offset} nr_bits=${t.bits} encoding=${intEncoding(t.encoding)}`;
    case 'ptr': case 'const': case 'volatile': case 'restrict': case 'typedef': case 'type_tag':
      return `${s} type_id=${t.type}`;
    case 'array':
      return `${s} type_id=${t.type} index_type_id=${t.indexType} nr_elems=${t.nelems}`;
    case 'struct': case 'union':
      s += ` size=${t.size} vlen=${t.members.length}`;
      for (const m of t.members) {
        s += `\n\t'${label(m.name)}' type_id=${m.type} bits_offset=${m.bitOffset}`;
        if (m.bitfieldSize !== 0) s += ` bitfield_size=${m.bitfieldSize}`;
      }
      return s;
    case 'enum': case 'enum64': {
      s += ` encoding=${t.signed ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`;
      const suffix = t.kind === 'enum64' ? (t.signed ? 'LL' : 'ULL') : '';
      for (const v of t.values) s += `\n\t'${label(v.name)}' val=${enumValue(t.kind, t.signed, v.value)}${suffix}`;
      return s;
    }
    case 'fwd':
      return `${s} fwd_kind=${t.union ? 'union' : 'struct'}`;
    case 'func':
      return `${s} type_id=${t.type} linkage=${linkageName(FUNC_LINKAGE, t.linkage)}`;
    case 'func_proto':
      s += ` ret_type_id=${t.returnType} vlen=${t.params.length}`;
      for (const p of t.params) s += `\n\t'${label(p.name)}' type_id=${p.type}`;
      return s;
    case 'var':
      // bpftool prints this comma, for VAR only.
      return `${s} type_id=${t.type}, linkage=${linkageName(VAR_LINKAGE, t.linkage)}`;
    case 'datasec':
      s += ` size=${t.size} vlen=${t.vars.length}`;
      for (const v of t.vars) {
        s += `\n\ttype_id=${v.type} offset=${v.offset} size=${v.size}`;
        if (btf.has(v.type)) {
          const vt = btf.type(v.type);
          s += ` (${kindLabel(vt)} '${label(vt.name)}')`;
        }
      }
      return s;
    case 'float':
      return `${s} size=${t.size}`;
    case 'decl_tag':
      return `${s} type_id=${t.type} component_idx=${t.componentIdx}`;
  }
}

/** An enumerator as bpftool prints it: signed or unsigned, 32 or 64 bits. */
function enumValue(kind: 'enum' | 'enum64', signed: boolean, value: number | bigint): string {
  if (kind === 'enum') {
    const n = Number(value);
    return String(signed ? n | 0 : n >>> 0);
  }
  const b = BigInt(value);
  return String(signed ? BigInt.asIntN(64, b) : BigInt.asUintN(64, b));
}

/**
 * An enumerator as bpftool's JSON prints it. Quirk kept: bpftool passes an unsigned ENUM's
 * value through its `__s32 val` field to a u64 printer, so values from 2^31 up come out
 * sign-extended (0xffffffff prints as 18446744073709551615).
 */
function jsonEnumValue(kind: 'enum' | 'enum64', signed: boolean, value: number | bigint): string {
  if (kind === 'enum' && !signed) return String(BigInt.asUintN(64, BigInt(Number(value) | 0)));
  return enumValue(kind, signed, value);
}

/**
 * The JSON of `bpftool -j btf dump file X` (`{"types":[…]}` and a newline), or with `pretty`
 * that of `bpftool -j -p`. Byte for byte bpftool's, except that names holding a backslash or
 * a single quote, or control characters other than \b\f\n\r\t, are escaped as valid JSON
 * (bpftool's json_writer prints `\` as `\n`, `'` as `\'` and other control bytes raw).
 */
export function formatBtfJson(btf: Btf, options: BtfJsonOptions = {}): string {
  const w = new JsonWriter(options.pretty ?? false);
  w.startObject();
  w.name('types');
  w.startArray();
  for (const id of dumpIds(btf, options)) jsonType(w, id, btf.type(id));
  w.endArray();
  w.endObject();
  return w.finish();
}

function jsonType(w: JsonWriter, id: number, t: BtfType): void {
  w.startObject();
  w.field('id', id);
  w.field('kind', kindLabel(t));
  w.field('name', label(t.name));
  switch (t.kind) {
    case 'void':
      break;
    case 'int':
      w.field('size', t.size);
      w.field('bits_offset', t.offset);
      w.field('nr_bits', t.bits);
      w.field('encoding', intEncoding(t.encoding));
      break;
    case 'ptr': case 'const': case 'volatile': case 'restrict': case 'typedef': case 'type_tag':
      w.field('type_id', t.type);
      break;
    case 'array':
      w.field('type_id', t.type);
      w.field('index_type_id', t.indexType);
      w.field('nr_elems', t.nelems);
      break;
    case 'struct': case 'union':
      w.field('size', t.size);
      w.field('vlen', t.members.length);
      w.name('members');
      w.startArray();
      for (const m of t.members) {
        w.startObject();
        w.field('name', label(m.name));
        w.field('type_id', m.type);
        w.field('bits_offset', m.bitOffset);
        if (m.bitfieldSize !== 0) w.field('bitfield_size', m.bitfieldSize);
        w.endObject();
      }
      w.endArray();
      break;
    case 'enum': case 'enum64':
      w.field('encoding', t.signed ? 'SIGNED' : 'UNSIGNED');
      w.field('size', t.size);
      w.field('vlen', t.values.length);
      w.name('values');
      w.startArray();
      for (const v of t.values) {
        w.startObject();
        w.field('name', label(v.name));
        w.name('val');
        w.raw(jsonEnumValue(t.kind, t.signed, v.value));
        w.endObject();
      }
      w.endArray();
      break;
    case 'fwd':
      w.field('fwd_kind', t.union ? 'union' : 'struct');
      break;
    case 'func':
      w.field('type_id', t.type);
      w.field('linkage', linkageName(FUNC_LINKAGE, t.linkage));
      break;
    case 'func_proto':
      w.field('ret_type_id', t.returnType);
      w.field('vlen', t.params.length);
      w.name('params');
      w.startArray();
      for (const p of t.params) {
        w.startObject();
        w.field('name', label(p.name));
        w.field('type_id', p.type);
        w.endObject();
      }
      w.endArray();
      break;
    case 'var':
      w.field('type_id', t.type);
      w.field('linkage', linkageName(VAR_LINKAGE, t.linkage));
      break;
    case 'datasec':
      w.field('size', t.size);
      w.field('vlen', t.vars.length);
      w.name('vars');
      w.startArray();
      for (const v of t.vars) {
        w.startObject();
        w.field('type_id', v.type);
        w.field('offset', v.offset);
        w.field('size', v.size);
        w.endObject();
      }
      w.endArray();
      break;
    case 'float':
      w.field('size', t.size);
      break;
    case 'decl_tag':
      w.field('type_id', t.type);
      w.field('component_idx', t.componentIdx);
      break;
  }
  w.endObject();
}

/**
 * A streaming JSON writer with the separators and indentation of bpftool's json_writer.c
 * (four spaces per level, `},{` between array objects, a newline at the end).
 */
class JsonWriter {
  private readonly out: string[] = [];
  private depth = 0;
  private sep = '';

  constructor(private readonly pretty: boolean) {}

  startObject(): void { this.begin('{'); }
  endObject(): void { this.end('}'); }
  startArray(): void { this.begin('['); }
  endArray(): void { this.end(']'); }

  name(name: string): void {
    this.eor();
    this.eol();
    this.sep = '';
    this.out.push(quote(name), this.pretty ? ': ' : ':');
  }

  field(name: string, value: string | number): void {
    this.name(name);
    this.raw(typeof value === 'string' ? quote(value) : String(value));
  }

  raw(text: string): void {
    this.eor();
    this.out.push(text);
  }

  finish(): string {
    this.out.push('\n');
    return this.out.join('');
  }

  private begin(c: string): void {
    this.eor();
    this.out.push(c);
    this.depth++;
    this.sep = '';
  }

  private end(c: string): void {
    this.depth--;
    if (this.sep !== '') this.eol();
    this.out.push(c);
    this.sep = ',';
  }

  private eor(): void {
    if (this.sep !== '') this.out.push(this.sep);
    this.sep = ',';
  }

  private eol(): void {
    if (this.pretty) this.out.push('\n', '    '.repeat(this.depth));
  }
}

const ESCAPES: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r', '\f': '\\f', '\b': '\\b', '\\': '\\\\', '"': '\\"' };

// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[\u0000-\u001f"\\]/g;

function quote(s: string): string {
  return `"${s.replace(NEEDS_ESCAPE, (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
}
