/**
 * `attachProgram`: one entry point that picks the attach kind the way libbpf's auto-attach
 * does — from the program's ELF section name (`tp/syscalls/sys_enter_getpid`,
 * `uretprobe//usr/bin/bash:readline`, `cgroup/connect4`) — with explicit options overriding
 * the section, and the targets a section cannot name (an interface, a cgroup, a sockmap, a
 * socket) given as options.
 */
import { EbpfError } from '../../errors.js';
import { matchSection, type SectionMatch } from '../../object/section-defs.js';
import type { Program } from '../program.js';
import { AttachType, ProgramType, programTypeName } from '../types.js';
import { attachCgroup } from './cgroup.js';
import { attachIter, type IterOptions } from './iter.js';
import { attachKprobe, attachKsyscall } from './kprobe.js';
import { attachKprobeMulti, matchKernelFunctions } from './kprobe-multi.js';
import type { Link } from './link.js';
import { attachNetfilter, type NetfilterOptions } from './netfilter.js';
import { attachNetns } from './netns.js';
import { attachRawTracepoint } from './raw-tracepoint.js';
import { attachPerfEvent, type PerfEventOptions } from './sampling.js';
import { attachSockmap } from './sockmap.js';
import { attachSocketFilter } from './socket-filter.js';
import { attachTcx, type TcxAnchor } from './tcx.js';
import { attachTracepoint } from './tracepoint.js';
import { attachTracing } from './tracing.js';
import { attachUprobe } from './uprobe.js';
import { attachUprobeMulti } from './uprobe-multi.js';
import { attachXdp, type XdpMode } from './xdp.js';

/** The ways of attaching, one per file of `kernel/link`. */
export type AttachKind =
  | 'tracepoint' | 'raw_tracepoint' | 'tracing' | 'iter'
  | 'kprobe' | 'kretprobe' | 'ksyscall' | 'kretsyscall' | 'kprobe_multi' | 'kretprobe_multi'
  | 'uprobe' | 'uretprobe' | 'uprobe_multi' | 'uretprobe_multi'
  | 'perf_event' | 'xdp' | 'tcx' | 'socket_filter' | 'cgroup' | 'sockmap' | 'netns' | 'netfilter';

/** Options of {@link attachProgram}: how to find the kind and target, and what a section cannot say. */
export interface AttachOptions {
  /** The program's ELF section name (libbpf's conventions); its kind and target are the defaults. */
  section?: string;
  /** Overrides the kind the section or program type implies. */
  kind?: AttachKind;
  /** Overrides the section's attach type (`AttachType.*`). */
  attachType?: number;
  /** Overrides the part of the section after the prefix (`syscalls/sys_enter_getpid`, `/bin/bash:readline`). */
  target?: string;
  /** bpf_get_attach_cookie() value. */
  cookie?: bigint;
  /** Network programs (xdp, tcx, netfilter, sk_lookup): the interface and namespace. */
  ifname?: string;
  ifindex?: number;
  netns?: string;
  xdpMode?: XdpMode;
  tcxAnchor?: TcxAnchor;
  /** cgroup programs: the cgroup v2 directory or an fd on it. */
  cgroup?: string | number;
  /** sk_msg / sk_skb: the sockmap. */
  map?: { readonly fd: number } | number;
  /** socket filters: the socket (an fd or a Node socket). */
  socket?: number | object;
  /** uprobes: only this process. */
  pid?: number;
  /** perf_event programs: what to sample. */
  perfEvent?: PerfEventOptions;
  /** netfilter programs: family, hook, priority. */
  netfilter?: Omit<NetfilterOptions, 'netns'>;
  /** iterators: the map, cgroup or task to walk. */
  iter?: IterOptions;
}

/** Kinds of kprobe-type programs, by the stem of their section (`uprobe.s+` → `uprobe`). */
const PROBE_SECTION_KIND: Readonly<Record<string, AttachKind>> = {
  kprobe: 'kprobe',
  kretprobe: 'kretprobe',
  ksyscall: 'ksyscall',
  kretsyscall: 'kretsyscall',
  'kprobe.multi': 'kprobe_multi',
  'kretprobe.multi': 'kretprobe_multi',
  uprobe: 'uprobe',
  uretprobe: 'uretprobe',
  'uprobe.multi': 'uprobe_multi',
  'uretprobe.multi': 'uretprobe_multi',
};

