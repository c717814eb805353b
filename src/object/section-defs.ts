/**
 * ELF section names → program type, expected attach type and load flags.
 *
 * SECTION_DEFS is derived from libbpf's `section_defs[]` (src/libbpf.c, libbpf 1.x master
 * after v1.7.0), kept in libbpf's order because the first matching entry wins. Each
 * `sec` follows libbpf's conventions:
 * - `name`   matches exactly (`xdp`, `cgroup/connect4`);
 * - `name+`  matches `name` exactly or `name/extras` (`tp/syscalls/sys_enter_execve`);
 * - `name/`  requires `name/extras` (extras may be empty).
 * A leading `?` of a section name (libbpf: don't auto-load) is stripped before matching.
 */
import { AttachType as A, BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS, ProgramType as P } from './uapi-types.js';

/** libbpf's `enum sec_def_flags`. */
export const SecFlag = {
  NONE: 0,
  /** The expected attach type may be dropped on kernels that do not know it. */
  EXP_ATTACH_OPT: 1,
  /** Legacy marker of programs attachable with BPF_PROG_ATTACH. */
  ATTACHABLE: 2,
  ATTACHABLE_OPT: 2 | 1,
  /** The attach target is a BTF id in the kernel (or another program), named after the `/`. */
  ATTACH_BTF: 4,
  /** The program may sleep: loaded with BPF_F_SLEEPABLE. */
  SLEEPABLE: 8,
  /** XDP program that handles multi-buffer frames: loaded with BPF_F_XDP_HAS_FRAGS. */
  XDP_FRAGS: 16,
  /** USDT probe: libbpf loads it with BPF_TRACE_UPROBE_MULTI when the kernel has it. */
  USDT: 32,
} as const;

/** One row of the table. */
export interface SectionDef {
  /** libbpf's pattern: `name`, `name+` or `name/`. */
  readonly sec: string;
  readonly programType: number;
  readonly attachType: number;
  /** SecFlag bits. */
  readonly flags: number;
}

const S = SecFlag;
const def = (sec: string, programType: number, attachType: number, flags: number): SectionDef =>
  ({ sec, programType, attachType, flags });

