/**
 * `struct bpf_sock` (include/uapi/linux/bpf.h) for a simulated socket, and the address fields
 * sk_msg_md and bpf_sock_ops share, as the kernel's context conversion makes them: IPv4/IPv6
 * addresses in network byte order, the local port in host order, the remote port as the
 * network-order 16 bits in the upper half of a u32 (`bpf_ntohl(remote_port)` is the port).
 */
import type { SockView } from '../sockets/socket.js';
import { IpProtocol, SocketType } from '../sockets/socket.js';

/** sizeof(struct bpf_sock). */
export const BPF_SOCK_SIZE = 80;

/** The 4-byte IPv4 or 16-byte IPv6 address, or zeros when the family has the other kind. */
function ip4(bytes: Uint8Array): Uint8Array {
  return bytes.length === 4 ? bytes : new Uint8Array(4);
}
function ip6(bytes: Uint8Array): Uint8Array {
  return bytes.length === 16 ? bytes : new Uint8Array(16);
}

/** Writes the address fields at the offsets of sk_msg_md/bpf_sock_ops: remote_ip4, local_ip4, remote_ip6, local_ip6, remote_port, local_port. */
export function writeAddressFields(out: Uint8Array, view: SockView, at: { remoteIp4: number; remotePort: number }): void {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out.set(ip4(view.remote.address.bytes), at.remoteIp4);
  out.set(ip4(view.local.address.bytes), at.remoteIp4 + 4);
  out.set(ip6(view.remote.address.bytes), at.remoteIp4 + 8);
  out.set(ip6(view.local.address.bytes), at.remoteIp4 + 24);
  // The context loads skc_dport (network order) and shifts it left by 16.
  dv.setUint16(at.remotePort + 2, view.remote.port, false);
  dv.setUint32(at.remotePort + 4, view.local.port, true);
}

/** The bytes of `struct bpf_sock` for `view`. */
export function bpfSockBytes(view: SockView): Uint8Array {
  const out = new Uint8Array(BPF_SOCK_SIZE);
  const dv = new DataView(out.buffer);
  dv.setUint32(4, view.family, true);
  dv.setUint32(8, view.protocol === IpProtocol.TCP ? SocketType.STREAM : SocketType.DGRAM, true);
  dv.setUint32(12, view.protocol, true);
  out.set(ip4(view.local.address.bytes), 24);
  out.set(ip6(view.local.address.bytes), 28);
  dv.setUint32(44, view.local.port, true);
  dv.setUint16(48, view.remote.port, false);
  out.set(ip4(view.remote.address.bytes), 52);
  out.set(ip6(view.remote.address.bytes), 56);
  dv.setUint32(72, view.state, true);
  // No receive queue mapping (NO_QUEUE_MAPPING reads as -1).
  dv.setInt32(76, -1, true);
  return out;
}
