/**
 * VM maps against the kernel's: the same pseudo-random operations (updates with every flag,
 * lookups, deletes, get_next_key, lookup-and-delete, full maps, LRU eviction under program
 * lookups, LPM prefixes) on both, every answer compared. The test thread is pinned to CPU 0,
 * the VM's current CPU, since LRU lists and per-CPU values depend on the caller's CPU.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MapFlag, MapRegistry, MapType, Memory, type MapOptions } from '../../../src/vm/index.js';
import { kernelSkip } from '../../support/kernel.js';
import { randomOps, runDifferential, type Op, type Tally } from './differential.js';
import { KernelMap, pinToCpu0, possibleCpus, prng } from './kernel-maps.js';

const skip = kernelSkip();
const ZS = MapFlag.ZERO_SEED;

function registry(): MapRegistry {
  return new MapRegistry(new Memory(), { cpus: possibleCpus(), cpu: 0 });
}

function report(t: { diagnostic: (s: string) => void }, tally: Tally): void {
  const errs = Object.entries(tally.errnos).map(([k, v]) => `${k}×${v}`).join(' ');
  t.diagnostic(`${tally.ops} ops compared (${errs}); ${tally.finalKeys} final elements compared`);
}

interface Scenario {
  name: string;
  options: MapOptions;
  ops: number;
  keySpace: number;
  mix: Partial<Record<Op['op'], number>>;
  flags?: number[];
  ordered: boolean;
  seed: number;
  /** Bytes of a host value as bpf() takes it (per-CPU: one 8-aligned slot per CPU). */
  valueBytes?: number;
}

const ALL_FLAGS = [0, 0, 0, 0, 1, 1, 2, 2, 3, 4, 8];
const HOST_MIX = { update: 5, lookup: 2, delete: 1.5, nextKey: 1, lookupAndDelete: 0.5 };
const LRU_MIX = { update: 5, lookup: 1, progLookup: 3, delete: 0.7, nextKey: 0.5, lookupAndDelete: 0.3 };
/** LRU operations that also hop between CPUs: local free/pending lists, stealing, per-CPU lists. */
const LRU_CPU_MIX = { ...LRU_MIX, cpu: 0.4 };

function percpuBytes(valueSize: number): number {
  return Math.ceil(valueSize / 8) * 8 * possibleCpus();
}

