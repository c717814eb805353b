/**
 * Context rules of the BTF-typed tracing programs (kernel: btf.c btf_ctx_access,
 * bpf_trace.c tracing_prog_is_valid_access, raw_tp_writable_prog_is_valid_access, syscall.c
 * syscall_prog_is_valid_access, verifier.c bpf_check_attach_target): a TRACING program's
 * context is the attach target's arguments as u64 slots, typed by the target's BTF function
 * prototype; pointer arguments load as `btf_id` registers. A RAW_TRACEPOINT_WRITABLE
 * program's first argument is the tracepoint's writable buffer; a SYSCALL program's context is
 * a user buffer.
 */
import type { Btf, BtfFuncProto, BtfType } from '../btf/index.js';
import { skipModifiers } from './btf-util.js';
import { AttachType, MapType, ProgramType } from '../object/uapi-types.js';
import { BtfFlag } from './btf-ptr.js';
import type { CtxAccess } from './ctx.js';

/** kernel: MAX_BPF_FUNC_ARGS. */
const MAX_BPF_FUNC_ARGS = 12;
/** kernel: U16_MAX, the bound of a SYSCALL program's context offsets. */
const U16_MAX = 0xffff;
const SCALAR: CtxAccess = { regType: 'scalar' };

/** kernel: syscall_prog_is_valid_access: reads and writes anywhere below 64 KiB, aligned to the size. */
export function syscallCtxValid(off: number, size: number): CtxAccess | undefined {
  if (off < 0 || off >= U16_MAX || off % size !== 0) return undefined;
  return SCALAR;
}

/** kernel: bpf_tracing_ctx_access: read-only u64 argument slots. */
function tracingSlotOk(off: number, size: number, write: boolean): boolean {
  return off >= 0 && off < 8 * MAX_BPF_FUNC_ARGS && !write && off % size === 0;
}

/** kernel: raw_tp_writable_prog_is_valid_access: argument 0 is the writable buffer (PTR_TO_TP_BUFFER). */
export function rawTpWritableCtxValid(off: number, size: number, write: boolean): CtxAccess | undefined {
  if (off === 0 && (size !== 8 || write)) return undefined;
  if (!tracingSlotOk(off, size, write)) return undefined;
  return off === 0 ? { regType: 'tp_buffer' } : SCALAR;
}

/**
 * Raw tracepoints whose arguments may be NULL (nibble 0x1 of argument i at bit 4*i) or an
 * error pointer (0x2), so that a tp_btf program must check them (kernel: btf.c
 * raw_tp_null_args, copied from Linux 6.18). `name:hexmask`.
 */
