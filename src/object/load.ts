/**
 * `loadObjectSpec`: an eBPF ELF object → ObjectSpec. The pipeline is libbpf's open phase
 * (bpf_object_open): ELF and BTF, then functions, externs and maps, then relocations, then one
 * linked program per entry function. Pure: the same bytes give the same spec anywhere.
 */
import type { Btf } from '../btf/btf.js';
import { btfExtFromElf } from '../btf/ext.js';
import { btfFromElf } from '../btf/parse.js';
import { EbpfError, NotSupportedError, ParseError } from '../errors.js';
import { EM_BPF, ET_REL, type ElfFile, findSection, parseElf } from '../elf/index.js';
import { readBtfMaps } from './btf-maps.js';
import { readDataSection } from './data-maps.js';
import {
  classifySections, isDataKind, KCONFIG_SEC, readKernelVersion, readLicense, type SectionKind, TEXT_SEC,
} from './elf-sections.js';
import { ObjectError } from './errors.js';
import { collectExterns } from './externs.js';
import { fixupBtf } from './btf-fixup.js';
import { collectFunctions, type ElfFunction } from './functions.js';
import { readLegacyMaps } from './legacy-maps.js';
import { linkProgram } from './link.js';
import { ObjectSpec } from './object-spec.js';
import { collectRelocations } from './relocations.js';
import { matchSection } from './section-defs.js';
import { BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS } from './uapi-types.js';
import type { LoadObjectOptions, MapSpec, ProgramSpec, VariableSpec } from './spec.js';

/**
 * Parses an eBPF object file (clang `-target bpf`) into an ObjectSpec. Throws ParseError
 * (ObjectError for object-level problems, naming section and symbol) for malformed input,
 * and for what libbpf would refuse at open: unknown section names (unless
 * `options.programTypes` gives the type), bad map definitions, relocations to undefined
 * symbols or outside their section.
 *
 * @example
 * const spec = loadObjectSpec(readFileSync('bpf/objects/globals.o'));
 * spec.setConstant('target_pid', 42);
 * const prog = spec.program('globals_socket')!;   // prog.type === ProgramType.SOCKET_FILTER
 */
export function loadObjectSpec(bytes: Uint8Array, options: LoadObjectOptions = {}): ObjectSpec {
  // A plain view: subclasses such as Node's Buffer make `slice` a view instead of a copy.
  const plain = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return load(parseElf(plain), options);
  } catch (err) {
    if (err instanceof EbpfError) throw err;
    // Defence in depth: hostile input must not surface as a TypeError or RangeError.
    throw new ParseError(`malformed eBPF object: ${err instanceof Error ? err.message : String(err)}`, 0, { cause: err });
  }
}

function load(elf: ElfFile, options: LoadObjectOptions): ObjectSpec {
  checkHeader(elf);
  const kinds = classifySections(elf);
  const rawBtf = btfFromElf(elf);
  const licenseSec = findSection(elf, 'license');
  const versionSec = findSection(elf, 'version');
  const license = licenseSec === undefined ? '' : readLicense(licenseSec);
  const kernelVersion = versionSec === undefined ? 0 : readKernelVersion(versionSec, elf.header.bigEndian);

  const { functions } = collectFunctions(elf, kinds);
  const textIndex = findSection(elf, TEXT_SEC)?.index ?? 0;
  const entries = functions.filter((f) => !f.subprogram);
  const externs = collectExterns(elf, rawBtf);
  const kconfigOffsets = new Map(externs.list.flatMap((e) => (e.kind === 'kconfig' ? [[e.name, e.offset] as const] : [])));
  const btf = rawBtf === undefined ? undefined : fixupBtf(rawBtf, elf, kconfigOffsets, externs.kconfigMap?.valueSize ?? 0);
  const ext = btf === undefined ? undefined : btfExtFromElf(elf, btf);
  const maps = collectMaps(elf, kinds, btf, options, entries);
  if (externs.kconfigMap !== undefined) {
    maps.list.push({ ...externs.kconfigMap, valueTypeId: btf?.findByName(KCONFIG_SEC, 'datasec')[0] ?? 0 });
  }
  checkUnique(maps.list, elf);

  const relocations = collectRelocations({
    elf, functions, textIndex, mapsAt: maps.mapsAt, dataMaps: maps.dataMaps, unsupported: unsupportedSections(elf, kinds),
    externs: externs.bySymbol,
  });
  const exceptionCallback = exceptionCallbacks(btf, functions);
  const programs = entries.map((entry) => programSpec(entry,
    linkProgram(entry, { functions, relocations, textIndex, ext, kconfigOffsets, exceptionCallback }), license, kernelVersion, options));
  return new ObjectSpec({
    programs, maps: maps.list, variables: maps.variables, externs: externs.list, btf, license, kernelVersion,
    bigEndian: elf.header.bigEndian,
  });
}

/** libbpf: bpf_object__elf_init accepts only relocatable eBPF objects with a symbol table. */
function checkHeader(elf: ElfFile): void {
  if (elf.header.type !== ET_REL) throw new ObjectError(`not a relocatable object (e_type ${elf.header.type})`, 16);
  if (elf.header.machine !== EM_BPF && elf.header.machine !== 0) {
    throw new ObjectError(`not an eBPF object (e_machine ${elf.header.machine}, expected ${EM_BPF})`, 18);
  }
  if (elf.symbols.length === 0) throw new ObjectError('the object has no symbol table (stripped?)', 0);
}

interface CollectedMaps {
  list: MapSpec[];
  variables: VariableSpec[];
  mapsAt: Map<number, Map<number, string>>;
  dataMaps: Map<number, string>;
}