const scenarios: Scenario[] = [
  { name: 'HASH u32 keys (jhash2), full map, zero seed', options: { type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 64, flags: ZS }, ops: 3000, keySpace: 100, mix: HOST_MIX, flags: ALL_FLAGS, ordered: true, seed: 1 },
  { name: 'HASH 6-byte keys (jhash), odd value size', options: { type: MapType.HASH, keySize: 6, valueSize: 5, maxEntries: 33, flags: ZS }, ops: 2000, keySpace: 60, mix: HOST_MIX, flags: ALL_FLAGS, ordered: true, seed: 2 },
  { name: 'HASH 16-byte keys, 100 entries', options: { type: MapType.HASH, keySize: 16, valueSize: 24, maxEntries: 100, flags: ZS }, ops: 2000, keySpace: 130, mix: HOST_MIX, ordered: true, seed: 3 },
  { name: 'HASH 13-byte keys (jhash tail), no prealloc', options: { type: MapType.HASH, keySize: 13, valueSize: 8, maxEntries: 20, flags: ZS | MapFlag.NO_PREALLOC }, ops: 1500, keySpace: 40, mix: HOST_MIX, flags: ALL_FLAGS, ordered: true, seed: 4 },
  { name: 'HASH random seed (compared as sets)', options: { type: MapType.HASH, keySize: 8, valueSize: 16, maxEntries: 50 }, ops: 1500, keySpace: 80, mix: { update: 5, lookup: 2, delete: 1.5, lookupAndDelete: 0.5 }, ordered: false, seed: 5 },
  { name: 'PERCPU_HASH', options: { type: MapType.PERCPU_HASH, keySize: 4, valueSize: 12, maxEntries: 32, flags: ZS }, ops: 1500, keySpace: 50, mix: HOST_MIX, flags: ALL_FLAGS, ordered: true, seed: 6, valueBytes: percpuBytes(12) },
  { name: 'LRU_HASH common LRU, 64 entries', options: { type: MapType.LRU_HASH, keySize: 4, valueSize: 8, maxEntries: 64, flags: ZS }, ops: 3000, keySpace: 160, mix: LRU_MIX, ordered: true, seed: 7 },
  { name: 'LRU_HASH common LRU, 1000 entries (target_free 128)', options: { type: MapType.LRU_HASH, keySize: 8, valueSize: 8, maxEntries: 1000, flags: ZS }, ops: 6000, keySpace: 1600, mix: LRU_MIX, ordered: true, seed: 8 },
  { name: 'LRU_HASH common LRU, 5 entries, all flags', options: { type: MapType.LRU_HASH, keySize: 4, valueSize: 4, maxEntries: 5, flags: ZS }, ops: 1500, keySpace: 12, mix: LRU_MIX, flags: ALL_FLAGS, ordered: true, seed: 9 },
  { name: 'LRU_HASH per-CPU LRU (BPF_F_NO_COMMON_LRU)', options: { type: MapType.LRU_HASH, keySize: 4, valueSize: 8, maxEntries: 63, flags: ZS | MapFlag.NO_COMMON_LRU }, ops: 3000, keySpace: 140, mix: LRU_MIX, flags: ALL_FLAGS, ordered: true, seed: 10 },
  { name: 'LRU_PERCPU_HASH common LRU', options: { type: MapType.LRU_PERCPU_HASH, keySize: 4, valueSize: 8, maxEntries: 40, flags: ZS }, ops: 3000, keySpace: 100, mix: LRU_MIX, flags: ALL_FLAGS, ordered: true, seed: 11, valueBytes: percpuBytes(8) },
  { name: 'LRU_PERCPU_HASH per-CPU LRU', options: { type: MapType.LRU_PERCPU_HASH, keySize: 8, valueSize: 4, maxEntries: 40, flags: ZS | MapFlag.NO_COMMON_LRU }, ops: 3000, keySpace: 100, mix: LRU_MIX, ordered: true, seed: 12, valueBytes: percpuBytes(4) },
  { name: 'LRU_HASH common LRU across CPUs (local lists, stealing)', options: { type: MapType.LRU_HASH, keySize: 4, valueSize: 8, maxEntries: 48, flags: ZS }, ops: 4000, keySpace: 120, mix: LRU_CPU_MIX, ordered: true, seed: 17 },
  { name: 'LRU_HASH small common LRU across CPUs', options: { type: MapType.LRU_HASH, keySize: 4, valueSize: 8, maxEntries: 6, flags: ZS }, ops: 3000, keySpace: 14, mix: LRU_CPU_MIX, flags: ALL_FLAGS, ordered: true, seed: 18 },
  { name: 'LRU_HASH per-CPU LRU across CPUs', options: { type: MapType.LRU_HASH, keySize: 4, valueSize: 8, maxEntries: 30, flags: ZS | MapFlag.NO_COMMON_LRU }, ops: 4000, keySpace: 80, mix: LRU_CPU_MIX, ordered: true, seed: 19 },
  { name: 'LRU_PERCPU_HASH across CPUs', options: { type: MapType.LRU_PERCPU_HASH, keySize: 4, valueSize: 8, maxEntries: 24, flags: ZS }, ops: 3000, keySpace: 60, mix: LRU_CPU_MIX, flags: ALL_FLAGS, ordered: true, seed: 20, valueBytes: percpuBytes(8) },
  { name: 'PERCPU_HASH across CPUs', options: { type: MapType.PERCPU_HASH, keySize: 4, valueSize: 8, maxEntries: 24, flags: ZS }, ops: 1500, keySpace: 40, mix: { ...HOST_MIX, progLookup: 1, cpu: 0.5 }, ordered: true, seed: 21, valueBytes: percpuBytes(8) },
  { name: 'ARRAY', options: { type: MapType.ARRAY, keySize: 4, valueSize: 12, maxEntries: 20 }, ops: 1500, keySpace: 26, mix: HOST_MIX, flags: ALL_FLAGS, ordered: true, seed: 13 },
  { name: 'PERCPU_ARRAY', options: { type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 6, maxEntries: 10 }, ops: 1000, keySpace: 14, mix: HOST_MIX, flags: ALL_FLAGS, ordered: true, seed: 14, valueBytes: percpuBytes(6) },
  { name: 'QUEUE', options: { type: MapType.QUEUE, keySize: 0, valueSize: 8, maxEntries: 10 }, ops: 1500, keySpace: 1, mix: { update: 3, lookup: 1, lookupAndDelete: 2, nextKey: 0.2, delete: 0.2 }, flags: [0, 0, 2, 2, 1, 3], ordered: true, seed: 15 },
  { name: 'STACK', options: { type: MapType.STACK, keySize: 0, valueSize: 5, maxEntries: 7 }, ops: 1500, keySpace: 1, mix: { update: 3, lookup: 1, lookupAndDelete: 2, nextKey: 0.2, delete: 0.2 }, flags: [0, 0, 2, 2, 1, 3], ordered: true, seed: 16 },
];