/** libbpf's section table (derived from libbpf's `section_defs[]`; order matters). */
export const SECTION_DEFS: readonly SectionDef[] = [
  def('socket', P.SOCKET_FILTER, 0, S.NONE),
  def('sk_reuseport/migrate', P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT_OR_MIGRATE, S.ATTACHABLE),
  def('sk_reuseport', P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT, S.ATTACHABLE),
  def('kprobe+', P.KPROBE, 0, S.NONE),
  def('uprobe+', P.KPROBE, 0, S.NONE),
  def('uprobe.s+', P.KPROBE, 0, S.SLEEPABLE),
  def('kretprobe+', P.KPROBE, 0, S.NONE),
  def('uretprobe+', P.KPROBE, 0, S.NONE),
  def('uretprobe.s+', P.KPROBE, 0, S.SLEEPABLE),
  def('kprobe.multi+', P.KPROBE, A.TRACE_KPROBE_MULTI, S.NONE),
  def('kretprobe.multi+', P.KPROBE, A.TRACE_KPROBE_MULTI, S.NONE),
  def('kprobe.session+', P.KPROBE, A.TRACE_KPROBE_SESSION, S.NONE),
  def('uprobe.multi+', P.KPROBE, A.TRACE_UPROBE_MULTI, S.NONE),
  def('uretprobe.multi+', P.KPROBE, A.TRACE_UPROBE_MULTI, S.NONE),
  def('uprobe.session+', P.KPROBE, A.TRACE_UPROBE_SESSION, S.NONE),
  def('uprobe.multi.s+', P.KPROBE, A.TRACE_UPROBE_MULTI, S.SLEEPABLE),
  def('uretprobe.multi.s+', P.KPROBE, A.TRACE_UPROBE_MULTI, S.SLEEPABLE),
  def('uprobe.session.s+', P.KPROBE, A.TRACE_UPROBE_SESSION, S.SLEEPABLE),
  def('ksyscall+', P.KPROBE, 0, S.NONE),
  def('kretsyscall+', P.KPROBE, 0, S.NONE),
  def('usdt+', P.KPROBE, 0, S.USDT),
  def('usdt.s+', P.KPROBE, 0, S.USDT | S.SLEEPABLE),
  def('tc/ingress', P.SCHED_CLS, A.TCX_INGRESS, S.NONE), // alias for tcx
  def('tc/egress', P.SCHED_CLS, A.TCX_EGRESS, S.NONE), // alias for tcx
  def('tcx/ingress', P.SCHED_CLS, A.TCX_INGRESS, S.NONE),
  def('tcx/egress', P.SCHED_CLS, A.TCX_EGRESS, S.NONE),
  def('tc', P.SCHED_CLS, 0, S.NONE), // legacy, use tcx
  def('classifier', P.SCHED_CLS, 0, S.NONE), // legacy, use tcx
  def('action', P.SCHED_ACT, 0, S.NONE), // legacy, use tcx
  def('netkit/primary', P.SCHED_CLS, A.NETKIT_PRIMARY, S.NONE),
  def('netkit/peer', P.SCHED_CLS, A.NETKIT_PEER, S.NONE),
  def('tracepoint+', P.TRACEPOINT, 0, S.NONE),
  def('tp+', P.TRACEPOINT, 0, S.NONE),
  def('tracepoint.s+', P.TRACEPOINT, 0, S.SLEEPABLE),
  def('tp.s+', P.TRACEPOINT, 0, S.SLEEPABLE),
  def('raw_tracepoint+', P.RAW_TRACEPOINT, 0, S.NONE),
  def('raw_tp+', P.RAW_TRACEPOINT, 0, S.NONE),
  def('raw_tracepoint.s+', P.RAW_TRACEPOINT, 0, S.SLEEPABLE),
  def('raw_tp.s+', P.RAW_TRACEPOINT, 0, S.SLEEPABLE),
  def('raw_tracepoint.w+', P.RAW_TRACEPOINT_WRITABLE, 0, S.NONE),
  def('raw_tp.w+', P.RAW_TRACEPOINT_WRITABLE, 0, S.NONE),
  def('tp_btf+', P.TRACING, A.TRACE_RAW_TP, S.ATTACH_BTF),
  def('tp_btf.s+', P.TRACING, A.TRACE_RAW_TP, S.ATTACH_BTF | S.SLEEPABLE),
  def('fentry+', P.TRACING, A.TRACE_FENTRY, S.ATTACH_BTF),
  def('fmod_ret+', P.TRACING, A.MODIFY_RETURN, S.ATTACH_BTF),
  def('fexit+', P.TRACING, A.TRACE_FEXIT, S.ATTACH_BTF),
  def('fentry.s+', P.TRACING, A.TRACE_FENTRY, S.ATTACH_BTF | S.SLEEPABLE),
  def('fmod_ret.s+', P.TRACING, A.MODIFY_RETURN, S.ATTACH_BTF | S.SLEEPABLE),
  def('fexit.s+', P.TRACING, A.TRACE_FEXIT, S.ATTACH_BTF | S.SLEEPABLE),
  def('fsession+', P.TRACING, A.TRACE_FSESSION, S.ATTACH_BTF),
  def('fsession.s+', P.TRACING, A.TRACE_FSESSION, S.ATTACH_BTF | S.SLEEPABLE),
  def('fsession.multi+', P.TRACING, A.TRACE_FSESSION_MULTI, S.NONE),
  def('fsession.multi.s+', P.TRACING, A.TRACE_FSESSION_MULTI, S.SLEEPABLE),
  def('fentry.multi+', P.TRACING, A.TRACE_FENTRY_MULTI, S.NONE),
  def('fexit.multi+', P.TRACING, A.TRACE_FEXIT_MULTI, S.NONE),
  def('fentry.multi.s+', P.TRACING, A.TRACE_FENTRY_MULTI, S.SLEEPABLE),
  def('fexit.multi.s+', P.TRACING, A.TRACE_FEXIT_MULTI, S.SLEEPABLE),
  def('freplace+', P.EXT, 0, S.ATTACH_BTF),
  def('lsm+', P.LSM, A.LSM_MAC, S.ATTACH_BTF),
  def('lsm.s+', P.LSM, A.LSM_MAC, S.ATTACH_BTF | S.SLEEPABLE),
  def('lsm_cgroup+', P.LSM, A.LSM_CGROUP, S.ATTACH_BTF),
  def('iter+', P.TRACING, A.TRACE_ITER, S.ATTACH_BTF),
  def('iter.s+', P.TRACING, A.TRACE_ITER, S.ATTACH_BTF | S.SLEEPABLE),
  def('syscall', P.SYSCALL, 0, S.SLEEPABLE),
  def('xdp.frags/devmap', P.XDP, A.XDP_DEVMAP, S.XDP_FRAGS),
  def('xdp/devmap', P.XDP, A.XDP_DEVMAP, S.ATTACHABLE),
  def('xdp.frags/cpumap', P.XDP, A.XDP_CPUMAP, S.XDP_FRAGS),
  def('xdp/cpumap', P.XDP, A.XDP_CPUMAP, S.ATTACHABLE),
  def('xdp.frags', P.XDP, A.XDP, S.XDP_FRAGS),
  def('xdp', P.XDP, A.XDP, S.ATTACHABLE_OPT),
  def('perf_event', P.PERF_EVENT, 0, S.NONE),
  def('lwt_in', P.LWT_IN, 0, S.NONE),
  def('lwt_out', P.LWT_OUT, 0, S.NONE),
  def('lwt_xmit', P.LWT_XMIT, 0, S.NONE),
  def('lwt_seg6local', P.LWT_SEG6LOCAL, 0, S.NONE),
  def('sockops', P.SOCK_OPS, A.CGROUP_SOCK_OPS, S.ATTACHABLE_OPT),
  def('sk_skb/stream_parser', P.SK_SKB, A.SK_SKB_STREAM_PARSER, S.ATTACHABLE_OPT),
  def('sk_skb/stream_verdict', P.SK_SKB, A.SK_SKB_STREAM_VERDICT, S.ATTACHABLE_OPT),
  def('sk_skb/verdict', P.SK_SKB, A.SK_SKB_VERDICT, S.ATTACHABLE_OPT),
  def('sk_skb', P.SK_SKB, 0, S.NONE),
  def('sk_msg', P.SK_MSG, A.SK_MSG_VERDICT, S.ATTACHABLE_OPT),
  def('lirc_mode2', P.LIRC_MODE2, A.LIRC_MODE2, S.ATTACHABLE_OPT),
  def('flow_dissector', P.FLOW_DISSECTOR, A.FLOW_DISSECTOR, S.ATTACHABLE_OPT),
  def('cgroup_skb/ingress', P.CGROUP_SKB, A.CGROUP_INET_INGRESS, S.ATTACHABLE_OPT),
  def('cgroup_skb/egress', P.CGROUP_SKB, A.CGROUP_INET_EGRESS, S.ATTACHABLE_OPT),
  def('cgroup/skb', P.CGROUP_SKB, 0, S.NONE),
  def('cgroup/sock_create', P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, S.ATTACHABLE),
  def('cgroup/sock_release', P.CGROUP_SOCK, A.CGROUP_INET_SOCK_RELEASE, S.ATTACHABLE),
  def('cgroup/sock', P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, S.ATTACHABLE_OPT),
  def('cgroup/post_bind4', P.CGROUP_SOCK, A.CGROUP_INET4_POST_BIND, S.ATTACHABLE),
  def('cgroup/post_bind6', P.CGROUP_SOCK, A.CGROUP_INET6_POST_BIND, S.ATTACHABLE),
  def('cgroup/bind4', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_BIND, S.ATTACHABLE),
  def('cgroup/bind6', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_BIND, S.ATTACHABLE),
  def('cgroup/connect4', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT, S.ATTACHABLE),
  def('cgroup/connect6', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_CONNECT, S.ATTACHABLE),
  def('cgroup/connect_unix', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_CONNECT, S.ATTACHABLE),
  def('cgroup/sendmsg4', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_SENDMSG, S.ATTACHABLE),
  def('cgroup/sendmsg6', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_SENDMSG, S.ATTACHABLE),
  def('cgroup/sendmsg_unix', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_SENDMSG, S.ATTACHABLE),
  def('cgroup/recvmsg4', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_RECVMSG, S.ATTACHABLE),
  def('cgroup/recvmsg6', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_RECVMSG, S.ATTACHABLE),
  def('cgroup/recvmsg_unix', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_RECVMSG, S.ATTACHABLE),
  def('cgroup/getpeername4', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETPEERNAME, S.ATTACHABLE),
  def('cgroup/getpeername6', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETPEERNAME, S.ATTACHABLE),
  def('cgroup/getpeername_unix', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETPEERNAME, S.ATTACHABLE),
  def('cgroup/getsockname4', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETSOCKNAME, S.ATTACHABLE),
  def('cgroup/getsockname6', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETSOCKNAME, S.ATTACHABLE),
  def('cgroup/getsockname_unix', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETSOCKNAME, S.ATTACHABLE),
  def('cgroup/sysctl', P.CGROUP_SYSCTL, A.CGROUP_SYSCTL, S.ATTACHABLE),
  def('cgroup/getsockopt', P.CGROUP_SOCKOPT, A.CGROUP_GETSOCKOPT, S.ATTACHABLE),
  def('cgroup/setsockopt', P.CGROUP_SOCKOPT, A.CGROUP_SETSOCKOPT, S.ATTACHABLE),
  def('cgroup/dev', P.CGROUP_DEVICE, A.CGROUP_DEVICE, S.ATTACHABLE_OPT),
  def('struct_ops+', P.STRUCT_OPS, 0, S.NONE),
  def('struct_ops.s+', P.STRUCT_OPS, 0, S.SLEEPABLE),
  def('sk_lookup', P.SK_LOOKUP, A.SK_LOOKUP, S.ATTACHABLE),
  def('netfilter', P.NETFILTER, A.NETFILTER, S.NONE),
];

