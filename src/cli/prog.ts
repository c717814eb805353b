/**
 * `ebpf prog loadall|show|run`: loading an object's programs into the kernel and looking at the
 * kernel's programs, in bpftool's grammar and with its `-j` shapes. `loadall` reports per program
 * (loaded with its id, or the kernel's error and the end of the verifier log) where bpftool stops
 * at the first failure; `run` is BPF_PROG_TEST_RUN on a program of an object file.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { EbpfError } from '../errors.js';
import { KernelError } from '../kernel/error.js';
import { programIds } from '../kernel/ids.js';
import type { ProgramInfo } from '../kernel/info.js';
import type { TestRunResult } from '../kernel/test-run.js';
import type { KernelObject } from '../kernel/object/kernel-object.js';
import { loadObject } from '../kernel/object/load-object.js';
import { kernelMapName } from '../kernel/object/create-maps.js';
import { objectProgramById, openObjectProgram } from '../kernel/object/open.js';
import type { ObjectProgram } from '../kernel/object/object-program.js';
import { loadObjectSpec, ProgramType, mapTypeShortName, programTypeShortName, type LoadObjectOptions } from '../object/index.js';
import { loadObjectVm } from '../vm/object/load.js';
import { xdpHelpers } from '../vm/programs/xdp-helpers.js';
import { type Command, type Io, UsageError, toHex } from './command.js';
import { toJson } from './json-value.js';
import { fdinfo, takeOutputFlags } from './map.js';
import { programTypeOptions } from './object.js';

const USAGE = `Usage: ebpf prog loadall OBJ [--pin DIR] [--pinmaps DIR] [--pin-root DIR]
                        [--prog-type NAME=TYPE]... [--log-level N] [-j [-p]]
       ebpf prog show [ID | id ID | pinned PATH] [-j [-p]]
       ebpf prog run OBJ --prog NAME --data-in FILE [--ctx-in FILE] [--repeat N]
                     [--data-out FILE] [--ctx-out FILE] [--backend kernel|vm] [-j]
       ebpf prog run (id ID | pinned PATH) --data-in FILE ...

loadall   load every map and program of OBJ into the kernel (as bpftool prog loadall, but
          per program: a program the verifier refuses is reported with the kernel's
          error and the end of its log, and the others still load). Exit code 1 when
          any program failed. Everything is released on exit unless pinned:
            --pin DIR       pin each program at DIR/NAME (maps at DIR/maps/ unless --pinmaps)
            --pinmaps DIR   pin each map at DIR/NAME (dots made underscores, as libbpf)
            --pin-root DIR  where maps pinned by name live (default /sys/fs/bpf)
            --log-level N   verifier log level for every program (1: the log, 2: verbose)
show      the kernel's programs (bpftool prog show)
run       BPF_PROG_TEST_RUN: load OBJ (its maps and the one program), run it on the
          bytes of --data-in (and --ctx-in), print the return value and duration
            --repeat N      run N times; the duration is the average
            --backend B     kernel (default); vm runs it in the userspace VM
  -j      JSON output (bpftool -j): run prints {retval, durationNs, dataOut, ctxOut}`;

export const progCommand: Command = {
  name: 'prog',
  summary: 'load objects into the kernel, show and test-run programs (bpftool prog)',
  usage: USAGE,
  async run(args, io) {
    const flags = takeOutputFlags(args);
    const { values, positionals } = parseArgs({
      args: flags.rest,
      allowPositionals: true,
      options: {
        pin: { type: 'string' },
        pinmaps: { type: 'string' },
        'pin-root': { type: 'string' },
        'prog-type': { type: 'string', multiple: true },
        'log-level': { type: 'string' },
        prog: { type: 'string' },
        'data-in': { type: 'string' },
        'ctx-in': { type: 'string' },
        'data-out': { type: 'string' },
        'ctx-out': { type: 'string' },
        repeat: { type: 'string' },
        backend: { type: 'string' },
      },
    });
    const [sub, ...rest] = positionals;
    const out = (value: unknown): void => io.out(`${toJson(value, flags.pretty ? 2 : undefined)}\n`);
    switch (sub) {
      case 'loadall': {
        const [file, ...extra] = rest;
        if (file === undefined || extra.length > 0) throw new UsageError('expected one OBJ');
        const report = loadAll(io, file, {
          programTypes: programTypeOptions(values['prog-type'] ?? []),
          logLevel: values['log-level'] === undefined ? 0 : positiveInt(values['log-level'], '--log-level'),
          ...(values['pin-root'] === undefined ? {} : { pinRoot: values['pin-root'] }),
          ...(values.pin === undefined ? {} : { pin: values.pin }),
          ...(values.pinmaps === undefined ? {} : { pinMaps: values.pinmaps }),
        });
        if (flags.json) out(report);
        else io.out(formatLoadAll(report));
        return report.programs.every((p) => p.loaded) ? 0 : 1;
      }
      case 'show':
      case 'list': {
        const one = rest.length === 0 ? undefined : selectProgram(rest);
        const reports = one === undefined ? allPrograms() : [withProgram(one, programReport)];
        if (flags.json) out(one === undefined ? reports : reports[0]);
        else io.out(reports.map(formatProgramReport).join(''));
        return 0;
      }
      case 'run': {
        const backend = values.backend ?? 'kernel';
        if (backend !== 'kernel' && backend !== 'vm') throw new UsageError(`unknown backend '${backend}' (kernel or vm)`);
        if (values['data-in'] === undefined && values['ctx-in'] === undefined) throw new UsageError('give --data-in FILE (and/or --ctx-in FILE)');
        const input = {
          ...(values['data-in'] === undefined ? {} : { data: io.readFile(values['data-in']) }),
          ...(values['ctx-in'] === undefined ? {} : { ctx: io.readFile(values['ctx-in']) }),
          ...(values.repeat === undefined ? {} : { repeat: positiveInt(values.repeat, '--repeat') }),
          // The context comes back only when asked for: some program types refuse ctx_out.
          ctxSizeOut: values['ctx-out'] === undefined ? 0 : undefined,
        };
        const result = backend === 'vm'
          ? runProgramVm(io, rest, values.prog, values['prog-type'] ?? [], input)
          : runProgram(io, rest, values.prog, values['prog-type'] ?? [], input);
        if (values['data-out'] !== undefined) io.writeFile(values['data-out'], result.dataOut);
        if (values['ctx-out'] !== undefined && result.ctxOut !== undefined) io.writeFile(values['ctx-out'], result.ctxOut);
        if (flags.json) {
          out({
            retval: result.retval, durationNs: result.durationNs, dataOut: toHex(result.dataOut),
            ...(result.ctxOut === undefined ? {} : { ctxOut: toHex(result.ctxOut) }),
          });
        } else {
          io.out(`Return value: ${result.retval}, duration${(input.repeat ?? 1) > 1 ? ' (average)' : ''}: ${result.durationNs}ns\n`);
        }
        return 0;
      }
      case undefined:
        throw new UsageError('expected a subcommand (loadall, show, run)');
      default:
        throw new UsageError(`unknown subcommand '${sub}'`);
    }
  },
};

function positiveInt(text: string, what: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${what} wants a number, got '${text}'`);
  return Number(text);
}

/** The object's name as libbpf takes it: the file name up to its first dot. */
const objectNameOf = (file: string): string => basename(file).split('.')[0] ?? '';