describe('VM maps vs kernel maps', { skip }, () => {
  before(() => pinToCpu0());
  for (const s of scenarios) {
    it(s.name, (t) => {
      // Array keys are small indices (some out of range); the rest random bytes.
      const rand = prng(s.seed);
      let ops = randomOps(rand, s.ops, s.options.keySize, s.valueBytes ?? s.options.valueSize, s.keySpace, s.mix, s.flags, possibleCpus());
      if (s.options.type === MapType.ARRAY || s.options.type === MapType.PERCPU_ARRAY) ops = ops.map((o) => arrayKey(o, s.keySpace, rand));
      report(t, runDifferential(registry(), s.options, ops, s.ordered));
    });
  }
});

function arrayKey(op: Op, space: number, rand: () => number): Op {
  if (op.op === 'cpu' || op.key === undefined) return op;
  const key = new Uint8Array(4);
  new DataView(key.buffer).setUint32(0, rand() < 0.05 ? 0xffffffff : Math.floor(rand() * space), true);
  return { ...op, key } as Op;
}

/** LPM keys: `{ u32 prefixlen; u8 data[4] }` around a few bases, with noise past the prefix. */
function lpmOps(rand: () => number, count: number, dataSize: number): Op[] {
  const bases = Array.from({ length: 6 }, () => Array.from({ length: dataSize }, () => Math.floor(rand() * 256)));
  const maxPrefix = dataSize * 8;
  const pool = Array.from({ length: 160 }, () => {
    const base = bases[Math.floor(rand() * bases.length)]!;
    const key = new Uint8Array(4 + dataSize);
    const r = rand();
    const prefixlen = r < 0.03 ? maxPrefix + 1 : r < 0.1 ? 0 : r < 0.3 ? maxPrefix : Math.floor(rand() * maxPrefix);
    new DataView(key.buffer).setUint32(0, prefixlen, true);
    // Share the base's first bits, then random bits: nested and sibling prefixes.
    const shared = Math.floor(rand() * maxPrefix);
    for (let i = 0; i < dataSize; i++) {
      const keep = Math.max(0, Math.min(8, shared - i * 8));
      const mask = keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
      key[4 + i] = (base[i]! & mask) | (Math.floor(rand() * 256) & ~mask);
    }
    return key;
  });
  const pick = (): Uint8Array => pool[Math.floor(rand() * pool.length)]!;
  const ops: Op[] = [];
  for (let i = 0; i < count; i++) {
    const r = rand();
    if (r < 0.4) {
      const value = Uint8Array.from({ length: 8 }, () => Math.floor(rand() * 256));
      ops.push({ op: 'update', key: pick(), value, flags: [0, 0, 0, 1, 2, 3][Math.floor(rand() * 6)]! });
    } else if (r < 0.65) ops.push({ op: 'lookup', key: pick() });
    else if (r < 0.75) ops.push({ op: 'progLookup', key: pick() });
    else if (r < 0.88) ops.push({ op: 'delete', key: pick() });
    else ops.push({ op: 'nextKey', key: rand() < 0.1 ? undefined : pick() });
  }
  return ops;
}

