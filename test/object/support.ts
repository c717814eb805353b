/**
 * References for the object tests: llvm-readelf/llvm-objdump output, the libbpf oracle
 * (libbpf-oracle.c, built here against the system's libbpf) and a scratch bpffs directory
 * for bpftool loads.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { repoRoot } from '../support/shared.js';
import { findTool } from '../support/tools.js';

export const objectsDir = join(repoRoot, 'bpf', 'objects');

/** The committed object fixtures of src/object. */
export const objectFixtures: string[] = readdirSync(objectsDir).filter((f) => f.endsWith('.o')).sort();

/** Fixtures libbpf 1.1 (bpftool's) opens and this kernel loads. */
export const loadableFixtures = ['globals.o', 'maps_btf.o', 'maps_pinned.o', 'sections_net.o', 'subprogs.o'];

export const readelf = findTool('llvm-readelf-19');
export const objdump = findTool('llvm-objdump-19');
export const bpftool = findTool('bpftool');
const cc = findTool('cc', 'gcc', 'clang-19', 'clang');

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

export interface ReadelfSection { index: number; name: string; type: number; flags: number; size: number; info: number }
export interface ReadelfSymbol { name: string; value: number; size: number; type: string; binding: string; section: number; visibility: number }
export interface ReadelfRelocation { offset: number; type: number; symbol: string }

/** Sections, symbols and relocations as llvm-readelf's JSON output gives them. */
export function readelfJson(file: string): { sections: ReadelfSection[]; symbols: ReadelfSymbol[]; relocations: Map<string, ReadelfRelocation[]> } {
  type Json = [{
    Sections: { Section: { Index: number; Name: { Name: string }; Type: { Value: number }; Flags: { Value: number }; Size: number; Info: number } }[];
    Symbols: { Symbol: { Name: { Name: string }; Value: number; Size: number; Type: { Name: string }; Binding: { Name: string }; Section: { Value: number }; Other: { Value: number } } }[];
    Relocations: { SectionIndex: number; Relocs: { Relocation: { Offset: number; Type: { Value: number }; Symbol: { Name: string } } }[] }[];
  }];
  const [doc] = JSON.parse(run(readelf!, ['--elf-output-style=JSON', '-S', '-s', '-r', file])) as Json;
  const relocations = new Map<string, ReadelfRelocation[]>();
  for (const r of doc.Relocations ?? []) {
    const name = doc.Sections.find((s) => s.Section.Index === r.SectionIndex)?.Section.Name.Name ?? '';
    relocations.set(name, r.Relocs.map(({ Relocation: x }) => ({ offset: x.Offset, type: x.Type.Value, symbol: x.Symbol.Name })));
  }
  return {
    sections: doc.Sections.map(({ Section: s }) => ({ index: s.Index, name: s.Name.Name, type: s.Type.Value, flags: s.Flags.Value, size: s.Size, info: s.Info })),
    symbols: doc.Symbols.map(({ Symbol: s }) => ({
      name: s.Name.Name, value: s.Value, size: s.Size, type: s.Type.Name, binding: s.Binding.Name, section: s.Section.Value, visibility: s.Other.Value & 3,
    })),
    relocations,
  };
}

/** Instruction slots per function, as llvm-objdump -d lists them (an lddw's 16 bytes are two). */
export function objdumpFunctions(file: string): Map<string, { section: string; slots: number }> {
  const out = new Map<string, { section: string; slots: number }>();
  let section = '';
  let fn: { section: string; slots: number } | undefined;
  for (const line of run(objdump!, ['-d', file]).split('\n')) {
    const sec = /^Disassembly of section (.*):$/.exec(line);
    if (sec) { section = sec[1]!; continue; }
    const label = /^[0-9a-f]+ <(.*)>:$/.exec(line);
    if (label) { fn = { section, slots: 0 }; out.set(label[1]!, fn); continue; }
    const insn = /^\s*\d+:\t([0-9a-f]{2}(?: [0-9a-f]{2})*)\t/.exec(line);
    if (insn && fn) fn.slots += insn[1]!.split(' ').length / 8;
  }
  return out;
}

