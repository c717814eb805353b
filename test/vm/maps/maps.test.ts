// The VM's maps on their own (no kernel needed): the host API, where values live, access
// rules, and the types whose behaviour involves more than bpf() map commands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ArrayMap, ArrayOfMapsMap, HashMap, HashOfMapsMap, jhash, jhash2, LpmTrieMap, MapError, MapFlag, mapRegistry, MapRegistry, MapType,
  Memory, PercpuHashMap, PerfEventArrayMap, ProgArrayMap, QueueStackMap, RingbufMap, UpdateFlag,
} from '../../../src/vm/index.js';

const u32 = (n: number): Uint8Array => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n, true); return b; };
const u64 = (n: bigint): Uint8Array => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, n, true); return b; };
const errno = (code: string) => (e: unknown): boolean => e instanceof MapError && e.code === code;

test('jhash and jhash2 are lookup3 as the kernel has it', () => {
  const text = new TextEncoder().encode('Four score and seven years ago');
  assert.equal(jhash(new Uint8Array(0), 0, 0), 0xdeadbeef);
  assert.equal(jhash(text, 30, 0), 0x17770551);
  assert.equal(jhash(text, 30, 1), 0xcd628161);
  // jhash2 over words equals jhash over the same (little-endian) bytes.
  const words = new Uint8Array(24).map((_, i) => i * 37);
  assert.equal(jhash2(words, 6, 5), jhash(words, 24, 5));
});

test('a registry per memory; maps are found by their map object address and id', () => {
  const memory = new Memory();
  const registry = mapRegistry(memory, { cpus: 2 });
  assert.equal(mapRegistry(memory), registry);
  assert.throws(() => new MapRegistry(memory), /already has a map registry/);
  assert.throws(() => mapRegistry(memory, { cpus: 3 }), RangeError);
  const map = registry.create({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 4, name: 'h' });
  assert.equal(registry.byAddress(map.address), map);
  assert.equal(registry.byId(map.id), map);
  assert.ok(memory.find(map.address, 32) !== undefined && !memory.find(map.address, 32)!.writable, 'the map object is read-only memory');
  assert.equal(memory.view.getUint32(map.address, true), MapType.HASH);
  map.close();
  map.close();
  assert.equal(registry.byAddress(map.address), undefined);
  assert.equal(memory.find(map.address, 1), undefined);
  assert.throws(() => map.lookup(u32(1)), /closed/);
  assert.throws(() => { registry.cpu = 2; }, RangeError);
});

test('hash: values live in linear memory; replacing a value moves it, as the kernel does', () => {
  const registry = new MapRegistry(new Memory());
  const map = registry.create({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 2 }) as HashMap;
  map.update(u32(1), u64(10n));
  const before = map.programLookup(u32(1));
  assert.equal(registry.memory.view.getBigUint64(before, true), 10n);
  map.update(u32(1), u64(11n));
  const after = map.programLookup(u32(1));
  assert.notEqual(after, before, 'the update took a fresh element');
  assert.equal(registry.memory.view.getBigUint64(before, true), 10n, 'a stale pointer still reads the old value');
  assert.equal(registry.memory.view.getBigUint64(after, true), 11n);
  // Writes through the pointer are the element's value.
  registry.memory.view.setBigUint64(after, 12n, true);
  assert.deepEqual(map.lookup(u32(1)), u64(12n));
  map.update(u32(2), u64(2n), UpdateFlag.NOEXIST);
  assert.throws(() => map.update(u32(3), u64(3n)), errno('E2BIG'));
  assert.throws(() => map.update(u32(2), u64(3n), UpdateFlag.NOEXIST), errno('EEXIST'));
  assert.throws(() => map.update(u32(4), u64(3n), UpdateFlag.EXIST), errno('ENOENT'));
  assert.throws(() => map.update(u32(2), u64(3n), UpdateFlag.F_LOCK), errno('EINVAL'));
  assert.throws(() => map.update(u32(2), u64(3n), 3), errno('EINVAL'));
  assert.throws(() => map.update(u32(2), new Uint8Array(4)), RangeError);
  assert.throws(() => map.lookup(new Uint8Array(3)), RangeError);
  assert.equal(map.delete(u32(9)), false);
  assert.deepEqual(map.lookupAndDelete(u32(2)), u64(2n));
  assert.deepEqual([...map.entries()], [[u32(1), u64(12n)]]);
});

