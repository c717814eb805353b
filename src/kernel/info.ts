/**
 * What the kernel says about a loaded object (BPF_OBJ_GET_INFO_BY_FD): `struct bpf_map_info`,
 * `struct bpf_prog_info` and `struct bpf_btf_info` decoded into plain objects — the data behind
 * `bpftool map show` / `prog show` / `btf show` — and BPF_ENABLE_STATS, which makes program run
 * times count.
 */
import { Attr, ENABLE_STATS, INFO, StructReader } from './attr.js';
import { KernelError } from './error.js';
import { nativeSyscalls } from './native.js';
import type { Syscalls, UserMemory } from './syscalls.js';
import { Command } from './types.js';
import { StatsType } from './map-types.js';

/** Offsets of `struct bpf_map_info` (include/uapi/linux/bpf.h). */
const MAP_INFO = {
  type: 0, id: 4, key_size: 8, value_size: 12, max_entries: 16, map_flags: 20, name: 24, ifindex: 40,
  btf_vmlinux_value_type_id: 44, netns_dev: 48, netns_ino: 56, btf_id: 64, btf_key_type_id: 68,
  btf_value_type_id: 72, btf_vmlinux_id: 76, map_extra: 80, hash: 88, hash_size: 96, SIZE: 104,
} as const;

/** Offsets of `struct bpf_prog_info`. */
const PROG_INFO = {
  type: 0, id: 4, tag: 8, jited_prog_len: 16, xlated_prog_len: 20, jited_prog_insns: 24, xlated_prog_insns: 32,
  load_time: 40, created_by_uid: 48, nr_map_ids: 52, map_ids: 56, name: 64, ifindex: 80, gpl_compatible: 84,
  netns_dev: 88, netns_ino: 96, nr_jited_ksyms: 104, nr_jited_func_lens: 108, jited_ksyms: 112,
  jited_func_lens: 120, btf_id: 128, func_info_rec_size: 132, func_info: 136, nr_func_info: 144,
  nr_line_info: 148, line_info: 152, jited_line_info: 160, nr_jited_line_info: 168, line_info_rec_size: 172,
  jited_line_info_rec_size: 176, nr_prog_tags: 180, prog_tags: 184, run_time_ns: 192, run_cnt: 200,
  recursion_misses: 208, verified_insns: 216, attach_btf_obj_id: 220, attach_btf_id: 224, SIZE: 232,
} as const;

/** Offsets of `struct bpf_btf_info`. */
const BTF_INFO = { btf: 0, btf_size: 8, id: 12, name: 16, name_len: 24, kernel_btf: 28, SIZE: 32 } as const;

const BPF_TAG_SIZE = 8;
const NAME_LEN = 16;
/** Room for a BTF object's name (module names are short; the kernel truncates with ENOSPC otherwise). */
const BTF_NAME_ROOM = 256;

/** A map as the kernel describes it. */
export interface MapInfo {
  /** `MapType.*`. */
  readonly type: number;
  readonly id: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  /** `MapFlag.*` bits. */
  readonly flags: number;
  readonly name: string;
  /** Device of an offloaded map (0 otherwise). */
  readonly ifindex: number;
  readonly btfId: number;
  readonly btfKeyTypeId: number;
  readonly btfValueTypeId: number;
  readonly btfVmlinuxValueTypeId: number;
  readonly btfVmlinuxId: number;
  readonly mapExtra: bigint;
  readonly netnsDev: bigint;
  readonly netnsIno: bigint;
}

