// The map helpers in the interpreter, without the kernel: what programs get back, and typed
// faults for arguments the kernel's verifier would have refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, encodeProgram } from '../../../src/isa/index.js';
import {
  HelperId, Interpreter, mapHelpers, MapRegistry, MapType, Memory, MemoryFault, PerfEventArrayMap, RingbufMap, VmError,
  type VmMap,
} from '../../../src/vm/index.js';

const u32 = (n: number): Uint8Array => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n, true); return b; };

/** Assembles `text`, with `map(name)` lines loading map pointers as 64-bit immediates. */
function program(text: string, maps: Record<string, VmMap>): Uint8Array {
  return encodeProgram(assemble(text.replace(/(r\d+) = map\((\w+)\)/g, (_, reg: string, name: string) => `${reg} = 0x${maps[name]!.address.toString(16)} ll`)));
}

function setup(cpus = 1): { registry: MapRegistry; run: (text: string, maps: Record<string, VmMap>) => bigint } {
  const registry = new MapRegistry(new Memory(), { cpus });
  const helpers = mapHelpers(registry);
  return { registry, run: (text, maps) => new Interpreter(program(text, maps), { memory: registry.memory, helpers }).run(0).r0 };
}

test('mapHelpers covers the map, ring buffer and perf helpers by Linux id', () => {
  const ids = [...mapHelpers(new MapRegistry(new Memory())).keys()].sort((a, b) => a - b);
  assert.deepEqual(ids, Object.values(HelperId).sort((a, b) => a - b));
});

test('lookup returns the value\'s address, update and delete return 0 or -errno', () => {
  const { registry, run } = setup();
  const h = registry.create({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 1, name: 'h' });
  const text = `
    r1 = 5
    *(u32 *)(r10 - 4) = r1
    r1 = 99
    *(u64 *)(r10 - 16) = r1
    r1 = map(h)
    r2 = r10
    r2 += -4
    r3 = r10
    r3 += -16
    r4 = 1
    call 2
    r6 = r0
    r1 = map(h)
    r2 = r10
    r2 += -4
    call 1
    if r0 == 0 goto out
    r1 = *(u64 *)(r0 + 0)
    r1 += 1
    *(u64 *)(r0 + 0) = r1
    r0 = r6
  out:
    exit`;
  assert.equal(run(text, { h }), 0n);
  assert.deepEqual(h.lookup(u32(5)), Uint8Array.of(100, 0, 0, 0, 0, 0, 0, 0));
  assert.equal(run(text, { h }), BigInt.asUintN(64, -17n), 'BPF_NOEXIST on an existing key: -EEXIST');
  const del = `
    r1 = 6
    *(u32 *)(r10 - 4) = r1
    r1 = map(h)
    r2 = r10
    r2 += -4
    call 3
    exit`;
  assert.equal(run(del, { h }), BigInt.asUintN(64, -2n));
});

test('bad arguments are typed faults at the call', () => {
  const { registry, run } = setup();
  const h = registry.create({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 1 });
  const q = registry.create({ type: MapType.QUEUE, keySize: 0, valueSize: 8, maxEntries: 1 });
  assert.throws(() => run('r1 = 0x1234 ll\nr2 = r10\nr2 += -8\ncall 1\nexit', {}), (e: unknown) =>
    e instanceof VmError && e.index === 4 && /not a map pointer/.test(e.message));
  assert.throws(() => run('r1 = map(h)\nr2 = 0\ncall 1\nexit', { h }), (e: unknown) =>
    e instanceof MemoryFault && e.index === 3 && e.access === 'read');
  // Popping into the (read-only) map object is a write fault.
  assert.throws(() => run('r1 = map(q)\nr2 = map(q)\ncall 88\nexit', { q }), (e: unknown) =>
    e instanceof MemoryFault && e.access === 'write');
  assert.throws(() => run('r1 = r10\nr1 += -8\nr2 = 0\ncall 132\nexit', {}), /not a ring buffer record/);
});

test('ring buffer helpers: a reserved record is written in place and read by the host', () => {
  const { registry, run } = setup();
  const rb = registry.create({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096 }) as RingbufMap;
  const r0 = run(`
    r1 = map(rb)
    r2 = 12
    r3 = 0
    call 131
    if r0 == 0 goto out
    r1 = 0x0807060504030201 ll
    *(u64 *)(r0 + 0) = r1
    *(u32 *)(r0 + 8) = r1
    r1 = r0
    r2 = 0
    call 132
    r1 = map(rb)
    r2 = 3
    call 134
  out:
    exit`, { rb });
  assert.equal(r0, 24n, 'the producer position after one 12-byte record');
  assert.deepEqual(rb.drain(), [Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4)]);
});

test('perf_event_output: BPF_F_CURRENT_CPU picks this CPU\'s slot; packet bytes can follow', () => {
  const registry = new MapRegistry(new Memory(), { cpus: 2, cpu: 1 });
  const perf = registry.create({ type: MapType.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: 2 }) as PerfEventArrayMap;
  perf.openChannels();
  const packet = Uint8Array.of(0xaa, 0xbb, 0xcc);
  const helpers = mapHelpers(registry, { packetBytes: (_ctx, length) => (length <= packet.length ? packet.slice(0, length) : undefined) });
  const text = (flags: string): Uint8Array => program(`
    r1 = 0x11223344
    *(u32 *)(r10 - 4) = r1
    r1 = 0
    r2 = map(perf)
    r3 = ${flags} ll
    r4 = r10
    r4 += -4
    r5 = 4
    call 25
    exit`, { perf });
  const run = (flags: string): bigint => new Interpreter(text(flags), { memory: registry.memory, helpers }).run(0).r0;
  assert.equal(run('0xffffffff'), 0n);
  assert.equal(run('0x2ffffffff'), 0n);
  assert.equal(run('0x9ffffffff'), BigInt.asUintN(64, -14n), 'more packet than there is: -EFAULT');
  assert.equal(run('0'), BigInt.asUintN(64, -95n), 'slot 0 is on CPU 0: -EOPNOTSUPP');
  assert.deepEqual(perf.drain(), [
    { cpu: 1, index: 1, data: Uint8Array.of(0x44, 0x33, 0x22, 0x11) },
    { cpu: 1, index: 1, data: Uint8Array.of(0x44, 0x33, 0x22, 0x11, 0xaa, 0xbb) },
  ]);
});

test('map_lookup_percpu_elem and per-CPU lookups follow the registry\'s CPU', () => {
  const { registry, run } = setup(2);
  const pc = registry.create({ type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
  pc.update(u32(0), [u32(10), u32(20)]);
  const text = (helper: string): string => `
    r1 = 0
    *(u32 *)(r10 - 4) = r1
    r1 = map(pc)
    r2 = r10
    r2 += -4
    r3 = 1
    call ${helper}
    if r0 == 0 goto out
    r0 = *(u32 *)(r0 + 0)
  out:
    exit`;
  assert.equal(run(text('195'), { pc }), 20n);
  assert.equal(run(text('1'), { pc }), 10n);
  registry.cpu = 1;
  assert.equal(run(text('1'), { pc }), 20n);
});
