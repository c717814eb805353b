/**
 * One hand-written program of any type run in the VM's interpreter (with every helper table of
 * the VM, over a {@link VmHost}) and in the kernel (BPF_PROG_TEST_RUN), over maps made alike on
 * both sides. `rN = map(name)` loads a map pointer: the VM map object's address, or
 * `lddw rN, map fd` (pseudo source 1) in the kernel. Maps whose host values differ between the
 * sides (fds, ids) are filled by the test on each side.
 */
import { assemble, encodeProgram } from '../../../src/isa/index.js';
import { loadProgram, testRun, type Program, type TestRunOptions } from '../../../src/kernel/index.js';
import { bindHostEnvironment, Interpreter, MapRegistry, Memory, VmHost, type MapOptions, type VmHostOptions, type VmMap } from '../../../src/vm/index.js';
import { mergeHelperTables, vmHelperTables } from '../../../src/vm/object/helper-tables.js';
import { KernelMap, possibleCpus } from './kernel-maps.js';

/** A map on both sides. */
export interface BothMaps {
  readonly vm: VmMap;
  readonly kernel: KernelMap;
}

/** The two worlds a program runs in. */
export class ProgramSides implements Disposable {
  readonly registry = new MapRegistry(new Memory(), { cpus: possibleCpus(), cpu: 0 });
  readonly host: VmHost;
  readonly maps = new Map<string, BothMaps>();
  readonly #programs: Program[] = [];

  constructor(host: VmHostOptions = {}) {
    this.host = new VmHost({ seed: 1, ...host });
    bindHostEnvironment(this.registry, this.host);
  }

  /** Makes map `name` on both sides. */
  map(name: string, options: MapOptions): BothMaps {
    const kernel = KernelMap.create({ ...options, mapExtra: BigInt(options.mapExtra ?? 0) });
    if (typeof kernel === 'number') throw new Error(`kernel refused map '${name}': errno ${kernel}`);
    const vm = this.registry.create({ ...options, name });
    const both = { vm, kernel };
    this.maps.set(name, both);
    return both;
  }

  /** The program's bytecode for one side. */
  source(text: string, side: 'vm' | 'kernel'): Uint8Array {
    const lines = text.split('\n').map((line) => line.replace(/^(\s*)(r\d+) = map\((\w+)\)\s*$/, (_, indent: string, reg: string, name: string) => {
      const m = this.maps.get(name);
      if (m === undefined) throw new Error(`no map '${name}'`);
      return side === 'vm' ? `${indent}${reg} = 0x${m.vm.address.toString(16)} ll` : `${indent}ld_pseudo ${reg}, 1, ${m.kernel.fd}`;
    }));
    return encodeProgram(assemble(lines.join('\n')));
  }

  /** The VM interpreter of `text`, with the VM's helper tables. */
  vmProgram(text: string): Interpreter {
    const helpers = mergeHelperTables(vmHelperTables({ registry: this.registry, host: this.host }));
    return new Interpreter(this.source(text, 'vm'), { memory: this.registry.memory, helpers });
  }

  /** The kernel program of `text` (closed with the sides). */
  kernelProgram(text: string, type: number, expectedAttachType?: number): Program {
    const p = loadProgram({
      type, instructions: this.source(text, 'kernel'), license: 'GPL', name: 'sides',
      ...(expectedAttachType === undefined ? {} : { expectedAttachType }),
    });
    this.#programs.push(p);
    return p;
  }

  /** BPF_PROG_TEST_RUN's retval. */
  kernelRun(program: Program, options: TestRunOptions): number {
    return testRun(program, options).retval;
  }

  [Symbol.dispose](): void {
    for (const p of this.#programs) p.close();
    for (const { vm, kernel } of this.maps.values()) {
      vm.close();
      kernel.close();
    }
  }
}

/** Little-endian u32 words as bytes. */
export function u32s(...words: number[]): Uint8Array {
  const out = new Uint8Array(words.length * 4);
  const v = new DataView(out.buffer);
  words.forEach((w, i) => v.setUint32(i * 4, w >>> 0, true));
  return out;
}
