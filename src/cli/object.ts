/** `ebpf object show FILE`: what an eBPF object holds — programs, maps, globals, externs, license. */
import { parseArgs } from 'node:util';
import { formatCDecl } from '../btf/c-dump.js';
import {
  attachTypeShortName, flagNames, loadObjectSpec, MapFlag, mapTypeShortName, ProgramType, programTypeShortName,
  type ExternSpec, type LoadObjectOptions, type MapSpec, type ObjectSpec, type ProgramSpec,
} from '../object/index.js';
import { type Command, UsageError } from './command.js';

/** One program, as `object show -j` prints it. */
export interface ProgramReport {
  name: string;
  section: string;
  /** bpftool's name of the program type (`xdp`, `sched_cls`, …). */
  type: string;
  typeId: number;
  /** Lower-case attach type (`cgroup_inet4_connect`), or null when the section gives none. */
  attachType: string | null;
  attachTypeId: number;
  attachTarget: string | null;
  sleepable: boolean;
  xdpFrags: boolean;
  autoload: boolean;
  /** Length of the linked program in 8-byte instruction slots (the kernel's insn_cnt). */
  insns: number;
  /** Number of instructions (an lddw counts once). */
  instructions: number;
  functions: { name: string; section: string; slot: number; insns: number }[];
  references: { slot: number; kind: string; target: string; offset?: number }[];
}

/** One map, as `object show -j` prints it. */
export interface MapReport {
  name: string;
  origin: string;
  section: string;
  type: string;
  typeId: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  flagNames: string[];
  numaNode: number;
  mapExtra: string;
  pinning: 'none' | 'by_name';
  key: string | null;
  value: string | null;
  innerMap: MapReport | null;
  slots: { index: number; name: string }[];
}

/** The JSON document of `ebpf object show -j`. */
export interface ObjectReport {
  license: string;
  kernelVersion: number;
  programs: ProgramReport[];
  maps: MapReport[];
  globals: { name: string; section: string; offset: number; size: number; linkage: string; constant: boolean; type: string | null }[];
  externs: (ExternSpec & { typeName: string | null })[];
}

/** Whether an attach type of 0 means BPF_CGROUP_INET_INGRESS rather than "none". */
function attachName(p: ProgramSpec): string | null {
  if (p.expectedAttachType === 0 && p.type !== ProgramType.CGROUP_SKB) return null;
  if (p.expectedAttachType === 0 && p.sectionName.replace(/^\?/, '') === 'cgroup/skb') return null;
  return attachTypeShortName(p.expectedAttachType);
}

function typeName(spec: ObjectSpec, id: number, name = ''): string | null {
  if (spec.btf === undefined || id === 0) return null;
  try {
    return formatCDecl(spec.btf, id, name);
  } catch {
    return `[${id}]`;
  }
}

function mapReport(spec: ObjectSpec, m: MapSpec): MapReport {
  return {
    name: m.name, origin: m.origin, section: m.section, type: mapTypeShortName(m.type), typeId: m.type,
    keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags, flagNames: flagNames(MapFlag, m.flags),
    numaNode: m.numaNode, mapExtra: m.mapExtra.toString(), pinning: m.pinning === 1 ? 'by_name' : 'none',
    key: typeName(spec, m.keyTypeId), value: typeName(spec, m.valueTypeId),
    innerMap: m.innerMap === undefined ? null : mapReport(spec, m.innerMap),
    slots: m.slots.map((s) => ({ index: s.index, name: s.name })),
  };
}

/** The report `ebpf object show` prints, as data. */
export function objectReport(spec: ObjectSpec): ObjectReport {
  return {
    license: spec.license,
    kernelVersion: spec.kernelVersion,
    programs: spec.programs.map((p) => {
      const last = p.functions[p.functions.length - 1];
      return {
        name: p.name, section: p.sectionName, type: programTypeShortName(p.type), typeId: p.type,
        attachType: attachName(p), attachTypeId: p.expectedAttachType, attachTarget: p.attachTarget ?? null,
        sleepable: p.sleepable, xdpFrags: p.xdpFrags, autoload: p.autoload,
        insns: last === undefined ? 0 : last.slot + last.slotCount,
        instructions: p.instructions.length,
        functions: p.functions.map((f) => ({ name: f.name, section: f.section, slot: f.slot, insns: f.slotCount })),
        references: p.references.map((r) => ({
          slot: r.slot, kind: r.kind, target: r.kind === 'map' || r.kind === 'map_value' ? r.map : r.extern,
          ...(r.kind === 'map_value' ? { offset: r.offset } : {}),
        })),
      };
    }),
    maps: spec.maps.map((m) => mapReport(spec, m)),
    globals: spec.variables.map((v) => ({
      name: v.name, section: v.section, offset: v.offset, size: v.size, linkage: v.linkage, constant: v.constant,
      type: typeName(spec, v.typeId),
    })),
    externs: spec.externs.map((e) => ({ ...e, typeName: typeName(spec, e.kind === 'ksym' ? e.typeId : (spec.btf?.type(e.btfId) as { type?: number } | undefined)?.type ?? 0) })),
  };
}

