/**
 * Helper function prototypes, the helpers each program type may call, and the map types each
 * helper accepts (kernel: the bpf_func_proto tables of kernel/bpf/helpers.c, net/core/filter.c,
 * kernel/trace/bpf_trace.c; check_map_func_compatibility). Ids and names are the UAPI's
 * (include/uapi/linux/bpf.h __BPF_FUNC_MAPPER). A helper this table does not describe is
 * refused: guessing its prototype could accept what the kernel rejects.
 */
import { AttachType, MapType, ProgramType } from '../object/uapi-types.js';

/** Argument kinds (kernel: enum bpf_arg_type, with the flags that matter folded in). */
export type ArgType =
  | 'anything'
  | 'map_ptr'
  /** Pointer to map key_size readable bytes. */
  | 'map_key'
  /** Pointer to map value_size readable bytes. */
  | 'map_value'
  | 'ctx'
  /** The context, or NULL (ARG_PTR_TO_CTX_OR_NULL). */
  | 'ctx_or_null'
  /** Pointer to memory the helper reads; its size is the next argument. */
  | 'mem'
  /** The same, or NULL (with a zero size). */
  | 'mem_or_null'
  /** Pointer to memory the helper writes (MEM_UNINIT); its size is the next argument. */
  | 'uninit_mem'
  | 'size'
  | 'size_or_zero'
  /** A known constant: the size to allocate (ringbuf_reserve). */
  | 'alloc_size_or_zero'
  /** A ring-buffer record to submit or discard (OBJ_RELEASE). */
  | 'ringbuf_release'
  /** Pointer to map value_size bytes the helper writes (ARG_PTR_TO_MAP_VALUE | MEM_UNINIT | MEM_WRITE). */
  | 'map_value_uninit'
  /** Memory the helper writes, or NULL with a zero size (ARG_PTR_TO_MEM_OR_NULL | MEM_WRITE). */
  | 'mem_or_null_write'
  /** An aligned 8-byte slot the helper writes (ARG_PTR_TO_FIXED_SIZE_MEM | MEM_UNINIT | MEM_ALIGNED, size 8). */
  | 'fixed_mem8_uninit'
  /** A NUL-terminated string in a frozen read-only map (ARG_PTR_TO_CONST_STR). */
  | 'const_str'
  /** A callback: a subprogram's address from `lddw rX, func` (ARG_PTR_TO_FUNC). */
  | 'func'
  /** The callback's context: a stack pointer or NULL (ARG_PTR_TO_STACK_OR_NULL). */
  | 'stack_or_null'
  /** The `struct bpf_spin_lock` of a map value, at its constant offset (ARG_PTR_TO_SPIN_LOCK). */
  | 'spin_lock'
  /** The `struct bpf_timer` of a map value, at its constant offset (ARG_PTR_TO_TIMER). */
  | 'timer'
  /** A socket of any kind: sock_common, sock, tcp_sock (ARG_PTR_TO_SOCK_COMMON). */
  | 'sock_common'
  /** The same, or a BTF sock_common pointer (ARG_PTR_TO_BTF_ID_SOCK_COMMON). */
  | 'btf_sock_common'
  /** A referenced socket to release (ARG_PTR_TO_BTF_ID_SOCK_COMMON | OBJ_RELEASE). */
  | 'sock_release'
  /** A full socket, or NULL (ARG_PTR_TO_SOCKET | PTR_MAYBE_NULL). */
  | 'sock_or_null'
  /** Pointer to map value_size readable bytes, or NULL (ARG_PTR_TO_MAP_VALUE | PTR_MAYBE_NULL). */
  | 'map_value_or_null';

export type RetType = 'integer' | 'void' | 'map_value_or_null' | 'ringbuf_mem_or_null'
  /** RET_PTR_TO_MAP_VALUE: never NULL (bpf_get_local_storage). */
  | 'map_value'
  | 'sock_or_null' | 'sock_common_or_null' | 'tcp_sock_or_null'
  /** RET_PTR_TO_BTF_ID_TRUSTED to struct task_struct (btf-ptr.ts); the helper is GPL-only. */
  | 'btf_id_trusted_task';

