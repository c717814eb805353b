/**
 * Runs one hand-written program in the VM's interpreter (with the map helpers) and in the
 * kernel (BPF_PROG_TEST_RUN of a socket filter), over maps made alike on both sides. In the
 * source, `rN = map(name)` loads a map pointer: a plain 64-bit immediate of the map object's
 * address in the VM, `lddw rN, map fd` (pseudo source 1) in the kernel.
 */
import assert from 'node:assert/strict';
import { assemble, encodeProgram } from '../../../src/isa/index.js';
import { loadProgram, ProgramType, testRun } from '../../../src/kernel/index.js';
import { Interpreter, mapHelpers, MapRegistry, Memory, type MapOptions, type VmMap } from '../../../src/vm/index.js';
import { hex, KernelMap, possibleCpus } from '../maps/kernel-maps.js';
import { joinValue, splitPerCpu } from '../maps/differential.js';

/** A map on both sides. */
export interface Both {
  readonly vm: VmMap;
  readonly kernel: KernelMap;
}

/** The two worlds a program runs in. */
export class Sides implements Disposable {
  readonly registry = new MapRegistry(new Memory(), { cpus: possibleCpus(), cpu: 0 });
  readonly maps = new Map<string, Both>();

  /** Makes map `name` on both sides (an inner map template is given by name). */
  map(name: string, options: MapOptions & { inner?: string }): Both {
    const inner = options.inner === undefined ? undefined : this.maps.get(options.inner);
    const kernel = KernelMap.create({ ...options, mapExtra: BigInt(options.mapExtra ?? 0), innerMapFd: inner?.kernel.fd ?? 0 });
    if (typeof kernel === 'number') throw new Error(`kernel refused map '${name}': errno ${kernel}`);
    const vm = this.registry.create({ ...options, name, innerMap: inner?.vm });
    const both = { vm, kernel };
    this.maps.set(name, both);
    return both;
  }

  #source(text: string, side: 'vm' | 'kernel'): Uint8Array {
    const lines = text.split('\n').map((line) => line.replace(/^(\s*)(r\d+) = map\((\w+)\)\s*$/, (_, indent: string, reg: string, name: string) => {
      const m = this.maps.get(name);
      if (m === undefined) throw new Error(`no map '${name}'`);
      return side === 'vm' ? `${indent}${reg} = 0x${m.vm.address.toString(16)} ll` : `${indent}ld_pseudo ${reg}, 1, ${m.kernel.fd}`;
    }));
    return encodeProgram(assemble(lines.join('\n')));
  }

  /** Runs `text` on both sides; returns the VM's r0 after checking the kernel's low 32 bits agree. */
  run(text: string): bigint {
    const vm = new Interpreter(this.#source(text, 'vm'), { memory: this.registry.memory, helpers: mapHelpers(this.registry) });
    const r0 = vm.run(0).r0;
    using program = loadProgram({ type: ProgramType.SOCKET_FILTER, instructions: this.#source(text, 'kernel'), license: 'GPL', name: 'both' });
    const kernelR0 = testRun(program, { data: new Uint8Array(64) }).retval;
    assert.equal(Number(r0 & 0xffffffffn), kernelR0, `r0: VM 0x${r0.toString(16)}, kernel 0x${kernelR0.toString(16)}`);
    return r0;
  }

  /** Compares the contents of map `name` on both sides (in get_next_key order when `ordered`); returns the element count. */
  compare(name: string, ordered = true): number {
    const { vm, kernel } = this.maps.get(name)!;
    const kernelKeys = kernel.keys();
    const vmKeys = [...vm.keys()];
    if (ordered) assert.deepEqual(vmKeys.map(hex), kernelKeys.map(hex), `keys of '${name}'`);
    else assert.deepEqual(vmKeys.map(hex).sort(), kernelKeys.map(hex).sort(), `keys of '${name}'`);
    for (const key of kernelKeys) {
      const want = kernel.lookup(key);
      const got = vm.lookup(key);
      assert.equal(want.errno, 0);
      assert.ok(got !== undefined, `'${name}' ${hex(key)} missing in the VM`);
      if (vm.perCpu) {
        assert.deepEqual(splitPerCpu(joinValue(got, vm.valueSize), vm.valueSize, this.registry.cpus).map(hex),
          splitPerCpu(want.bytes!, vm.valueSize, this.registry.cpus).map(hex), `'${name}' ${hex(key)}`);
      } else assert.equal(hex(got as Uint8Array), hex(want.bytes), `'${name}' value of ${hex(key)}`);
    }
    return kernelKeys.length;
  }

  [Symbol.dispose](): void {
    for (const { vm, kernel } of this.maps.values()) {
      vm.close();
      kernel.close();
    }
  }
}
