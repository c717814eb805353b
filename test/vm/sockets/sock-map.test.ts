/**
 * SOCKMAP and SOCKHASH from the host, compared with the kernel: creation checks, updates with
 * every kind of socket (the kernel takes TCP established or listening and UDP sockets only),
 * flags, bounds, lookups (the socket's cookie, or ENOSPC for 4-byte values), deletes,
 * get_next_key, and a closed socket leaving its maps. Each scenario writes a transcript of
 * errnos and socket names on both sides; the transcripts must be equal.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MapType } from '../../../src/vm/maps/flags.js';
import { kernelSkip } from '../../support/kernel.js';
import { assertSameTranscript, KernelBackend, VmBackend, u32, u64, type SockBackend, type SocketKind } from './backends.js';
import { hex } from '../maps/kernel-maps.js';

const KINDS: readonly SocketKind[] = ['tcp-unconnected', 'tcp-listen', 'tcp-client', 'tcp-server', 'udp-unbound', 'udp-bound', 'udp-connected'];

/** BPF_MAP_CREATE parameters to try: [label, type, keySize, valueSize, maxEntries, flags]. */
const CREATE_CASES: Array<[string, number, number, number, number, number]> = [];
for (const [t, name] of [[MapType.SOCKMAP, 'sockmap'], [MapType.SOCKHASH, 'sockhash']] as const) {
  for (const keySize of [0, 1, 4, 8, 512, 513]) {
    for (const valueSize of [0, 4, 6, 8, 16]) CREATE_CASES.push([`${name} k${keySize} v${valueSize}`, t, keySize, valueSize, 4, 0]);
  }
  for (const flags of [1, 2, 4, 8, 16, 32, 128, 1024, 4096]) CREATE_CASES.push([`${name} flags ${flags}`, t, 4, 8, 4, flags]);
  // Sizes whose answer does not depend on the machine's free memory (the kernel allocates a
  // sockmap's slots, and a sockhash's buckets, up front).
  const sizes = t === MapType.SOCKHASH ? [0, 2 ** 20, 2 ** 28 - 1, 2 ** 28, 2 ** 31 + 1, 2 ** 32 - 1] : [0, 2 ** 20];
  for (const max of sizes) CREATE_CASES.push([`${name} max ${max}`, t, 4, 8, max, 0]);
}

function createTranscript(b: SockBackend): string[] {
  return CREATE_CASES.map(([label, type, keySize, valueSize, maxEntries, flags]) => {
    const m = b.createMap({ type, keySize, valueSize, maxEntries, flags });
    return `${label}: ${typeof m === 'number' ? m : 0}`;
  });
}

