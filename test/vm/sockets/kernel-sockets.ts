/**
 * Real sockets for the sockmap differential tests, through libc (koffi): the kinds a sockmap
 * update distinguishes (TCP unconnected, listening, established; UDP unbound, bound,
 * connected) on 127.0.0.1, and SO_COOKIE, the value a sockmap lookup returns.
 */
import { createRequire } from 'node:module';
import type * as KoffiModule from 'koffi';
import { boundPort, closeSocket, receive, send, sockaddrIn, tcpAccept, tcpConnect, tcpListen, udpSocket } from '../../support/sockets.js';

interface Libc {
  koffi: typeof KoffiModule;
  socket: (domain: number, type: number, protocol: number) => number;
  connect: (fd: number, address: Uint8Array, length: number) => number;
  getsockopt: (fd: number, level: number, name: number, value: Uint8Array, length: Uint32Array) => number;
}

let libc: Libc | undefined;
function load(): Libc {
  if (libc) return libc;
  const koffi = createRequire(import.meta.url)('koffi') as typeof KoffiModule;
  const lib = koffi.load('libc.so.6');
  libc = {
    koffi,
    socket: lib.func('int socket(int, int, int)') as Libc['socket'],
    connect: lib.func('int connect(int, const void *, uint32_t)') as Libc['connect'],
    getsockopt: lib.func('int getsockopt(int, int, int, _Inout_ uint8_t *, _Inout_ uint32_t *)') as Libc['getsockopt'],
  };
  return libc;
}

const AF_INET = 2;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_COOKIE = 57;

/** SO_COOKIE of a socket. */
export function socketCookie(fd: number): bigint {
  const value = new Uint8Array(8);
  const r = load().getsockopt(fd, SOL_SOCKET, SO_COOKIE, value, new Uint32Array([8]));
  if (r < 0) throw new Error(`getsockopt SO_COOKIE: errno ${load().koffi.errno()}`);
  return new DataView(value.buffer).getBigUint64(0, true);
}

/** An unconnected, unbound TCP socket. */
export function tcpUnconnected(): number {
  const fd = load().socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error(`socket: errno ${load().koffi.errno()}`);
  return fd;
}

/** An unbound UDP socket. */
export function udpUnbound(): number {
  const fd = load().socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error(`socket: errno ${load().koffi.errno()}`);
  return fd;
}

/** connect(2) a UDP socket to 127.0.0.1:port. */
export function udpConnect(fd: number, port: number): void {
  const a = sockaddrIn('127.0.0.1', port);
  if (load().connect(fd, a, a.length) < 0) throw new Error(`connect: errno ${load().koffi.errno()}`);
}

export { boundPort, closeSocket, receive, send, tcpAccept, tcpConnect, tcpListen, udpSocket };