/**
 * Helpers with `gpl_only` set (include/linux/bpf.h bpf_func_proto): a program whose license is
 * not GPL-compatible may not call them ("cannot call GPL-restricted function from non-GPL
 * compatible program"). Read off this machine's 6.18 kernel by loading `call N` with a
 * proprietary license for every helper id and program type: the set is the same for every
 * type that has the helper, but for bpf_get_stackid in perf_event programs (its _pe variant).
 */
export const GPL_ONLY_HELPERS: ReadonlySet<number> = new Set([
  4, 6, 22, 25, 27, 35, 45, 55, 56, 67, 69, 100, 110, 112, 113, 114, 115, 119, 158, 163, 165, 169, 170, 171, 172, 173, 175,
  176, 177, 191, 204, 205, 206, 207,
]);

/** Whether helper `id` is GPL-only in programs of `progType`. */
export function helperIsGplOnly(progType: number, id: number): boolean {
  if (id === 27 && progType === ProgramType.PERF_EVENT) return false;
  return GPL_ONLY_HELPERS.has(id);
}

export interface HelperProto {
  readonly args: readonly ArgType[];
  readonly ret: RetType;
  /** The helper may move skb/xdp data: every packet pointer is invalid after it. */
  readonly changesPktData?: boolean;
  /** The helper may take packet pointers for its memory arguments (kernel: bpf_func_proto.pkt_access). */
  readonly pktAccess?: boolean;
  /** Map types the map argument may have (check_map_func_compatibility). */
  readonly mapTypes?: readonly number[];
}

const NAMES: readonly string[] = `unspec map_lookup_elem map_update_elem map_delete_elem probe_read ktime_get_ns trace_printk
get_prandom_u32 get_smp_processor_id skb_store_bytes l3_csum_replace l4_csum_replace tail_call clone_redirect
get_current_pid_tgid get_current_uid_gid get_current_comm get_cgroup_classid skb_vlan_push skb_vlan_pop
skb_get_tunnel_key skb_set_tunnel_key perf_event_read redirect get_route_realm perf_event_output skb_load_bytes
get_stackid csum_diff skb_get_tunnel_opt skb_set_tunnel_opt skb_change_proto skb_change_type skb_under_cgroup
get_hash_recalc get_current_task probe_write_user current_task_under_cgroup skb_change_tail skb_pull_data
csum_update set_hash_invalid get_numa_node_id skb_change_head xdp_adjust_head probe_read_str get_socket_cookie
get_socket_uid set_hash setsockopt skb_adjust_room redirect_map sk_redirect_map sock_map_update xdp_adjust_meta
perf_event_read_value perf_prog_read_value getsockopt override_return sock_ops_cb_flags_set msg_redirect_map
msg_apply_bytes msg_cork_bytes msg_pull_data bind xdp_adjust_tail skb_get_xfrm_state get_stack
skb_load_bytes_relative fib_lookup sock_hash_update msg_redirect_hash sk_redirect_hash lwt_push_encap
lwt_seg6_store_bytes lwt_seg6_adjust_srh lwt_seg6_action rc_repeat rc_keydown skb_cgroup_id get_current_cgroup_id
get_local_storage sk_select_reuseport skb_ancestor_cgroup_id sk_lookup_tcp sk_lookup_udp sk_release map_push_elem
map_pop_elem map_peek_elem msg_push_data msg_pop_data rc_pointer_rel spin_lock spin_unlock sk_fullsock tcp_sock
skb_ecn_set_ce get_listener_sock skc_lookup_tcp tcp_check_syncookie sysctl_get_name sysctl_get_current_value
sysctl_get_new_value sysctl_set_new_value strtol strtoul sk_storage_get sk_storage_delete send_signal
tcp_gen_syncookie skb_output probe_read_user probe_read_kernel probe_read_user_str probe_read_kernel_str
tcp_send_ack send_signal_thread jiffies64 read_branch_records get_ns_current_pid_tgid xdp_output get_netns_cookie
get_current_ancestor_cgroup_id sk_assign ktime_get_boot_ns seq_printf seq_write sk_cgroup_id sk_ancestor_cgroup_id
ringbuf_output ringbuf_reserve ringbuf_submit ringbuf_discard ringbuf_query csum_level skc_to_tcp6_sock
skc_to_tcp_sock skc_to_tcp_timewait_sock skc_to_tcp_request_sock skc_to_udp6_sock get_task_stack load_hdr_opt
store_hdr_opt reserve_hdr_opt inode_storage_get inode_storage_delete d_path copy_from_user snprintf_btf
seq_printf_btf skb_cgroup_classid redirect_neigh per_cpu_ptr this_cpu_ptr redirect_peer task_storage_get
task_storage_delete get_current_task_btf bprm_opts_set ktime_get_coarse_ns ima_inode_hash sock_from_file check_mtu
for_each_map_elem snprintf sys_bpf btf_find_by_name_kind sys_close timer_init timer_set_callback timer_start
timer_cancel get_func_ip get_attach_cookie task_pt_regs get_branch_snapshot trace_vprintk skc_to_unix_sock
kallsyms_lookup_name find_vma loop strncmp get_func_arg get_func_ret get_func_arg_cnt get_retval set_retval
xdp_get_buff_len xdp_load_bytes xdp_store_bytes copy_from_user_task skb_set_tstamp ima_file_hash kptr_xchg
map_lookup_percpu_elem skc_to_mptcp_sock dynptr_from_mem ringbuf_reserve_dynptr ringbuf_submit_dynptr
ringbuf_discard_dynptr dynptr_read dynptr_write dynptr_data tcp_raw_gen_syncookie_ipv4 tcp_raw_gen_syncookie_ipv6
tcp_raw_check_syncookie_ipv4 tcp_raw_check_syncookie_ipv6 ktime_get_tai_ns user_ringbuf_drain cgrp_storage_get
cgrp_storage_delete`.split(/\s+/);

