/**
 * One object in both worlds: loaded by the kernel backend's loadObject and by loadObjectVm
 * (with the kernel's possible CPUs), for tests that run a program in each and compare retval
 * and every map's contents.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadObject } from '../../../src/kernel/object/load-object.js';
import type { KernelObject } from '../../../src/kernel/object/kernel-object.js';
import { loadObjectVm, type VmObject, type VmObjectOptions } from '../../../src/vm/object/load.js';
import { possibleCpus } from '../maps/kernel-maps.js';
import { repoRoot } from '../../support/shared.js';

/** The bytes of fixture `name` (bpf/fixtures/name.o). */
export function fixture(name: string): Uint8Array {
  return readFileSync(join(repoRoot, 'bpf/fixtures', `${name}.o`));
}

/** The VM object of a fixture, with as many CPUs as the kernel has possible CPUs. */
export function vmObject(name: string, options: VmObjectOptions = {}): VmObject {
  return loadObjectVm(fixture(name), { cpus: possibleCpus(), ...options });
}

/** The kernel object of a fixture. */
export function kernelObject(name: string): KernelObject {
  return loadObject(fixture(name));
}

/** Map `name`'s entries, in get_next_key order, as plain JS values. */
export function entries(obj: VmObject | KernelObject, name: string): Array<[unknown, unknown]> {
  const map = obj.maps[name];
  assert.ok(map !== undefined, `no map '${name}'`);
  return [...map.entries()] as Array<[unknown, unknown]>;
}

/** Asserts that maps `names` hold the same entries, in the same order, on both sides; returns the entries compared. */
export function compareMaps(vm: VmObject, kernel: KernelObject, names: readonly string[]): number {
  let n = 0;
  for (const name of names) {
    const want = entries(kernel, name);
    assert.deepEqual(entries(vm, name), want, `map '${name}'`);
    n += want.length;
  }
  return n;
}
