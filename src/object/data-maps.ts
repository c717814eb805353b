/**
 * Global data: each `.data*`, `.rodata*` and `.bss*` section becomes a one-element ARRAY map
 * whose value is the section (libbpf: bpf_object__init_global_data_maps), and each variable
 * of its BTF DATASEC becomes a VariableSpec.
 */
import type { Btf } from '../btf/btf.js';
import { BtfLinkage } from '../btf/types.js';
import { type ElfFile, type ElfSection, STB_LOCAL, STT_OBJECT, symbolsIn } from '../elf/index.js';
import { ObjectError } from './errors.js';
import type { MapSpec, VariableLinkage, VariableSpec } from './spec.js';
import { MapFlag, MapType } from './uapi-types.js';

/** A global-data map and the variables it holds. */
export interface DataSection {
  readonly map: MapSpec;
  readonly variables: readonly VariableSpec[];
}

const LINKAGE: Record<number, VariableLinkage> = {
  [BtfLinkage.STATIC]: 'static', [BtfLinkage.GLOBAL]: 'global', [BtfLinkage.EXTERN]: 'extern',
};

/** The DATASEC named `name`, when the BTF has one. */
export function findDatasec(btf: Btf | undefined, name: string): number | undefined {
  return btf?.findByName(name, 'datasec')[0];
}

/**
 * The map and variables of one data section. `kind` says which: `.rodata` maps are
 * read-only to programs (BPF_F_RDONLY_PROG); a map is BPF_F_MMAPABLE when one of its
 * variables is global (libbpf: map_is_mmapable), so user space can map it.
 */
export function readDataSection(elf: ElfFile, section: ElfSection, kind: 'data' | 'rodata' | 'bss', btf: Btf | undefined): DataSection {
  const datasecId = findDatasec(btf, section.name);
  const variables = datasecId === undefined ? variablesFromSymbols(elf, section, kind) : variablesFromBtf(btf!, datasecId, section, kind);
  let flags = kind === 'rodata' ? MapFlag.RDONLY_PROG : 0;
  if (datasecId !== undefined && variables.some((v) => v.linkage !== 'static')) flags |= MapFlag.MMAPABLE;
  const map: MapSpec = {
    name: section.name, origin: kind, section: section.name,
    type: MapType.ARRAY, keySize: 4, valueSize: section.size, maxEntries: 1, flags,
    numaNode: 0, mapExtra: 0n, pinning: 0, keyTypeId: 0, valueTypeId: datasecId ?? 0,
    innerMap: undefined, slots: [],
    // A copy: setConstant writes here, and the spec must not alias the caller's file bytes.
    data: kind === 'bss' ? new Uint8Array(section.size) : section.data.slice(),
    extra: undefined,
  };
  return { map, variables };
}

function variablesFromBtf(btf: Btf, datasecId: number, section: ElfSection, kind: 'data' | 'rodata' | 'bss'): VariableSpec[] {
  const datasec = btf.type(datasecId);
  if (datasec.kind !== 'datasec') return [];
  return datasec.vars.flatMap((vi) => {
    const v = btf.type(vi.type);
    if (v.kind !== 'var') return [];
    if (vi.offset + vi.size > section.size) {
      throw new ObjectError(`variable '${v.name}' at ${vi.offset}+${vi.size} runs past the end of section '${section.name}' (${section.size} bytes)`,
        section.headerOffset, { section: section.name, symbol: v.name });
    }
    return [{
      name: v.name, section: section.name, offset: vi.offset, size: vi.size, typeId: v.type,
      linkage: LINKAGE[v.linkage] ?? 'global', constant: kind === 'rodata',
    }];
  });
}

/** Without BTF, the section's object symbols are the variables (typeless). */
function variablesFromSymbols(elf: ElfFile, section: ElfSection, kind: 'data' | 'rodata' | 'bss'): VariableSpec[] {
  return symbolsIn(elf, section.index)
    .filter((s) => s.type === STT_OBJECT && s.name !== '' && s.value + s.size <= section.size)
    .sort((a, b) => a.value - b.value)
    .map((s) => ({
      name: s.name, section: section.name, offset: s.value, size: s.size, typeId: 0,
      linkage: s.bind === STB_LOCAL ? 'static' as const : 'global' as const, constant: kind === 'rodata',
    }));
}
