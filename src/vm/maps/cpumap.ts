/**
 * BPF_MAP_TYPE_CPUMAP (kernel/bpf/cpumap.c): CPUs to redirect XDP frames to, indexed by CPU
 * number. A value is `struct bpf_cpumap_val` — `u32 qsize` (value_size 4) or `{ u32 qsize;
 * int bpf_prog.fd }` (value_size 8, a BPF_XDP_CPUMAP program run on the remote CPU; reads
 * give its id). qsize 0 empties the slot; above 16384 is EOVERFLOW; a CPU that is not one of the
 * registry's possible CPUs is ENODEV. Programs may only bpf_redirect_map to it.
 */
import type { Region } from '../memory.js';
import { arrayNextKey } from './array.js';
import { REDIRECT_VAL_SIZE, resolveRedirectProgram } from './devmap.js';
import { Errno } from './errno.js';
import { BPF_EXIST, BPF_NOEXIST } from './flags.js';
import { BaseMap, type MapInfo, type MapValue, u32, u32Bytes } from './map.js';
import type { MapRegistry } from './registry.js';

/** The kernel's sanity limit on a CPU's queue size. */
export const CPUMAP_MAX_QSIZE = 16384;
/** BPF_XDP_CPUMAP (enum bpf_attach_type). */
const BPF_XDP_CPUMAP = 35;

/** One CPU's entry. */
export interface CpumapEntry {
  readonly cpu: number;
  readonly qsize: number;
  readonly programId: number;
  readonly program: unknown;
  readonly region: Region;
}

/** BPF_MAP_TYPE_CPUMAP. */
export class CpuMap extends BaseMap {
  readonly #slots = new Map<number, CpumapEntry>();

  constructor(registry: MapRegistry, info: Omit<MapInfo, 'id'>) {
    super(registry, info);
  }

  /** __cpu_map_lookup_elem: the entry of `cpu`, if any. */
  entry(cpu: number): CpumapEntry | undefined {
    return cpu >>> 0 < this.maxEntries ? this.#slots.get(cpu >>> 0) : undefined;
  }

  /** cpu_map_update_elem. */
  protected sysUpdate(key: Uint8Array | undefined, value: MapValue, flags: bigint): number {
    const cpu = u32(key!);
    const v = value as Uint8Array;
    const qsize = u32(v);
    const fd = this.valueSize >= 8 ? u32(v, 4) | 0 : 0;
    if (flags > BPF_EXIST) return -Errno.EINVAL;
    if (cpu >= this.maxEntries) return -Errno.E2BIG;
    if (flags === BPF_NOEXIST) return -Errno.EEXIST;
    if (qsize > CPUMAP_MAX_QSIZE) return -Errno.EOVERFLOW;
    if (cpu >= this.registry.cpus) return -Errno.ENODEV;
    let entry: CpumapEntry | undefined;
    if (qsize !== 0) {
      let programId = 0;
      let program: unknown;
      if (fd > 0) {
        const p = resolveRedirectProgram(this.registry, fd, BPF_XDP_CPUMAP);
        // __cpu_map_entry_alloc fails as a whole, and the update reports ENOMEM.
        if (typeof p === 'number') return -Errno.ENOMEM;
        ({ id: programId, program } = p);
      }
      const init = new Uint8Array(REDIRECT_VAL_SIZE);
      init.set(u32Bytes(qsize), 0);
      init.set(u32Bytes(programId), 4);
      const region = this.registry.memory.alloc(REDIRECT_VAL_SIZE, { kind: 'map_value', name: `map '${this.name}' cpu ${cpu}`, writable: false, init });
      entry = { cpu, qsize, programId, program, region };
    }
    this.#free(cpu);
    if (entry !== undefined) this.#slots.set(cpu, entry);
    return 0;
  }

  #free(cpu: number): void {
    const old = this.#slots.get(cpu);
    if (old === undefined) return;
    this.registry.memory.release(old.region);
    this.#slots.delete(cpu);
  }

  /** cpu_map_lookup_elem: `{ qsize, prog id }`. */
  protected sysLookup(key: Uint8Array | undefined): MapValue | number {
    const e = this.entry(u32(key!));
    if (e === undefined) return -Errno.ENOENT;
    return this.registry.memory.bytes.slice(e.region.start, e.region.start + this.valueSize);
  }

  /** cpu_map_delete_elem: any CPU in range, present or not. */
  protected sysDelete(key: Uint8Array | undefined): number {
    const cpu = u32(key!);
    if (cpu >= this.maxEntries) return -Errno.EINVAL;
    this.#free(cpu);
    return 0;
  }

  protected sysNextKey(key: Uint8Array | undefined): Uint8Array | number {
    return arrayNextKey(key, this.maxEntries);
  }

  protected release(): void {
    for (const cpu of [...this.#slots.keys()]) this.#free(cpu);
  }
}