/** A program as the kernel describes it. */
export interface ProgramInfo {
  /** `ProgramType.*`. */
  readonly type: number;
  readonly id: number;
  /** The program's tag: a hash of its instructions, 16 hex digits as bpftool prints it. */
  readonly tag: string;
  readonly name: string;
  readonly jitedLength: number;
  readonly xlatedLength: number;
  /** Load time in nanoseconds since boot (CLOCK_BOOTTIME). */
  readonly loadTime: bigint;
  readonly createdByUid: number;
  /** Ids of the maps the program uses. */
  readonly mapIds: readonly number[];
  readonly ifindex: number;
  readonly gplCompatible: boolean;
  readonly btfId: number;
  /** Total run time in ns and number of runs, counted while BPF_ENABLE_STATS is on ({@link enableStats}). */
  readonly runTimeNs: bigint;
  readonly runCount: bigint;
  /** Runs skipped because the program was already running on that CPU. */
  readonly recursionMisses: bigint;
  /** Instructions the verifier processed. */
  readonly verifiedInsns: number;
  readonly attachBtfObjId: number;
  readonly attachBtfId: number;
  readonly netnsDev: bigint;
  readonly netnsIno: bigint;
  /** The instructions after the verifier's rewrites, when asked for with `xlated: true` (empty if the kernel hides them). */
  readonly xlated?: Uint8Array;
  /** The JIT's machine code, when asked for with `jited: true`. */
  readonly jited?: Uint8Array;
}

/** A BTF object as the kernel describes it. */
export interface BtfInfo {
  readonly id: number;
  /** Size of its raw data in bytes. */
  readonly size: number;
  /** `vmlinux`, a module's name, or '' for BTF loaded by a program. */
  readonly name: string;
  /** Whether it is the kernel's or a module's own BTF. */
  readonly kernelBtf: boolean;
  /** The raw BTF, when asked for with `data: true`. */
  readonly data?: Uint8Array;
}

/**
 * BPF_OBJ_GET_INFO_BY_FD with an info struct of `size` bytes starting as `init`'s bytes
 * (pointers and counts the kernel fills through). Returns the struct as the kernel left it.
 */
function getInfo(syscalls: Syscalls, fd: number, size: number, context: string,
  init?: (memory: UserMemory, info: DataView) => void): Uint8Array {
  return syscalls.withMemory((memory) => {
    const initial = new Uint8Array(size);
    init?.(memory, new DataView(initial.buffer));
    const info = memory.output(size, initial);
    const attr = new Attr(INFO.SIZE).u32(INFO.bpf_fd, fd).u32(INFO.info_len, size).u64(INFO.info, info.address);
    const ret = syscalls.bpf(Command.OBJ_GET_INFO_BY_FD, attr.bytes);
    if (ret < 0) throw new KernelError(context, -ret);
    return info.read();
  });
}

const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Information about the map behind `fd`. */
export function mapInfo(fd: number, options: { syscalls?: Syscalls } = {}): MapInfo {
  const syscalls = options.syscalls ?? nativeSyscalls();
  const r = new StructReader(getInfo(syscalls, fd, MAP_INFO.SIZE, `get info of map fd ${fd}`));
  return {
    type: r.u32(MAP_INFO.type),
    id: r.u32(MAP_INFO.id),
    keySize: r.u32(MAP_INFO.key_size),
    valueSize: r.u32(MAP_INFO.value_size),
    maxEntries: r.u32(MAP_INFO.max_entries),
    flags: r.u32(MAP_INFO.map_flags),
    name: r.cstring(MAP_INFO.name, NAME_LEN),
    ifindex: r.u32(MAP_INFO.ifindex),
    btfId: r.u32(MAP_INFO.btf_id),
    btfKeyTypeId: r.u32(MAP_INFO.btf_key_type_id),
    btfValueTypeId: r.u32(MAP_INFO.btf_value_type_id),
    btfVmlinuxValueTypeId: r.u32(MAP_INFO.btf_vmlinux_value_type_id),
    btfVmlinuxId: r.u32(MAP_INFO.btf_vmlinux_id),
    mapExtra: r.u64(MAP_INFO.map_extra),
    netnsDev: r.u64(MAP_INFO.netns_dev),
    netnsIno: r.u64(MAP_INFO.netns_ino),
  };
}