test('per-CPU hash: host values are one per CPU; a program writes its CPU\'s only', () => {
  const registry = new MapRegistry(new Memory(), { cpus: 3, cpu: 1 });
  const map = registry.create({ type: MapType.PERCPU_HASH, keySize: 4, valueSize: 4, maxEntries: 4 }) as PercpuHashMap;
  assert.throws(() => map.update(u32(1), u32(5)), TypeError);
  assert.equal(map.programUpdate(u32(1), u32(7), 0n), 0);
  assert.deepEqual(map.lookup(u32(1)), [u32(0), u32(7), u32(0)]);
  map.update(u32(1), [u32(1), u32(2), u32(3)]);
  assert.equal(registry.memory.view.getUint32(map.programLookup(u32(1)), true), 2);
  assert.equal(registry.memory.view.getUint32(map.programLookupPercpu(u32(1), 2), true), 3);
  assert.equal(map.programLookupPercpu(u32(1), 3), 0, 'a CPU past the last one gives NULL');
});

test('arrays: every index exists; per-CPU arrays keep a value per CPU', () => {
  const registry = new MapRegistry(new Memory(), { cpus: 2 });
  const arr = registry.create({ type: MapType.ARRAY, keySize: 4, valueSize: 5, maxEntries: 3 }) as ArrayMap;
  assert.deepEqual(arr.lookup(u32(2)), new Uint8Array(5));
  assert.equal(arr.lookup(u32(3)), undefined);
  assert.equal(arr.valueAddress(1) - arr.valueAddress(0), 8, 'values are 8-byte aligned');
  assert.throws(() => arr.update(u32(0), new Uint8Array(5), UpdateFlag.NOEXIST), errno('EEXIST'));
  assert.throws(() => arr.update(u32(3), new Uint8Array(5)), errno('E2BIG'));
  assert.throws(() => arr.delete(u32(0)), errno('EINVAL'));
  assert.deepEqual([...arr.keys()], [u32(0), u32(1), u32(2)]);
  assert.deepEqual(arr.nextKey(u32(99)), u32(0));
  const pc = registry.create({ type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 4, maxEntries: 2 });
  pc.update(u32(1), [u32(8), u32(9)]);
  assert.deepEqual(pc.lookup(u32(1)), [u32(8), u32(9)]);
});

