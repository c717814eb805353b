/**
 * The object's BTF as the kernel is given it (libbpf: bpf_object__collect_externs' `.ksyms`
 * rewrite, bpf_object__sanitize_and_load_btf, bpf_object__sanitize_btf). The spec's BTF
 * already has libbpf's DATASEC fixups (src/object/btf-fixup.ts); here the extern `.ksyms`
 * section is made acceptable to the kernel, hidden global subprograms are marked static, and
 * kinds this kernel does not know are rewritten into ones it does. Type ids never move, so the
 * spec's map and func_info ids stay valid; at most one type is appended.
 */
import { Btf } from '../../btf/btf.js';
import { btfStringTable, serializeBtf } from '../../btf/serialize.js';
import type { StringTableBuilder } from '../../btf/strings.js';
import { BtfLinkage, type BtfType } from '../../btf/types.js';
import type { ProgramSpec } from '../../object/spec.js';
import type { BtfFeatures } from './btf-features.js';

/** libbpf: KSYMS_SEC. */
const KSYMS_SEC = '.ksyms';
/** libbpf's placeholder VAR for kfuncs in `.ksyms` (add_dummy_ksym_var). */
const DUMMY_KSYM = 'dummy_ksym';

/** The BTF to load, its raw bytes, and the string table line_info offsets point into. */
export interface KernelObjectBtf {
  readonly btf: Btf;
  readonly bytes: Uint8Array;
  readonly strings: StringTableBuilder;
  /** Offsets of line_info file names and source lines in `strings`. */
  readonly stringOffset: (text: string) => number;
}

/**
 * The kernel's view of `btf` for an object with `programs`: `.ksyms` fixed, hidden globals
 * static, unsupported kinds sanitized, and every line_info string in the string table.
 */
export function kernelObjectBtf(btf: Btf, programs: readonly ProgramSpec[], features: BtfFeatures): KernelObjectBtf {
  const own = btf.own.slice();
  fixKsyms(own);
  markHiddenStatic(own, programs);
  const sanitized = new Btf(sanitizeTypes(own, features), { bigEndian: btf.bigEndian, strings: btf.strings });
  const strings = btfStringTable(sanitized);
  for (const p of programs) {
    for (const l of p.lineInfo) {
      strings.add(l.fileName);
      strings.add(l.lineText);
    }
  }
  const bytes = serializeBtf(sanitized, { strings });
  return { btf: sanitized, bytes, strings, stringOffset: (text) => strings.add(text) };
}

/**
 * libbpf: bpf_object__collect_externs — the kernel refuses extern VARs and FUNCs inside a
 * DATASEC, so each `.ksyms` entry becomes a 4-byte allocated global: a VAR keeps its name
 * with an int type, a kfunc's slot points at one shared `dummy_ksym` VAR (its FUNC made
 * global, unnamed parameters named after the dummy).
 */
function fixKsyms(own: BtfType[]): void {
  const secIndex = own.findIndex((t) => t.kind === 'datasec' && t.name === KSYMS_SEC);
  if (secIndex < 0) return;
  const sec = own[secIndex] as Extract<BtfType, { kind: 'datasec' }>;
  const intId = own.findIndex((t) => t.kind === 'int' && t.bits === 32);
  const intType = intId < 0 ? 0 : intId;
  let dummyId = 0;
  if (sec.vars.some((v) => own[v.type]?.kind === 'func')) {
    dummyId = own.length;
    own.push({ kind: 'var', name: DUMMY_KSYM, type: intType, linkage: BtfLinkage.GLOBAL });
  }
  const vars = sec.vars.map((v, i) => {
    const t = own[v.type];
    if (t?.kind === 'func') {
      own[v.type] = { ...t, linkage: BtfLinkage.GLOBAL };
      const proto = own[t.type];
      if (proto?.kind === 'func_proto' && proto.params.some((p) => p.type !== 0 && p.name === '')) {
        own[t.type] = { ...proto, params: proto.params.map((p) => (p.type !== 0 && p.name === '' ? { ...p, name: DUMMY_KSYM } : p)) };
      }
      return { type: dummyId, offset: i * 4, size: 4 };
    }
    if (t?.kind === 'var') own[v.type] = { ...t, linkage: BtfLinkage.GLOBAL, type: intType };
    return { type: v.type, offset: i * 4, size: 4 };
  });
  own[secIndex] = { ...sec, size: vars.length * 4, vars };
}

