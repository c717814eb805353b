/**
 * The sock_ops callbacks (`enum BPF_SOCK_OPS_*`, include/uapi/linux/bpf.h) and the callback
 * flags a program enables with bpf_sock_ops_cb_flags_set (`BPF_SOCK_OPS_*_CB_FLAG`).
 */

/** `BPF_SOCK_OPS_*` operations. */
export const SockOp = {
  VOID: 0, TIMEOUT_INIT: 1, RWND_INIT: 2, TCP_CONNECT_CB: 3, ACTIVE_ESTABLISHED_CB: 4,
  PASSIVE_ESTABLISHED_CB: 5, NEEDS_ECN: 6, BASE_RTT: 7, RTO_CB: 8, RETRANS_CB: 9, STATE_CB: 10,
  TCP_LISTEN_CB: 11, RTT_CB: 12, PARSE_HDR_OPT_CB: 13, HDR_OPT_LEN_CB: 14, WRITE_HDR_OPT_CB: 15,
} as const;

/** `BPF_SOCK_OPS_*_CB_FLAG`. */
export const SockOpsCbFlag = {
  RTO: 1, RETRANS: 2, STATE: 4, RTT: 8, PARSE_ALL_HDR_OPT: 16, PARSE_UNKNOWN_HDR_OPT: 32, WRITE_HDR_OPT: 64,
} as const;

/** `BPF_SOCK_OPS_ALL_CB_FLAGS` of the 6.x kernels. */
export const SOCK_OPS_ALL_CB_FLAGS = 0x7f;