/** One past the last helper id (kernel: __BPF_FUNC_MAX_ID). */
export const BPF_FUNC_MAX_ID = NAMES.length;

/** `bpf_map_lookup_elem` for 1; `unknown` for an id the kernel does not define. */
export function helperName(id: number): string {
  const n = id >= 0 ? NAMES[id] : undefined;
  return n === undefined ? 'unknown' : `bpf_${n}`;
}

/** Helper id by name (`map_lookup_elem` or `bpf_map_lookup_elem`), or undefined. */
export function helperId(name: string): number | undefined {
  const i = NAMES.indexOf(name.replace(/^bpf_/, ''));
  return i < 0 ? undefined : i;
}

const MAP_OPS = [MapType.HASH, MapType.ARRAY, MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_HASH,
  MapType.LRU_PERCPU_HASH, MapType.LPM_TRIE];
const INT = 'integer' as const;
/** Maps with for_each callbacks (kernel: map_set_for_each_callback_args in the map ops). */
const FOR_EACH_MAPS = [MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH, MapType.LRU_PERCPU_HASH, MapType.ARRAY, MapType.PERCPU_ARRAY];
const pkt = true;

/** Prototypes by helper id. */
export const HELPER_PROTOS: ReadonlyMap<number, HelperProto> = new Map<number, HelperProto>([
  [1, { args: ['map_ptr', 'map_key'], ret: 'map_value_or_null', pktAccess: true,
    mapTypes: [...MAP_OPS, MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS, MapType.SOCKMAP, MapType.SOCKHASH, MapType.XSKMAP] }],
  [2, { args: ['map_ptr', 'map_key', 'map_value', 'anything'], ret: INT, pktAccess: true, mapTypes: MAP_OPS }],
  [3, { args: ['map_ptr', 'map_key'], ret: INT, pktAccess: true, mapTypes: MAP_OPS }],
  [4, { args: ['uninit_mem', 'size_or_zero', 'anything'], ret: INT }],
  [5, { args: [], ret: INT }],
  // Only the format and its size are checked; R3-R5 are variadic and may be unset.
  [6, { args: ['mem', 'size'], ret: INT }],
  [7, { args: [], ret: INT }],
  [8, { args: [], ret: INT }],
  [9, { args: ['ctx', 'anything', 'mem', 'size', 'anything'], ret: INT, changesPktData: pkt }],
  [10, { args: ['ctx', 'anything', 'anything', 'anything', 'anything'], ret: INT, changesPktData: pkt }],
  [11, { args: ['ctx', 'anything', 'anything', 'anything', 'anything'], ret: INT, changesPktData: pkt }],
  // A tail call that fails returns: the packet may have changed (bpf_helper_changes_pkt_data lists it).
  [12, { args: ['ctx', 'map_ptr', 'anything'], ret: 'void', mapTypes: [MapType.PROG_ARRAY], changesPktData: pkt }],
  [13, { args: ['ctx', 'anything', 'anything'], ret: INT }],
  [14, { args: [], ret: INT }],
  [15, { args: [], ret: INT }],
  [16, { args: ['uninit_mem', 'size'], ret: INT }],
  [17, { args: ['ctx'], ret: INT }],
  [18, { args: ['ctx', 'anything', 'anything'], ret: INT, changesPktData: pkt }],
  [19, { args: ['ctx'], ret: INT, changesPktData: pkt }],
  [22, { args: ['map_ptr', 'anything'], ret: INT, mapTypes: [MapType.PERF_EVENT_ARRAY] }],
  [23, { args: ['anything', 'anything'], ret: INT }],
  [25, { args: ['ctx', 'map_ptr', 'anything', 'mem', 'size_or_zero'], ret: INT, mapTypes: [MapType.PERF_EVENT_ARRAY] }],
  [26, { args: ['ctx', 'anything', 'uninit_mem', 'size'], ret: INT }],
  [27, { args: ['ctx', 'map_ptr', 'anything'], ret: INT, mapTypes: [MapType.STACK_TRACE] }],
  [28, { args: ['mem_or_null', 'size_or_zero', 'mem_or_null', 'size_or_zero', 'anything'], ret: INT, pktAccess: true }],
  [34, { args: ['ctx'], ret: INT }],
  [35, { args: [], ret: INT }],
  [39, { args: ['ctx', 'anything'], ret: INT, changesPktData: pkt }],
  // kernel (net/core/filter.c, 6.18): the sk_buff helpers that resize or retype the packet, and the hash/csum ones.
  [31, { args: ['ctx', 'anything', 'anything'], ret: INT, changesPktData: pkt }],
  [32, { args: ['ctx', 'anything'], ret: INT }],
  [38, { args: ['ctx', 'anything', 'anything'], ret: INT, changesPktData: pkt }],
  [40, { args: ['ctx', 'anything'], ret: INT }],
  [41, { args: ['ctx'], ret: 'void' }],
  [43, { args: ['ctx', 'anything', 'anything'], ret: INT, changesPktData: pkt }],
  [48, { args: ['ctx', 'anything'], ret: INT }],
  [50, { args: ['ctx', 'anything', 'anything', 'anything'], ret: INT, changesPktData: pkt }],
  // bpf_skb_fib_lookup / bpf_xdp_fib_lookup: the params struct is read and written.
  [69, { args: ['ctx', 'mem', 'size', 'anything'], ret: INT, pktAccess: true }],
  // net/core/filter.c sk_select_reuseport: the socket of a reuseport array, sockmap or sockhash.
  [82, { args: ['ctx', 'map_ptr', 'map_key', 'anything'], ret: INT, mapTypes: [MapType.REUSEPORT_SOCKARRAY, MapType.SOCKMAP, MapType.SOCKHASH] }],
  // kernel/bpf/helpers.c bpf_get_local_storage: the cgroup storage of the running program, never NULL.
  [81, { args: ['map_ptr', 'anything'], ret: 'map_value', mapTypes: [MapType.CGROUP_STORAGE, MapType.PERCPU_CGROUP_STORAGE] }],
  [42, { args: [], ret: INT }],
  [44, { args: ['ctx', 'anything'], ret: INT, changesPktData: pkt }],
  [45, { args: ['uninit_mem', 'size_or_zero', 'anything'], ret: INT }],
  [46, { args: ['ctx'], ret: INT }],
  [47, { args: ['ctx'], ret: INT }],
  [51, { args: ['map_ptr', 'anything', 'anything'], ret: INT, mapTypes: [MapType.DEVMAP, MapType.DEVMAP_HASH, MapType.CPUMAP, MapType.XSKMAP] }],
  [54, { args: ['ctx', 'anything'], ret: INT, changesPktData: pkt }],
  [65, { args: ['ctx', 'anything'], ret: INT, changesPktData: pkt }],
  [67, { args: ['ctx', 'uninit_mem', 'size_or_zero', 'anything'], ret: INT }],
  [68, { args: ['ctx', 'anything', 'uninit_mem', 'size', 'anything'], ret: INT }],
  [80, { args: [], ret: INT }],
  [112, { args: ['uninit_mem', 'size_or_zero', 'anything'], ret: INT }],
  [113, { args: ['uninit_mem', 'size_or_zero', 'anything'], ret: INT }],
  [114, { args: ['uninit_mem', 'size_or_zero', 'anything'], ret: INT }],
  [115, { args: ['uninit_mem', 'size_or_zero', 'anything'], ret: INT }],
  [125, { args: [], ret: INT }],
  [130, { args: ['map_ptr', 'mem', 'size_or_zero', 'anything'], ret: INT, mapTypes: [MapType.RINGBUF] }],
  [131, { args: ['map_ptr', 'alloc_size_or_zero', 'anything'], ret: 'ringbuf_mem_or_null', mapTypes: [MapType.RINGBUF] }],
  // bpf_get_current_task_btf (tracing, btf-ptr.ts)
  [158, { args: [], ret: 'btf_id_trusted_task' }],
  [132, { args: ['ringbuf_release', 'anything'], ret: 'void' }],
  [133, { args: ['ringbuf_release', 'anything'], ret: 'void' }],
  [134, { args: ['map_ptr', 'anything'], ret: INT, mapTypes: [MapType.RINGBUF] }],
  [122, { args: ['ctx_or_null'], ret: INT }],
  [24, { args: ['ctx'], ret: INT }],
  [59, { args: ['ctx', 'anything'], ret: INT }],
  [87, { args: ['map_ptr', 'map_value', 'anything'], ret: INT, pktAccess: true, mapTypes: [MapType.QUEUE, MapType.STACK, MapType.BLOOM_FILTER] }],
  [88, { args: ['map_ptr', 'map_value_uninit'], ret: INT, mapTypes: [MapType.QUEUE, MapType.STACK] }],
  [89, { args: ['map_ptr', 'map_value_uninit'], ret: INT, mapTypes: [MapType.QUEUE, MapType.STACK, MapType.BLOOM_FILTER] }],
  [105, { args: ['mem', 'size', 'anything', 'fixed_mem8_uninit'], ret: INT }],
  [106, { args: ['mem', 'size', 'anything', 'fixed_mem8_uninit'], ret: INT }],
  [118, { args: [], ret: INT }],
  [120, { args: ['anything', 'anything', 'uninit_mem', 'size'], ret: INT }],
  [123, { args: ['anything'], ret: INT }],
  [160, { args: [], ret: INT }],
  [164, { args: ['map_ptr', 'func', 'stack_or_null', 'anything'], ret: INT, mapTypes: FOR_EACH_MAPS }],
  [165, { args: ['mem_or_null_write', 'size_or_zero', 'const_str', 'mem_or_null', 'size_or_zero'], ret: INT }],
  [177, { args: ['mem', 'size', 'mem_or_null', 'size_or_zero'], ret: INT }],
  [181, { args: ['anything', 'func', 'stack_or_null', 'anything'], ret: INT }],
  [182, { args: ['mem', 'size', 'const_str'], ret: INT }],
  [186, { args: [], ret: INT }],
  [187, { args: ['anything'], ret: INT }],
  [195, { args: ['map_ptr', 'map_key', 'anything'], ret: 'map_value_or_null', pktAccess: true,
    mapTypes: [MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH] }],
  [208, { args: [], ret: INT }],
  [53, { args: ['ctx', 'map_ptr', 'map_key', 'anything'], ret: INT, pktAccess: true, mapTypes: [MapType.SOCKMAP] }],
  [70, { args: ['ctx', 'map_ptr', 'map_key', 'anything'], ret: INT, pktAccess: true, mapTypes: [MapType.SOCKHASH] }],
  [61, { args: ['ctx', 'anything'], ret: INT }],
  [60, { args: ['ctx', 'map_ptr', 'anything', 'anything'], ret: INT, mapTypes: [MapType.SOCKMAP] }],
  // kernel: bpf_sk_redirect_map_proto / bpf_sk_redirect_hash_proto (sk_skb).
  [52, { args: ['ctx', 'map_ptr', 'anything', 'anything'], ret: INT, mapTypes: [MapType.SOCKMAP] }],
  [72, { args: ['ctx', 'map_ptr', 'map_key', 'anything'], ret: INT, mapTypes: [MapType.SOCKHASH] }],
  [71, { args: ['ctx', 'map_ptr', 'map_key', 'anything'], ret: INT, mapTypes: [MapType.SOCKHASH] }],
  [63, { args: ['ctx', 'anything', 'anything', 'anything'], ret: INT, changesPktData: pkt }],
  [90, { args: ['ctx', 'anything', 'anything', 'anything'], ret: INT, changesPktData: pkt }],
  [91, { args: ['ctx', 'anything', 'anything', 'anything'], ret: INT, changesPktData: pkt }],
  [62, { args: ['ctx', 'anything'], ret: INT }],
  // kernel/bpf/helpers.c: bpf_spin_lock_proto, bpf_spin_unlock_proto, the bpf_timer_*_proto.
  [93, { args: ['spin_lock'], ret: 'void' }],
  [94, { args: ['spin_lock'], ret: 'void' }],
  [169, { args: ['timer', 'map_ptr', 'anything'], ret: INT }],
  [170, { args: ['timer', 'func'], ret: INT }],
  [171, { args: ['timer', 'anything', 'anything'], ret: INT }],
  [172, { args: ['timer'], ret: INT }],
  // net/core/filter.c: socket lookups (acquire a reference; a zero tuple size passes the verifier), release,
  // casts, sk_assign, syncookies.
  [84, { args: ['ctx', 'mem', 'size_or_zero', 'anything', 'anything'], ret: 'sock_or_null', pktAccess: true }],
  [85, { args: ['ctx', 'mem', 'size_or_zero', 'anything', 'anything'], ret: 'sock_or_null', pktAccess: true }],
  [99, { args: ['ctx', 'mem', 'size_or_zero', 'anything', 'anything'], ret: 'sock_common_or_null', pktAccess: true }],
  [86, { args: ['sock_release'], ret: INT }],
  [95, { args: ['sock_common'], ret: 'sock_or_null' }],
  [96, { args: ['sock_common'], ret: 'tcp_sock_or_null' }],
  [98, { args: ['sock_common'], ret: 'sock_or_null' }],
  [97, { args: ['ctx'], ret: INT }],
  [100, { args: ['btf_sock_common', 'mem', 'size', 'mem', 'size'], ret: INT, pktAccess: true }],
  [124, { args: ['ctx', 'btf_sock_common', 'anything'], ret: INT }],
  // net/core/bpf_sk_storage.c: bpf_sk_storage_get_proto, bpf_sk_storage_delete_proto (the socket-pointer forms).
  [107, { args: ['map_ptr', 'btf_sock_common', 'map_value_or_null', 'anything'], ret: 'map_value_or_null', mapTypes: [MapType.SK_STORAGE] }],
  [108, { args: ['map_ptr', 'btf_sock_common'], ret: INT, mapTypes: [MapType.SK_STORAGE] }],
]);

