/**
 * Map values with a bpf_spin_lock or a bpf_timer (src/vm/maps/value-fields.ts,
 * src/vm/object/btf-fields.ts): where the fields are found in a value's BTF, and which map
 * types and flags may hold them — each map created in the kernel (BPF_MAP_CREATE with the
 * fixture's BTF) and in the VM, with the same answer (success or errno).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serializeBtf } from '../../../src/btf/serialize.js';
import { loadBtf } from '../../../src/kernel/btf-load.js';
import { createMap } from '../../../src/kernel/map.js';
import { loadObjectSpec, type MapSpec } from '../../../src/object/index.js';
import { MapFlag, MapType } from '../../../src/vm/maps/flags.js';
import { MapRegistry } from '../../../src/vm/maps/registry.js';
import { mapValueFields } from '../../../src/vm/object/btf-fields.js';
import { kernelSkip } from '../../support/kernel.js';
import { fixture } from './kernel-compare.js';

/** The BTF of a fixture and the id of its struct `name`. */
function valueType(object: string, name: string): { spec: ReturnType<typeof loadObjectSpec>; id: number; size: number; keyId: number } {
  const spec = loadObjectSpec(fixture(object));
  const id = spec.btf!.findByName(name, 'struct')[0]!;
  return { spec, id, size: spec.btf!.sizeof(id), keyId: spec.btf!.findByName('__u32', 'typedef')[0]! };
}

const errnoOf = (f: () => unknown): number => {
  try {
    (f() as { close?: () => void } | undefined)?.close?.();
    return 0;
  } catch (err) {
    const errno = (err as { errno?: unknown }).errno;
    if (typeof errno !== 'number') throw err;
    return errno;
  }
};

describe('special fields of map values', () => {
  it('are found in the value\'s BTF: members, global data', () => {
    const lock = loadObjectSpec(fixture('vm_spin_lock'));
    assert.deepEqual(mapValueFields(lock.btf, lock.map('counters')!), { spinLock: 8 });
    assert.deepEqual(mapValueFields(lock.btf, lock.map('totals')!), { spinLock: 0 });
    // In global data, at the variable's offset in the section.
    const bss = lock.btf!.type(lock.map('.bss')!.valueTypeId);
    assert.ok(bss.kind === 'datasec');
    const glock = bss.vars.find((v) => lock.btf!.type(v.type).name === 'glock')!;
    assert.deepEqual(mapValueFields(lock.btf, lock.map('.bss')!), { spinLock: glock.offset });
    const timer = loadObjectSpec(fixture('vm_timer'));
    assert.deepEqual(mapValueFields(timer.btf, timer.map('timers')!), { timer: 8 });
    assert.equal(mapValueFields(timer.btf, timer.map('.bss')!), undefined);
  });

  it('map types and flags that may hold them, as the kernel decides', { skip: kernelSkip() }, () => {
    const types = [MapType.HASH, MapType.ARRAY, MapType.LRU_HASH, MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH];
    const registry = new MapRegistry();
    let compared = 0;
    try {
      for (const [object, struct] of [['vm_spin_lock', 'counter'], ['vm_timer', 'elem']] as const) {
        const { spec, id, size, keyId } = valueType(object, struct);
        using btf = loadBtf(serializeBtf(spec.btf!));
        const fields = mapValueFields(spec.btf, { valueTypeId: id, name: struct } as MapSpec);
        assert.ok(fields !== undefined);
        for (const type of types) {
          for (const flags of [0, MapFlag.RDONLY_PROG, MapFlag.NO_PREALLOC]) {
            const options = { type, keySize: 4, valueSize: size, maxEntries: 4, flags };
            const kernel = errnoOf(() => createMap({ ...options, btfFd: btf.fd, btfKeyTypeId: keyId, btfValueTypeId: id, name: 'fields' }));
            const vm = errnoOf(() => registry.create({ ...options, fields, name: 'fields' }));
            assert.equal(vm, kernel, `${struct} in map type ${type} flags 0x${flags.toString(16)}`);
            compared++;
          }
        }
      }
    } finally {
      registry[Symbol.dispose]();
    }
    assert.equal(compared, 36);
  });
});