/** Left-aligned columns with a header row. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => `  ${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}`.trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** The text form of the report. */
export function formatObjectReport(r: ObjectReport, file: string): string {
  const out: string[] = [`${file}: license "${r.license}"${r.kernelVersion ? `, kernel version 0x${r.kernelVersion.toString(16)}` : ''}`];
  out.push('', `programs (${r.programs.length}):`);
  if (r.programs.length) {
    out.push(table(['NAME', 'SECTION', 'TYPE', 'ATTACH', 'INSNS', 'FUNCTIONS'], r.programs.map((p) => [
      p.name, p.section, p.type + (p.sleepable ? ' (sleepable)' : '') + (p.xdpFrags ? ' (frags)' : ''),
      p.attachType ?? '-', String(p.insns), p.functions.map((f) => f.name).join(','),
    ])));
  }
  out.push('', `maps (${r.maps.length}):`);
  if (r.maps.length) {
    out.push(table(['NAME', 'TYPE', 'KEY', 'VALUE', 'MAX_ENTRIES', 'FLAGS', 'DETAILS'], r.maps.map((m) => [
      m.name, m.type, String(m.keySize), String(m.valueSize), String(m.maxEntries), m.flagNames.join('|') || '0',
      [
        m.pinning === 'by_name' ? 'pinned by name' : '',
        m.innerMap ? `inner ${m.innerMap.type} ${m.innerMap.keySize}/${m.innerMap.valueSize}/${m.innerMap.maxEntries}` : '',
        m.slots.length ? `slots ${m.slots.map((s) => `[${s.index}]=${s.name}`).join(' ')}` : '',
        m.mapExtra !== '0' ? `map_extra ${m.mapExtra}` : '',
      ].filter(Boolean).join(', '),
    ])));
  }
  out.push('', `globals (${r.globals.length}):`);
  if (r.globals.length) {
    out.push(table(['NAME', 'SECTION', 'OFFSET', 'SIZE', 'TYPE'], r.globals.map((g) => [
      g.name, g.section, String(g.offset), String(g.size), `${g.linkage === 'static' ? 'static ' : ''}${g.type ?? '?'}`,
    ])));
  }
  if (r.externs.length) {
    out.push('', `externs (${r.externs.length}):`);
    out.push(table(['NAME', 'KIND', 'TYPE'], r.externs.map((e) => [
      e.name, e.kind === 'kconfig' ? `kconfig @${e.offset}` : e.func ? 'kfunc' : 'ksym', `${e.weak ? '__weak ' : ''}${e.typeName ?? 'void'}`,
    ])));
  }
  return `${out.join('\n')}\n`;
}

/** `--prog-type NAME=TYPE` options as LoadObjectOptions.programTypes. */
export function programTypeOptions(values: readonly string[]): LoadObjectOptions['programTypes'] {
  const out: Record<string, { type: number }> = {};
  for (const v of values) {
    const eq = v.lastIndexOf('=');
    if (eq <= 0) throw new UsageError(`--prog-type wants NAME=TYPE, got '${v}'`);
    const typeText = v.slice(eq + 1).toUpperCase().replace(/^BPF_PROG_TYPE_/, '');
    const type = (ProgramType as Record<string, number>)[typeText] ?? (/^\d+$/.test(typeText) ? Number(typeText) : undefined);
    if (type === undefined) throw new UsageError(`unknown program type '${v.slice(eq + 1)}'`);
    out[v.slice(0, eq)] = { type };
  }
  return out;
}

export const objectCommand: Command = {
  name: 'object',
  summary: 'show the programs, maps and globals of an eBPF ELF object',
  usage: `Usage: ebpf object show FILE [-j] [--prog-type NAME=TYPE]...

Parses FILE (an eBPF object from clang -target bpf) the way libbpf opens it and prints
its programs (section, program and attach type, instructions after linking subprograms),
maps (BTF-defined, legacy and global data), global variables, externs and license.

  -j, --json              print the report as JSON
  --prog-type NAME=TYPE   program type for a program (or section) whose section name
                          libbpf does not know, e.g. --prog-type my_filter=socket_filter`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        json: { type: 'boolean', short: 'j' },
        'prog-type': { type: 'string', multiple: true },
      },
    });
    const [sub, file, ...rest] = positionals;
    if (sub !== 'show') throw new UsageError(sub === undefined ? 'expected a subcommand: show' : `unknown subcommand '${sub}'`);
    if (file === undefined || rest.length > 0) throw new UsageError('expected one FILE');
    const spec = loadObjectSpec(io.readFile(file), { programTypes: programTypeOptions(values['prog-type'] ?? []) });
    const report = objectReport(spec);
    io.out(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatObjectReport(report, file));
    return 0;
  },
};