/** Options of {@link programInfo}. */
export interface ProgramInfoOptions {
  /** Also fetch the translated instructions (`bpftool prog dump xlated`). */
  xlated?: boolean;
  /** Also fetch the JIT's machine code (`bpftool prog dump jited`). */
  jited?: boolean;
  syscalls?: Syscalls;
}

/**
 * Information about the program behind `fd`. The kernel fills arrays (map ids, instructions)
 * only into buffers it is given, so this asks twice: once for the counts, once with room.
 */
export function programInfo(fd: number, options: ProgramInfoOptions = {}): ProgramInfo {
  const syscalls = options.syscalls ?? nativeSyscalls();
  const context = `get info of program fd ${fd}`;
  const first = new StructReader(getInfo(syscalls, fd, PROG_INFO.SIZE, context));
  const nrMapIds = first.u32(PROG_INFO.nr_map_ids);
  const xlatedLen = options.xlated ? first.u32(PROG_INFO.xlated_prog_len) : 0;
  const jitedLen = options.jited ? first.u32(PROG_INFO.jited_prog_len) : 0;
  let mapIds: number[] = [];
  let xlated: Uint8Array | undefined;
  let jited: Uint8Array | undefined;
  let r = first;
  if (nrMapIds > 0 || xlatedLen > 0 || jitedLen > 0) {
    // The second call's buffers live in its withMemory scope; copy them out inside it.
    const bytes = syscalls.withMemory((memory) => {
      const mapBuf = memory.output(nrMapIds * 4);
      const xlatedBuf = memory.output(xlatedLen);
      const jitedBuf = memory.output(jitedLen);
      const initial = new Uint8Array(PROG_INFO.SIZE);
      const view = new DataView(initial.buffer);
      view.setUint32(PROG_INFO.nr_map_ids, nrMapIds, le);
      view.setBigUint64(PROG_INFO.map_ids, mapBuf.address, le);
      view.setUint32(PROG_INFO.xlated_prog_len, xlatedLen, le);
      view.setBigUint64(PROG_INFO.xlated_prog_insns, xlatedBuf.address, le);
      view.setUint32(PROG_INFO.jited_prog_len, jitedLen, le);
      view.setBigUint64(PROG_INFO.jited_prog_insns, jitedBuf.address, le);
      const info = memory.output(PROG_INFO.SIZE, initial);
      const attr = new Attr(INFO.SIZE).u32(INFO.bpf_fd, fd).u32(INFO.info_len, PROG_INFO.SIZE).u64(INFO.info, info.address);
      const ret = syscalls.bpf(Command.OBJ_GET_INFO_BY_FD, attr.bytes);
      if (ret < 0) throw new KernelError(context, -ret);
      const out = info.read();
      const ids = new StructReader(mapBuf.read());
      // A map added between the two calls is not listed: the kernel fills at most what we asked for.
      const filled = Math.min(new StructReader(out).u32(PROG_INFO.nr_map_ids), nrMapIds);
      mapIds = Array.from({ length: filled }, (_, i) => ids.u32(i * 4));
      if (options.xlated) xlated = xlatedBuf.read().subarray(0, Math.min(new StructReader(out).u32(PROG_INFO.xlated_prog_len), xlatedLen));
      if (options.jited) jited = jitedBuf.read().subarray(0, Math.min(new StructReader(out).u32(PROG_INFO.jited_prog_len), jitedLen));
      return out;
    });
    r = new StructReader(bytes);
  }
  const tag = Array.from(r.bytes.subarray(PROG_INFO.tag, PROG_INFO.tag + BPF_TAG_SIZE), (b) => b.toString(16).padStart(2, '0')).join('');
  return {
    type: r.u32(PROG_INFO.type),
    id: r.u32(PROG_INFO.id),
    tag,
    name: r.cstring(PROG_INFO.name, NAME_LEN),
    jitedLength: first.u32(PROG_INFO.jited_prog_len),
    xlatedLength: first.u32(PROG_INFO.xlated_prog_len),
    loadTime: r.u64(PROG_INFO.load_time),
    createdByUid: r.u32(PROG_INFO.created_by_uid),
    mapIds,
    ifindex: r.u32(PROG_INFO.ifindex),
    gplCompatible: (r.u32(PROG_INFO.gpl_compatible) & 1) === 1,
    btfId: r.u32(PROG_INFO.btf_id),
    runTimeNs: r.u64(PROG_INFO.run_time_ns),
    runCount: r.u64(PROG_INFO.run_cnt),
    recursionMisses: r.u64(PROG_INFO.recursion_misses),
    verifiedInsns: r.u32(PROG_INFO.verified_insns),
    attachBtfObjId: r.u32(PROG_INFO.attach_btf_obj_id),
    attachBtfId: r.u32(PROG_INFO.attach_btf_id),
    netnsDev: r.u64(PROG_INFO.netns_dev),
    netnsIno: r.u64(PROG_INFO.netns_ino),
    ...(xlated ? { xlated } : {}),
    ...(jited ? { jited } : {}),
  };
}