const RAW_TP_NULL_ARGS: ReadonlyMap<string, bigint> = new Map(`
  sched_pi_setprio:10 sched_stick_numa:100 sched_swap_numa:100 afs_make_fs_call:10 afs_make_fs_calli:10
  afs_make_fs_call1:10 afs_make_fs_call2:10 afs_protocol_error:1 afs_flock_ev:10 cachefiles_lookup:201
  cachefiles_unlink:1 cachefiles_rename:1 cachefiles_prep_read:1 cachefiles_mark_active:1 cachefiles_mark_failed:1
  cachefiles_mark_inactive:1 cachefiles_vfs_error:1 cachefiles_io_error:1 cachefiles_ondemand_open:1
  cachefiles_ondemand_copen:1 cachefiles_ondemand_close:1 cachefiles_ondemand_read:1 cachefiles_ondemand_cread:1
  cachefiles_ondemand_fd_write:1 cachefiles_ondemand_fd_release:1 ext4_mballoc_discard:10 ext4_mballoc_free:10
  fib_table_lookup:100 posix_lock_inode:10 fcntl_setlk:10 locks_remove_posix:10 flock_lock_inode:10
  break_lease_noblock:10 break_lease_block:10 break_lease_unblock:10 generic_delete_lease:10 time_out_leases:10
  host1x_cdma_push_gather:10000 mm_khugepaged_scan_pmd:10 mm_collapse_huge_page_isolate:1
  mm_khugepaged_scan_file:10 mm_khugepaged_collapse_file:10 mm_page_alloc:1 mm_page_pcpu_drain:1
  mm_page_alloc_zone_locked:1 netfs_failure:10 device_pm_callback_start:10 qdisc_dequeue:1000 rxrpc_recvdata:1
  rxrpc_resend:10 rxrpc_tq:10 rxrpc_client:1 kfree_skb:1000 xs_stream_read_data:1 xprt_reserve_cong:10
  xprt_release_cong:10 xprt_get_cong:10 xprt_put_cong:10 tcp_send_reset:11 tcp_sendmsg_locked:100
  tegra_dma_tx_status:100 tmigr_update_events:1 writeback_dirty_folio:10 folio_wait_writeback:10
  mr_integ_alloc:2000 bpf_testmod_test_read:0 amdgpu_vm_bo_map:1 amdgpu_vm_bo_unmap:1 netfs_folioq:1
  xfs_defer_create_intent:1 xfs_defer_cancel_list:1 xfs_defer_pending_finish:1 xfs_defer_pending_abort:1
  xfs_defer_relog_intent:1 xfs_defer_isolate_paused:1 xfs_defer_item_pause:1 xfs_defer_item_unpause:1
  xfs_defer_add_item:1 xfs_defer_cancel_item:1 xfs_defer_finish_item:1 xfs_ioc_free_eofblocks:10
  xfs_blockgc_free_space:10 xfs_btree_updkeys:100 xfs_btree_overlapped_query_range:100 xfs_map_blocks_found:10000
  xfs_map_blocks_alloc:10000 xfs_iomap_alloc:1000 xfs_iomap_found:1000 xfs_inodegc_flush:1 xfs_inodegc_push:1
  xfs_inodegc_start:1 xfs_inodegc_stop:1 xfs_inodegc_queue:1 xfs_inodegc_throttle:1 xfs_fs_sync_fs:1
  xfs_blockgc_start:1 xfs_blockgc_stop:1 xfs_blockgc_worker:1 xfs_blockgc_flush_all:1 xchk_nlinks_live_update:10
  xchk_metapath_lookup:100 nfsd_dirent:1 nfsd_file_acquire:1001 nfsd_file_insert_err:1 nfsd_file_cons_err:1
  nfs4_setup_sequence:1 pnfs_update_layout:10000 nfs4_inode_callback_event:200
  nfs4_inode_stateid_callback_event:200 pnfs_mds_fallback_pg_init_read:10000 pnfs_mds_fallback_pg_init_write:10000
  pnfs_mds_fallback_pg_get_mirror_count:10000 pnfs_mds_fallback_read_done:10000 pnfs_mds_fallback_write_done:10000
  pnfs_mds_fallback_read_pagelist:10000 pnfs_mds_fallback_write_pagelist:10000 coda_dec_pic_run:10
  coda_dec_pic_done:10 cfg80211_scan_done:11 rdev_set_coalesce:10 cfg80211_report_wowlan_wakeup:100
  cfg80211_inform_bss_frame:100 cfg80211_michael_mic_failure:10000 wiphy_work_queue:10 wiphy_work_run:10
  wiphy_work_cancel:10 wiphy_work_flush:10 hugetlbfs_alloc_inode:10 spufs_context:10 kvm_page_fault_enter:100
  dpu_crtc_setup_mixer:100 binder_transaction:100 btree_path_free:100 hfi1_sdma_progress:1000
  iptfs_ingress_postq_event:1000 neigh_update:10 amdtp_packet:100
`.trim().split(/\s+/).map((e) => {
  const [name, mask] = e.split(':') as [string, string];
  return [name, BigInt(`0x${mask}`)];
}));

/**
 * Iterator targets and their context pointers (kernel: the ctx_arg_info of each
 * bpf_iter_reg in kernel/bpf/*_iter.c, kernel/kallsyms.c, net/…): the member of
 * `struct bpf_iter__<target>` and whether it is PTR_TRUSTED. All of them may be NULL (the
 * call after the last element). Targets with PTR_TO_BUF arguments (bpf_map_elem, sockmap,
 * bpf_sk_storage_map) are not modelled.
 */