describe('VM LPM trie vs kernel LPM trie', { skip }, () => {
  before(() => pinToCpu0());
  for (const [name, dataSize, maxEntries, seed] of [['IPv4-sized keys, 40 entries', 4, 40, 31], ['3-byte data, 25 entries', 3, 25, 32], ['IPv6-sized keys, 60 entries', 16, 60, 33]] as const) {
    it(name, (t) => {
      const options = { type: MapType.LPM_TRIE, keySize: 4 + dataSize, valueSize: 8, maxEntries, flags: MapFlag.NO_PREALLOC };
      report(t, runDifferential(registry(), options, lpmOps(prng(seed), 3000, dataSize), true));
    });
  }
});

describe('VM maps of maps vs the kernel\'s (host commands)', { skip }, () => {
  it('answers updates, lookups and deletes with the kernel\'s errnos', (t) => {
    const reg = registry();
    const rand = prng(41);
    const innerOptions = [
      { type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 4 },
      { type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 4 },
      { type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 5 },
      { type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 4 },
      { type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 4 },
    ];
    const inners = innerOptions.map((o) => ({ kernel: KernelMap.create(o) as KernelMap, vm: reg.create(o) }));
    let ops = 0;
    for (const [type, keyOf] of [[MapType.ARRAY_OF_MAPS, (i: number) => i], [MapType.HASH_OF_MAPS, (i: number) => i * 7919]] as const) {
      const options = { type, keySize: 4, valueSize: 4, maxEntries: 3, flags: type === MapType.HASH_OF_MAPS ? ZS : 0 };
      const k = KernelMap.create({ ...options, innerMapFd: inners[0]!.kernel.fd });
      if (typeof k === 'number') throw new Error(`errno ${k}`);
      using kernel = k;
      using vm = reg.create({ ...options, innerMap: inners[0]!.vm });
      const u32 = (n: number): Uint8Array => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n, true); return b; };
      for (let i = 0; i < 600; i++) {
        const key = u32(keyOf(Math.floor(rand() * 5)));
        const r = rand();
        let want: number, got: number;
        if (r < 0.5) {
          const inner = inners[Math.floor(rand() * inners.length)]!;
          const flags = [0, 0, 0, 1, 2, 3][Math.floor(rand() * 6)]!;
          want = kernel.update(key, u32(inner.kernel.fd), BigInt(flags));
          got = vmErrno(() => vm.update(key, u32(inner.vm.id), flags));
        } else if (r < 0.75) {
          want = kernel.lookup(key).errno;
          got = vm.lookup(key) === undefined ? 2 : 0;
        } else {
          want = kernel.delete(key);
          got = vmErrno(() => { if (!vm.delete(key)) throw Object.assign(new Error(), { errno: 2 }); });
        }
        assert.equal(got, want, `op ${i} on ${type === MapType.ARRAY_OF_MAPS ? 'ARRAY_OF_MAPS' : 'HASH_OF_MAPS'}`);
        ops++;
      }
      assert.deepEqual([...vm.keys()].map((x) => Buffer.from(x).toString('hex')), kernel.keys().map((x) => Buffer.from(x).toString('hex')));
    }
    for (const i of inners) i.kernel.close();
    t.diagnostic(`${ops} map-of-maps host commands compared`);
  });
});

function vmErrno(f: () => void): number {
  try {
    f();
    return 0;
  } catch (err) {
    const e = err as { errno?: number };
    if (typeof e.errno === 'number') return e.errno;
    throw err;
  }
}