/** kernel: bpf_sk_lookup_assign_proto: sk_lookup programs' bpf_sk_assign takes a full socket or NULL. */
const SK_LOOKUP_ASSIGN: HelperProto = { args: ['ctx', 'sock_or_null', 'anything'], ret: INT };

/**
 * Map types that only some helpers accept (the map-side half of check_map_func_compatibility):
 * passing such a map to any other helper is refused.
 */
export const MAP_TYPE_HELPERS: ReadonlyMap<number, readonly number[]> = new Map<number, readonly number[]>([
  [MapType.PROG_ARRAY, [12]],
  [MapType.PERF_EVENT_ARRAY, [22, 25, 55, 111, 121]],
  [MapType.RINGBUF, [130, 131, 134]],
  [MapType.STACK_TRACE, [27]],
  [MapType.ARRAY_OF_MAPS, [1]],
  [MapType.HASH_OF_MAPS, [1]],
  [MapType.QUEUE, [87, 88, 89]],
  [MapType.STACK, [87, 88, 89]],
  [MapType.BLOOM_FILTER, [87, 89]],
  // Updates from the program (may_update_sockmap) are not modelled: only the helpers made for these maps.
  [MapType.SOCKMAP, [1, 52, 53, 60, 82]],
  [MapType.SOCKHASH, [1, 70, 71, 72, 82]],
  [MapType.SK_STORAGE, [107, 108, 194]],
  [MapType.XSKMAP, [1, 51]],
  [MapType.DEVMAP, [1, 51]],
  [MapType.DEVMAP_HASH, [1, 51]],
  [MapType.CPUMAP, [51]],
  [MapType.CGROUP_ARRAY, [33, 37]],
  [MapType.CGROUP_STORAGE, [81]],
  [MapType.REUSEPORT_SOCKARRAY, [82]],
  [MapType.PERCPU_CGROUP_STORAGE, [81]],
]);

