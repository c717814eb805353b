/**
 * bpf_for_each_map_elem (src/vm/helpers/for-each.ts) against the kernel: the same program
 * (bpf/fixtures/vm_for_each.c) test-run in both, with the same retval, the same visiting order
 * (recorded by the callbacks), sums, early stops, a delete ahead of the walk, and the same
 * contents of every map afterwards (values written through the callback's value pointer).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadObject } from '../../../src/kernel/object/load-object.js';
import { loadObjectVm } from '../../../src/vm/object/load.js';
import { kernelSkip } from '../../support/kernel.js';
import { repoRoot } from '../../support/shared.js';
import { possibleCpus } from '../maps/kernel-maps.js';
import { compareMaps, kernelObject, vmObject } from './kernel-compare.js';

const MAPS = ['arr', 'hash', 'pcpu_arr', 'pcpu_hash', 'lru', 'lru_small', '.bss'];

describe('bpf_for_each_map_elem', () => {
  it('walks every map type in the kernel\'s order with its return values (VM alone)', () => {
    using vm = vmObject('vm_for_each');
    const r = vm.programs.walk_maps!.testRun({ data: new Uint8Array(64) });
    const bss = vm.maps['.bss']!.get(0) as { results: bigint[]; order: bigint[] };
    assert.equal(bss.results[0], 6n, 'array: all 6 elements');
    assert.equal(bss.results[1], 1n + 11n + 21n + 31n + 41n + 51n);
    assert.equal(bss.results[2], 4n, 'hash: stopped after the 4th');
    assert.equal(bss.results[10], BigInt.asUintN(64, -22n), 'flags: -EINVAL');
    assert.deepEqual(bss.order.slice(0, 6), [0n, 1n, 2n, 3n, 4n, 5n]);
    assert.ok(r.retval > 30);
  });

  it('matches the kernel: retval, order, sums and every map', { skip: kernelSkip() }, () => {
    using kernel = kernelObject('vm_for_each');
    using vm = vmObject('vm_for_each');
    const data = new Uint8Array(64);
    const k = kernel.programs.walk_maps!.testRun({ data });
    // Per-CPU values are the running CPU's: run the VM on the CPU the kernel ran on.
    vm.registry.cpu = Number((kernel.maps['.bss']!.get(0) as { results: bigint[] }).results[11]);
    const v = vm.programs.walk_maps!.testRun({ data });
    assert.equal(v.retval, k.retval);
    const compared = compareMaps(vm, kernel, MAPS);
    assert.ok(compared > 20);
  });

  it('does not mark LRU elements used: the same evictions as the kernel after a walk', { skip: kernelSkip() }, () => {
    using kernel = kernelObject('vm_for_each');
    using vm = vmObject('vm_for_each');
    const data = new Uint8Array(64);
    assert.equal(vm.programs.walk_lru_evict!.testRun({ data }).retval, kernel.programs.walk_lru_evict!.testRun({ data }).retval);
    assert.ok(compareMaps(vm, kernel, ['lru_small', '.bss']) >= 32);
  });

  it('a libbpf-style object (bpf/objects/subprogs.o sub_socket) gives the kernel\'s retval and maps', { skip: kernelSkip() }, () => {
    const bytes = readFileSync(join(repoRoot, 'bpf/objects/subprogs.o'));
    using kernel = loadObject(bytes, { programs: ['sub_socket'] });
    using vm = loadObjectVm(bytes, { programs: ['sub_socket'], cpus: possibleCpus() });
    const data = new Uint8Array(64).map((_, i) => i);
    assert.equal(vm.programs.sub_socket!.testRun({ data }).retval, kernel.programs.sub_socket!.testRun({ data }).retval);
    compareMaps(vm, kernel, Object.keys(kernel.maps));
  });
});
