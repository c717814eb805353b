/**
 * Plain IPv4 sockets through libc (koffi), for the attach tests: created synchronously, so
 * that inside `withNetns` they belong to the test's namespace (Node's own sockets create their
 * fd later, on another tick). Every wait is bounded by poll(2) with a timeout.
 */
import { createRequire } from 'node:module';
import type * as KoffiModule from 'koffi';
import { withNetns } from '../../src/kernel/link/index.js';

type Koffi = typeof KoffiModule;

interface Libc {
  koffi: Koffi;
  socket: (domain: number, type: number, protocol: number) => number;
  bind: (fd: number, address: Uint8Array, length: number) => number;
  connect: (fd: number, address: Uint8Array, length: number) => number;
  listen: (fd: number, backlog: number) => number;
  accept4: (fd: number, address: null, length: null, flags: number) => number;
  sendto: (fd: number, buf: Uint8Array, length: number, flags: number, address: Uint8Array | null, addrlen: number) => number | bigint;
  recv: (fd: number, buf: Uint8Array, length: number, flags: number) => number | bigint;
  poll: (fds: Uint8Array, nfds: number, timeout: number) => number;
  getsockname: (fd: number, address: Uint8Array, length: Uint32Array) => number;
  close: (fd: number) => number;
  getpid: () => number;
}

let libc: Libc | undefined;

function load(): Libc {
  if (libc) return libc;
  const koffi = createRequire(import.meta.url)('koffi') as Koffi;
  const lib = koffi.load('libc.so.6');
  libc = {
    koffi,
    socket: lib.func('int socket(int, int, int)') as Libc['socket'],
    bind: lib.func('int bind(int, const void *, uint32_t)') as Libc['bind'],
    connect: lib.func('int connect(int, const void *, uint32_t)') as Libc['connect'],
    listen: lib.func('int listen(int, int)') as Libc['listen'],
    accept4: lib.func('int accept4(int, void *, void *, int)') as Libc['accept4'],
    sendto: lib.func('long sendto(int, const void *, size_t, int, const void *, uint32_t)') as Libc['sendto'],
    recv: lib.func('long recv(int, void *, size_t, int)') as Libc['recv'],
    poll: lib.func('int poll(void *, unsigned long, int)') as Libc['poll'],
    getsockname: lib.func('int getsockname(int, void *, _Inout_ uint32_t *)') as Libc['getsockname'],
    close: lib.func('int close(int)') as Libc['close'],
    // glibc's getpid() is a real system call (no caching since 2.25), unlike Node's process.pid.
    getpid: lib.func('int getpid()') as Libc['getpid'],
  };
  return libc;
}

const AF_INET = 2;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const POLLIN = 1;

function check(what: string, ret: number | bigint): number {
  const n = Number(ret);
  if (n < 0) throw new Error(`${what}: errno ${load().koffi.errno()}`);
  return n;
}

/** `struct sockaddr_in` for `address:port`. */
export function sockaddrIn(address: string, port: number): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, AF_INET, true);
  view.setUint16(2, port, false);
  address.split('.').forEach((part, i) => (bytes[4 + i] = Number(part)));
  return bytes;
}

/** The real getpid(2) system call (counted by tracepoints on sys_enter_getpid). */
export function getpidSyscall(): number {
  return load().getpid();
}

/** Opens a socket of `type` in `netns` (or here). */
function open(type: number, netns?: string): number {
  const make = (): number => check('socket', load().socket(AF_INET, type | SOCK_CLOEXEC, 0));
  return netns ? withNetns(netns, make) : make();
}

/** The port a socket is bound to. */
export function boundPort(fd: number): number {
  const address = new Uint8Array(16);
  check('getsockname', load().getsockname(fd, address, new Uint32Array([16])));
  return new DataView(address.buffer).getUint16(2, false);
}

/** A UDP socket in `netns` bound to `address:port` (port 0: any). */
export function udpSocket(netns: string | undefined, address = '0.0.0.0', port = 0): number {
  const fd = open(SOCK_DGRAM, netns);
  const a = sockaddrIn(address, port);
  check(`bind ${address}:${port}`, load().bind(fd, a, a.length));
  return fd;
}

/** Sends one datagram. */
export function sendTo(fd: number, address: string, port: number, payload: Uint8Array): void {
  const a = sockaddrIn(address, port);
  check(`sendto ${address}:${port}`, load().sendto(fd, payload, payload.length, 0, a, a.length));
}

/** Waits up to `timeoutMs` for `fd` to be readable. */
export function waitReadable(fd: number, timeoutMs: number): boolean {
  const pollfd = new Uint8Array(8);
  const view = new DataView(pollfd.buffer);
  view.setInt32(0, fd, true);
  view.setInt16(4, POLLIN, true);
  return check('poll', load().poll(pollfd, 1, timeoutMs)) > 0;
}

/** Receives at most `max` bytes within `timeoutMs`, or undefined when nothing came. */
export function receive(fd: number, timeoutMs: number, max = 65536): Uint8Array | undefined {
  if (!waitReadable(fd, timeoutMs)) return undefined;
  const buf = new Uint8Array(max);
  const n = Number(load().recv(fd, buf, max, MSG_DONTWAIT));
  return n < 0 ? undefined : buf.subarray(0, n);
}

/** Sends bytes on a connected socket; returns the count sent or -errno. */
export function send(fd: number, payload: Uint8Array): number {
  const n = Number(load().sendto(fd, payload, payload.length, 0, null, 0));
  return n < 0 ? -load().koffi.errno() : n;
}

/** A listening TCP socket on `address`, any port. */
export function tcpListen(netns: string | undefined, address = '127.0.0.1'): number {
  const fd = open(SOCK_STREAM, netns);
  const a = sockaddrIn(address, 0);
  check('bind', load().bind(fd, a, a.length));
  check('listen', load().listen(fd, 8));
  return fd;
}

/** A TCP connection to `address:port` (a blocking connect: immediate on a local address). */
export function tcpConnect(netns: string | undefined, address: string, port: number): number {
  const fd = open(SOCK_STREAM, netns);
  const a = sockaddrIn(address, port);
  check(`connect ${address}:${port}`, load().connect(fd, a, a.length));
  return fd;
}

/** Accepts one pending connection (waits at most `timeoutMs`). */
export function tcpAccept(listenFd: number, timeoutMs = 2000): number {
  if (!waitReadable(listenFd, timeoutMs)) throw new Error('accept: no connection');
  return check('accept4', load().accept4(listenFd, null, null, SOCK_CLOEXEC));
}

/** Closes a socket fd. */
export function closeSocket(fd: number): void {
  load().close(fd);
}

/** Sends datagrams until one arrives or `timeoutMs` passes; true when one arrived. */
export function udpReaches(from: number, to: number, address: string, port: number, timeoutMs: number): boolean {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    sendTo(from, address, port, new TextEncoder().encode('ping'));
    if (receive(to, 100) !== undefined) return true;
  }
  return false;
}