/** Information about the BTF object behind `fd`; with `data: true` also its raw bytes. */
export function btfInfo(fd: number, options: { data?: boolean; syscalls?: Syscalls } = {}): BtfInfo {
  const syscalls = options.syscalls ?? nativeSyscalls();
  const context = `get info of BTF fd ${fd}`;
  const size = options.data ? new StructReader(getInfo(syscalls, fd, BTF_INFO.SIZE, context)).u32(BTF_INFO.btf_size) : 0;
  let name = '';
  let data: Uint8Array | undefined;
  const bytes = syscalls.withMemory((memory) => {
    const nameBuf = memory.output(BTF_NAME_ROOM);
    const dataBuf = memory.output(size);
    const initial = new Uint8Array(BTF_INFO.SIZE);
    const view = new DataView(initial.buffer);
    view.setBigUint64(BTF_INFO.name, nameBuf.address, le);
    view.setUint32(BTF_INFO.name_len, BTF_NAME_ROOM, le);
    view.setBigUint64(BTF_INFO.btf, dataBuf.address, le);
    view.setUint32(BTF_INFO.btf_size, size, le);
    const info = memory.output(BTF_INFO.SIZE, initial);
    const attr = new Attr(INFO.SIZE).u32(INFO.bpf_fd, fd).u32(INFO.info_len, BTF_INFO.SIZE).u64(INFO.info, info.address);
    const ret = syscalls.bpf(Command.OBJ_GET_INFO_BY_FD, attr.bytes);
    if (ret < 0) throw new KernelError(context, -ret);
    name = new StructReader(nameBuf.read()).cstring(0, BTF_NAME_ROOM);
    if (options.data) data = dataBuf.read();
    return info.read();
  });
  const r = new StructReader(bytes);
  return {
    id: r.u32(BTF_INFO.id),
    size: r.u32(BTF_INFO.btf_size),
    name,
    kernelBtf: r.u32(BTF_INFO.kernel_btf) !== 0,
    ...(data ? { data } : {}),
  };
}

/**
 * Turns on run-time statistics for every program (BPF_ENABLE_STATS, needs CAP_SYS_ADMIN) for as
 * long as the returned handle is open; {@link programInfo} then reports `runTimeNs` and `runCount`.
 */
export function enableStats(options: { syscalls?: Syscalls } = {}): Disposable & { readonly fd: number; close(): void } {
  const syscalls = options.syscalls ?? nativeSyscalls();
  const attr = new Attr(ENABLE_STATS.SIZE).u32(ENABLE_STATS.type, StatsType.RUN_TIME);
  const fd = syscalls.bpf(Command.ENABLE_STATS, attr.bytes);
  if (fd < 0) throw new KernelError('enable BPF_STATS_RUN_TIME', -fd);
  let open = true;
  const close = (): void => {
    if (!open) return;
    open = false;
    syscalls.close(fd);
  };
  return { fd, close, [Symbol.dispose]: close };
}