// kernel: bpf_base_func_proto (6.18) as a root loader sees it, in its three tiers (the helpers of
// each tier that this table describes):
// - everyone: map ops, push/pop/peek, lookup_percpu, prandom, smp id, numa id, tail_call, the ktime
//   clocks, ring buffer, strncmp, strtol/strtoul, current pid/tgid, ns pid/tgid, uid/gid;
const BASE_ALL = [1, 2, 3, 87, 88, 89, 195, 7, 8, 42, 12, 5, 125, 208, 130, 131, 132, 133, 134, 182, 105, 106, 14, 120, 15];
// - CAP_BPF: jiffies64, for_each_map_elem, loop, the current cgroup ids, spin lock/unlock, the timers;
const BASE_BPF = [118, 164, 181, 80, 123, 93, 94, 169, 170, 171, 172];
// - CAP_PERFMON: trace_printk, current task, current comm, probe_read_{user,kernel}{,_str}, snprintf, trace_vprintk.
const BASE_PERFMON = [6, 35, 16, 112, 113, 114, 115, 165, 177, 158];
const BASE = [...BASE_ALL, ...BASE_BPF, ...BASE_PERFMON];
// kernel: bpf_sk_base_func_proto: the base plus ktime_get_coarse_ns (and skc_to_* casts, not modelled).
const SK_BASE = [...BASE, 160];
const SK_FILTER = [...SK_BASE, 25, 26, 46, 47, 68];
const TC = [...SK_BASE, 9, 10, 11, 13, 17, 18, 19, 23, 25, 26, 28, 31, 32, 34, 38, 39, 40, 41, 43, 46, 47, 48, 50, 68, 69, 84, 85, 86, 95, 96, 97, 98, 99, 100, 124, 107, 108];
const XDP = [...SK_BASE, 23, 25, 28, 44, 51, 54, 65, 69, 84, 85, 86, 99, 100];
const CGROUP_SKB = [...SK_BASE, 25, 26, 46, 47, 68, 81, 84, 85, 86, 95, 96, 97, 98, 99, 107, 108];
const SK_SKB = [...SK_BASE, 9, 25, 26, 38, 39, 43, 46, 47, 50, 52, 72, 84, 85, 86, 99];
// kernel: sock_addr_func_proto, sock_filter_func_proto, sk_msg_func_proto, sk_lookup_func_proto (the subset modelled).
const SOCK_ADDR = [...SK_BASE, 14, 15, 46, 81, 122, 84, 85, 86, 99];
const CGROUP_SOCK = [...BASE, 14, 15, 46, 81, 122];
const SK_MSG = [...SK_BASE, 14, 15, 60, 61, 62, 63, 71, 90, 91];
const SK_LOOKUP = [...SK_BASE, 86, 124];
const TRACING = [...BASE, 4, 14, 15, 16, 22, 25, 27, 45, 67, 80];
// kernel: lwt_out_func_proto (LWT_IN adds lwt_push_encap, not modelled), lwt_xmit_func_proto.
const LWT_OUT = [...SK_BASE, 24, 25, 26, 28, 34, 39];
const LWT_XMIT = [...LWT_OUT, 9, 10, 11, 13, 23, 38, 40, 41, 43];
// kernel: sock_ops_func_proto: get_socket_cookie and get_netns_cookie take the context here.
const SOCK_OPS = [...SK_BASE, 25, 46, 53, 59, 70, 81, 122, 96];
// kernel: sk_reuseport_func_proto (bpf_base_func_proto underneath, not the sk one): its skb_load_bytes takes the context.
const SK_REUSEPORT = [...BASE, 26, 82, 160];
// kernel: flow_dissector_func_proto: skb_load_bytes on the context.
const FLOW_DISSECTOR = [...SK_BASE, 26];
// kernel: cgroup_dev_func_proto, sysctl_func_proto, cg_sockopt_func_proto (cgroup_common_func_proto first:
// get_retval/set_retval, see RETVAL_ATTACH); bpf_nf_func_proto is the base alone.
const CGROUP_DEVICE = [...BASE, 25, 81, 186, 187];
const CGROUP_SYSCTL = [...BASE, 25, 81, 160, 186, 187];
const CGROUP_SOCKOPT = [...BASE, 25, 81, 122, 186, 187, 96];
const NETFILTER = [...BASE];

