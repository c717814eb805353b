/**
 * Socket filters (`socket`, BPF_PROG_TYPE_SOCKET_FILTER): a program on one socket that sees
 * each packet the socket would receive and returns how many bytes to keep (0 drops it) —
 * attached with setsockopt(SO_ATTACH_BPF), detached with SO_DETACH_BPF. Works on any socket
 * fd: a raw packet socket ({@link openPacketSocket}, what tcpdump-like tools use) or a Node
 * socket's own fd ({@link socketFdOf}).
 */
import { HOST_LITTLE_ENDIAN } from '../attr.js';
import { KernelError } from '../error.js';
import { nativeSyscalls } from '../native.js';
import type { Syscalls } from '../syscalls.js';
import type { Program } from '../program.js';
import { RawLink } from './link.js';
import { nativeLinkSyscalls, type LinkSyscalls } from './native.js';
import { Resources } from './resources.js';
import { inTargetNetns, resolveIfindex } from './netns.js';

/**
 * Socket option numbers of the generic ABI (asm-generic/socket.h: x86, arm, arm64, riscv,
 * loongarch, s390, powerpc; mips, sparc, parisc and alpha number them differently).
 */
export const SocketOption = {
  SOL_SOCKET: 1,
  SO_ATTACH_FILTER: 26,
  SO_DETACH_FILTER: 27,
  /** Attach an eBPF program by fd. */
  SO_ATTACH_BPF: 50,
  /** The same option number as SO_DETACH_FILTER: removes whichever filter is attached. */
  SO_DETACH_BPF: 27,
  SO_ATTACH_REUSEPORT_EBPF: 52,
} as const;

/** `AF_PACKET`, `SOCK_RAW`, `ETH_P_ALL`. */
const AF_PACKET = 17;
const SOCK_RAW = 3;
const ETH_P_ALL = 0x0003;

function htons(value: number): number {
  return ((value & 0xff) << 8) | ((value >> 8) & 0xff);
}

/** Options of {@link attachSocketFilter}. */
export interface SocketFilterOptions {
  linkSyscalls?: LinkSyscalls;
}

/**
 * A socket's fd, for sockets of Node's `net` and `dgram` modules: Node keeps it in the libuv
 * handle it wraps — `server._handle.fd` for a `net.Server`, the same handle behind
 * `socket._handle` for a `net.Socket` (a symbol-keyed field since Node 20), and the `handle` of
 * a `dgram.Socket`'s internal state. Those are Node internals, not API, so this throws when no
 * fd is found (a socket not yet bound or connected has none).
 *
 * @example
 * const server = net.createServer().listen(0);
 * using link = attachSocketFilter(program, socketFdOf(server));
 */
export function socketFdOf(socket: object): number {
  // The own property only: dgram.Socket has a deprecated `_handle` getter that warns (DEP0112).
  const candidates: unknown[] = [Object.getOwnPropertyDescriptor(socket, '_handle')?.value];
  for (const symbol of Object.getOwnPropertySymbols(socket)) {
    const value = (socket as Record<symbol, unknown>)[symbol];
    // net.Socket: the handle itself (kHandle); dgram.Socket: a state object holding it.
    if (value && typeof value === 'object') candidates.push(value, (value as { handle?: unknown }).handle);
  }
  for (const handle of candidates) {
    const fd = (handle as { fd?: unknown } | undefined)?.fd;
    if (typeof fd === 'number' && fd >= 0) return fd;
  }
  throw new TypeError('socketFdOf: no file descriptor found (is the socket bound or connected yet?)');
}

/**
 * Attaches a socket filter program to the socket `socketFd` (an fd, or a Node socket: see
 * {@link socketFdOf}). Closing the link detaches it; the socket stays the caller's — close the
 * link first: the link knows the socket by fd number, which the system reuses once closed.
 */
export function attachSocketFilter(program: Program, socket: number | object, options: SocketFilterOptions = {}): RawLink {
  const sys = options.linkSyscalls ?? nativeLinkSyscalls();
  const fd = typeof socket === 'number' ? socket : socketFdOf(socket);
  const description = `socket filter on socket fd ${fd}`;
  const value = new Uint8Array(4);
  new DataView(value.buffer).setInt32(0, program.fd, HOST_LITTLE_ENDIAN);
  const ret = sys.setsockopt(fd, SocketOption.SOL_SOCKET, SocketOption.SO_ATTACH_BPF, value);
  if (ret < 0) throw new KernelError(`attach program '${program.name}' as ${description} (SO_ATTACH_BPF)`, -ret);
  const resources = new Resources(program.syscalls).call(`detach ${description}`, () => {
    const detached = sys.setsockopt(fd, SocketOption.SOL_SOCKET, SocketOption.SO_DETACH_BPF, new Uint8Array(4));
    // ENOENT: nothing attached any more; EBADF/ENOTSOCK: the socket is gone, and the filter with it.
    if (detached < 0 && detached !== -2 && detached !== -9 && detached !== -88) throw new KernelError(`detach ${description}`, -detached);
  });
  return new RawLink('socket_filter', description, resources, { fd, syscalls: program.syscalls });
}

/** Options of {@link openPacketSocket}. */
export interface PacketSocketOptions {
  /** Only packets of this interface (index or name); default: every interface of the namespace. */
  ifindex?: number;
  ifname?: string;
  /** Network namespace to open it in (name or path). */
  netns?: string;
  /** Ethernet protocol, host order (default ETH_P_ALL: everything). */
  protocol?: number;
  linkSyscalls?: LinkSyscalls;
  syscalls?: Syscalls;
}

/**
 * Opens a raw packet socket (AF_PACKET, SOCK_RAW) — every frame of an interface, for a socket
 * filter to look at. Returns an fd the caller owns (close it with the syscalls' `close`).
 */
export function openPacketSocket(options: PacketSocketOptions = {}): number {
  const sys = options.linkSyscalls ?? nativeLinkSyscalls();
  const protocol = htons(options.protocol ?? ETH_P_ALL);
  return inTargetNetns(options, () => {
    const fd = sys.socket(AF_PACKET, SOCK_RAW, protocol);
    if (fd < 0) throw new KernelError('open packet socket (AF_PACKET, SOCK_RAW)', -fd);
    if (options.ifindex === undefined && options.ifname === undefined) return fd;
    try {
      const ifindex = resolveIfindex(options);
      // struct sockaddr_ll: family, protocol (network order), ifindex, then unused fields.
      const address = new Uint8Array(20);
      const view = new DataView(address.buffer);
      view.setUint16(0, AF_PACKET, HOST_LITTLE_ENDIAN);
      view.setUint16(2, protocol, HOST_LITTLE_ENDIAN);
      view.setInt32(4, ifindex, HOST_LITTLE_ENDIAN);
      const bound = sys.bind(fd, address);
      if (bound < 0) throw new KernelError(`bind packet socket to ifindex ${ifindex}`, -bound);
      return fd;
    } catch (err) {
      (options.syscalls ?? nativeSyscalls()).close(fd);
      throw err;
    }
  });
}
