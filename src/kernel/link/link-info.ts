/**
 * What the kernel says about a bpf_link (BPF_OBJ_GET_INFO_BY_FD with `struct bpf_link_info`):
 * its type, id, program id, and the fields of its type's union — `bpftool link show`.
 */
import { Attr, INFO, StructReader } from '../attr.js';
import { KernelError } from '../error.js';
import { nativeSyscalls } from '../native.js';
import type { Syscalls } from '../syscalls.js';
import { Command } from '../types.js';
import { LINK_INFO, LinkType, PerfEventLinkType, linkTypeName } from './attr.js';

/** Room for the names the kernel copies out (tracepoint, function, file and iterator names). */
const NAME_ROOM = 4096;

/** The part of {@link LinkInfo} that depends on the link's type. */
export type LinkInfoDetail =
  | { readonly kind: 'raw_tracepoint'; readonly name: string; readonly cookie: bigint }
  | { readonly kind: 'tracing'; readonly attachType: number; readonly targetObjId: number; readonly targetBtfId: number; readonly cookie: bigint }
  | { readonly kind: 'cgroup'; readonly cgroupId: bigint; readonly attachType: number }
  | { readonly kind: 'iter'; readonly targetName: string; readonly mapId: number }
  | { readonly kind: 'netns'; readonly netnsIno: number; readonly attachType: number }
  | { readonly kind: 'xdp'; readonly ifindex: number }
  | { readonly kind: 'struct_ops'; readonly mapId: number }
  | { readonly kind: 'netfilter'; readonly pf: number; readonly hooknum: number; readonly priority: number; readonly flags: number }
  | { readonly kind: 'kprobe_multi'; readonly count: number; readonly flags: number; readonly missed: bigint }
  | { readonly kind: 'uprobe_multi'; readonly count: number; readonly flags: number; readonly pid: number; readonly path: string }
  | {
    readonly kind: 'perf_event';
    /** `PerfEventLinkType.*`: uprobe, kprobe, tracepoint or a plain event. */
    readonly perfEventType: number;
    /** Tracepoint, function or file name ('' for a plain event). */
    readonly name: string;
    /** Offset in the function or file (probes). */
    readonly offset: number;
    /** Address of a kprobe. */
    readonly address: bigint;
    /** `config` and `type` of a plain perf event. */
    readonly config: bigint;
    readonly eventType: number;
    readonly cookie: bigint;
  }
  | { readonly kind: 'tcx' | 'netkit'; readonly ifindex: number; readonly attachType: number }
  | { readonly kind: 'sockmap'; readonly mapId: number; readonly attachType: number }
  | { readonly kind: 'unknown' };

/** A link as the kernel describes it. */
export interface LinkInfo {
  /** `LinkType.*`. */
  readonly type: number;
  /** `BPF_LINK_TYPE_*`. */
  readonly typeName: string;
  readonly id: number;
  /** Id of the attached program. */
  readonly programId: number;
  readonly detail: LinkInfoDetail;
}

/** Information about the link behind `fd`. */
export function linkInfo(fd: number, options: { syscalls?: Syscalls } = {}): LinkInfo {
  const syscalls = options.syscalls ?? nativeSyscalls();
  const context = `get info of link fd ${fd}`;
  // The union's string pointers are at different offsets per type; one buffer serves them all,
  // placed where the type reads it once the first call told the type.
  const first = query(syscalls, fd, context);
  const type = first.u32(LINK_INFO.type);
  const r = NAME_AT[type] === undefined ? first : query(syscalls, fd, context, NAME_AT[type]);
  return {
    type,
    typeName: linkTypeName(type),
    id: r.u32(LINK_INFO.id),
    programId: r.u32(LINK_INFO.prog_id),
    detail: decodeDetail(type, r),
  };
}

/** Where each link type takes a name buffer: pointer and length offsets. */
const NAME_AT: Readonly<Partial<Record<number, { pointer: number; length: number }>>> = {
  [LinkType.RAW_TRACEPOINT]: { pointer: 16, length: 24 },
  [LinkType.ITER]: { pointer: 16, length: 24 },
  [LinkType.PERF_EVENT]: { pointer: 24, length: 32 },
  [LinkType.UPROBE_MULTI]: { pointer: 16, length: 48 },
};

interface NamedReader extends StructReader {
  name?: string;
}