/** The kind of each program type when nothing more specific says (kernel program types → link files). */
const PROGRAM_TYPE_KIND: Readonly<Partial<Record<number, AttachKind>>> = {
  [ProgramType.SOCKET_FILTER]: 'socket_filter',
  [ProgramType.KPROBE]: 'kprobe',
  [ProgramType.SCHED_CLS]: 'tcx',
  [ProgramType.TRACEPOINT]: 'tracepoint',
  [ProgramType.XDP]: 'xdp',
  [ProgramType.PERF_EVENT]: 'perf_event',
  [ProgramType.CGROUP_SKB]: 'cgroup',
  [ProgramType.CGROUP_SOCK]: 'cgroup',
  [ProgramType.SOCK_OPS]: 'cgroup',
  [ProgramType.SK_SKB]: 'sockmap',
  [ProgramType.CGROUP_DEVICE]: 'cgroup',
  [ProgramType.SK_MSG]: 'sockmap',
  [ProgramType.RAW_TRACEPOINT]: 'raw_tracepoint',
  [ProgramType.CGROUP_SOCK_ADDR]: 'cgroup',
  [ProgramType.FLOW_DISSECTOR]: 'netns',
  [ProgramType.CGROUP_SYSCTL]: 'cgroup',
  [ProgramType.RAW_TRACEPOINT_WRITABLE]: 'raw_tracepoint',
  [ProgramType.CGROUP_SOCKOPT]: 'cgroup',
  [ProgramType.TRACING]: 'tracing',
  [ProgramType.EXT]: 'tracing',
  [ProgramType.LSM]: 'tracing',
  [ProgramType.SK_LOOKUP]: 'netns',
  [ProgramType.NETFILTER]: 'netfilter',
};

/** A plan: the kind, attach type and target an attach would use. */
export interface AttachPlan {
  readonly kind: AttachKind;
  readonly attachType: number | undefined;
  readonly target: string | undefined;
}

/** The stem of a section-table pattern: `uprobe.s+` → `uprobe`, `kprobe.multi+` → `kprobe.multi`. */
function sectionStem(match: SectionMatch): string {
  return match.def.sec.replace(/[+/]$/, '').split('/')[0]!.replace(/\.s$/, '').replace(/\.w$/, '');
}

/**
 * What {@link attachProgram} would do for `program` with `options`, without doing it: the
 * kind (options, else section, else program type), attach type and target.
 */
export function planAttach(program: Pick<Program, 'type' | 'name'>, options: AttachOptions = {}): AttachPlan {
  let match: SectionMatch | undefined;
  if (options.section !== undefined) {
    match = matchSection(options.section);
    if (match === undefined) throw new EbpfError(`program '${program.name}': section '${options.section}' is not one libbpf knows`);
    if (match.programType !== program.type) {
      throw new EbpfError(`program '${program.name}' is a ${programTypeName(program.type)}, but section '${options.section}' holds ${programTypeName(match.programType)} programs`);
    }
  }
  const attachType = options.attachType ?? (match?.attachType || undefined);
  const target = options.target ?? match?.target;
  let kind = options.kind;
  if (kind === undefined && match !== undefined && program.type === ProgramType.KPROBE) kind = PROBE_SECTION_KIND[sectionStem(match)];
  if (kind === undefined) {
    kind = PROGRAM_TYPE_KIND[program.type];
    if (kind === 'tracing' && attachType === AttachType.TRACE_ITER) kind = 'iter';
    if (kind === 'tracing' && attachType === AttachType.LSM_CGROUP) kind = 'cgroup';
  }
  if (kind === undefined) throw new EbpfError(`program '${program.name}': no way to attach a ${programTypeName(program.type)} program`);
  return { kind, attachType, target };
}

/** A missing option or target, named with the program and kind. */
function need<T>(value: T | undefined, program: Program, kind: AttachKind, what: string): T {
  if (value === undefined || value === '') throw new TypeError(`attach ${kind} program '${program.name}': ${what}`);
  return value;
}