const ITER_TARGETS: ReadonlyMap<string, readonly (readonly [string, boolean])[]> = new Map([
  ['task', [['task', true]]],
  ['task_file', [['task', false], ['file', false]]],
  ['task_vma', [['task', false], ['vma', false]]],
  ['bpf_map', [['map', true]]],
  ['bpf_prog', [['prog', false]]],
  ['bpf_link', [['link', false]]],
  ['cgroup', [['cgroup', true]]],
  ['ksym', [['ksym', false]]],
  ['kmem_cache', [['s', true]]],
  ['dmabuf', [['dmabuf', false]]],
  ['tcp', [['sk_common', true]]],
  ['udp', [['udp_sk', true]]],
  ['unix', [['unix_sk', false]]],
  ['netlink', [['sk', false]]],
  ['ipv6_route', [['rt', false]]],
]);

/** One context pointer an iterator target describes (kernel: struct bpf_ctx_arg_aux). */
interface CtxArgInfo {
  readonly trusted: boolean;
}

/** The attach target of a TRACING (or LSM) program, resolved from the kernel BTF. */
export interface TracingTarget {
  readonly btf: Btf;
  readonly attachType: number;
  /** kernel: attach_func_name (the tracepoint's name for tp_btf). */
  readonly name: string;
  /** kernel: attach_func_proto. */
  readonly proto: BtfFuncProto;
  /** tp_btf: the prototype's first argument is the tracepoint's `void *__data` (kernel: attach_btf_trace). */
  readonly skipFirst: boolean;
  /** kernel: prog_args_trusted. */
  readonly trusted: boolean;
  /** Iterators: context pointers by offset. */
  readonly ctxArgs: ReadonlyMap<number, CtxArgInfo>;
  /** tp_btf: the raw_tp_null_args mask of the tracepoint (0 when not listed). */
  readonly nullMask: bigint;
}

const isStruct = (t: BtfType): boolean => t.kind === 'struct' || t.kind === 'union';
const isSmallInt = (t: BtfType): boolean => t.kind === 'int' && t.size <= 8;

/** A rejection while resolving the target: the kernel's words. */
export class TracingTargetError extends Error {
  override name = 'TracingTargetError';
}

/**
 * kernel: bpf_check_attach_target and check_attach_btf_id for the attach types modelled here
 * (tp_btf and iterators): the target's prototype and how its arguments are typed. Throws
 * TracingTargetError with the kernel's message for a bad target.
 */
