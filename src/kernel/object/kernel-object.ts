/**
 * {@link KernelObject}: what `loadObject` returns — the loaded programs and maps of one object,
 * released together by `dispose()` (or by the garbage collector as a last resort) — and the
 * options of loading.
 */
import type { Btf } from '../../btf/btf.js';
import type { LoadObjectOptions, ObjectSpec } from '../../object/index.js';
import type { KernelBtf } from '../btf-load.js';
import type { Syscalls } from '../syscalls.js';
import type { LoadedObject } from './loaded-object.js';
import type { ObjectMap } from './object-map.js';
import type { ObjectProgram } from './object-program.js';
import { forgottenObjects, type Scope } from './scope.js';

/** Options of {@link loadObject}. */
export interface KernelObjectOptions {
  /** Program types for sections libbpf does not know (or to override), by program or section name. */
  programTypes?: LoadObjectOptions['programTypes'];
  /** `.rodata` constants to set before load (`setConstant`): the verifier sees them as constants. */
  constants?: Readonly<Record<string, unknown>>;
  /** Initial values of `.data`/`.bss` variables (`setVariable`). */
  variables?: Readonly<Record<string, unknown>>;
  /** Programs to load, by name; default every program whose section has no leading `?`. */
  programs?: readonly string[];
  /** Verifier log level (`LogLevel.*`) for every program; the log is then on `programs.X.log`. */
  logLevel?: number;
  /** Initial verifier log buffer size. */
  logSize?: number;
  /** Directory of maps pinned by name (LIBBPF_PIN_BY_NAME); default /sys/fs/bpf. */
  pinPath?: string;
  /**
   * libbpf's object name (the file name up to its first dot), which global-data maps are
   * named after in the kernel (`globals.rodata`). Without it they take their section's name.
   */
  objectName?: string;
  /** Target BTF for CO-RE relocations; default the kernel's (vmlinux, then modules). */
  targetBtf?: Btf | readonly Btf[];
  /** Extra `CONFIG_X=value` lines for `__kconfig` externs, read before the kernel's configuration. */
  kconfig?: string;
  /**
   * Keep going when a program fails to load (its CO-RE, or the verifier): the others load, and
   * the failures are listed in `failures` (bpftool prog loadall's view, per program). By
   * default the first failure throws and nothing stays loaded, as libbpf does.
   */
  partial?: boolean;
  syscalls?: Syscalls;
}

/** A program that did not load (with `partial`). */
export interface ProgramFailure {
  readonly name: string;
  readonly error: Error;
  /** The verifier log, when the kernel refused it. */
  readonly log: string | undefined;
}

/** `loadObject`'s result: the loaded object. Dispose it (or `using`) to release everything. */
export class KernelObject implements LoadedObject<ObjectProgram, ObjectMap> {
  readonly spec: ObjectSpec;
  readonly programs: Readonly<Record<string, ObjectProgram>>;
  readonly maps: Readonly<Record<string, ObjectMap>>;
  /** Programs that failed to load (only with `partial`). */
  readonly failures: Readonly<Record<string, ProgramFailure>>;
  /** The object's BTF in the kernel, when the kernel took it. */
  readonly btf: KernelBtf | undefined;
  /** Why the kernel refused the object's BTF (loading went on without it, as libbpf does). */
  readonly btfError: Error | undefined;
  readonly #scope: Scope;

  /** Built by `loadObject`. */
  constructor(parts: {
    spec: ObjectSpec; scope: Scope; btf: KernelBtf | undefined; btfError: Error | undefined;
    programs: Record<string, ObjectProgram>; maps: Record<string, ObjectMap>; failures: Record<string, ProgramFailure>;
  }) {
    this.spec = parts.spec;
    this.#scope = parts.scope;
    this.btf = parts.btf;
    this.btfError = parts.btfError;
    this.programs = parts.programs;
    this.maps = parts.maps;
    this.failures = parts.failures;
    forgottenObjects.register(this, parts.scope, this);
  }

  /** True once disposed. */
  get disposed(): boolean {
    return this.#scope.closed;
  }

  /** Closes every fd of the object: links made through it, programs, maps, BTF. Idempotent. */
  dispose(): void {
    forgottenObjects.unregister(this);
    this.#scope.close();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