const ALLOWED: ReadonlyMap<number, ReadonlySet<number>> = new Map([
  [ProgramType.SOCKET_FILTER, new Set(SK_FILTER)],
  [ProgramType.SCHED_CLS, new Set(TC)],
  [ProgramType.SCHED_ACT, new Set(TC)],
  [ProgramType.XDP, new Set(XDP)],
  [ProgramType.CGROUP_SKB, new Set(CGROUP_SKB)],
  [ProgramType.SK_SKB, new Set(SK_SKB)],
  [ProgramType.KPROBE, new Set(TRACING)],
  [ProgramType.TRACEPOINT, new Set(TRACING)],
  [ProgramType.PERF_EVENT, new Set(TRACING)],
  [ProgramType.RAW_TRACEPOINT, new Set(TRACING)],
  // Tracing (ctx-tracing.ts): tracing_prog_func_proto and syscall_prog_func_proto fall back to raw_tp_prog_func_proto.
  [ProgramType.RAW_TRACEPOINT_WRITABLE, new Set(TRACING)],
  [ProgramType.TRACING, new Set(TRACING)],
  [ProgramType.SYSCALL, new Set(TRACING)],
  [ProgramType.CGROUP_SOCK_ADDR, new Set(SOCK_ADDR)],
  [ProgramType.CGROUP_SOCK, new Set(CGROUP_SOCK)],
  [ProgramType.SK_MSG, new Set(SK_MSG)],
  [ProgramType.SK_LOOKUP, new Set(SK_LOOKUP)],
  [ProgramType.LWT_IN, new Set(LWT_OUT)],
  [ProgramType.LWT_OUT, new Set(LWT_OUT)],
  [ProgramType.LWT_XMIT, new Set(LWT_XMIT)],
  [ProgramType.SOCK_OPS, new Set(SOCK_OPS)],
  [ProgramType.SK_REUSEPORT, new Set(SK_REUSEPORT)],
  [ProgramType.FLOW_DISSECTOR, new Set(FLOW_DISSECTOR)],
  [ProgramType.CGROUP_DEVICE, new Set(CGROUP_DEVICE)],
  [ProgramType.CGROUP_SYSCTL, new Set(CGROUP_SYSCTL)],
  [ProgramType.CGROUP_SOCKOPT, new Set(CGROUP_SOCKOPT)],
  [ProgramType.NETFILTER, new Set(NETFILTER)],
]);

