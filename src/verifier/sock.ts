/**
 * Socket pointers (kernel: PTR_TO_SOCKET, PTR_TO_SOCK_COMMON, PTR_TO_TCP_SOCK, PTR_TO_XDP_SOCK): which fields of
 * `struct bpf_sock` and `struct bpf_tcp_sock` a load may read (net/core/filter.c
 * bpf_sock_common_is_valid_access, bpf_sock_is_valid_access, bpf_tcp_sock_is_valid_access;
 * verifier.c check_sock_access). Socket pointers are read-only.
 */
import type { RegType } from './reg.js';

/** struct bpf_sock: field offsets (include/uapi/linux/bpf.h). */
const SOCK = {
  type: 8, priority: 20, srcIp4: 24, srcIp6: 28, srcPort: 44, dstPort: 48, dstIp4: 52, dstIp6: 56, state: 72,
  rxQueueMapping: 76, size: 80, family: 4, protocol: 12,
} as const;
/** struct bpf_tcp_sock: bytes_received and bytes_acked are u64, the end of icsk_retransmits. */
const TCP_SOCK = { bytesReceived: 80, bytesAcked: 88, end: 112 } as const;

const inRange = (off: number, start: number, len: number): boolean => off >= start && off < start + len;
/** kernel: bpf_ctx_narrow_access_ok. */
const narrowOk = (size: number, fieldSize: number): boolean => size <= fieldSize && (size & (size - 1)) === 0;

/** kernel: bpf_sock_is_valid_access. */
export function sockAccessOk(off: number, size: number): boolean {
  if (off < 0 || off >= SOCK.size) return false;
  if (off % size !== 0) return false;
  if (off === SOCK.state || off === SOCK.family || off === SOCK.type || off === SOCK.protocol || off === SOCK.srcPort
    || off === SOCK.rxQueueMapping || inRange(off, SOCK.srcIp4, 4) || inRange(off, SOCK.srcIp6, 16)
    || inRange(off, SOCK.dstIp4, 4) || inRange(off, SOCK.dstIp6, 16)) {
    return narrowOk(size, 4);
  }
  if (inRange(off, SOCK.dstPort, 2)) return narrowOk(size, size === 4 ? 4 : 2);
  if (inRange(off, SOCK.dstPort + 2, 2)) return false;
  return size === 4;
}

/** kernel: bpf_sock_common_is_valid_access: type, protocol, mark and priority are full-socket fields. */
export function sockCommonAccessOk(off: number, size: number): boolean {
  if (off >= SOCK.type && off < SOCK.priority + 4) return false;
  return sockAccessOk(off, size);
}

/** kernel: bpf_tcp_sock_is_valid_access. */
export function tcpSockAccessOk(off: number, size: number): boolean {
  if (off < 0 || off >= TCP_SOCK.end) return false;
  if (off % size !== 0) return false;
  if (off === TCP_SOCK.bytesReceived || off === TCP_SOCK.bytesAcked) return size === 8;
  // The upper halves of the u64 fields pass bpf_tcp_sock_is_valid_access, then the kernel's
  // bpf_tcp_sock_convert_ctx_access has no conversion for them: the load is refused.
  if (off === TCP_SOCK.bytesReceived + 4 || off === TCP_SOCK.bytesAcked + 4) return false;
  return size === 4;
}

/** kernel: check_sock_access for a load of `size` bytes at `off` through a socket pointer of `type`. */
export function sockFieldOk(type: RegType, off: number, size: number): boolean {
  switch (type) {
    case 'sock': return sockAccessOk(off, size);
    case 'sock_common': return sockCommonAccessOk(off, size);
    case 'tcp_sock': return tcpSockAccessOk(off, size);
    // kernel: bpf_xdp_sock_is_valid_access: struct bpf_xdp_sock { __u32 queue_id; }.
    case 'xdp_sock': return off === 0 && size === 4;
    default: return false;
  }
}

/** Socket pointer types (kernel: type_is_sk_pointer). */
export const isSockType = (type: RegType): boolean => type === 'sock' || type === 'sock_common' || type === 'tcp_sock' || type === 'xdp_sock';