/** One program's outcome in `prog loadall -j`. */
export interface LoadAllProgram {
  name: string;
  section: string;
  type: string;
  loaded: boolean;
  id?: number;
  tag?: string;
  /** Where it was pinned (with --pin). */
  pinned?: string;
  /** The failure: the kernel's errno name (or the loader's reason), and the message. */
  errno?: string;
  error?: string;
  /** The last lines of the verifier log. */
  log?: string[];
}

/** `prog loadall -j`. */
export interface LoadAllReport {
  object: string;
  programs: LoadAllProgram[];
  maps: { name: string; kernelName: string; type: string; id: number; pinned?: string }[];
  /** Why the object's BTF did not load (loading went on without it). */
  btfError?: string;
}

const LOG_TAIL = 8;

function loadAll(io: Io, file: string, options: {
  programTypes: LoadObjectOptions['programTypes']; logLevel: number; pinRoot?: string; pin?: string; pinMaps?: string;
}): LoadAllReport {
  const objectName = objectNameOf(file);
  const spec = loadObjectSpec(io.readFile(file), { programTypes: options.programTypes });
  const selected = spec.programs.filter((p) => p.autoload);
  let obj: KernelObject;
  try {
    obj = loadObject(spec, {
      partial: true, objectName, logLevel: options.logLevel, ...(options.pinRoot === undefined ? {} : { pinPath: options.pinRoot }),
    });
  } catch (err) {
    // The object itself failed (an extern, a map): no program can load.
    return {
      object: file,
      programs: selected.map((p) => ({ name: p.name, section: p.sectionName, type: programTypeShortName(p.type), loaded: false, ...failure(err) })),
      maps: [],
    };
  }
  try {
    const mapDir = options.pinMaps ?? (options.pin === undefined ? undefined : join(options.pin, 'maps'));
    if (options.pin !== undefined) mkdirSync(options.pin, { recursive: true });
    if (mapDir !== undefined) mkdirSync(mapDir, { recursive: true });
    const programs = selected.map((p): LoadAllProgram => {
      const base = { name: p.name, section: p.sectionName, type: programTypeShortName(p.type) };
      const loaded = obj.programs[p.name];
      if (loaded === undefined) return { ...base, loaded: false, ...failure(obj.failures[p.name]?.error) };
      const info = loaded.info();
      let pinned: string | undefined;
      if (options.pin !== undefined) {
        pinned = join(options.pin, p.name);
        loaded.pin(pinned);
      }
      return { ...base, loaded: true, id: info.id, tag: info.tag, ...(pinned === undefined ? {} : { pinned }) };
    });
    const maps = Object.values(obj.maps).map((m) => {
      const kernelName = kernelMapName(m.spec!, objectName);
      let pinned = m.pinnedPath;
      if (mapDir !== undefined) {
        pinned = join(mapDir, kernelName.replace(/\./g, '_'));
        m.pin(pinned);
      }
      return { name: m.name, kernelName, type: mapTypeShortName(m.type), id: m.id, ...(pinned === undefined ? {} : { pinned }) };
    });
    return { object: file, programs, maps, ...(obj.btfError === undefined ? {} : { btfError: obj.btfError.message }) };
  } finally {
    obj.dispose();
  }
}