/** kernel: cgroup_common_func_proto: get_retval and set_retval exist except for these expected attach types. */
const NO_RETVAL_ATTACH: ReadonlySet<number> = new Set([AttachType.CGROUP_INET_INGRESS, AttachType.CGROUP_INET_EGRESS,
  AttachType.CGROUP_SOCK_OPS, AttachType.CGROUP_UDP4_RECVMSG, AttachType.CGROUP_UDP6_RECVMSG, AttachType.CGROUP_UNIX_RECVMSG,
  AttachType.CGROUP_INET4_GETPEERNAME, AttachType.CGROUP_INET6_GETPEERNAME, AttachType.CGROUP_UNIX_GETPEERNAME,
  AttachType.CGROUP_INET4_GETSOCKNAME, AttachType.CGROUP_INET6_GETSOCKNAME, AttachType.CGROUP_UNIX_GETSOCKNAME]);

/** The prototype of helper `id` for `progType`, or undefined when the program may not call it here. */
export function helperProto(progType: number, id: number, attachType = 0): HelperProto | undefined {
  if (ALLOWED.get(progType)?.has(id) !== true) return undefined;
  if ((id === 186 || id === 187) && NO_RETVAL_ATTACH.has(attachType)) return undefined;
  if (id === 124 && progType === ProgramType.SK_LOOKUP) return SK_LOOKUP_ASSIGN;
  return HELPER_PROTOS.get(id);
}
