/**
 * BTF-defined maps: the variables of the `.maps` section, whose struct types encode the map's
 * parameters (libbpf: bpf_object__init_user_btf_maps, parse_btf_map_def). Integer fields are
 * `int (*name)[N]` — a pointer to an array whose length is the value — key and value are
 * pointers to their types, and `__array(values, …)` declares an inner map or the programs of
 * a prog array, with initial slots given by relocations in `.rel.maps`.
 */
import type { Btf } from '../btf/btf.js';
import type { BtfComposite, BtfType } from '../btf/types.js';
import { BtfLinkage } from '../btf/types.js';
import { type ElfFile, type ElfSection, STT_SECTION, relocationsFor } from '../elf/index.js';
import { ObjectError } from './errors.js';
import type { MapSlot, MapSpec } from './spec.js';
import { MapType, PinType } from './uapi-types.js';

/** A map definition as parsed, before its slots are known. */
interface MapDef {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  numaNode: number;
  pinning: number;
  mapExtra: bigint;
  keyTypeId: number;
  valueTypeId: number;
  inner: MapDef | undefined;
}

/** A BTF-defined map and where its definition sits, for relocations into `.maps`. */
export interface BtfMapEntry {
  readonly spec: MapSpec;
  /** Offset and size of the variable in `.maps`. */
  readonly offset: number;
  readonly size: number;
  /** Byte offset of the `values` member inside the variable, when there is one. */
  readonly valuesOffset: number | undefined;
}

const isMapInMap = (type: number): boolean => type === MapType.ARRAY_OF_MAPS || type === MapType.HASH_OF_MAPS;

/**
 * The maps of `.maps` in DATASEC order. `programAt` names the entry program starting at a
 * section offset (for prog-array slots); `strict` rejects unknown fields like libbpf.
 */
export function readBtfMaps(
  elf: ElfFile, section: ElfSection, btf: Btf | undefined, strict: boolean,
  programAt: (sectionIndex: number, offset: number) => string | undefined,
): BtfMapEntry[] {
  const secCtx = { section: section.name };
  if (btf === undefined) throw new ObjectError("section '.maps' needs BTF, but the object has no .BTF section", section.headerOffset, secCtx);
  const datasecId = btf.findByName('.maps', 'datasec')[0];
  if (datasecId === undefined) throw new ObjectError("BTF has no DATASEC '.maps'", section.headerOffset, secCtx);
  const datasec = btf.type(datasecId);
  if (datasec.kind !== 'datasec') throw new ObjectError("BTF '.maps' is not a DATASEC", section.headerOffset, secCtx);

  const entries: BtfMapEntry[] = [];
  datasec.vars.forEach((vi, i) => {
    const at = section.offset + vi.offset;
    const v = btf.has(vi.type) ? btf.type(vi.type) : undefined;
    const name = v?.name ?? '';
    const fail = (why: string): never => {
      throw new ObjectError(`map '${name || `#${i}`}': ${why}`, at, { section: section.name, symbol: name });
    };
    if (name === '') fail('empty name');
    if (vi.offset + vi.size > section.size) fail(`definition at ${vi.offset}+${vi.size} runs past the end of '.maps' (${section.size} bytes)`);
    if (v?.kind !== 'var') fail(`unexpected kind ${v?.kind ?? 'none'}, expected VAR`);
    const variable = v as Extract<BtfType, { kind: 'var' }>;
    if (variable.linkage !== BtfLinkage.GLOBAL) fail(`unsupported linkage ${linkageName(variable.linkage)} (maps must be global)`);
    const def = resolved(btf, variable.type, fail);
    if (def.kind !== 'struct') fail(`definition is a ${def.kind}, expected a struct`);
    const struct = def as BtfComposite;
    if (struct.size > vi.size) fail(`definition type is ${struct.size} bytes, larger than its variable (${vi.size})`);
    const parsed = parseMapDef(btf, name, struct, strict, false, fail);
    entries.push({ spec: toSpec(name, 'btf', section.name, parsed.def, []), offset: vi.offset, size: vi.size, valuesOffset: parsed.valuesOffset });
  });

  // Initial slots: `.values = { [i] = &x }` becomes one 8-byte relocation per set slot.
  const slots = new Map<BtfMapEntry, MapSlot[]>();
  const byOffset = entries.slice().sort((a, b) => a.offset - b.offset);
  const atOffset = new Map(byOffset.map((e) => [e.offset, e]));
  relocationsFor(elf, section.index).forEach((rel, n) => {
    const sym = elf.symbols[rel.symbol]!;
    const symName = sym.type === STT_SECTION ? elf.sections[sym.section]?.name ?? '' : sym.name;
    const entry = containing(byOffset, rel.offset);
    const fail = (why: string): never => {
      throw new ObjectError(`.maps relocation #${n}: ${why}`, section.offset + rel.offset, { section: section.name, symbol: symName });
    };
    if (entry === undefined) return fail(`no map at offset ${rel.offset} for '${symName}'`);
    const { spec } = entry;
    if (entry.valuesOffset === undefined || rel.offset - entry.offset < entry.valuesOffset) {
      return fail(`map '${spec.name}' has a relocation outside its 'values' member`);
    }
    const rest = rel.offset - entry.offset - entry.valuesOffset;
    if (rest % 8 !== 0) fail(`map '${spec.name}': slot at byte ${rest} of 'values' is not pointer-aligned`);
    let target: string | undefined;
    if (isMapInMap(spec.type)) {
      if (sym.section !== section.index) fail(`map '${spec.name}': '${symName}' isn't a BTF-defined map`);
      if (spec.type === MapType.HASH_OF_MAPS && spec.keySize !== 4) fail(`hash of maps '${spec.name}' must have a 4-byte key`);
      target = atOffset.get(sym.value)?.spec.name;
      if (target === undefined) fail(`map '${spec.name}': '${symName}' isn't a valid map reference`);
    } else if (spec.type === MapType.PROG_ARRAY) {
      target = programAt(sym.section, sym.value);
      if (target === undefined) fail(`map '${spec.name}': '${symName}' isn't an entry-point program`);
    } else {
      fail(`map '${spec.name}' is neither a map of maps nor a prog array`);
    }
    const list = slots.get(entry) ?? [];
    list.push({ index: rest / 8, name: target! });
    slots.set(entry, list);
  });
  return entries.map((e) => {
    const list = slots.get(e);
    if (list === undefined) return e;
    list.sort((a, b) => a.index - b.index);
    return { ...e, spec: { ...e.spec, slots: list } };
  });
}

/** The map whose definition holds the 8 bytes at `offset` (entries sorted by offset). */
function containing(sorted: readonly BtfMapEntry[], offset: number): BtfMapEntry | undefined {
  let lo = 0;
  let hi = sorted.length - 1;
  let found: BtfMapEntry | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]!.offset <= offset) {
      found = sorted[mid];
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found !== undefined && offset + 8 <= found.offset + found.size ? found : undefined;
}

