/**
 * Maps against the running kernel: create and info, element operations and their errors,
 * iteration (also while deleting), per-CPU values, queues and stacks, maps of maps, program
 * arrays, freezing, and no leaked fds.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { assemble, encodeProgram } from '../../src/isa/index.js';
import {
  Errno, KernelError, MapFlag, MapSizeError, MapType, ProgramType, UpdateFlag, createMap, isKeyExist,
  isKeyNotExist, isMapFull, loadProgram, perCpuSlotSize, possibleCpuCount, programInfo,
} from '../../src/kernel/index.js';
import { kernelSkip } from '../support/kernel.js';

const openFds = (): number => readdirSync('/proc/self/fd').length;
const u32 = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);
const u64 = (n: bigint): Uint8Array => new Uint8Array(new BigUint64Array([n]).buffer);
const readU32 = (b: Uint8Array): number => new DataView(b.buffer, b.byteOffset).getUint32(0, true);
const readU64 = (b: Uint8Array): bigint => new DataView(b.buffer, b.byteOffset).getBigUint64(0, true);

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  assert.fail('did not throw');
}

describe('kernel maps', { skip: kernelSkip() }, () => {
  it('creates a map and reads its info back', () => {
    using map = createMap({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 16, name: 'counts', flags: MapFlag.NO_PREALLOC });
    assert.ok(map.fd > 2);
    assert.ok(map.id > 0);
    assert.equal(map.type, MapType.HASH);
    assert.equal(map.name, 'counts');
    assert.equal(map.keySize, 4);
    assert.equal(map.valueSize, 8);
    assert.equal(map.maxEntries, 16);
    assert.equal(map.flags, MapFlag.NO_PREALLOC);
    assert.deepEqual(map.refreshInfo(), map.info);
  });

  it('names the map and the errno when creation fails', () => {
    const err = thrown(() => createMap({ type: MapType.ARRAY, keySize: 8, valueSize: 4, maxEntries: 1, name: 'bad' }));
    assert.ok(err instanceof KernelError);
    assert.equal(err.code, 'EINVAL');
    assert.match(err.message, /^create map 'bad' \(BPF_MAP_TYPE_ARRAY\): EINVAL/);
    assert.throws(() => createMap({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 1, name: 'has space' }), TypeError);
  });

  it('looks up, updates and deletes, with the update flags and sentinel checks', () => {
    using map = createMap({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 2, name: 'ops' });
    assert.equal(map.lookup(u32(1)), undefined);
    map.update(u32(1), u64(10n));
    assert.equal(readU64(map.lookup(u32(1))!), 10n);
    assert.equal(map.has(u32(1)), true);

    const exists = thrown(() => map.update(u32(1), u64(11n), UpdateFlag.NOEXIST));
    assert.ok(isKeyExist(exists));
    assert.match((exists as Error).message, /^update map 'ops' \(BPF_MAP_TYPE_HASH\): EEXIST/);
    map.update(u32(1), u64(12n), UpdateFlag.EXIST);
    assert.equal(readU64(map.lookup(u32(1))!), 12n);
    assert.ok(isKeyNotExist(thrown(() => map.update(u32(2), u64(1n), UpdateFlag.EXIST))));

    map.update(u32(2), u64(2n));
    const full = thrown(() => map.update(u32(3), u64(3n)));
    assert.ok(isMapFull(full), String(full));
    assert.equal((full as KernelError).errno, Errno.E2BIG);

    assert.equal(map.delete(u32(1)), true);
    assert.equal(map.delete(u32(1)), false);
    assert.equal(map.lookup(u32(1)), undefined);
    const hashOnly = readU64(map.lookupAndDelete(u32(2))!);
    assert.equal(hashOnly, 2n);
    assert.equal(map.lookup(u32(2)), undefined);
  });

  it('refuses a key or value of the wrong size before the system call, naming the map', () => {
    using map = createMap({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 2, name: 'sizes' });
    const key = thrown(() => map.lookup(new Uint8Array(8)));
    assert.ok(key instanceof MapSizeError);
    assert.equal(key.what, 'key');
    assert.equal(key.expected, 4);
    assert.equal(key.actual, 8);
    assert.match(key.message, /map 'sizes' \(BPF_MAP_TYPE_HASH\): key is 8 bytes, the map's key size is 4/);
    const value = thrown(() => map.update(u32(1), new Uint8Array(4)));
    assert.ok(value instanceof MapSizeError && value.what === 'value');
    assert.throws(() => map.update(u32(1), [u64(1n)]), TypeError); // per-CPU form on a plain map
  });

  it('arrays: every index exists, and indexes past the end are E2BIG or missing', () => {
    using map = createMap({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 4 });
    assert.deepEqual(map.lookup(u32(3)), new Uint8Array(4));
    assert.equal(map.lookup(u32(4)), undefined);
    assert.ok(isMapFull(thrown(() => map.update(u32(4), u32(1)))));
    assert.ok(thrown(() => map.delete(u32(0))) instanceof KernelError); // arrays cannot delete: EINVAL
    assert.deepEqual([...map.keys()].map(readU32), [0, 1, 2, 3]);
  });

  it('iterates keys and entries, every key once even while deleting them', () => {
    using map = createMap({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 256 });
    for (let i = 0; i < 200; i++) map.update(u32(i), u32(i * 3));
    const entries = [...map.entries()].map(([k, v]) => [readU32(k), readU32(v)] as const);
    assert.equal(entries.length, 200);
    for (const [k, v] of entries) assert.equal(v, k * 3);
    assert.deepEqual([...map.values()].map(readU32).sort((a, b) => a - b), entries.map(([, v]) => v).sort((a, b) => a - b));

    // Deleting the cursor makes the kernel restart from the first key; nothing is given twice.
    const seen: number[] = [];
    for (const key of map.keys()) {
      seen.push(readU32(key));
      map.delete(key);
      if (seen.length % 7 === 0) map.delete(u32((seen.length * 13) % 200)); // and some others
    }
    assert.equal(new Set(seen).size, seen.length);
    assert.ok(seen.length >= 200 - Math.floor(200 / 7), `saw ${seen.length}`);
    assert.equal([...map.keys()].length, 0);
  });

  it('per-CPU values: one slot per possible CPU, each rounded up to 8 bytes', () => {
    const cpus = possibleCpuCount();
    using map = createMap({ type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 4, maxEntries: 2 });
    assert.equal(map.perCpu, true);
    assert.equal(map.valueBytes, perCpuSlotSize(4) * cpus);
    const values = Array.from({ length: cpus }, (_, i) => u32(100 + i));
    map.update(u32(1), values);
    assert.deepEqual(map.lookupPerCpu(u32(1)), values);
    const whole = map.lookup(u32(1))!;
    assert.equal(whole.length, 8 * cpus);
    assert.equal(readU32(whole.subarray(8)), cpus > 1 ? 101 : readU32(whole.subarray(8)));
    assert.throws(() => map.update(u32(1), [u32(1)].concat(values)), RangeError);
    assert.ok(thrown(() => map.update(u32(1), u32(1))) instanceof MapSizeError);
  });

  it('queues are FIFO, stacks LIFO: push, peek, pop', () => {
    using queue = createMap({ type: MapType.QUEUE, keySize: 0, valueSize: 4, maxEntries: 3 });
    using stack = createMap({ type: MapType.STACK, keySize: 0, valueSize: 4, maxEntries: 3 });
    for (const n of [1, 2, 3]) {
      queue.push(u32(n));
      stack.push(u32(n));
    }
    assert.ok(isMapFull(thrown(() => queue.push(u32(4)))));
    queue.push(u32(4), UpdateFlag.EXIST); // full: EXIST drops the oldest
    assert.equal(readU32(queue.lookup()!), 2);
    assert.deepEqual([queue.pop(), queue.pop(), queue.pop()].map((v) => readU32(v!)), [2, 3, 4]);
    assert.equal(queue.pop(), undefined);
    assert.deepEqual([stack.pop(), stack.pop(), stack.pop()].map((v) => readU32(v!)), [3, 2, 1]);
    assert.equal(stack.pop(), undefined);
  });

  it('maps of maps take inner map fds and give back their ids', () => {
    using template = createMap({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    using outer = createMap({ type: MapType.ARRAY_OF_MAPS, keySize: 4, valueSize: 4, maxEntries: 4, innerMap: template, name: 'outer' });
    const inner = createMap({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, name: 'inner' });
    outer.setFd(u32(2), inner);
    const id = inner.id;
    inner.close(); // the outer map holds it now
    assert.equal(outer.getId(u32(2)), id);
    assert.equal(outer.getId(u32(1)), undefined);
    using wrong = createMap({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 1 });
    assert.ok(thrown(() => outer.setFd(u32(0), wrong)) instanceof KernelError);
  });

  it('program arrays take program fds and give back program ids', () => {
    using progs = createMap({ type: MapType.PROG_ARRAY, keySize: 4, valueSize: 4, maxEntries: 2 });
    using program = loadProgram({
      type: ProgramType.SOCKET_FILTER, license: 'GPL', instructions: encodeProgram(assemble('r0 = 0\nexit')),
    });
    progs.setFd(u32(0), program);
    assert.equal(progs.getId(u32(0)), programInfo(program.fd).id);
    assert.equal(progs.delete(u32(0)), true);
    assert.equal(progs.getId(u32(0)), undefined);
  });

  it('a frozen map refuses syscall-side writes', () => {
    using map = createMap({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    map.update(u32(0), u32(7));
    map.freeze();
    const err = thrown(() => map.update(u32(0), u32(8)));
    assert.ok(err instanceof KernelError && err.code === 'EPERM', String(err));
    assert.equal(readU32(map.lookup(u32(0))!), 7);
  });

  it('closes idempotently and leaks no fds', () => {
    const before = openFds();
    for (let i = 0; i < 50; i++) {
      using map = createMap({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 4 });
      map.update(u32(i), u32(i));
      [...map.entries()];
      assert.throws(() => createMap({ type: MapType.ARRAY, keySize: 3, valueSize: 4, maxEntries: 1 }), KernelError);
    }
    const map = createMap({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 4 });
    map.close();
    map.close();
    assert.equal(map.open, false);
    assert.throws(() => map.fd, /closed/);
    assert.equal(openFds(), before);
  });
});