/** `func+0x10` / `func+16` / `func` → symbol and offset. */
function symbolAndOffset(text: string): { symbol: string; offset: number } {
  const m = /^([^+]+)(?:\+(0x[0-9a-fA-F]+|\d+))?$/.exec(text);
  if (!m) throw new TypeError(`probe target '${text}': expected 'function[+offset]'`);
  return { symbol: m[1]!, offset: m[2] === undefined ? 0 : Number(m[2]) };
}

/** `path:function[+offset]` or `path:0xoffset` → parts (libbpf's uprobe section syntax). */
function uprobeTarget(text: string): { path: string; symbol?: string; offset: number } {
  const colon = text.lastIndexOf(':');
  if (colon <= 0) throw new TypeError(`uprobe target '${text}': expected 'path:function[+offset]'`);
  const path = text.slice(0, colon);
  const rest = text.slice(colon + 1);
  if (/^0x[0-9a-fA-F]+$|^\d+$/.test(rest)) return { path, offset: Number(rest) };
  const { symbol, offset } = symbolAndOffset(rest);
  return { path, symbol, offset };
}

type Attacher = (program: Program, plan: AttachPlan, options: AttachOptions) => Link;

const cookieOf = (options: AttachOptions): { cookie?: bigint } => (options.cookie !== undefined ? { cookie: options.cookie } : {});
const netnsOf = (options: AttachOptions): { netns?: string } => (options.netns !== undefined ? { netns: options.netns } : {});
const ifaceOf = (program: Program, kind: AttachKind, options: AttachOptions): { ifindex?: number; ifname?: string } => {
  if (options.ifindex !== undefined) return { ifindex: options.ifindex };
  return { ifname: need(options.ifname, program, kind, 'give an ifname or ifindex option') };
};

function kprobeAttacher(retprobe: boolean): Attacher {
  return (program, plan, options) => {
    const { symbol, offset } = symbolAndOffset(need(plan.target, program, plan.kind, 'give the function as target (kprobe/<function>)'));
    return attachKprobe(program, symbol, { offset, retprobe, ...cookieOf(options) });
  };
}

function uprobeAttacher(retprobe: boolean): Attacher {
  return (program, plan, options) => {
    const t = uprobeTarget(need(plan.target, program, plan.kind, 'give the target as path:function'));
    return attachUprobe(program, t.path, {
      ...(t.symbol !== undefined ? { symbol: t.symbol } : {}), offset: t.offset, retprobe,
      ...(options.pid !== undefined ? { pid: options.pid } : {}), ...cookieOf(options),
    });
  };
}

function uprobeMultiAttacher(retprobe: boolean): Attacher {
  return (program, plan, options) => {
    const t = uprobeTarget(need(plan.target, program, plan.kind, 'give the target as path:function'));
    return attachUprobeMulti(program, t.path, {
      ...(t.symbol !== undefined ? { symbols: [t.symbol] } : { offsets: [t.offset] }), retprobe,
      ...(options.pid !== undefined ? { pid: options.pid } : {}),
    });
  };
}

function kprobeMultiAttacher(retprobe: boolean): Attacher {
  return (program, plan) => {
    const pattern = need(plan.target, program, plan.kind, 'give a function pattern as target');
    const symbols = /[*?]/.test(pattern) ? matchKernelFunctions(pattern) : [pattern];
    if (symbols.length === 0) throw new EbpfError(`attach ${plan.kind} program '${program.name}': no kernel function matches '${pattern}'`);
    return attachKprobeMulti(program, { symbols, retprobe });
  };
}

/** Names of BTF-typed tracing links by attach type, as their sections name them. */
const TRACING_KIND: Readonly<Partial<Record<number, string>>> = {
  [AttachType.TRACE_RAW_TP]: 'tp_btf',
  [AttachType.TRACE_FENTRY]: 'fentry',
  [AttachType.TRACE_FEXIT]: 'fexit',
  [AttachType.MODIFY_RETURN]: 'fmod_ret',
  [AttachType.LSM_MAC]: 'lsm',
};