/** The host-side scenario on one map type and value size. */
function opsTranscript(b: SockBackend, type: number, valueSize: number): string[] {
  const log: string[] = [];
  const hash = type === MapType.SOCKHASH;
  const m = b.createMap({ type, keySize: hash ? 8 : 4, valueSize, maxEntries: 4 });
  if (typeof m === 'number') return [`create: ${m}`];
  const key = (i: number): Uint8Array => (hash ? u64(i * 1000 + 7) : u32(i));
  const val = (fd: number | bigint): Uint8Array => (valueSize === 8 ? u64(fd) : u32(Number(fd)));
  const fds = new Map<SocketKind, number>();
  for (const kind of KINDS) fds.set(kind, b.open(kind));
  const names = new Map<bigint, string>([...fds].map(([kind, fd]) => [b.cookie(fd), kind]));
  const lookup = (i: number): string => {
    const r = m.lookup(key(i));
    if (r.errno !== 0) return `errno ${r.errno}`;
    const cookie = new DataView(r.bytes!.buffer, r.bytes!.byteOffset).getBigUint64(0, true);
    return names.get(cookie) ?? `unknown cookie`;
  };
  const fd = (k: SocketKind): number => fds.get(k)!;

  for (const kind of KINDS) log.push(`update [0] ${kind}: ${m.update(key(0), val(fd(kind)))} -> ${lookup(0)}`);
  log.push(`update [1] client NOEXIST: ${m.update(key(1), val(fd('tcp-client')), 1n)}`);
  log.push(`update [1] server NOEXIST: ${m.update(key(1), val(fd('tcp-server')), 1n)}`);
  log.push(`update [1] server EXIST: ${m.update(key(1), val(fd('tcp-server')), 2n)} -> ${lookup(1)}`);
  log.push(`update [2] client EXIST: ${m.update(key(2), val(fd('tcp-client')), 2n)}`);
  log.push(`update [2] flags 3: ${m.update(key(2), val(fd('tcp-client')), 3n)}`);
  log.push(`update [2] BPF_F_LOCK: ${m.update(key(2), val(fd('tcp-client')), 4n)}`);
  log.push(`update [2] client: ${m.update(key(2), val(fd('tcp-client')))}`);
  log.push(`update [3] client (twice in the map): ${m.update(key(3), val(fd('tcp-client')))} -> ${lookup(3)}`);
  log.push(`update [4] listen: ${m.update(key(4), val(fd('tcp-listen')))}`);
  log.push(`update [3] bad fd: ${m.update(key(3), val(999_999))}`);
  if (valueSize === 8) log.push(`update [3] fd 2^31: ${m.update(key(3), val(2n ** 31n))}`);
  for (const i of [0, 1, 2, 3, 4, 9]) log.push(`lookup [${i}]: ${lookup(i)}`);
  const keys: string[] = [];
  for (let r = m.nextKey(undefined); r.errno === 0 && keys.length < 10; r = m.nextKey(r.bytes)) keys.push(hex(r.bytes));
  log.push(`keys: ${(hash ? keys.sort() : keys).join(' ')}`);
  log.push(`next key of a missing key: ${m.nextKey(key(8)).errno}`);
  b.close(fd('tcp-client'));
  for (const i of [2, 3]) log.push(`after closing the client, lookup [${i}]: ${lookup(i)}`);
  log.push(`delete [1]: ${m.delete(key(1))} -> ${lookup(1)}`);
  log.push(`delete [1] again: ${m.delete(key(1))}`);
  log.push(`delete [9]: ${m.delete(key(9))}`);
  log.push(`delete [0]: ${m.delete(key(0))}`);
  return log;
}

function both<T>(run: (b: SockBackend) => T): { vm: T; kernel: T } {
  using vm = new VmBackend();
  using kernel = new KernelBackend();
  return { vm: run(vm), kernel: run(kernel) };
}

describe('SOCKMAP / SOCKHASH host operations, VM against the kernel', { skip: kernelSkip() }, () => {
  it('creation checks answer the same errnos', () => {
    const { vm, kernel } = both(createTranscript);
    assertSameTranscript(vm, kernel);
  });

  for (const [type, name] of [[MapType.SOCKMAP, 'SOCKMAP'], [MapType.SOCKHASH, 'SOCKHASH']] as const) {
    for (const valueSize of [4, 8]) {
      it(`${name} with ${valueSize}-byte values: updates, lookups, deletes, next keys, close`, () => {
        const { vm, kernel } = both((b) => opsTranscript(b, type, valueSize));
        assertSameTranscript(vm, kernel);
      });
    }
  }
});

describe('SOCKMAP / SOCKHASH in the VM', () => {
  it('a lookup answers the socket cookie, a closed socket leaves the map', () => {
    using b = new VmBackend();
    const m = b.createMap({ type: MapType.SOCKMAP, keySize: 4, valueSize: 8, maxEntries: 2 });
    assert.ok(typeof m !== 'number');
    const { client, server } = b.world.tcpPair();
    assert.equal(m.update(u32(0), u64(client.fd)), 0);
    assert.equal(m.update(u32(1), u64(server.fd)), 0);
    assert.deepEqual(m.lookup(u32(1)), { errno: 0, bytes: u64(server.cookie) });
    assert.notEqual(client.cookie, server.cookie);
    server.close();
    assert.equal(m.lookup(u32(1)).errno, 2);
    assert.equal(server.psock, undefined);
    assert.notEqual(client.psock, undefined);
  });

  it('refuses an unconnected TCP socket and an unbound UDP one with EOPNOTSUPP and a 4-byte lookup with ENOSPC', () => {
    using b = new VmBackend();
    const m = b.createMap({ type: MapType.SOCKHASH, keySize: 4, valueSize: 4, maxEntries: 2 });
    assert.ok(typeof m !== 'number');
    assert.equal(m.update(u32(7), u32(b.world.tcpSocket().fd)), 95);
    assert.equal(m.update(u32(7), u32(b.world.udpUnbound().fd)), 95);
    assert.equal(m.update(u32(7), u32(b.world.udpSocket().fd)), 0);
    assert.equal(m.lookup(u32(7)).errno, 28);
  });
});
