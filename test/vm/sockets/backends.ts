/**
 * The two sides of the sockmap differential tests: the kernel (bpf() maps, real sockets on
 * 127.0.0.1) and the VM (its maps, the simulated sockets of a SocketWorld), behind one small
 * interface that answers errnos, so a scenario runs unchanged on both.
 */
import { MapError } from '../../../src/vm/maps/errors.js';
import type { VmMap } from '../../../src/vm/maps/map.js';
import { MapRegistry } from '../../../src/vm/maps/registry.js';
import type { VmSocket } from '../../../src/vm/sockets/socket.js';
import { socketWorld, type SocketWorld } from '../../../src/vm/sockets/world.js';
import { KernelMap, type KernelMapOptions, type Reply } from '../maps/kernel-maps.js';
import * as ks from './kernel-sockets.js';

/** The socket kinds a sockmap update tells apart. */
export type SocketKind = 'tcp-unconnected' | 'tcp-listen' | 'tcp-client' | 'tcp-server' | 'udp-unbound' | 'udp-bound' | 'udp-connected';

/** Map commands answering errnos (0 for success). */
export interface MapHandle {
  update(key: Uint8Array, value: Uint8Array, flags?: bigint): number;
  lookup(key: Uint8Array): Reply;
  delete(key: Uint8Array): number;
  nextKey(key: Uint8Array | undefined): Reply;
}

export interface SockBackend extends Disposable {
  readonly name: string;
  createMap(options: KernelMapOptions): MapHandle | number;
  /** A socket of `kind` (its fd); TCP pairs come in both kinds from one connection. */
  open(kind: SocketKind): number;
  cookie(fd: number): bigint;
  close(fd: number): void;
  send(fd: number, bytes: Uint8Array): number;
  receive(fd: number): Uint8Array;
  /** The local port of a socket. */
  localPort(fd: number): number;
  /** A UDP socket bound to 127.0.0.1 and another connected to it: [client, server]. */
  udpPair(): [number, number];
}

/** The kernel side. */
export class KernelBackend implements SockBackend {
  readonly name = 'kernel';
  readonly #fds = new Set<number>();
  readonly #maps: KernelMap[] = [];
  #pair: { client: number; server: number } | undefined;

  createMap(options: KernelMapOptions): MapHandle | number {
    const m = KernelMap.create(options);
    if (typeof m === 'number') return m;
    this.#maps.push(m);
    return { update: (k, v, f = 0n) => m.update(k, v, f), lookup: (k) => m.lookup(k), delete: (k) => m.delete(k), nextKey: (k) => m.nextKey(k) };
  }

  open(kind: SocketKind): number {
    const fd = this.#open(kind);
    this.#fds.add(fd);
    return fd;
  }