/** One attacher per kind: libbpf's `attach_fn` column. */
const ATTACHERS: Readonly<Record<AttachKind, Attacher>> = {
  tracepoint: (program, plan, options) => {
    const target = need(plan.target, program, plan.kind, 'give the tracepoint as category/name');
    const slash = target.indexOf('/');
    if (slash <= 0) throw new TypeError(`tracepoint '${target}': expected 'category/name'`);
    return attachTracepoint(program, target.slice(0, slash), target.slice(slash + 1), cookieOf(options));
  },
  raw_tracepoint: (program, plan, options) =>
    attachRawTracepoint(program, need(plan.target, program, plan.kind, 'give the tracepoint name'), cookieOf(options)),
  tracing: (program, plan, options) => attachTracing(program, {
    ...(plan.attachType !== undefined ? { attachType: plan.attachType } : {}),
    kind: (plan.attachType !== undefined ? TRACING_KIND[plan.attachType] : undefined) ?? (program.type === ProgramType.EXT ? 'freplace' : 'tracing'),
    ...cookieOf(options),
  }),
  iter: (program, _plan, options) => attachIter(program, options.iter ?? {}),
  kprobe: kprobeAttacher(false),
  kretprobe: kprobeAttacher(true),
  ksyscall: (program, plan, options) =>
    attachKsyscall(program, need(plan.target, program, plan.kind, 'give the system call name'), cookieOf(options)),
  kretsyscall: (program, plan, options) =>
    attachKsyscall(program, need(plan.target, program, plan.kind, 'give the system call name'), { retprobe: true, ...cookieOf(options) }),
  kprobe_multi: kprobeMultiAttacher(false),
  kretprobe_multi: kprobeMultiAttacher(true),
  uprobe: uprobeAttacher(false),
  uretprobe: uprobeAttacher(true),
  uprobe_multi: uprobeMultiAttacher(false),
  uretprobe_multi: uprobeMultiAttacher(true),
  perf_event: (program, _plan, options) => attachPerfEvent(program, { ...options.perfEvent, ...cookieOf(options) }),
  xdp: (program, plan, options) => attachXdp(program, {
    ...ifaceOf(program, plan.kind, options), ...netnsOf(options), ...(options.xdpMode ? { mode: options.xdpMode } : {}),
  }),
  tcx: (program, plan, options) => {
    if (plan.attachType !== AttachType.TCX_INGRESS && plan.attachType !== AttachType.TCX_EGRESS) {
      throw new TypeError(`attach tc program '${program.name}': say the direction (section tc/ingress or tc/egress, or attachType TCX_INGRESS/TCX_EGRESS)`);
    }
    return attachTcx(program, {
      ...ifaceOf(program, plan.kind, options), ...netnsOf(options),
      direction: plan.attachType === AttachType.TCX_INGRESS ? 'ingress' : 'egress',
      ...(options.tcxAnchor ? { anchor: options.tcxAnchor } : {}),
    });
  },
  socket_filter: (program, plan, options) =>
    attachSocketFilter(program, need(options.socket, program, plan.kind, 'give the socket option')),
  cgroup: (program, plan, options) => attachCgroup(program, {
    cgroup: need(options.cgroup, program, plan.kind, 'give the cgroup option'),
    attachType: need(plan.attachType, program, plan.kind, 'give the attach type (section or attachType option)'),
  }),
  sockmap: (program, plan, options) => attachSockmap(program, {
    map: need(options.map, program, plan.kind, 'give the sockmap as the map option'),
    attachType: need(plan.attachType, program, plan.kind, 'give the attach type (section or attachType option)'),
  }),
  netns: (program, plan, options) => attachNetns(program, {
    ...(plan.attachType !== undefined ? { attachType: plan.attachType } : {}), ...netnsOf(options),
  }),
  netfilter: (program, plan, options) =>
    attachNetfilter(program, { ...need(options.netfilter, program, plan.kind, 'give the netfilter option (family, hook, priority)'), ...netnsOf(options) }),
};

/**
 * Attaches `program` where its section (or the options) say, and returns the link.
 *
 * @example
 * using link = attachProgram(program, { section: 'tp/syscalls/sys_enter_getpid' });
 * using xdp = attachProgram(xdpProgram, { section: 'xdp', ifname: 'veth0', netns: 'blue' });
 * using cg = attachProgram(connect4, { section: 'cgroup/connect4', cgroup: '/sys/fs/cgroup/app' });
 */
export function attachProgram(program: Program, options: AttachOptions = {}): Link {
  const plan = planAttach(program, options);
  return ATTACHERS[plan.kind](program, plan, options);
}