function failure(err: unknown): Pick<LoadAllProgram, 'errno' | 'error' | 'log'> {
  if (err === undefined) return { error: 'not loaded' };
  const e = err instanceof Error ? err : new Error(String(err));
  const kernel = e instanceof KernelError ? e : e.cause instanceof KernelError ? e.cause : undefined;
  const log = kernel?.log?.split('\n').map((l) => l.trimEnd()).filter((l) => l !== '');
  return {
    errno: kernel?.code ?? (e instanceof EbpfError ? e.name : 'Error'),
    error: e.message,
    ...(log === undefined || log.length === 0 ? {} : { log: log.slice(-LOG_TAIL) }),
  };
}

function formatLoadAll(r: LoadAllReport): string {
  const width = Math.max(4, ...r.programs.map((p) => p.name.length));
  const lines = r.programs.map((p) => {
    const head = `${p.name.padEnd(width)}  ${p.type.padEnd(16)}`;
    if (p.loaded) return `${head}  id ${p.id}  tag ${p.tag}${p.pinned ? `  pinned ${p.pinned}` : ''}\n`;
    const log = (p.log ?? []).map((l) => `\t${l}\n`).join('');
    return `${head}  FAILED: ${p.error}\n${log}`;
  });
  const ok = r.programs.filter((p) => p.loaded).length;
  const btf = r.btfError === undefined ? '' : `warning: the kernel refused the object's BTF (loaded without it): ${r.btfError}\n`;
  return `${btf}${lines.join('')}${ok}/${r.programs.length} programs loaded, ${r.maps.length} maps\n`;
}