  #open(kind: SocketKind): number {
    switch (kind) {
      case 'tcp-unconnected': return ks.tcpUnconnected();
      case 'tcp-listen': return ks.tcpListen(undefined);
      case 'tcp-client':
      case 'tcp-server': {
        if (this.#pair === undefined) {
          const listener = ks.tcpListen(undefined);
          const client = ks.tcpConnect(undefined, '127.0.0.1', ks.boundPort(listener));
          const server = ks.tcpAccept(listener);
          ks.closeSocket(listener);
          this.#pair = { client, server };
        }
        const fd = this.#pair[kind === 'tcp-client' ? 'client' : 'server'];
        if (kind === 'tcp-server') this.#pair = undefined;
        return fd;
      }
      case 'udp-unbound': return ks.udpUnbound();
      case 'udp-bound': return ks.udpSocket(undefined, '127.0.0.1');
      case 'udp-connected': {
        const fd = ks.udpSocket(undefined, '127.0.0.1');
        ks.udpConnect(fd, 9);
        return fd;
      }
    }
  }

  cookie(fd: number): bigint {
    return ks.socketCookie(fd);
  }

  close(fd: number): void {
    if (this.#fds.delete(fd)) ks.closeSocket(fd);
  }

  send(fd: number, bytes: Uint8Array): number {
    return ks.send(fd, bytes);
  }

  receive(fd: number): Uint8Array {
    const parts: Uint8Array[] = [];
    // Loopback delivers within send(); what a work queue sends (sk_skb egress redirects) the
    // test waits for before receiving.
    for (let r = ks.receive(fd, 5); r !== undefined && r.length > 0; r = ks.receive(fd, 0)) parts.push(r);
    return concat(parts);
  }

  localPort(fd: number): number {
    return ks.boundPort(fd);
  }

  udpPair(): [number, number] {
    const server = this.open('udp-bound');
    const client = this.open('udp-bound');
    ks.udpConnect(client, ks.boundPort(server));
    return [client, server];
  }

  [Symbol.dispose](): void {
    for (const m of this.#maps) m.close();
    for (const fd of this.#fds) ks.closeSocket(fd);
    this.#fds.clear();
  }
}

/** errno of a VM map call. */
function errnoOf(fn: () => void): number {
  try {
    fn();
    return 0;
  } catch (err) {
    if (err instanceof MapError) return err.errno;
    throw err;
  }
}

/** The VM side: one map registry and its socket world. */
export class VmBackend implements SockBackend {
  readonly name = 'vm';
  readonly registry: MapRegistry;
  readonly world: SocketWorld;
  readonly #ownRegistry: boolean;
  #pair: { client: VmSocket; server: VmSocket } | undefined;

  /** A backend on `registry`'s sockets (a VM object's), or on a registry of its own. */
  constructor(registry?: MapRegistry) {
    this.registry = registry ?? new MapRegistry();
    this.#ownRegistry = registry === undefined;
    this.world = socketWorld(this.registry);
  }

  createMap(options: KernelMapOptions): MapHandle | number {
    let map: VmMap;
    try {
      map = this.registry.create({ ...options });
    } catch (err) {
      if (err instanceof MapError) return err.errno;
      throw err;
    }
    return {
      update: (k, v, f = 0n) => errnoOf(() => map.update(k, v, Number(f))),
      lookup: (k) => {
        let bytes: Uint8Array | undefined;
        const errno = errnoOf(() => { bytes = map.lookup(k) as Uint8Array | undefined; });
        return errno !== 0 ? { errno } : bytes === undefined ? { errno: 2 } : { errno: 0, bytes };
      },
      delete: (k) => errnoOf(() => { if (!map.delete(k)) throw new MapError('delete', 2); }),
      nextKey: (k) => {
        let bytes: Uint8Array | undefined;
        const errno = errnoOf(() => { bytes = map.nextKey(k); });
        return errno !== 0 ? { errno } : bytes === undefined ? { errno: 2 } : { errno: 0, bytes };
      },
    };
  }

  open(kind: SocketKind): number {
    const w = this.world;
    switch (kind) {
      case 'tcp-unconnected': return w.tcpSocket().fd;
      case 'tcp-listen': return w.tcpListen().fd;
      case 'tcp-client':
      case 'tcp-server': {
        this.#pair ??= w.tcpPair();
        const s = this.#pair[kind === 'tcp-client' ? 'client' : 'server'];
        if (kind === 'tcp-server') this.#pair = undefined;
        return s.fd;
      }
      case 'udp-unbound': return w.udpUnbound().fd;
      case 'udp-bound': return w.udpSocket().fd;
      case 'udp-connected': {
        const s = w.udpSocket();
        w.udpConnect(s, '127.0.0.1', 9);
        return s.fd;
      }
    }
  }

  #sock(fd: number): VmSocket {
    const s = this.world.byFd(fd);
    if (s === undefined) throw new Error(`no VM socket ${fd}`);
    return s;
  }

  cookie(fd: number): bigint {
    return this.#sock(fd).cookie;
  }

  close(fd: number): void {
    this.world.byFd(fd)?.close();
  }

  send(fd: number, bytes: Uint8Array): number {
    try {
      return this.#sock(fd).send(bytes);
    } catch (err) {
      if (err instanceof Error && 'errno' in err) return -(err as { errno: number }).errno;
      throw err;
    }
  }

  receive(fd: number): Uint8Array {
    const parts: Uint8Array[] = [];
    for (let r = this.#sock(fd).receive(); r.length > 0; r = this.#sock(fd).receive()) parts.push(r);
    return concat(parts);
  }

  localPort(fd: number): number {
    return this.#sock(fd).local.port;
  }

  udpPair(): [number, number] {
    const server = this.world.udpSocket();
    const client = this.world.udpSocket();
    this.world.udpConnect(client, '127.0.0.1', server.local.port);
    return [client.fd, server.fd];
  }

  [Symbol.dispose](): void {
    for (const s of this.world.sockets) s.close();
    if (this.#ownRegistry) this.registry[Symbol.dispose]();
  }
}

/** A u32 as 4 little-endian bytes. */
export function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}

/** A u64 as 8 little-endian bytes. */
export function u64(n: number | bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(n)), true);
  return b;
}

/** Asserts two transcripts are equal, listing the lines that differ. */
export function assertSameTranscript(vm: readonly string[], kernel: readonly string[]): void {
  const diff: string[] = [];
  for (let i = 0; i < Math.max(vm.length, kernel.length); i++) {
    if (vm[i] !== kernel[i]) diff.push(`  kernel: ${kernel[i] ?? '(none)'}\n  vm:     ${vm[i] ?? '(none)'}`);
  }
  if (diff.length > 0) throw new Error(`the VM differs from the kernel:\n${diff.join('\n')}`);
}

/** The bytes of `parts` one after another. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}