function query(syscalls: Syscalls, fd: number, context: string, name?: { pointer: number; length: number }): NamedReader {
  return syscalls.withMemory((memory) => {
    const init = new Attr(LINK_INFO.SIZE);
    const buffer = name ? memory.output(NAME_ROOM) : undefined;
    if (name && buffer) init.u64(name.pointer, buffer.address).u32(name.length, NAME_ROOM);
    const info = memory.output(LINK_INFO.SIZE, init.bytes);
    const attr = new Attr(INFO.SIZE).u32(INFO.bpf_fd, fd).u32(INFO.info_len, LINK_INFO.SIZE).u64(INFO.info, info.address);
    const ret = syscalls.bpf(Command.OBJ_GET_INFO_BY_FD, attr.bytes);
    if (ret < 0) throw new KernelError(context, -ret);
    const reader: NamedReader = new StructReader(info.read());
    if (buffer) reader.name = new StructReader(buffer.read()).cstring(0, NAME_ROOM);
    return reader;
  });
}

function decodeDetail(type: number, r: NamedReader): LinkInfoDetail {
  const u = LINK_INFO.U;
  const name = r.name ?? '';
  switch (type) {
    case LinkType.RAW_TRACEPOINT:
      return { kind: 'raw_tracepoint', name, cookie: r.u64(u + 16) };
    case LinkType.TRACING:
      return { kind: 'tracing', attachType: r.u32(u), targetObjId: r.u32(u + 4), targetBtfId: r.u32(u + 8), cookie: r.u64(u + 16) };
    case LinkType.CGROUP:
      return { kind: 'cgroup', cgroupId: r.u64(u), attachType: r.u32(u + 8) };
    case LinkType.ITER:
      return { kind: 'iter', targetName: name, mapId: r.u32(u + 12) };
    case LinkType.NETNS:
      return { kind: 'netns', netnsIno: r.u32(u), attachType: r.u32(u + 4) };
    case LinkType.XDP:
      return { kind: 'xdp', ifindex: r.u32(u) };
    case LinkType.STRUCT_OPS:
      return { kind: 'struct_ops', mapId: r.u32(u) };
    case LinkType.NETFILTER:
      return { kind: 'netfilter', pf: r.u32(u), hooknum: r.u32(u + 4), priority: r.s32(u + 8), flags: r.u32(u + 12) };
    case LinkType.KPROBE_MULTI:
      return { kind: 'kprobe_multi', count: r.u32(u + 8), flags: r.u32(u + 12), missed: r.u64(u + 16) };
    case LinkType.UPROBE_MULTI:
      return { kind: 'uprobe_multi', path: name, count: r.u32(u + 36), flags: r.u32(u + 40), pid: r.u32(u + 44) };
    case LinkType.PERF_EVENT:
      return perfEventDetail(r, name);
    case LinkType.TCX:
      return { kind: 'tcx', ifindex: r.u32(u), attachType: r.u32(u + 4) };
    case LinkType.NETKIT:
      return { kind: 'netkit', ifindex: r.u32(u), attachType: r.u32(u + 4) };
    case LinkType.SOCKMAP:
      return { kind: 'sockmap', mapId: r.u32(u), attachType: r.u32(u + 4) };
    default:
      return { kind: 'unknown' };
  }
}

/** `info.perf_event`: a type, then a union at 24 per type (uprobe, kprobe, tracepoint, event). */
function perfEventDetail(r: NamedReader, name: string): LinkInfoDetail {
  const perfEventType = r.u32(16);
  const base = { kind: 'perf_event' as const, perfEventType, name, offset: 0, address: 0n, config: 0n, eventType: 0, cookie: 0n };
  switch (perfEventType) {
    case PerfEventLinkType.UPROBE:
    case PerfEventLinkType.URETPROBE:
      return { ...base, offset: r.u32(36), cookie: r.u64(40) };
    case PerfEventLinkType.KPROBE:
    case PerfEventLinkType.KRETPROBE:
      return { ...base, offset: r.u32(36), address: r.u64(40), cookie: r.u64(56) };
    case PerfEventLinkType.TRACEPOINT:
      return { ...base, cookie: r.u64(40) };
    case PerfEventLinkType.EVENT:
      return { ...base, name: '', config: r.u64(24), eventType: r.u32(32), cookie: r.u64(40) };
    default:
      return base;
  }
}