export function resolveTracingTarget(attachType: number, btf: Btf, attachBtfId: number): TracingTarget {
  if (attachBtfId === 0) throw new TracingTargetError('Tracing programs must provide btf_id');
  if (!btf.has(attachBtfId)) throw new TracingTargetError(`attach_btf_id ${attachBtfId} is invalid`);
  const t = btf.type(attachBtfId);
  if (t.name === '') throw new TracingTargetError(`attach_btf_id ${attachBtfId} doesn't have a name`);
  switch (attachType) {
    case AttachType.TRACE_RAW_TP: {
      const prefix = 'btf_trace_';
      if (t.kind !== 'typedef') throw new TracingTargetError(`attach_btf_id ${attachBtfId} is not a typedef`);
      if (!t.name.startsWith(prefix)) throw new TracingTargetError(`attach_btf_id ${attachBtfId} points to wrong type name ${t.name}`);
      const name = t.name.slice(prefix.length);
      // The kernel takes the prototype (with argument names) of the tracepoint's template
      // function, found through kallsyms; its types are the typedef's. The template of a
      // tracepoint defined by TRACE_EVENT is __bpf_trace_<name>; for the others the typedef's
      // unnamed prototype is used, which only loses the `__nullable` argument suffix (in 6.18
      // only tcp_send_reset, a TRACE_EVENT, has one).
      let proto: BtfType | undefined;
      const template = btf.findByName(`__bpf_trace_${name}`, 'func')[0];
      if (template !== undefined) {
        proto = btf.type((btf.type(template) as { type: number }).type);
      } else {
        const ptr = btf.type(t.type);
        if (ptr.kind === 'ptr') proto = btf.type(ptr.type);
      }
      if (proto?.kind !== 'func_proto') throw new TracingTargetError(`attach_btf_id ${attachBtfId}: no prototype`);
      if (proto.params.length === 0) throw new TracingTargetError(`attach_btf_id ${attachBtfId}: prototype without __data`);
      return { btf, attachType, name, proto, skipFirst: true, trusted: true, ctxArgs: new Map(), nullMask: RAW_TP_NULL_ARGS.get(name) ?? 0n };
    }
    case AttachType.TRACE_ITER: {
      if (t.kind !== 'func') throw new TracingTargetError(`attach_btf_id ${attachBtfId} is not a function`);
      const proto = btf.type(t.type);
      if (proto.kind !== 'func_proto') throw new TracingTargetError(`attach_btf_id ${attachBtfId}: no prototype`);
      const prefix = 'bpf_iter_';
      if (!t.name.startsWith(prefix)) throw new TracingTargetError(`attach_btf_id ${attachBtfId} is not an iterator`);
      const target = t.name.slice(prefix.length);
      const args = ITER_TARGETS.get(target);
      if (args === undefined) throw new TracingTargetError(`iterator target '${target}' is not modelled by this verifier`);
      const ctxStructId = btf.findByName(`bpf_iter__${target}`, 'struct')[0];
      const ctxStruct = ctxStructId === undefined ? undefined : btf.type(ctxStructId);
      if (ctxStruct?.kind !== 'struct') throw new TracingTargetError(`kernel BTF has no struct bpf_iter__${target}`);
      const ctxArgs = new Map<number, CtxArgInfo>();
      for (const [member, trusted] of args) {
        const off = memberOffset(btf, ctxStruct, member);
        if (off === undefined) throw new TracingTargetError(`struct bpf_iter__${target} has no member ${member}`);
        ctxArgs.set(off, { trusted });
      }
      return { btf, attachType, name: t.name, proto, skipFirst: false, trusted: true, ctxArgs, nullMask: 0n };
    }
    default:
      throw new TracingTargetError(`attach type ${attachType} needs a BPF trampoline: not modelled by this verifier`);
  }
}

/** offsetof(struct, member) in bytes, looking through anonymous struct and union members. */
function memberOffset(btf: Btf, struct: BtfType, name: string): number | undefined {
  if (struct.kind !== 'struct' && struct.kind !== 'union') return undefined;
  for (const m of struct.members) {
    if (m.name === name) return m.bitOffset / 8;
    if (m.name === '') {
      const inner = memberOffset(btf, btf.type(skipModifiers(btf, m.type)), name);
      if (inner !== undefined) return m.bitOffset / 8 + inner;
    }
  }
  return undefined;
}

/** kernel: btf_ctx_arg_idx: the argument an offset of the context falls in. */
function ctxArgIdx(btf: Btf, proto: BtfFuncProto, off: number): number {
  let offset = 0;
  const slot = (id: number): number => {
    const t = btf.type(skipModifiers(btf, id));
    if (t.kind === 'ptr') return 8;
    const size = 'size' in t && typeof t.size === 'number' ? t.size : 0;
    return Math.ceil(size / 8) * 8;
  };
  for (let i = 0; i < proto.params.length; i++) {
    offset += slot(proto.params[i]!.type);
    if (off < offset) return i;
  }
  offset += slot(proto.returnType);
  if (off < offset) return proto.params.length;
  return proto.params.length + 1;
}

/**
 * kernel: tracing_prog_is_valid_access (bpf_tracing_ctx_access + btf_ctx_access): what a load
 * from the context at `off` yields, or undefined when the kernel refuses it.
 */