/**
 * libbpf: a global subprogram with hidden visibility is verified as a static one (in the
 * context of its caller), so its FUNC's linkage becomes static.
 */
function markHiddenStatic(own: BtfType[], programs: readonly ProgramSpec[]): void {
  const hidden = new Set<string>();
  for (const p of programs) {
    p.functions.forEach((f, i) => {
      if (i > 0 && f.global && f.hidden) hidden.add(f.name);
    });
  }
  if (hidden.size === 0) return;
  own.forEach((t, id) => {
    if (t.kind === 'func' && t.linkage === BtfLinkage.GLOBAL && hidden.has(t.name)) own[id] = { ...t, linkage: BtfLinkage.STATIC };
  });
}

/**
 * libbpf: bpf_object__sanitize_btf — each kind the kernel lacks becomes one it has, of the same
 * size where it matters: VAR and DECL_TAG → 1-byte INT, DATASEC → STRUCT, FUNC_PROTO → ENUM,
 * FUNC → TYPEDEF (or static FUNC), FLOAT → empty STRUCT, TYPE_TAG → CONST, ENUM64 → UNION of
 * 1-byte placeholders, signed ENUM → unsigned.
 */
export function sanitizeTypes(types: readonly BtfType[], f: BtfFeatures): BtfType[] {
  const own = types.slice();
  let enum64Placeholder = 0;
  for (let id = 1; id < own.length; id++) {
    const t = own[id]!;
    if ((!f.datasec && t.kind === 'var') || (!f.declTag && t.kind === 'decl_tag')) {
      own[id] = { kind: 'int', name: t.name, size: 1, encoding: 0, offset: 0, bits: 8 };
    } else if (!f.datasec && t.kind === 'datasec') {
      own[id] = {
        kind: 'struct', name: t.name.replace(/[.?]/g, '_'), size: t.size, kindFlag: false,
        members: t.vars.map((v) => ({ name: types[v.type]?.name ?? '', type: v.type, bitOffset: v.offset * 8, bitfieldSize: 0 })),
      };
    } else if (!f.qmarkDatasec && t.kind === 'datasec' && t.name.startsWith('?')) {
      own[id] = { ...t, name: `_${t.name.slice(1)}` };
    } else if (!f.func && t.kind === 'func_proto') {
      own[id] = { kind: 'enum', name: t.name, size: 4, signed: false, values: t.params.map((p) => ({ name: p.name, value: p.type })) };
    } else if (!f.func && t.kind === 'func') {
      own[id] = { kind: 'typedef', name: t.name, type: t.type };
    } else if (!f.globalFunc && t.kind === 'func') {
      own[id] = { ...t, linkage: BtfLinkage.STATIC };
    } else if (!f.float && t.kind === 'float') {
      own[id] = { kind: 'struct', name: '', size: t.size, kindFlag: false, members: [] };
    } else if (!f.typeTag && t.kind === 'type_tag') {
      own[id] = { kind: 'const', name: '', type: t.type };
    } else if (!f.enum64 && t.kind === 'enum') {
      own[id] = { ...t, signed: false };
    } else if (!f.enum64 && t.kind === 'enum64') {
      if (enum64Placeholder === 0) {
        enum64Placeholder = own.length;
        own.push({ kind: 'int', name: 'enum64_placeholder', size: 1, encoding: 0, offset: 0, bits: 8 });
      }
      own[id] = {
        kind: 'union', name: t.name, size: t.size, kindFlag: false,
        members: t.values.map((v) => ({ name: v.name, type: enum64Placeholder, bitOffset: 0, bitfieldSize: 0 })),
      };
    }
  }
  return own;
}
