/**
 * Externs: undefined symbols the loader resolves (libbpf: bpf_object__collect_externs).
 * `__kconfig` variables live in a `.kconfig` map that libbpf lays out itself — sorted by
 * alignment (largest first), then size, then name — and `__ksym` variables and kfuncs are
 * resolved against kernel BTF at load.
 */
import type { Btf } from '../btf/btf.js';
import { CLayout } from '../btf/c-layout.js';
import type { BtfType } from '../btf/types.js';
import { BtfLinkage, BTF_INT_BOOL, BTF_INT_SIGNED } from '../btf/types.js';
import type { ElfFile } from '../elf/index.js';
import { ObjectError } from './errors.js';
import { KCONFIG_SEC, KSYMS_SEC } from './elf-sections.js';
import { symbolIsExtern } from './relocations.js';
import { symbolOffset } from './functions.js';
import type { ExternSpec, KconfigType, MapSpec } from './spec.js';
import { MapFlag, MapType } from './uapi-types.js';

/** Externs by name and by ELF symbol index, plus the `.kconfig` map when there are kconfig externs. */
export interface Externs {
  readonly list: readonly ExternSpec[];
  readonly bySymbol: ReadonlyMap<number, { readonly name: string; readonly kind: 'kconfig' | 'ksym' }>;
  readonly kconfigMap: MapSpec | undefined;
}

/** libbpf: find_kcfg_type. */
function kconfigType(btf: Btf, id: number): { type: KconfigType | undefined; signed: boolean } {
  const t = btf.type(btf.resolve(id));
  switch (t.kind) {
    case 'int':
      if (t.encoding & BTF_INT_BOOL) return { type: t.size === 1 ? 'bool' : undefined, signed: false };
      if (t.size === 1) return { type: 'char', signed: (t.encoding & BTF_INT_SIGNED) !== 0 };
      if (t.size < 1 || t.size > 8 || (t.size & (t.size - 1)) !== 0) return { type: undefined, signed: false };
      return { type: 'int', signed: (t.encoding & BTF_INT_SIGNED) !== 0 };
    case 'enum':
    case 'enum64':
      if ((t.kind === 'enum' && t.size !== 4) || t.name !== 'libbpf_tristate') return { type: undefined, signed: false };
      return { type: 'tristate', signed: false };
    case 'array':
      if (t.nelems === 0 || kconfigType(btf, t.type).type !== 'char') return { type: undefined, signed: false };
      return { type: 'char_array', signed: false };
    default:
      return { type: undefined, signed: false };
  }
}

/** The name of the DATASEC listing each type id (`.kconfig` or `.ksyms` for externs). */
function datasecIndex(btf: Btf): Map<number, string> {
  const out = new Map<number, string>();
  for (let i = 1; i < btf.length; i++) {
    const t = btf.type(i);
    if (t.kind === 'datasec') for (const v of t.vars) if (!out.has(v.type)) out.set(v.type, t.name);
  }
  return out;
}

/** libbpf: find_extern_btf_id — a VAR or FUNC of extern linkage named `name`. */
function findExternBtf(btf: Btf, name: string): number | undefined {
  for (const id of btf.findByName(name)) {
    const t = btf.type(id);
    if ((t.kind === 'var' || t.kind === 'func') && t.linkage === BtfLinkage.EXTERN) return id;
  }
  return undefined;
}