/** `ID` | `id ID` | `pinned PATH` | a path. */
function selectProgram(args: readonly string[]): () => ObjectProgram {
  const [first, second, ...rest] = args;
  let open: () => ObjectProgram;
  let used = 1;
  if (first === 'id' || first === 'pinned') {
    if (second === undefined) throw new UsageError(`'${first}' needs a value`);
    used = 2;
    open = first === 'id' ? () => objectProgramById(id(second)) : () => openObjectProgram(second);
  } else if (first !== undefined && /^\d+$/.test(first)) {
    open = () => objectProgramById(Number(first));
  } else if (first !== undefined && first.startsWith('/')) {
    open = () => openObjectProgram(first);
  } else {
    throw new UsageError(`'${first}' is not a program (ID, id ID or pinned PATH)`);
  }
  const extra = [...(used === 1 && second !== undefined ? [second] : []), ...rest];
  if (extra.length > 0) throw new UsageError(`unexpected '${extra[0]}'`);
  return open;
}

function id(text: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`'${text}' is not an id`);
  return Number(text);
}

function withProgram<T>(open: () => ObjectProgram, use: (p: ObjectProgram) => T): T {
  const p = open();
  try {
    return use(p);
  } finally {
    p.close();
  }
}

/** One program as `bpftool -j prog show` prints it. */
export interface ProgramShowReport {
  id: number;
  type: string;
  name: string;
  tag: string;
  gpl_compatible: boolean;
  loaded_at: number;
  uid: number;
  bytes_xlated: number;
  jited: boolean;
  bytes_jited?: number;
  bytes_memlock?: number;
  map_ids?: number[];
  btf_id?: number;
}

/** Seconds since boot on CLOCK_BOOTTIME's scale (what `load_time` counts from). */
function uptimeSeconds(): number {
  try {
    return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  } catch {
    return 0;
  }
}

function programReport(p: ObjectProgram): ProgramShowReport {
  const info: ProgramInfo = p.info();
  const memlock = fdinfo(p.fd).get('memlock');
  // bpftool: wall-clock time = now - (time since boot - load time since boot).
  const loadedAt = Math.floor(Date.now() / 1000 - uptimeSeconds() + Number(info.loadTime) / 1e9);
  return {
    id: info.id,
    type: programTypeShortName(info.type),
    name: info.name,
    tag: info.tag,
    gpl_compatible: info.gplCompatible,
    loaded_at: loadedAt,
    uid: info.createdByUid,
    bytes_xlated: info.xlatedLength,
    jited: info.jitedLength > 0,
    ...(info.jitedLength > 0 ? { bytes_jited: info.jitedLength } : {}),
    ...(memlock === undefined ? {} : { bytes_memlock: Number(memlock) }),
    ...(info.mapIds.length > 0 ? { map_ids: [...info.mapIds] } : {}),
    ...(info.btfId ? { btf_id: info.btfId } : {}),
  };
}

function allPrograms(): ProgramShowReport[] {
  const out: ProgramShowReport[] = [];
  for (const i of programIds()) {
    let p: ObjectProgram;
    try {
      p = objectProgramById(i);
    } catch {
      continue; // gone since listed
    }
    try {
      out.push(programReport(p));
    } finally {
      p.close();
    }
  }
  return out;
}

function formatProgramReport(r: ProgramShowReport): string {
  const when = new Date(r.loaded_at * 1000).toISOString().replace(/\.\d{3}Z$/, '+0000');
  let text = `${r.id}: ${r.type}  ${r.name ? `name ${r.name}  ` : ''}tag ${r.tag}${r.gpl_compatible ? '  gpl' : ''}\n`;
  text += `\tloaded_at ${when}  uid ${r.uid}\n`;
  text += `\txlated ${r.bytes_xlated}B  ${r.jited ? `jited ${r.bytes_jited}B` : 'not jited'}`;
  text += `${r.bytes_memlock === undefined ? '' : `  memlock ${r.bytes_memlock}B`}${r.map_ids ? `  map_ids ${r.map_ids.join(',')}` : ''}\n`;
  if (r.btf_id) text += `\tbtf_id ${r.btf_id}\n`;
  return text;
}

