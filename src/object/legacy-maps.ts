/**
 * Legacy map definitions: `struct bpf_map_def` records in the `maps` section, one per symbol
 * (pre-BTF samples, iproute2). libbpf 1.x refuses them; cilium/ebpf still reads them, and so
 * do we: type, key_size, value_size, max_entries and map_flags, then any extra bytes.
 */
import { type ElfFile, type ElfSection, STT_SECTION, symbolsIn } from '../elf/index.js';
import { ObjectError } from './errors.js';
import type { MapSpec } from './spec.js';

/** Size of the five u32 fields of `struct bpf_map_def`. */
export const BPF_MAP_DEF_SIZE = 20;

/** A legacy map and its offset in the `maps` section. */
export interface LegacyMapEntry {
  readonly spec: MapSpec;
  readonly offset: number;
}

/** The maps of a legacy `maps` section, in offset order. */
export function readLegacyMaps(elf: ElfFile, section: ElfSection): LegacyMapEntry[] {
  const symbols = symbolsIn(elf, section.index).filter((s) => s.type !== STT_SECTION && s.name !== '');
  if (symbols.length === 0) {
    throw new ObjectError("section 'maps' has no symbols to name its map definitions", section.headerOffset, { section: section.name });
  }
  symbols.sort((a, b) => a.value - b.value);
  const view = new DataView(section.data.buffer, section.data.byteOffset, section.data.byteLength);
  const le = !elf.header.bigEndian;
  const seen = new Set<string>();
  return symbols.map((sym) => {
    const at = section.offset + sym.value;
    const fail = (why: string): never => {
      throw new ObjectError(`map '${sym.name}': ${why}`, at, { section: section.name, symbol: sym.name });
    };
    if (seen.has(sym.name)) fail("duplicate symbol in section 'maps'");
    seen.add(sym.name);
    if (sym.size < BPF_MAP_DEF_SIZE) fail(`definition is ${sym.size} bytes, shorter than struct bpf_map_def (${BPF_MAP_DEF_SIZE})`);
    if (sym.value + sym.size > section.data.length) fail(`definition at ${sym.value}+${sym.size} runs past the end of section 'maps' (${section.size} bytes)`);
    const u32 = (field: number): number => view.getUint32(sym.value + field * 4, le);
    const extra = sym.size > BPF_MAP_DEF_SIZE ? section.data.slice(sym.value + BPF_MAP_DEF_SIZE, sym.value + sym.size) : undefined;
    const spec: MapSpec = {
      name: sym.name, origin: 'legacy', section: section.name,
      type: u32(0), keySize: u32(1), valueSize: u32(2), maxEntries: u32(3), flags: u32(4),
      numaNode: 0, mapExtra: 0n, pinning: 0, keyTypeId: 0, valueTypeId: 0, innerMap: undefined, slots: [],
      data: undefined, extra,
    };
    if (spec.type === 0) fail('map type is 0 (BPF_MAP_TYPE_UNSPEC)');
    return { spec, offset: sym.value };
  });
}
