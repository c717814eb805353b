/**
 * The maps of one VM memory. Creating a map here gives it an id and a map object in the
 * memory; a helper turns the map pointer a program passes back into the map with
 * {@link MapRegistry.byAddress}. The registry also holds the CPU model per-CPU maps use: how
 * many CPUs there are and which one the program (and the host's calls) run on.
 */
import { Memory } from '../memory.js';
import { createMap } from './create.js';
import type { MapOptions, VmMap } from './map.js';

/** Options of a {@link MapRegistry}. */
export interface MapRegistryOptions {
  /** Number of possible CPUs: per-CPU maps keep one value per CPU. Default 1. */
  cpus?: number;
  /** The CPU programs and host calls run on (`bpf_get_smp_processor_id()`). Default 0. */
  cpu?: number;
}

const registries = new WeakMap<Memory, MapRegistry>();

/** The registry of `memory`, made with `options` on first use. */
export function mapRegistry(memory: Memory, options?: MapRegistryOptions): MapRegistry {
  let registry = registries.get(memory);
  if (registry === undefined) {
    registry = new MapRegistry(memory, options);
  } else if (options?.cpus !== undefined && options.cpus !== registry.cpus) {
    throw new RangeError(`the map registry of this memory has ${registry.cpus} CPUs, not ${options.cpus}`);
  }
  return registry;
}

/** The maps of one {@link Memory}. */
export class MapRegistry implements Disposable {
  readonly memory: Memory;
  /** Number of possible CPUs. */
  readonly cpus: number;
  #cpu = 0;
  #nextId = 1;
  #nextProgramId = 1;
  readonly #byAddress = new Map<number, VmMap>();
  readonly #byId = new Map<number, VmMap>();
  readonly #programs = new Map<number, unknown>();

  constructor(memory: Memory = new Memory(), options: MapRegistryOptions = {}) {
    if (registries.has(memory)) throw new Error('this memory already has a map registry (use mapRegistry(memory))');
    const cpus = options.cpus ?? 1;
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > 65535) throw new RangeError(`cpus must be 1..65535, not ${cpus}`);
    this.memory = memory;
    this.cpus = cpus;
    this.cpu = options.cpu ?? 0;
    registries.set(memory, this);
  }

  /** The CPU programs and host calls run on, 0 ≤ cpu < cpus. */
  get cpu(): number {
    return this.#cpu;
  }
  set cpu(cpu: number) {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.cpus) throw new RangeError(`cpu ${cpu} is not in 0..${this.cpus - 1}`);
    this.#cpu = cpu;
  }

  /**
   * Creates a map, checking the parameters as the kernel's BPF_MAP_CREATE does. Throws
   * `MapError` with the kernel's errno for parameters it refuses, and `NotSupportedError`
   * for a map type the VM does not implement.
   */
  create(options: MapOptions): VmMap {
    const map = createMap(this, options);
    this.#byAddress.set(map.address, map);
    this.#byId.set(map.id, map);
    return map;
  }

  /** The map whose map object is at `address` (a program's map pointer). */
  byAddress(address: number): VmMap | undefined {
    return this.#byAddress.get(address);
  }

  /** The open map with this id. */
  byId(id: number): VmMap | undefined {
    return this.#byId.get(id);
  }

  /** The open maps, oldest first. */
  get maps(): VmMap[] {
    return [...this.#byId.values()];
  }

  /**
   * Registers a program handle (whatever the caller uses for programs) so that PROG_ARRAY
   * maps can hold it; returns its id, the VM's counterpart of a program fd in map values.
   */
  registerProgram(program: unknown): number {
    for (const [id, p] of this.#programs) if (p === program) return id;
    const id = this.#nextProgramId++;
    this.#programs.set(id, program);
    return id;
  }

  /** The program registered with `id`. */
  program(id: number): unknown {
    return this.#programs.get(id);
  }

  /** Closes every map. */
  [Symbol.dispose](): void {
    for (const map of this.maps) map.close();
  }

  /** @internal A fresh map id. */
  nextId(): number {
    return this.#nextId++;
  }

  /** @internal Called by a map's close(). */
  forget(map: VmMap): void {
    this.#byAddress.delete(map.address);
    this.#byId.delete(map.id);
  }
}