/** Program types whose BPF_PROG_TEST_RUN takes no repeat count. */
const NO_REPEAT: ReadonlySet<number> = new Set([ProgramType.RAW_TRACEPOINT, ProgramType.RAW_TRACEPOINT_WRITABLE, ProgramType.SYSCALL]);

/** `prog run OBJ --prog NAME` (load, run, release) or `prog run id ID | pinned PATH`. */
function runProgram(io: Io, target: readonly string[], progName: string | undefined, progTypes: readonly string[],
  request: { data?: Uint8Array; ctx?: Uint8Array; repeat?: number; ctxSizeOut?: number | undefined }): TestRunResult {
  const run = (p: ObjectProgram): TestRunResult => {
    // Raw tracepoint and syscall programs run once and refuse a repeat count (net/bpf/test_run.c).
    const repeat = request.repeat ?? (NO_REPEAT.has(p.type) ? 0 : 1);
    const { ctxSizeOut, ...rest } = request;
    return p.testRun({ ...rest, repeat, ...(ctxSizeOut === undefined ? {} : { ctxSizeOut }) });
  };
  if (target[0] === 'id' || target[0] === 'pinned') {
    if (progName !== undefined) throw new UsageError('--prog is for an object file, not a loaded program');
    return withProgram(selectProgram(target), run);
  }
  const [file, ...extra] = target;
  if (file === undefined || extra.length > 0) throw new UsageError('expected one OBJ (or id ID, pinned PATH)');
  const spec = loadObjectSpec(io.readFile(file), { programTypes: programTypeOptions(progTypes) });
  const name = progName ?? (spec.programs.length === 1 ? spec.programs[0]!.name : undefined);
  if (name === undefined) {
    throw new UsageError(`--prog NAME: the object has ${spec.programs.length} programs (${spec.programs.map((p) => p.name).join(', ')})`);
  }
  const obj = loadObject(spec, { programs: [name], objectName: objectNameOf(file) });
  try {
    const result = run(obj.programs[name]!);
    return { ...result, dataOut: result.dataOut.slice(), ...(result.ctxOut === undefined ? {} : { ctxOut: result.ctxOut.slice() }) };
  } finally {
    obj.dispose();
  }
}

/**
 * `prog run --backend vm`: the program of OBJ test-run in the userspace VM (loadObjectVm, with
 * the XDP packet helpers as `ebpf run` has them), with the kernel backend's output shape.
 */
function runProgramVm(io: Io, target: readonly string[], progName: string | undefined, progTypes: readonly string[],
  request: { data?: Uint8Array; ctx?: Uint8Array; repeat?: number; ctxSizeOut?: number | undefined }): TestRunResult {
  if (target[0] === 'id' || target[0] === 'pinned') throw new UsageError('--backend vm runs a program of an object file, not a loaded program');
  const [file, ...extra] = target;
  if (file === undefined || extra.length > 0) throw new UsageError('expected one OBJ');
  const spec = loadObjectSpec(io.readFile(file), { programTypes: programTypeOptions(progTypes) });
  const name = progName ?? (spec.programs.length === 1 ? spec.programs[0]!.name : undefined);
  if (name === undefined) {
    throw new UsageError(`--prog NAME: the object has ${spec.programs.length} programs (${spec.programs.map((p) => p.name).join(', ')})`);
  }
  if (spec.programs.every((p) => p.name !== name)) throw new UsageError(`no program '${name}' in ${file}`);
  const obj = loadObjectVm(spec, { programs: [name], helpers: xdpHelpers });
  try {
    const { ctxSizeOut, data, ctx, repeat } = request;
    const result = obj.programs[name]!.testRun({
      ...(data === undefined ? {} : { data }), ...(ctx === undefined ? {} : { ctx }), ...(repeat === undefined ? {} : { repeat }),
    });
    return { retval: result.retval, durationNs: result.durationNs, dataOut: result.dataOut, ctxOut: ctxSizeOut === 0 ? undefined : result.ctxOut };
  } finally {
    obj.dispose();
  }
}
