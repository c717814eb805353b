/**
 * bpf_spin_lock / bpf_spin_unlock (src/vm/helpers/spin-lock.ts) and the map side of a value
 * with a lock (src/vm/maps/value-fields.ts), against the kernel: bpf/fixtures/vm_spin_lock.c
 * test-run on the same packets in both (same retvals, same contents of every map — the lock
 * word reads as zeros from the host), then the host's BPF_F_LOCK lookups and updates, with the
 * same bytes and the same errnos.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UpdateFlag } from '../../../src/vm/maps/flags.js';
import { kernelSkip } from '../../support/kernel.js';
import { compareMaps, kernelObject, vmObject } from './kernel-compare.js';

const MAPS = ['counters', 'totals', '.bss'];
const LENGTHS = [60, 61, 62, 100, 64, 60];
const u32 = (n: number): Uint8Array => Uint8Array.of(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24);
const hex = (b: Uint8Array | Uint8Array[] | undefined): string | undefined => (b === undefined ? undefined : Buffer.from(b as Uint8Array).toString('hex'));

/** errno of `f`'s throw, or 0. */
function errnoOf(f: () => unknown): number {
  try {
    f();
    return 0;
  } catch (err) {
    const errno = (err as { errno?: unknown }).errno;
    if (typeof errno !== 'number') throw err;
    return errno;
  }
}

describe('bpf_spin_lock', () => {
  it('locks and unlocks the value\'s word; a lock left held is a fault (VM alone)', () => {
    using vm = vmObject('vm_spin_lock');
    const p = vm.programs.count_locked!;
    assert.equal(p.testRun({ data: new Uint8Array(60) }).retval, 1001);
    assert.equal(p.testRun({ data: new Uint8Array(63) }).retval, 2002);
    const c = vm.maps.counters!.get(0) as { hits: bigint; lock: { val: number }; sum: bigint };
    assert.deepEqual([c.hits, c.lock.val, c.sum], [2n, 0, 123n]);
    // The word itself: 0 when free (the program unlocked it).
    const map = vm.maps.counters!.map;
    const word = map.programLookup(u32(0)) + 8;
    assert.equal(vm.memory.view.getUint32(word, true), 0);
    // A lock still held when the program takes it (what the verifier rules out) is a fault.
    vm.memory.view.setUint32(word, 1, true);
    assert.throws(() => p.testRun({ data: new Uint8Array(60) }), (e: unknown) => e instanceof Error && /already held/.test(String((e as Error).message) + String((e as Error).cause)));
  });

  it('matches the kernel: retvals and every map after each run', { skip: kernelSkip() }, () => {
    using kernel = kernelObject('vm_spin_lock');
    using vm = vmObject('vm_spin_lock');
    let compared = 0;
    for (const len of LENGTHS) {
      const data = new Uint8Array(len);
      const k = kernel.programs.count_locked!.testRun({ data });
      const v = vm.programs.count_locked!.testRun({ data });
      assert.equal(v.retval, k.retval, `retval for ${len} bytes`);
      compared += compareMaps(vm, kernel, MAPS);
    }
    assert.ok(compared > 20);
  });

  it('host BPF_F_LOCK lookups and updates as the kernel does them', { skip: kernelSkip() }, () => {
    using kernel = kernelObject('vm_spin_lock');
    using vm = vmObject('vm_spin_lock');
    kernel.programs.count_locked!.testRun({ data: new Uint8Array(61) });
    vm.programs.count_locked!.testRun({ data: new Uint8Array(61) });
    const k = kernel.maps.counters!.map;
    const v = vm.maps.counters!.map;
    const kt = kernel.maps.totals!.map;
    const vt = vm.maps.totals!.map;
    // Locked lookups: same bytes, the lock reading zero.
    assert.equal(hex(v.lookup(u32(1), UpdateFlag.F_LOCK)), hex(k.lookup(u32(1), UpdateFlag.F_LOCK)));
    assert.equal(hex(vt.lookup(u32(0), UpdateFlag.F_LOCK)), hex(kt.lookup(u32(0), UpdateFlag.F_LOCK)));
    // A value whose lock bytes are not zero: the map keeps its own lock.
    const value = new Uint8Array(24).fill(0xab);
    for (const flags of [UpdateFlag.F_LOCK, UpdateFlag.F_LOCK | UpdateFlag.EXIST, UpdateFlag.ANY, UpdateFlag.F_LOCK | UpdateFlag.NOEXIST]) {
      assert.equal(errnoOf(() => v.update(u32(1), value, flags)), errnoOf(() => k.update(u32(1), value, flags)), `update flags ${flags}`);
      assert.equal(hex(v.lookup(u32(1))), hex(k.lookup(u32(1))));
    }
    for (const flags of [UpdateFlag.F_LOCK | UpdateFlag.EXIST, UpdateFlag.F_LOCK]) {
      assert.equal(errnoOf(() => v.update(u32(5), value, flags)), errnoOf(() => k.update(u32(5), value, flags)), `update of a new key, flags ${flags}`);
    }
    assert.equal(errnoOf(() => vt.update(u32(1), value.subarray(0, 16), UpdateFlag.F_LOCK)), errnoOf(() => kt.update(u32(1), value.subarray(0, 16), UpdateFlag.F_LOCK)));
    assert.equal(errnoOf(() => v.lookup(u32(1), 8)), errnoOf(() => k.lookup(u32(1), 8)));
    assert.notEqual(errnoOf(() => v.lookup(u32(1), 8)), 0);
    // The programs still take the locks after the host wrote over them.
    for (const len of [61, 62]) {
      const data = new Uint8Array(len);
      assert.equal(vm.programs.count_locked!.testRun({ data }).retval, kernel.programs.count_locked!.testRun({ data }).retval);
    }
    compareMaps(vm, kernel, MAPS);
  });

  it('BPF_F_LOCK on a map whose value has no lock is EINVAL, as in the kernel', { skip: kernelSkip() }, () => {
    using kernel = kernelObject('vm_for_each');
    using vm = vmObject('vm_for_each');
    const v = vm.maps.hash!.map;
    const k = kernel.maps.hash!.map;
    const value = new Uint8Array(8);
    assert.equal(errnoOf(() => v.update(u32(1), value, UpdateFlag.F_LOCK)), errnoOf(() => k.update(u32(1), value, UpdateFlag.F_LOCK)));
    assert.equal(errnoOf(() => v.update(u32(1), value, UpdateFlag.F_LOCK)), 22);
  });
});
