/**
 * The same object in the kernel, for comparisons with the VM: a minimal loader over the raw
 * syscalls (not the kernel backend's loadObject, so the VM's tests depend only on what they
 * compare) — the object's BTF for func_info (bpf_loop callbacks need it), maps made from the
 * spec with global data written and `.rodata` frozen, references patched with map fds,
 * programs loaded as they are (no CO-RE), program arrays filled.
 */
import { serializeBtf } from '../../../src/btf/serialize.js';
import { encodeSlots, toSlots } from '../../../src/isa/encode.js';
import type { ObjectSpec } from '../../../src/object/index.js';
import { loadBtf, type KernelBtf } from '../../../src/kernel/btf-load.js';
import { createMap, type KernelMap } from '../../../src/kernel/map.js';
import { loadProgram, type Program } from '../../../src/kernel/program.js';
import { testRun } from '../../../src/kernel/test-run.js';
import { MapType } from '../../../src/kernel/map-types.js';

const u32 = (n: number): Uint8Array => Uint8Array.of(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24);

/** An object's maps and programs in the kernel. */
export class KernelObjectForTest implements Disposable {
  readonly maps = new Map<string, KernelMap>();
  readonly programs = new Map<string, Program>();
  readonly #btf: KernelBtf | undefined;

  constructor(spec: ObjectSpec, names: readonly string[] = spec.programs.map((p) => p.name)) {
    try {
      this.#btf = spec.btf === undefined ? undefined : loadBtf(serializeBtf(spec.btf));
      for (const m of spec.maps) {
        const map = createMap({
          type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags,
          name: m.name.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 15),
        });
        this.maps.set(m.name, map);
        if (m.data !== undefined) {
          map.update(u32(0), m.data);
          if (m.origin === 'rodata') map.freeze();
        }
      }
      for (const name of names) {
        const p = spec.program(name)!;
        const slots = toSlots(p.instructions).slice();
        for (const ref of p.references) {
          if (ref.kind !== 'map' && ref.kind !== 'map_value') throw new Error(`${name}: ${ref.kind} references are not handled here`);
          slots[ref.slot] = { ...slots[ref.slot]!, imm: this.maps.get(ref.map)!.fd };
        }
        this.programs.set(name, loadProgram({
          type: p.type, instructions: encodeSlots(slots), license: p.license, name: name.slice(0, 15), flags: p.programFlags,
          ...(this.#btf === undefined ? {} : { btf: this.#btf, funcInfo: p.funcInfo.map((f) => ({ insnOff: f.slot, typeId: f.typeId })) }),
        }));
      }
      for (const m of spec.maps) {
        if (m.type !== MapType.PROG_ARRAY) continue;
        for (const slot of m.slots) {
          const program = this.programs.get(slot.name);
          if (program !== undefined) this.maps.get(m.name)!.setFd(u32(slot.index), program);
        }
      }
    } catch (err) {
      this[Symbol.dispose]();
      throw err;
    }
  }

  /** BPF_PROG_TEST_RUN of program `name` on `data`: its retval. */
  run(name: string, data: Uint8Array): number {
    return testRun(this.programs.get(name)!, { data }).retval;
  }

  /** The single value of global-data map `name`. */
  data(name: string): Uint8Array {
    return this.maps.get(name)!.lookup(u32(0))!;
  }

  [Symbol.dispose](): void {
    for (const p of this.programs.values()) p.close();
    for (const m of this.maps.values()) m.close();
    this.#btf?.close();
  }
}
