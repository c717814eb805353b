/**
 * bpf_redirect_map in a compiled object (bpf/fixtures/vm_redirect.c) loaded by both backends:
 * the maps filled through the loaded-object API, then every (map, key, flags) packet test-run
 * in the kernel and in the VM with the same retval.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { kernelSkip } from '../../support/kernel.js';
import { kernelObject, vmObject } from '../helpers/kernel-compare.js';
import { u32s } from './program-sides.js';

describe('bpf_redirect_map in an object', { skip: kernelSkip() }, () => {
  it('gives the kernel\'s retval for every map, key and flags', (t) => {
    using kernel = kernelObject('vm_redirect');
    using vm = vmObject('vm_redirect');
    for (const obj of [kernel, vm] as const) {
      obj.maps.devs!.set(u32s(2), u32s(1));
      obj.maps.devh!.set(u32s(5), u32s(1, 0));
      obj.maps.cpus!.set(u32s(0), u32s(256));
    }
    let n = 0;
    const verdicts = new Set<number>();
    for (const map of [0, 1, 2]) {
      for (const key of [0, 1, 2, 5, 9]) {
        for (const flags of [0, 1, 2, 3, 4, 8, 10, 24, 16, 64]) {
          const data = new Uint8Array(64);
          data.set([map, key, flags], 14);
          const want = kernel.programs.redirect!.testRun({ data }).retval;
          assert.equal(vm.programs.redirect!.testRun({ data }).retval, want, `map ${map} key ${key} flags ${flags}`);
          verdicts.add(want);
          n++;
        }
      }
    }
    assert.deepEqual([...verdicts].sort(), [0, 1, 2, 3, 4]);
    t.diagnostic(`${n} test runs compared`);
  });
});