export function tracingCtxAccess(target: TracingTarget, off: number, size: number, write: boolean): CtxAccess | undefined {
  if (!tracingSlotOk(off, size, write)) return undefined;
  if (off % 8 !== 0) return undefined;
  const { btf, proto } = target;
  const arg = ctxArgIdx(btf, proto, off);
  const params = target.skipFirst ? proto.params.slice(1) : proto.params;
  const nrArgs = params.length;
  if (arg > nrArgs) return undefined;
  let typeId: number;
  if (arg === nrArgs) {
    switch (target.attachType) {
      case AttachType.LSM_MAC: case AttachType.LSM_CGROUP: case AttachType.TRACE_FEXIT:
        typeId = proto.returnType;
        break;
      case AttachType.MODIFY_RETURN:
        typeId = skipModifiers(btf, proto.returnType);
        if (!isSmallInt(btf.type(typeId))) return undefined;
        break;
      default:
        return undefined;
    }
  } else {
    typeId = params[arg]!.type;
  }
  const t = btf.type(skipModifiers(btf, typeId));
  if (isSmallInt(t) || t.kind === 'enum' || t.kind === 'enum64' || isStruct(t)) return SCALAR;
  if (t.kind !== 'ptr') return undefined;
  if (size !== 8) return undefined;
  const pointee = btf.type(skipModifiers(btf, t.type));
  if (pointee.kind === 'void' || pointee.kind === 'int') return SCALAR;
  const info = target.ctxArgs.get(off);
  if (info !== undefined) {
    const id = skipModifiers(btf, t.type);
    if (!isStruct(btf.type(id))) return undefined;
    return { regType: 'btf_id', maybeNull: true, btfId: id, btfFlags: info.trusted ? BtfFlag.TRUSTED : 0 };
  }
  let flags = target.trusted ? BtfFlag.TRUSTED : 0;
  let maybeNull = arg < nrArgs && params[arg]!.name.endsWith('__nullable');
  let isErr = false;
  if (target.attachType === AttachType.TRACE_RAW_TP) {
    const nibble = (target.nullMask >> BigInt(arg * 4)) & 0xfn;
    if ((nibble & 1n) !== 0n) maybeNull = true;
    if ((nibble & 2n) !== 0n) isErr = true;
  }
  const first = btf.type(t.type);
  if (first.kind === 'type_tag' && first.attribute !== true) {
    if (first.name === 'user') flags |= BtfFlag.USER;
    if (first.name === 'percpu') flags |= BtfFlag.PERCPU;
  }
  const id = skipModifiers(btf, t.type);
  if (!isStruct(btf.type(id))) return undefined;
  if (isErr) return SCALAR;
  return { regType: 'btf_id', maybeNull, btfId: id, btfFlags: flags };
}

/**
 * The range R0 must be in when a TRACING program exits, or undefined when it is not checked
 * (kernel: check_return_code).
 */
export function tracingReturnRange(attachType: number): [bigint, bigint] | undefined {
  switch (attachType) {
    case AttachType.TRACE_FENTRY: case AttachType.TRACE_FEXIT: return [0n, 0n];
    case AttachType.TRACE_ITER: return [0n, 1n];
    default: return undefined;
  }
}

/**
 * Whether a program of this type and attach type may be loaded sleepable (kernel:
 * check_attach_btf_id, can_be_sleepable). SYSCALL programs must be.
 */
export function canBeSleepable(progType: number, attachType: number): boolean {
  switch (progType) {
    case ProgramType.TRACING:
      return attachType === AttachType.TRACE_FENTRY || attachType === AttachType.TRACE_FEXIT
        || attachType === AttachType.MODIFY_RETURN || attachType === AttachType.TRACE_ITER;
    case ProgramType.LSM: case ProgramType.KPROBE: case ProgramType.STRUCT_OPS: case ProgramType.SYSCALL:
      return true;
    default:
      return false;
  }
}

/** What {@link prepareTracing} reads from the verify() options. */
export interface TracingOptions {
  readonly btf?: Btf;
  readonly attachBtfId?: number;
  readonly attachTarget?: string;
  readonly gplCompatible?: boolean;
  readonly sleepable: boolean;
}