/** Collects the object's externs and lays out the `.kconfig` map. */
export function collectExterns(elf: ElfFile, btf: Btf | undefined): Externs {
  interface Found { name: string; sym: number; weak: boolean; btfId: number; t: BtfType; section: string }
  const found: Found[] = [];
  let sections: Map<number, string> | undefined;
  for (const sym of elf.symbols) {
    if (!symbolIsExtern(sym) || sym.name === '') continue;
    const at = symbolOffset(elf, sym.index);
    const ctx = { symbol: sym.name, section: '' };
    if (btf === undefined) throw new ObjectError(`extern '${sym.name}' needs BTF, but the object has no .BTF section`, at, ctx);
    const btfId = findExternBtf(btf, sym.name);
    if (btfId === undefined) throw new ObjectError(`failed to find BTF for extern '${sym.name}'`, at, ctx);
    sections ??= datasecIndex(btf);
    const section = sections.get(btfId);
    if (section !== KCONFIG_SEC && section !== KSYMS_SEC) {
      throw new ObjectError(`extern '${sym.name}' is in ${section === undefined ? 'no DATASEC' : `unrecognized extern section '${section}'`}`, at, ctx);
    }
    const t = btf.type(btfId);
    if (section === KCONFIG_SEC && t.kind === 'func') {
      throw new ObjectError(`extern function '${sym.name}' is not supported in ${KCONFIG_SEC}`, at, { ...ctx, section });
    }
    found.push({ name: sym.name, sym: sym.index, weak: sym.bind === 2 /* STB_WEAK */, btfId, t, section });
  }

  const kconfig: Extract<ExternSpec, { kind: 'kconfig' }>[] = [];
  const ksyms: Extract<ExternSpec, { kind: 'ksym' }>[] = [];
  const aligns = new Map<string, number>();
  const layout = btf === undefined ? undefined : new CLayout(btf);
  for (const f of found) {
    const at = symbolOffset(elf, f.sym);
    const typeRef = (f.t as { type: number }).type;
    if (f.section === KCONFIG_SEC) {
      let size = 0;
      try { size = btf!.sizeof(typeRef); } catch { /* reported below */ }
      const align = layout!.alignOf(typeRef);
      const { type, signed } = kconfigType(btf!, typeRef);
      const ctx = { symbol: f.name, section: f.section };
      if (size <= 0) throw new ObjectError(`failed to resolve size of extern (kcfg) '${f.name}'`, at, ctx);
      if (align <= 0) throw new ObjectError(`failed to determine alignment of extern (kcfg) '${f.name}'`, at, ctx);
      if (type === undefined) throw new ObjectError(`extern (kcfg) '${f.name}': type is unsupported`, at, ctx);
      aligns.set(f.name, align);
      kconfig.push({ kind: 'kconfig', name: f.name, weak: f.weak, btfId: f.btfId, offset: 0, size, type, signed });
    } else {
      const func = f.t.kind === 'func';
      const typeId = func ? typeRef : skipModifiersAndTypedefs(btf!, typeRef);
      ksyms.push({ kind: 'ksym', name: f.name, weak: f.weak, btfId: f.btfId, func, typeId });
    }
  }

  // libbpf: cmp_externs, then offsets rounded up to each extern's alignment.
  kconfig.sort((a, b) => (aligns.get(b.name)! - aligns.get(a.name)!) || a.size - b.size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let off = 0;
  const laidOut = kconfig.map((k) => {
    const align = aligns.get(k.name)!;
    const offset = Math.ceil(off / align) * align;
    off = offset + k.size;
    return { ...k, offset };
  });
  ksyms.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const bySymbol = new Map(found.map((f) => [f.sym, { name: f.name, kind: f.section === KCONFIG_SEC ? 'kconfig' as const : 'ksym' as const }]));
  const kconfigMap: MapSpec | undefined = laidOut.length === 0 ? undefined : {
    name: KCONFIG_SEC, origin: 'kconfig', section: KCONFIG_SEC,
    type: MapType.ARRAY, keySize: 4, valueSize: off, maxEntries: 1,
    flags: MapFlag.RDONLY_PROG | MapFlag.MMAPABLE,
    numaNode: 0, mapExtra: 0n, pinning: 0, keyTypeId: 0,
    // Set by loadObjectSpec to the `.kconfig` DATASEC, once the BTF has this layout.
    valueTypeId: 0,
    innerMap: undefined, slots: [], data: new Uint8Array(off), extra: undefined,
  };
  return { list: [...laidOut, ...ksyms], bySymbol, kconfigMap };
}

function skipModifiersAndTypedefs(btf: Btf, id: number): number {
  try {
    return btf.resolve(id);
  } catch {
    return id;
  }
}
