/**
 * Bound AF_XDP sockets for the XSKMAP tests (what libxdp's xsk_socket__create does, reduced):
 * a UMEM of anonymous pages, fill and completion rings, an RX ring, then bind to a device queue
 * in copy mode — no XDP program is attached by it. Made through libc with koffi.
 */
import { createRequire } from 'node:module';

const AF_XDP = 44, SOCK_RAW = 3, SOL_XDP = 283;
const XDP_RX_RING = 2, XDP_UMEM_REG = 4, XDP_UMEM_FILL_RING = 5, XDP_UMEM_COMPLETION_RING = 6;
const XDP_COPY = 1 << 1;
const FRAMES = 64, FRAME_SIZE = 4096, RING = 64;

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array, size: number): number;
  bind(fd: number, address: Uint8Array, size: number): number;
  mmap(addr: null, length: number, prot: number, flags: number, fd: number, offset: number): unknown;
  munmap(addr: unknown, length: number): number;
  close(fd: number): number;
  errno(): number;
}

let libc: Libc | undefined;

function load(): Libc {
  if (libc) return libc;
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  const lib = koffi.load('libc.so.6');
  const errnoLocation = lib.func('int *__errno_location()');
  libc = {
    socket: lib.func('int socket(int, int, int)'),
    setsockopt: lib.func('int setsockopt(int, int, int, const uint8_t *, uint32_t)'),
    bind: lib.func('int bind(int, const uint8_t *, uint32_t)'),
    mmap: lib.func('void *mmap(void *, size_t, int, int, int, long)'),
    munmap: lib.func('int munmap(void *, size_t)'),
    close: lib.func('int close(int)'),
    errno: () => koffi.decode(errnoLocation(), 'int') as number,
  } as Libc;
  return libc;
}

/** A bound AF_XDP socket. */
export interface XskSocket extends Disposable {
  readonly fd: number;
  readonly ifindex: number;
  readonly queueId: number;
  close(): void;
}

/** An AF_XDP socket bound to queue `queueId` of `ifindex` (in the calling thread's network namespace). */
export function createXskSocket(ifindex: number, queueId = 0): XskSocket {
  const c = load();
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  const fd = c.socket(AF_XDP, SOCK_RAW, 0);
  if (fd < 0) throw new Error(`socket(AF_XDP): errno ${c.errno()}`);
  const size = FRAMES * FRAME_SIZE;
  const mem = c.mmap(null, size, 3 /* PROT_READ|WRITE */, 0x22 /* MAP_PRIVATE|ANONYMOUS */, -1, 0);
  const close = (): void => {
    c.close(fd);
    c.munmap(mem, size);
  };
  try {
    const reg = new Uint8Array(32);
    const r = new DataView(reg.buffer);
    r.setBigUint64(0, koffi.address(mem), true);
    r.setBigUint64(8, BigInt(size), true);
    r.setUint32(16, FRAME_SIZE, true);
    const ring = new Uint8Array(4);
    new DataView(ring.buffer).setUint32(0, RING, true);
    for (const [name, value] of [[XDP_UMEM_REG, reg], [XDP_UMEM_FILL_RING, ring], [XDP_UMEM_COMPLETION_RING, ring], [XDP_RX_RING, ring]] as const) {
      if (c.setsockopt(fd, SOL_XDP, name, value, value.length) < 0) throw new Error(`setsockopt(SOL_XDP, ${name}): errno ${c.errno()}`);
    }
    const sa = new Uint8Array(16);
    const s = new DataView(sa.buffer);
    s.setUint16(0, AF_XDP, true);
    s.setUint16(2, XDP_COPY, true);
    s.setUint32(4, ifindex, true);
    s.setUint32(8, queueId, true);
    if (c.bind(fd, sa, sa.length) < 0) throw new Error(`bind AF_XDP socket to ifindex ${ifindex} queue ${queueId}: errno ${c.errno()}`);
  } catch (err) {
    close();
    throw err;
  }
  return { fd, ifindex, queueId, close, [Symbol.dispose]: close };
}