/** What libbpf-oracle prints. */
export interface OracleMap { name: string; type: number; key: number; value: number; max: number; flags: number; numa: number; extra: number; pinned: boolean; inner: OracleMap | null }
export interface OracleReport {
  error?: string;
  programs: { name: string; section: string; type: number; attach: number; autoload: boolean; insns: number }[];
  maps: OracleMap[];
  loaded?: boolean;
  linked?: { name: string; insns: number; lineInfo: number; funcTypes: number[] }[];
}

let oracleBuild: { path: string } | { skip: string } | undefined;

/**
 * The libbpf oracle's path, built on first use; or a skip reason. Under EBPF_REQUIRE_KERNEL=1
 * (CI) a missing compiler or libbpf-dev is a failure, as for the other reference tools.
 */
export function libbpfOracle(): { path: string } | { skip: string } {
  const built = buildOracle();
  if ('skip' in built && process.env.EBPF_REQUIRE_KERNEL === '1') throw new Error(`libbpf oracle required in CI: ${built.skip}`);
  return built;
}

function buildOracle(): { path: string } | { skip: string } {
  if (oracleBuild !== undefined) return oracleBuild;
  if (cc === undefined) return (oracleBuild = { skip: 'no C compiler for the libbpf oracle' });
  if (!existsSync('/usr/include/bpf/libbpf.h')) return (oracleBuild = { skip: 'libbpf-dev headers not installed' });
  const dir = mkdtempSync(join(tmpdir(), 'ebpf-oracle-'));
  const path = join(dir, 'libbpf-oracle');
  const r = spawnSync(cc, ['-O1', '-o', path, join(repoRoot, 'test', 'object', 'libbpf-oracle.c'), '-lbpf'], { encoding: 'utf8' });
  if (r.status !== 0) return (oracleBuild = { skip: `cannot build the libbpf oracle: ${r.stderr.trim()}` });
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return (oracleBuild = { path });
}

/** libbpf's view of `file`; with `pinRoot`, loads it (maps pinned by name go there). */
export function oracleReport(oracle: string, file: string, pinRoot?: string): OracleReport {
  return JSON.parse(run(oracle, pinRoot === undefined ? [file] : [file, 'load', pinRoot])) as OracleReport;
}

/** libbpf_prog_type_by_name for each name: [type, attach] or null. */
export function oracleSections(oracle: string, names: string[]): Record<string, [number, number] | null> {
  return JSON.parse(run(oracle, ['--sections', ...names])) as Record<string, [number, number] | null>;
}

const BPF_FS_MAGIC = 0xcafe4a11;

/**
 * A fresh directory on a bpffs for pins: under /sys/fs/bpf when it is mounted, else a
 * private bpffs mounted on a temporary directory. `cleanup` removes every pin (and unmounts).
 * A skip reason when neither works (not root).
 */
export function scratchBpffs(): { path: string; cleanup: () => void } | { skip: string } {
  try {
    if (statfsSync('/sys/fs/bpf').type === BPF_FS_MAGIC) {
      const path = mkdtempSync('/sys/fs/bpf/ebpf-test-');
      return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
    }
  } catch { /* fall through to a private mount */ }
  const dir = mkdtempSync(join(tmpdir(), 'ebpfbpffs'));
  const r = spawnSync('mount', ['-t', 'bpf', 'bpf', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return { skip: `cannot mount a bpffs (${r.stderr.trim() || `exit ${r.status}`})` };
  }
  return {
    path: dir,
    cleanup: () => {
      spawnSync('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The name libbpf gives a global-data map (libbpf.c internal_map_name): the object's name
 * before its first dot, then the section name, within the kernel's 15 characters; a
 * section with two or more dots keeps its own name only.
 */
export function libbpfDataMapName(file: string, section: string): string {
  const objName = basename(file).split('.')[0]!;
  let sfx = Math.max(7, section.length);
  if (sfx >= 16) sfx = 15;
  const pfx = section.indexOf('.', 1) >= 0 ? 0 : Math.min(15 - sfx, objName.length);
  return (objName.slice(0, pfx) + section.slice(0, sfx)).replace(/[^A-Za-z0-9_.]/g, '_');
}

/** Runs bpftool with JSON output. */
export function bpftoolJson<T>(args: string[]): T {
  return JSON.parse(run(bpftool!, ['-j', ...args])) as T;
}

/** Runs bpftool; returns its status and output. */
export function bpftoolRun(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(bpftool!, args, { encoding: 'utf8' });
}