/** What a section name says about the programs in it. */
export interface SectionMatch {
  readonly def: SectionDef;
  readonly programType: number;
  readonly attachType: number;
  /**
   * What follows `prefix/` for `+` and `/` rules (`tp/syscalls/sys_enter_execve` →
   * `syscalls/sys_enter_execve`); undefined for exact names, for `prefix+` used without a
   * `/`, and for struct_ops (libbpf ignores the name there).
   */
  readonly target: string | undefined;
  /** BPF_PROG_LOAD `prog_flags` libbpf passes: BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS. */
  readonly programFlags: number;
  /** False for `?name` sections (libbpf: the program is not loaded unless asked for). */
  readonly autoload: boolean;
}

/** libbpf's `sec_def_matches`: does section name `name` (without `?`) match `def`? */
export function sectionDefMatches(def: SectionDef, name: string): boolean {
  const { sec } = def;
  if (sec.endsWith('/')) return name.startsWith(sec);
  if (sec.endsWith('+')) {
    const stem = sec.slice(0, -1);
    return name === stem || name.startsWith(`${stem}/`);
  }
  return name === sec;
}

/**
 * The first row of SECTION_DEFS matching section `name` and what follows from it, or
 * undefined for a section libbpf does not know (libbpf_prog_type_by_name: -ESRCH).
 *
 * @example
 * matchSection('tp/syscalls/sys_enter_execve')
 * // → { programType: ProgramType.TRACEPOINT, attachType: 0, target: 'syscalls/sys_enter_execve', … }
 */
export function matchSection(name: string, defs: readonly SectionDef[] = SECTION_DEFS): SectionMatch | undefined {
  const autoload = !name.startsWith('?');
  const bare = autoload ? name : name.slice(1);
  const found = defs.find((d) => sectionDefMatches(d, bare));
  if (found === undefined) return undefined;
  const stem = found.sec.replace(/[+/]$/, '');
  let target: string | undefined;
  if (found.sec !== stem && bare.length > stem.length) target = bare.slice(stem.length + 1);
  if (found.programType === P.STRUCT_OPS) target = undefined;
  let programFlags = 0;
  if (found.flags & SecFlag.SLEEPABLE) programFlags |= BPF_F_SLEEPABLE;
  if (found.programType === P.XDP && found.flags & SecFlag.XDP_FRAGS) programFlags |= BPF_F_XDP_HAS_FRAGS;
  return { def: found, programType: found.programType, attachType: found.attachType, target, programFlags, autoload };
}