/** How libbpf names an attach target in the kernel BTF (libbpf.c find_attach_btf_id). */
const TARGET_NAMING: Readonly<Partial<Record<number, { prefix: string; kind: 'func' | 'typedef' }>>> = {
  [AttachType.TRACE_RAW_TP]: { prefix: 'btf_trace_', kind: 'typedef' },
  [AttachType.TRACE_ITER]: { prefix: 'bpf_iter_', kind: 'func' },
  [AttachType.TRACE_FENTRY]: { prefix: '', kind: 'func' },
  [AttachType.TRACE_FEXIT]: { prefix: '', kind: 'func' },
  [AttachType.MODIFY_RETURN]: { prefix: '', kind: 'func' },
  [AttachType.LSM_MAC]: { prefix: 'bpf_lsm_', kind: 'func' },
  [AttachType.LSM_CGROUP]: { prefix: 'bpf_lsm_', kind: 'func' },
};

/** Program types that take an attach_btf_id (kernel: bpf_prog_load_check_attach). */
const BTF_ATTACHED: ReadonlySet<number> = new Set([ProgramType.TRACING, ProgramType.LSM, ProgramType.STRUCT_OPS, ProgramType.EXT]);

/**
 * Checks a program's attach target and records the kernel BTF for the verification (kernel:
 * bpf_prog_load_check_attach, check_attach_btf_id). Throws TracingTargetError with the
 * kernel's words (or saying what is not modelled).
 */
export function tracingSetup(progType: number, attachType: number, options: TracingOptions): { target?: TracingTarget } {
  let id = options.attachBtfId ?? 0;
  if (id === 0 && options.attachTarget !== undefined) {
    const naming = TARGET_NAMING[attachType];
    if (naming === undefined || options.btf === undefined) throw new TracingTargetError(`attach target '${options.attachTarget}' needs a BTF attach type and the kernel BTF`);
    id = options.btf.findByName(naming.prefix + options.attachTarget, naming.kind)[0] ?? 0;
    if (id === 0) throw new TracingTargetError(`kernel BTF has no ${naming.kind} '${naming.prefix}${options.attachTarget}'`);
  }
  if (id !== 0 && !BTF_ATTACHED.has(progType)) throw new TracingTargetError(`attach_btf_id ${id} given to program type ${progType} (kernel: EINVAL)`);
  if (progType === ProgramType.SYSCALL && !options.sleepable) throw new TracingTargetError('Syscall programs can only be sleepable');
  if (progType !== ProgramType.TRACING) return {};
  if (options.btf === undefined) throw new TracingTargetError('TRACING programs are typed by the kernel BTF (VerifyOptions.btf): not modelled without it');
  return { target: resolveTracingTarget(attachType, options.btf, id) };
}

/** kernel: license_is_gpl_compatible. */
export function licenseIsGplCompatible(license: string): boolean {
  return ['GPL', 'GPL v2', 'GPL and additional rights', 'Dual BSD/GPL', 'Dual MIT/GPL', 'Dual MPL/GPL'].includes(license);
}

/**
 * Map types a sleepable program may use (kernel: check_map_prog_compatibility); `undefined`
 * when every map the program names is one of them, else the message.
 */
export function sleepableMapsError(mapTypes: readonly number[]): string | undefined {
  const ok = new Set<number>([MapType.HASH, MapType.LRU_HASH, MapType.ARRAY, MapType.PERCPU_HASH, MapType.PERCPU_ARRAY,
    MapType.LRU_PERCPU_HASH, MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS, MapType.RINGBUF, MapType.USER_RINGBUF,
    MapType.INODE_STORAGE, MapType.SK_STORAGE, MapType.TASK_STORAGE, MapType.CGRP_STORAGE, MapType.QUEUE, MapType.STACK,
    MapType.ARENA]);
  return mapTypes.every((t) => ok.has(t)) ? undefined : 'Sleepable programs can only use array, hash, ringbuf and local storage maps';
}
