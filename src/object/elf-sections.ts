/**
 * Sorts an object's ELF sections into what they hold, the way libbpf's
 * bpf_object__elf_collect does: code, global data, map definitions, BTF, license and version.
 */
import { type ElfFile, type ElfSection, SHF_EXECINSTR, SHT_NOBITS, SHT_PROGBITS } from '../elf/index.js';
import { ObjectError } from './errors.js';

/** What a section is to the object loader. */
export type SectionKind =
  | 'code' | 'data' | 'rodata' | 'bss' | 'btf_maps' | 'legacy_maps' | 'license' | 'version'
  | 'btf' | 'btf_ext' | 'struct_ops' | 'arena' | 'other';

/** Section names libbpf gives a meaning (libbpf.c: MAPS_ELF_SEC, DATA_SEC, …). */
export const MAPS_SEC = '.maps';
export const LEGACY_MAPS_SEC = 'maps';
export const DATA_SEC = '.data';
export const RODATA_SEC = '.rodata';
export const BSS_SEC = '.bss';
export const KCONFIG_SEC = '.kconfig';
export const KSYMS_SEC = '.ksyms';
export const TEXT_SEC = '.text';
export const ARENA_SEC = '.addr_space.1';

const isNamed = (name: string, base: string): boolean => name === base || name.startsWith(`${base}.`);

/** The kind of one section (libbpf: bpf_object__elf_collect, ignore_elf_section). */
export function sectionKind(s: ElfSection): SectionKind {
  const { name } = s;
  if (name === 'license') return 'license';
  if (name === 'version') return 'version';
  if (name === LEGACY_MAPS_SEC) return 'legacy_maps';
  if (name === MAPS_SEC) return 'btf_maps';
  if (name === '.BTF') return 'btf';
  if (name === '.BTF.ext') return 'btf_ext';
  if (s.type === SHT_PROGBITS && s.size > 0) {
    if ((s.flags & SHF_EXECINSTR) !== 0) return 'code';
    if (isNamed(name, DATA_SEC)) return 'data';
    if (isNamed(name, RODATA_SEC)) return 'rodata';
    if (['.struct_ops', '.struct_ops.link', '?.struct_ops', '?.struct_ops.link'].includes(name)) return 'struct_ops';
    if (name === ARENA_SEC) return 'arena';
  }
  if (s.type === SHT_NOBITS && s.size > 0 && isNamed(name, BSS_SEC)) return 'bss';
  return 'other';
}

/** True for the sections that become global-data maps. */
export function isDataKind(kind: SectionKind): kind is 'data' | 'rodata' | 'bss' {
  return kind === 'data' || kind === 'rodata' || kind === 'bss';
}

/** Every section's kind, indexed like `elf.sections`. */
export function classifySections(elf: ElfFile): SectionKind[] {
  return elf.sections.map((s) => (s.index === 0 ? 'other' : sectionKind(s)));
}

/** The `license` section as a string: up to its first NUL (libbpf: bpf_object__init_license). */
export function readLicense(s: ElfSection): string {
  const end = s.data.indexOf(0);
  return new TextDecoder().decode(end < 0 ? s.data : s.data.subarray(0, end));
}

/** The `version` section: one u32 in the object's byte order (libbpf: bpf_object__init_kversion). */
export function readKernelVersion(s: ElfSection, bigEndian: boolean): number {
  if (s.size !== 4 || s.type === SHT_NOBITS) {
    throw new ObjectError(`'version' section is ${s.size} bytes, expected 4`, s.headerOffset, { section: s.name });
  }
  return new DataView(s.data.buffer, s.data.byteOffset, 4).getUint32(0, !bigEndian);
}