test('access rules: BPF_F_RDONLY, BPF_F_WRONLY, freeze, BPF_F_RDONLY_PROG', () => {
  const registry = new MapRegistry(new Memory());
  const ro = registry.create({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, flags: MapFlag.RDONLY });
  assert.throws(() => ro.update(u32(0), u32(1)), errno('EPERM'));
  assert.deepEqual(ro.lookup(u32(0)), u32(0));
  const wo = registry.create({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 1, flags: MapFlag.WRONLY });
  wo.update(u32(0), u32(1));
  assert.throws(() => wo.lookup(u32(0)), errno('EPERM'));
  const frozen = registry.create({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
  frozen.update(u32(0), u32(5));
  frozen.freeze();
  assert.throws(() => frozen.update(u32(0), u32(6)), errno('EPERM'));
  assert.equal(frozen.programUpdate(u32(0), u32(6), 0n), 0, 'freezing only stops the host');
  const rodata = registry.create({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1, flags: MapFlag.RDONLY_PROG }) as ArrayMap;
  assert.equal(rodata.region.writable, false, 'programs cannot store to a BPF_F_RDONLY_PROG map');
});

test('LPM trie: longest match, and get_next_key in the kernel\'s post-order', () => {
  const registry = new MapRegistry(new Memory());
  const trie = registry.create({ type: MapType.LPM_TRIE, keySize: 8, valueSize: 4, maxEntries: 8, flags: MapFlag.NO_PREALLOC }) as LpmTrieMap;
  const key = (plen: number, ...ip: number[]): Uint8Array => Uint8Array.of(...u32(plen), ...ip);
  trie.update(key(16, 192, 168, 0, 0), u32(1));
  trie.update(key(24, 192, 168, 0, 0), u32(2));
  trie.update(key(24, 192, 168, 1, 0), u32(3));
  trie.update(key(24, 192, 168, 128, 0), u32(4));
  assert.deepEqual(trie.lookup(key(32, 192, 168, 1, 77)), u32(3));
  assert.deepEqual(trie.lookup(key(32, 192, 168, 200, 1)), u32(1));
  assert.equal(trie.lookup(key(32, 10, 0, 0, 1)), undefined);
  // kernel/bpf/lpm_trie.c: "returns more specific keys before less specific ones".
  assert.deepEqual([...trie.keys()], [key(24, 192, 168, 0, 0), key(24, 192, 168, 1, 0), key(24, 192, 168, 128, 0), key(16, 192, 168, 0, 0)]);
  assert.throws(() => trie.update(key(33, 1, 2, 3, 4), u32(0)), errno('EINVAL'));
  assert.throws(() => trie.update(key(24, 192, 168, 1, 0), u32(0), UpdateFlag.NOEXIST), errno('EEXIST'));
  assert.equal(trie.delete(key(16, 192, 168, 0, 0)), true);
  assert.equal(trie.lookup(key(32, 192, 168, 200, 1)), undefined);
  assert.equal(trie.size, 3);
});

test('queue and stack: FIFO and LIFO, BPF_EXIST drops the oldest when full', () => {
  const registry = new MapRegistry(new Memory());
  const q = registry.create({ type: MapType.QUEUE, keySize: 0, valueSize: 4, maxEntries: 2 }) as QueueStackMap;
  q.push(u32(1));
  q.push(u32(2));
  assert.throws(() => q.push(u32(3)), errno('E2BIG'));
  q.push(u32(3), UpdateFlag.EXIST);
  assert.deepEqual(q.peek(), u32(2));
  assert.deepEqual(q.pop(), u32(2));
  assert.deepEqual(q.pop(), u32(3));
  assert.equal(q.pop(), undefined);
  assert.throws(() => q.push(u32(1), UpdateFlag.NOEXIST), errno('EINVAL'));
  const s = registry.create({ type: MapType.STACK, keySize: 0, valueSize: 4, maxEntries: 2 }) as QueueStackMap;
  s.push(u32(1));
  s.push(u32(2));
  s.push(u32(3), UpdateFlag.EXIST);
  assert.deepEqual([s.pop(), s.pop(), s.pop()], [u32(3), u32(2), undefined]);
  assert.throws(() => s.nextKey(), errno('EINVAL'));
});

test('ring buffer: records in order, busy records hold the reader back, wrapping records are contiguous', () => {
  const registry = new MapRegistry(new Memory());
  const rb = registry.create({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096 }) as RingbufMap;
  const wakes: number[] = [];
  rb.onWakeup = () => wakes.push(rb.producerPosition);
  const a = rb.reserve(10);
  const b = rb.reserve(3);
  assert.equal(b - a, 24, 'a 10-byte record takes 8 + 16 bytes');
  registry.memory.bytes.set([1, 2, 3], b);
  rb.commit(b, 0n, false);
  assert.deepEqual(rb.drain(), [], 'the first record is still reserved');
  assert.equal(wakes.length, 0, 'no wakeup: the consumer is not waiting for this record');
  rb.commit(a, 0n, true);
  assert.equal(wakes.length, 1, 'the record at the consumer position wakes it up');
  assert.deepEqual(rb.drain(), [Uint8Array.of(1, 2, 3)], 'discarded records are skipped');
  assert.equal(rb.output(new Uint8Array(8), 4n), -22);
  assert.equal(rb.query(0n), 0);
  assert.equal(rb.query(1n), 4096);
  // Fill most of the ring, consume it, then write a record that wraps past the end.
  const big = rb.reserve(4000);
  rb.commit(big, 2n, false);
  rb.drain();
  const data = Uint8Array.from({ length: 200 }, (_, i) => i);
  assert.equal(rb.output(data, 1n), 0);
  assert.ok(rb.producerPosition % 4096 < 200, 'the record wrapped');
  assert.deepEqual(rb.drain(), [data]);
  assert.equal(rb.reserve(4096), 0, 'a record must leave room for its header');
  for (const op of [() => rb.lookup(), () => rb.update(undefined, new Uint8Array(0)), () => rb.nextKey()]) assert.throws(op, errno('ENOTSUPP'));
});

test('perf event array: channels per slot, on a CPU; the kernel\'s errors', () => {
  const registry = new MapRegistry(new Memory(), { cpus: 2 });
  const perf = registry.create({ type: MapType.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: 4 }) as PerfEventArrayMap;
  const [c0] = perf.openChannels();
  assert.equal(perf.output(0xffffffffn, Uint8Array.of(1)), 0);
  assert.deepEqual(c0!.drain(), [{ cpu: 0, index: 0, data: Uint8Array.of(1) }]);
  assert.equal(perf.output(1n, Uint8Array.of(1)), -95, 'slot 1 is on CPU 1: EOPNOTSUPP');
  assert.equal(perf.output(2n, Uint8Array.of(1)), -2, 'empty slot: ENOENT');
  assert.equal(perf.output(4n, Uint8Array.of(1)), -7, 'out of range: E2BIG');
  assert.equal(perf.output(1n << 32n, Uint8Array.of(1)), -22, 'unknown flags: EINVAL');
  perf.openChannel(3, { cpu: 0, capacity: 4 });
  assert.equal(perf.output(3n, new Uint8Array(4)), 0);
  assert.equal(perf.output(3n, new Uint8Array(1)), -28, 'full: ENOSPC');
  assert.equal(perf.channel(3)!.lost, 1);
  assert.throws(() => perf.lookup(u32(0)), errno('ENOTSUPP'));
  assert.throws(() => perf.update(u32(0), u32(5)), errno('EBADF'));
  assert.equal(perf.delete(u32(2)), false);
  assert.equal(perf.delete(u32(3)), true);
  assert.throws(() => perf.delete(u32(9)), errno('E2BIG'));
});

test('prog array: slots hold registered programs; host values are program ids', () => {
  const registry = new MapRegistry(new Memory());
  const progs = registry.create({ type: MapType.PROG_ARRAY, keySize: 4, valueSize: 4, maxEntries: 4 }) as ProgArrayMap;
  const handle = { name: 'tail' };
  progs.set(2, handle);
  assert.equal(progs.program(2), handle);
  assert.equal(progs.program(1), undefined);
  assert.deepEqual(progs.lookup(u32(2)), u32(registry.registerProgram(handle)));
  assert.throws(() => progs.update(u32(1), u32(999)), errno('EBADF'));
  assert.throws(() => progs.update(u32(1), u32(1), UpdateFlag.NOEXIST), errno('EINVAL'));
  assert.throws(() => progs.update(u32(4), u32(1)), errno('E2BIG'));
  assert.equal(progs.programLookup(u32(2)), 0, 'programs cannot look a prog array up');
  assert.equal(progs.delete(u32(2)), true);
  assert.equal(progs.delete(u32(2)), false);
});

test('maps of maps: inner maps must match the template', () => {
  const registry = new MapRegistry(new Memory());
  const tmpl = registry.create({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 2 });
  const good = registry.create({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 2 });
  const longer = registry.create({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 3 });
  const hash = registry.create({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 2 });
  const outer = registry.create({ type: MapType.ARRAY_OF_MAPS, keySize: 4, valueSize: 4, maxEntries: 2, innerMap: tmpl }) as ArrayOfMapsMap;
  outer.set(0, good);
  assert.throws(() => outer.set(1, longer), errno('EINVAL'));
  assert.throws(() => outer.set(1, hash), errno('EINVAL'));
  assert.throws(() => outer.update(u32(1), u32(12345)), errno('EBADF'));
  assert.equal(outer.programLookup(u32(0)), good.address);
  assert.equal(outer.programLookup(u32(1)), 0);
  const flexible = registry.create({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, flags: MapFlag.INNER_MAP });
  const anySize = registry.create({ type: MapType.ARRAY_OF_MAPS, keySize: 4, valueSize: 4, maxEntries: 1, innerMap: flexible }) as ArrayOfMapsMap;
  anySize.set(0, registry.create({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 9, flags: MapFlag.INNER_MAP }));
  const hom = registry.create({ type: MapType.HASH_OF_MAPS, keySize: 4, valueSize: 4, maxEntries: 2, innerMap: tmpl }) as HashOfMapsMap;
  hom.set(u32(7), good);
  assert.equal(hom.inner(u32(7)), good);
  assert.equal(hom.programLookup(u32(7)), good.address);
  assert.throws(() => registry.create({ type: MapType.ARRAY_OF_MAPS, keySize: 4, valueSize: 4, maxEntries: 1, innerMap: outer }), errno('EINVAL'));
});
