/**
 * What libbpf fixes in an object's BTF when it opens it (bpf_object_fixup_btf,
 * btf_fixup_datasec, bpf_object__collect_externs): clang leaves DATASEC sizes and the
 * offsets of global variables at zero — the ELF section and symbols hold them — and the
 * `.kconfig` DATASEC gets the layout the loader chose for its externs. The result is the
 * BTF a loader passes to the kernel, and the one the spec's types refer to.
 */
import { Btf } from '../btf/btf.js';
import type { BtfDatasec, BtfType, BtfVarSecinfo } from '../btf/types.js';
import { BtfLinkage } from '../btf/types.js';
import {
  type ElfFile, type ElfSymbol, findSection, STB_GLOBAL, STB_WEAK, STT_OBJECT, STV_HIDDEN, STV_INTERNAL,
} from '../elf/index.js';
import { ObjectError } from './errors.js';
import { KCONFIG_SEC, KSYMS_SEC } from './elf-sections.js';

/**
 * The BTF with every DATASEC fixed: size from its ELF section, global variables' offsets
 * from their ELF symbols, hidden globals made static, variables sorted by offset; `.kconfig`
 * variables placed at `kconfigOffsets` and made allocated globals. Returns `btf` itself
 * when nothing changes.
 */
export function fixupBtf(btf: Btf, elf: ElfFile, kconfigOffsets: ReadonlyMap<string, number>, kconfigSize: number): Btf {
  let changed = false;
  const own: BtfType[] = btf.own.slice();
  // Variables whose linkage changes, by id (VAR types are shared by reference in DATASECs).
  const relink = new Map<number, number>();
  // libbpf: find_elf_var_sym — the first global or weak object symbol of that name.
  const globals = new Map<string, ElfSymbol>();
  for (const s of elf.symbols) {
    if (s.type === STT_OBJECT && (s.bind === STB_GLOBAL || s.bind === STB_WEAK) && !globals.has(s.name)) globals.set(s.name, s);
  }
  for (let i = 0; i < own.length; i++) {
    const t = own[i]!;
    if (t.kind !== 'datasec') continue;
    const fixed = t.name === KCONFIG_SEC ? fixKconfig(btf, t, kconfigOffsets, kconfigSize, relink)
      : t.name === KSYMS_SEC ? t : fixDatasec(btf, t, elf, globals, relink);
    if (fixed !== t) {
      own[i] = fixed;
      changed = true;
    }
  }
  for (const [id, linkage] of relink) {
    const idx = id - btf.firstId;
    const v = own[idx];
    if (v?.kind === 'var' && v.linkage !== linkage) {
      own[idx] = { ...v, linkage };
      changed = true;
    }
  }
  return changed ? new Btf(own, { bigEndian: btf.bigEndian, strings: btf.strings }) : btf;
}

const byOffset = (a: BtfVarSecinfo, b: BtfVarSecinfo): number => a.offset - b.offset;

function fixDatasec(btf: Btf, t: BtfDatasec, elf: ElfFile, globals: ReadonlyMap<string, ElfSymbol>, relink: Map<number, number>): BtfDatasec {
  const section = findSection(elf, t.name);
  let size = t.size;
  const fixOffsets = size === 0;
  if (fixOffsets) {
    if (section === undefined || section.size === 0) {
      throw new ObjectError(`BTF DATASEC '${t.name}' has size 0 and no ELF section to take its size from`, btfAt(elf), { section: t.name });
    }
    size = section.size;
  }
  const vars = t.vars.map((vi) => {
    const v = btf.has(vi.type) ? btf.type(vi.type) : undefined;
    if (v?.kind !== 'var') {
      throw new ObjectError(`BTF DATASEC '${t.name}' lists a ${v?.kind ?? 'missing type'} (id ${vi.type}), expected VAR`, section?.headerOffset ?? btfAt(elf), { section: t.name });
    }
    if (v.linkage === BtfLinkage.STATIC || v.linkage === BtfLinkage.EXTERN) return vi;
    const sym = globals.get(v.name);
    if (sym === undefined) {
      throw new ObjectError(`BTF DATASEC '${t.name}': no ELF symbol for variable '${v.name}'`, section?.headerOffset ?? btfAt(elf), { section: t.name, symbol: v.name });
    }
    if (sym.visibility === STV_HIDDEN || sym.visibility === STV_INTERNAL) relink.set(vi.type, BtfLinkage.STATIC);
    return fixOffsets ? { ...vi, offset: sym.value } : vi;
  });
  const sorted = vars.slice().sort(byOffset);
  if (size === t.size && sorted.every((v, i) => v === t.vars[i])) return t;
  return { ...t, size, vars: sorted };
}

function fixKconfig(btf: Btf, t: BtfDatasec, offsets: ReadonlyMap<string, number>, size: number, relink: Map<number, number>): BtfDatasec {
  const vars = t.vars.map((vi) => {
    const v = btf.has(vi.type) ? btf.type(vi.type) : undefined;
    if (v?.kind !== 'var') return vi;
    const offset = offsets.get(v.name);
    if (offset === undefined) return vi;
    relink.set(vi.type, BtfLinkage.GLOBAL);
    return { ...vi, offset };
  });
  return { ...t, size, vars: vars.sort(byOffset) };
}

/** File offset of the `.BTF` section, for errors about its types. */
function btfAt(elf: ElfFile): number {
  return findSection(elf, '.BTF')?.offset ?? 0;
}