function linkageName(linkage: number): string {
  return linkage === BtfLinkage.STATIC ? 'static' : linkage === BtfLinkage.EXTERN ? 'extern' : `${linkage}`;
}

/** Follows typedefs and modifiers (libbpf: skip_mods_and_typedefs), failing on a bad id. */
function resolved(btf: Btf, id: number, fail: (why: string) => never): BtfType {
  try {
    return btf.type(btf.resolve(id));
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
}

/** libbpf's get_map_field_int: `int (*name)[N]` encodes N. */
function fieldInt(btf: Btf, member: string, typeId: number, fail: (why: string) => never): number {
  const ptr = resolved(btf, typeId, fail);
  if (ptr.kind !== 'ptr') fail(`attribute '${member}': expected PTR, got ${ptr.kind}`);
  const arr = btf.has((ptr as { type: number }).type) ? btf.type((ptr as { type: number }).type) : undefined;
  if (arr?.kind !== 'array') fail(`attribute '${member}': expected a pointer to an ARRAY, got ${arr?.kind ?? 'nothing'}`);
  return (arr as { nelems: number }).nelems;
}

/** libbpf's get_map_field_long: a u32 as above, or an enum with one value for 64 bits. */
function fieldLong(btf: Btf, member: string, typeId: number, fail: (why: string) => never): bigint {
  const t = resolved(btf, typeId, fail);
  if (t.kind === 'ptr') return BigInt(fieldInt(btf, member, typeId, fail));
  if (t.kind !== 'enum' && t.kind !== 'enum64') fail(`attribute '${member}': expected ENUM or ENUM64, got ${t.kind}`);
  const e = t as Extract<BtfType, { kind: 'enum' | 'enum64' }>;
  if (e.values.length !== 1) fail(`attribute '${member}': invalid __ulong (${e.values.length} enumerators)`);
  const value = e.values[0]!.value;
  return BigInt.asUintN(64, BigInt(value));
}

/** Size of the type a `key`/`value` pointer points to (libbpf: btf__resolve_size). */
function pointee(btf: Btf, member: string, typeId: number, fail: (why: string) => never): { id: number; size: number } {
  const t = btf.has(typeId) ? btf.type(typeId) : undefined;
  if (t?.kind !== 'ptr') fail(`${member} spec is not PTR: ${t?.kind ?? 'no type'}`);
  const id = (t as { type: number }).type;
  try {
    return { id, size: btf.sizeof(id) };
  } catch (err) {
    return fail(`can't determine ${member} size for type [${id}]: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function parseMapDef(
  btf: Btf, name: string, def: BtfComposite, strict: boolean, isInner: boolean, fail: (why: string) => never,
): { def: MapDef; valuesOffset: number | undefined } {
  const d: MapDef = {
    type: 0, keySize: 0, valueSize: 0, maxEntries: 0, flags: 0, numaNode: 0, pinning: 0, mapExtra: 0n,
    keyTypeId: 0, valueTypeId: 0, inner: undefined,
  };
  let valuesOffset: number | undefined;
  const setSize = (which: 'keySize' | 'valueSize', size: number): void => {
    if (d[which] !== 0 && d[which] !== size) fail(`conflicting ${which === 'keySize' ? 'key' : 'value'} size ${d[which]} != ${size}`);
    d[which] = size;
  };
  def.members.forEach((m, i) => {
    switch (m.name) {
      case 'type': d.type = fieldInt(btf, m.name, m.type, fail); break;
      case 'max_entries': d.maxEntries = fieldInt(btf, m.name, m.type, fail); break;
      case 'map_flags': d.flags = fieldInt(btf, m.name, m.type, fail); break;
      case 'numa_node': d.numaNode = fieldInt(btf, m.name, m.type, fail); break;
      case 'key_size': setSize('keySize', fieldInt(btf, m.name, m.type, fail)); break;
      case 'value_size': setSize('valueSize', fieldInt(btf, m.name, m.type, fail)); break;
      case 'key': {
        const { id, size } = pointee(btf, 'key', m.type, fail);
        setSize('keySize', size);
        d.keyTypeId = id;
        break;
      }
      case 'value': {
        const { id, size } = pointee(btf, 'value', m.type, fail);
        setSize('valueSize', size);
        d.valueTypeId = id;
        break;
      }
      case 'values': {
        const mapInMap = isMapInMap(d.type);
        const progArray = d.type === MapType.PROG_ARRAY;
        if (isInner) fail('multi-level inner maps are not supported');
        if (i !== def.members.length - 1) fail("'values' member should be last");
        if (!mapInMap && !progArray) fail("'values' needs a map-in-map or a prog array");
        setSize('valueSize', 4);
        const arr = btf.has(m.type) ? btf.type(m.type) : undefined;
        const desc = mapInMap ? 'map-in-map inner' : 'prog-array value';
        if (arr?.kind !== 'array' || arr.nelems !== 0) fail(`${desc} spec is not a zero-sized array`);
        const ptr = resolved(btf, (arr as { type: number }).type, fail);
        if (ptr.kind !== 'ptr') fail(`${desc} def is of unexpected kind ${ptr.kind}`);
        const target = resolved(btf, (ptr as { type: number }).type, fail);
        valuesOffset = m.bitOffset / 8;
        if (progArray) {
          if (target.kind !== 'func_proto') fail(`prog-array value def is of unexpected kind ${target.kind}`);
          break;
        }
        if (target.kind !== 'struct') fail(`map-in-map inner def is of unexpected kind ${target.kind}`);
        const innerName = `${name}.inner`;
        const innerFail = (why: string): never => fail(why.startsWith('inner') ? why : `inner map: ${why}`);
        d.inner = parseMapDef(btf, innerName, target as BtfComposite, strict, true, innerFail).def;
        break;
      }
      case 'pinning': {
        if (isInner) fail("inner def can't be pinned");
        const pin = fieldInt(btf, m.name, m.type, fail);
        if (pin !== PinType.NONE && pin !== PinType.BY_NAME) fail(`invalid pinning value ${pin}`);
        d.pinning = pin;
        break;
      }
      case 'map_extra': d.mapExtra = fieldLong(btf, m.name, m.type, fail); break;
      default:
        if (strict) fail(`unknown field '${m.name}'`);
    }
  });
  if (d.type === MapType.UNSPEC) fail("map type isn't specified");
  return { def: d, valuesOffset };
}

function toSpec(name: string, origin: MapSpec['origin'], section: string, d: MapDef, slots: MapSlot[]): MapSpec {
  return {
    name, origin, section,
    type: d.type, keySize: d.keySize, valueSize: d.valueSize, maxEntries: d.maxEntries, flags: d.flags,
    numaNode: d.numaNode, mapExtra: d.mapExtra, pinning: d.pinning, keyTypeId: d.keyTypeId, valueTypeId: d.valueTypeId,
    innerMap: d.inner === undefined ? undefined : toSpec(`${name}.inner`, 'inner', section, d.inner, []),
    slots, data: undefined, extra: undefined,
  };
}
