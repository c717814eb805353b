/**
 * DEVMAP, DEVMAP_HASH, CPUMAP and XSKMAP host commands against the kernel's: the same
 * pseudo-random updates (every flag; values naming `lo` — ifindex 1, in every network
 * namespace — no device, a missing device, bad program fds, queue sizes around the limit),
 * lookups, deletes, get_next_key and lookup-and-delete on both, every answer compared, then
 * the final contents in get_next_key order. Program fds that name a real program are left out
 * (the kernel reads back its id, the VM its registry id).
 */
import { describe, it } from 'node:test';
import { MapRegistry, MapType, Memory, type MapOptions } from '../../../src/vm/index.js';
import { kernelSkip } from '../../support/kernel.js';
import { runDifferential, type Op, type Tally } from './differential.js';
import { pinToCpu0, possibleCpus, prng } from './kernel-maps.js';

const skip = kernelSkip();
/** An ifindex no test machine has. */
const NO_DEVICE = 40000;
/** An fd that is not open. */
const BAD_FD = 999_999;

function u32s(...words: number[]): Uint8Array {
  const out = new Uint8Array(words.length * 4);
  const v = new DataView(out.buffer);
  words.forEach((w, i) => v.setUint32(i * 4, w >>> 0, true));
  return out;
}

interface Scenario {
  name: string;
  options: MapOptions;
  ops: number;
  /** Keys are 0 .. keySpace-1. */
  keySpace: number;
  /** The 32-bit words of a value. */
  value: (pick: <T>(xs: readonly T[]) => T) => number[];
  flags: number[];
  seed: number;
}

const devValue = (pick: <T>(xs: readonly T[]) => T): number[] => [pick([1, 1, 1, 1, 0, NO_DEVICE]), pick([0, 0, 0, -1, BAD_FD])];

const scenarios: Scenario[] = [
  { name: 'DEVMAP u32 ifindex', options: { type: MapType.DEVMAP, keySize: 4, valueSize: 4, maxEntries: 8 }, ops: 1500, keySpace: 11, value: devValue, flags: [0, 0, 0, 1, 2, 3], seed: 1 },
  { name: 'DEVMAP bpf_devmap_val', options: { type: MapType.DEVMAP, keySize: 4, valueSize: 8, maxEntries: 8 }, ops: 1500, keySpace: 11, value: devValue, flags: [0, 0, 0, 1, 2, 3], seed: 2 },
  { name: 'DEVMAP_HASH u32 ifindex, full map', options: { type: MapType.DEVMAP_HASH, keySize: 4, valueSize: 4, maxEntries: 6 }, ops: 2000, keySpace: 24, value: devValue, flags: [0, 0, 0, 1, 2, 3], seed: 3 },
  { name: 'DEVMAP_HASH bpf_devmap_val', options: { type: MapType.DEVMAP_HASH, keySize: 4, valueSize: 8, maxEntries: 16 }, ops: 2000, keySpace: 40, value: devValue, flags: [0, 0, 0, 1, 2, 3], seed: 4 },
  {
    name: 'CPUMAP u32 qsize', options: { type: MapType.CPUMAP, keySize: 4, valueSize: 4, maxEntries: 6 }, ops: 300, keySpace: 8,
    value: (pick) => [pick([0, 1, 64, 192, 16384, 16385, 0xffffffff])], flags: [0, 0, 0, 1, 2, 3], seed: 5,
  },
  {
    name: 'CPUMAP bpf_cpumap_val', options: { type: MapType.CPUMAP, keySize: 4, valueSize: 8, maxEntries: 6 }, ops: 300, keySpace: 8,
    value: (pick) => [pick([0, 1, 192, 16385]), pick([0, 0, -1, BAD_FD])], flags: [0, 0, 0, 1, 2], seed: 6,
  },
  {
    name: 'XSKMAP without sockets', options: { type: MapType.XSKMAP, keySize: 4, valueSize: 4, maxEntries: 6 }, ops: 300, keySpace: 9,
    value: (pick) => [pick([BAD_FD, 0x7fffffff])], flags: [0, 1, 2, 3], seed: 7,
  },
];

function scenarioOps(s: Scenario): Op[] {
  const rand = prng(s.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const key = (): Uint8Array => u32s(Math.floor(rand() * s.keySpace));
  const ops: Op[] = [];
  for (let i = 0; i < s.ops; i++) {
    const r = rand();
    if (r < 0.5) ops.push({ op: 'update', key: key(), value: u32s(...s.value(pick)).subarray(0, s.options.valueSize), flags: pick(s.flags) });
    else if (r < 0.7) ops.push({ op: 'lookup', key: key() });
    else if (r < 0.82) ops.push({ op: 'delete', key: key() });
    else if (r < 0.97) ops.push({ op: 'nextKey', key: rand() < 0.2 ? undefined : key() });
    else ops.push({ op: 'lookupAndDelete', key: key() });
  }
  return ops;
}

function report(t: { diagnostic: (s: string) => void }, tally: Tally): void {
  const errs = Object.entries(tally.errnos).map(([k, v]) => `${k}×${v}`).join(' ');
  t.diagnostic(`${tally.ops} ops compared (${errs}); ${tally.finalKeys} final elements compared`);
}

describe('redirect maps against the kernel', { skip }, () => {
  for (const s of scenarios) {
    it(s.name, (t) => {
      pinToCpu0();
      const registry = new MapRegistry(new Memory(), { cpus: possibleCpus(), cpu: 0 });
      report(t, runDifferential(registry, s.options, scenarioOps(s), true));
    });
  }
});
