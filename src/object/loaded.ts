/**
 * The loaded-object interface both backends implement (ARCHITECTURE.md: "One loaded-object
 * interface for both backends"): the kernel's `loadObject` and the VM's `loadObjectVm` give
 * back objects of this shape. Types only, platform-neutral.
 */

/** A map of a loaded object, with JavaScript keys and values (BTF-decoded where the map has BTF). */
export interface LoadedMap<K = unknown, V = unknown> extends Iterable<[K, V]> {
  /** The map's name in the object (`counters`, `.rodata`). */
  readonly name: string;
  /** `MapType.*`. */
  readonly type: number;
  /** The value at `key`, or undefined. Per-CPU maps give one value per possible CPU. */
  get(key: K): V | undefined;
  has(key: K): boolean;
  /** Sets `key` to `value`; `flags` is `UpdateFlag.ANY` (default), `NOEXIST` or `EXIST`. */
  set(key: K, value: V, flags?: number): this;
  /** Deletes `key`; false when it was not there. */
  delete(key: K): boolean;
  keys(): Iterable<K>;
  values(): Iterable<V>;
  entries(): Iterable<[K, V]>;
}

/** A program of a loaded object. */
export interface LoadedProgram<RunOptions = unknown, RunResult = unknown, AttachOptions = unknown, AttachedLink = unknown> {
  /** The entry function's name. */
  readonly name: string;
  /** `ProgramType.*`. */
  readonly type: number;
  /** Runs the program on given input (BPF_PROG_TEST_RUN in the kernel). */
  testRun(options?: RunOptions): RunResult;
  /** Attaches it (where its section says, by default); closing the link detaches it. */
  attach(options?: AttachOptions): AttachedLink;
}

/** An object whose maps exist and whose programs are loaded. Disposing it releases everything. */
export interface LoadedObject<P extends LoadedProgram = LoadedProgram, M extends LoadedMap = LoadedMap> extends Disposable {
  /** Loaded programs by name. */
  readonly programs: Readonly<Record<string, P>>;
  /** Maps by name (global data maps by section name: `.data`, `.rodata`, `.bss`). */
  readonly maps: Readonly<Record<string, M>>;
  /** Releases every map, program and link of the object. Idempotent. */
  dispose(): void;
}

/** The input of a test run, as BPF_PROG_TEST_RUN takes it. */
export interface TestRunInput {
  /** Packet (or other data) given to the program: for skb and XDP programs, from the Ethernet header. */
  data?: Uint8Array;
  /** Context given to the program (`struct __sk_buff`, `struct xdp_md`, raw tracepoint args, …). */
  ctx?: Uint8Array;
  /** Number of runs; `durationNs` is their average. Default 1. */
  repeat?: number;
}

/** The outcome of a test run, as BPF_PROG_TEST_RUN reports it. */
export interface TestRunOutput {
  /** The program's return value: r0, truncated to 32 bits. */
  retval: number;
  /** The data after the run. */
  dataOut: Uint8Array;
  /** The context after the run, when there is one. */
  ctxOut: Uint8Array | undefined;
  /** Average duration of one run, in nanoseconds. */
  durationNs: number;
}
