/**
 * {@link ObjectProgram}: a program of a loaded object (or one opened by id or pin): its fd and
 * kernel info, a test run, attaching, pinning.
 */
import type { CoreRelocationResult } from '../../btf/core.js';
import type { ProgramSpec } from '../../object/spec.js';
import { programInfo, type ProgramInfo } from '../info.js';
import { pinObject } from '../pin.js';
import type { Program } from '../program.js';
import { testRun, type TestRunOptions, type TestRunResult } from '../test-run.js';
import { attachProgram, type AttachOptions } from '../link/attach.js';
import type { Link } from '../link/link.js';
import type { Scope } from './scope.js';

/** How an {@link ObjectProgram} came to be. */
export interface ObjectProgramOptions {
  /** The full name (the kernel keeps 15 characters). */
  readonly name: string;
  readonly spec?: ProgramSpec;
  /** What CO-RE did to it. */
  readonly coreResults?: readonly CoreRelocationResult[];
  /** The loaded object it belongs to (kept alive while the handle is reachable). */
  readonly owner?: object;
  /** The scope links made by {@link ObjectProgram.attach} join (closed with the object). */
  readonly scope?: Scope;
  /** Close the kernel program when this handle closes (standalone handles); objects close their own. */
  readonly owns: boolean;
}

/**
 * A loaded program.
 *
 * @example
 * const { retval } = obj.programs.xdp_pass.testRun({ data: packet });
 * using link = obj.programs.on_exec.attach();        // where its section says
 */
export class ObjectProgram implements Disposable {
  readonly name: string;
  readonly spec: ProgramSpec | undefined;
  /** The kernel handle (owns the fd). */
  readonly program: Program;
  readonly coreResults: readonly CoreRelocationResult[];
  readonly owner: object | undefined;
  readonly #scope: Scope | undefined;
  readonly #owns: boolean;
  #id: number | undefined;

  constructor(program: Program, options: ObjectProgramOptions) {
    this.program = program;
    this.name = options.name;
    this.spec = options.spec;
    this.coreResults = options.coreResults ?? [];
    this.owner = options.owner;
    this.#scope = options.scope;
    this.#owns = options.owns;
  }

  get fd(): number {
    return this.program.fd;
  }

  /** `ProgramType.*`. */
  get type(): number {
    return this.program.type;
  }

  /** The verifier log, when the object was loaded with a `logLevel`. */
  get log(): string {
    return this.program.log;
  }

  /** The kernel's id of the program. */
  get id(): number {
    this.#id ??= this.info().id;
    return this.#id;
  }

  /** The kernel's info (with `xlated`/`jited` instructions on request). */
  info(options: { xlated?: boolean; jited?: boolean } = {}): ProgramInfo {
    return programInfo(this.fd, { ...options, syscalls: this.program.syscalls });
  }

  /** Runs the program once or `repeat` times on `data`/`ctx` (BPF_PROG_TEST_RUN). */
  testRun(options: TestRunOptions = {}): TestRunResult {
    return testRun(this.program, options);
  }

  /**
   * Attaches the program where its section name says (`tp/sched/sched_switch`, `kprobe/…`,
   * `xdp` with `{ ifindex }`, …), or as `options` say. The link is closed with the object, or
   * earlier by the caller.
   */
  attach(options: AttachOptions = {}): Link {
    const section = options.section ?? this.spec?.sectionName.replace(/^\?/, '');
    const link = attachProgram(this.program, section === undefined ? options : { ...options, section });
    if (this.#scope !== undefined && !this.#scope.closed) {
      this.#scope.prune();
      this.#scope.add(link);
    }
    return link;
  }

  /** Pins the program at `path` in a bpffs mount. */
  pin(path: string): void {
    pinObject(this.program, path, { syscalls: this.program.syscalls });
  }

  /** Closes a standalone handle; a loaded object's programs close with the object. */
  close(): void {
    if (this.#owns) this.program.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