function collectMaps(
  elf: ElfFile, kinds: readonly SectionKind[], btf: Btf | undefined, options: LoadObjectOptions, entries: readonly ElfFunction[],
): CollectedMaps {
  const out: CollectedMaps = { list: [], variables: [], mapsAt: new Map(), dataMaps: new Map() };
  for (const section of elf.sections) {
    const kind = kinds[section.index]!;
    if (kind === 'legacy_maps') {
      const found = readLegacyMaps(elf, section);
      out.list.push(...found.map((m) => m.spec));
      out.mapsAt.set(section.index, new Map(found.map((m) => [m.offset, m.spec.name])));
    } else if (kind === 'btf_maps') {
      const starts = new Map(entries.map((f) => [`${f.code.section.index}:${f.slotOffset * 8}`, f.name]));
      const programAt = (sectionIndex: number, offset: number): string | undefined => starts.get(`${sectionIndex}:${offset}`);
      const found = readBtfMaps(elf, section, btf, options.strictMaps ?? true, programAt);
      out.list.push(...found.map((m) => m.spec));
      out.mapsAt.set(section.index, new Map(found.map((m) => [m.offset, m.spec.name])));
    } else if (kind === 'struct_ops') {
      throw new NotSupportedError(`section '${section.name}': struct_ops maps are not supported yet`);
    }
  }
  for (const section of elf.sections) {
    const kind = kinds[section.index]!;
    if (!isDataKind(kind)) continue;
    const { map, variables } = readDataSection(elf, section, kind, btf);
    out.list.push(map);
    out.variables.push(...variables);
    out.dataMaps.set(section.index, map.name);
  }
  return out;
}

function checkUnique(maps: readonly MapSpec[], elf: ElfFile): void {
  const seen = new Set<string>();
  for (const m of maps) {
    if (seen.has(m.name)) {
      const at = findSection(elf, m.section)?.headerOffset ?? 0;
      throw new ObjectError(`two maps are named '${m.name}'`, at, { section: m.section, symbol: m.name });
    }
    seen.add(m.name);
  }
}

/** Sections whose symbols programs may not reference (yet). */
function unsupportedSections(elf: ElfFile, kinds: readonly SectionKind[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const s of elf.sections) {
    if (kinds[s.index] === 'arena') out.set(s.index, 'arena (__arena) global variables are not supported');
    else if (s.name === '.jumptables') out.set(s.index, 'jump tables (gotox) are not supported');
    else if (kinds[s.index] === 'btf' || kinds[s.index] === 'btf_ext') out.set(s.index, 'BTF is not addressable data');
  }
  return out;
}

function programSpec(
  entry: ElfFunction, linked: ReturnType<typeof linkProgram>, license: string, kernelVersion: number, options: LoadObjectOptions,
): ProgramSpec {
  const sectionName = entry.code.section.name;
  const autoload = !sectionName.startsWith('?');
  const override = options.programTypes?.[entry.name] ?? options.programTypes?.[sectionName];
  const matched = matchSection(sectionName);
  let typeInfo: Pick<ProgramSpec, 'type' | 'expectedAttachType' | 'attachTarget' | 'programFlags' | 'sectionFlags'>;
  if (override !== undefined) {
    typeInfo = {
      type: override.type,
      expectedAttachType: override.expectedAttachType ?? 0,
      attachTarget: override.attachTarget ?? matched?.target,
      programFlags: 0,
      sectionFlags: 0,
    };
  } else if (matched !== undefined) {
    typeInfo = {
      type: matched.programType, expectedAttachType: matched.attachType, attachTarget: matched.target,
      programFlags: matched.programFlags, sectionFlags: matched.def.flags,
    };
  } else {
    const section = entry.code.section;
    throw new ObjectError(
      `program '${entry.name}': unknown section name '${sectionName}' (libbpf's section table has no match); ` +
      `give its program type explicitly (options.programTypes['${entry.name}'], ebpf --prog-type)`,
      section.headerOffset, { section: sectionName, symbol: entry.name });
  }
  return {
    name: entry.name,
    sectionName,
    ...typeInfo,
    sleepable: (typeInfo.programFlags & BPF_F_SLEEPABLE) !== 0,
    xdpFrags: (typeInfo.programFlags & BPF_F_XDP_HAS_FRAGS) !== 0,
    autoload,
    license,
    kernelVersion,
    ...linked,
  };
}

/**
 * libbpf: bpf_prog_assign_exc_cb — a `exception_callback:NAME` decl tag on an entry program's
 * FUNC names the global subprogram to append as its exception callback.
 */
function exceptionCallbacks(btf: Btf | undefined, functions: readonly ElfFunction[]): ((entry: ElfFunction) => ElfFunction | undefined) | undefined {
  if (btf === undefined) return undefined;
  const prefix = 'exception_callback:';
  const byProgram = new Map<string, string>();
  for (let id = 1; id < btf.length; id++) {
    const t = btf.type(id);
    if (t.kind !== 'decl_tag' || t.componentIdx !== -1 || !t.name.startsWith(prefix) || !btf.has(t.type)) continue;
    const fn = btf.type(t.type);
    if (fn.kind !== 'func') continue;
    byProgram.set(fn.name, t.name.slice(prefix.length));
  }
  if (byProgram.size === 0) return undefined;
  return (entry) => {
    const name = byProgram.get(entry.name);
    if (name === undefined) return undefined;
    const sub = functions.find((f) => f.subprogram && f.name === name);
    if (sub === undefined || !sub.global || sub.hidden) {
      const section = entry.code.section;
      throw new ObjectError(`program '${entry.name}': exception callback '${name}' must be a global non-hidden function in .text`,
        section.headerOffset, { section: section.name, symbol: entry.name });
    }
    return sub;
  };
}
