/**
 * {@link VmProgram}: a program of an object loaded into the VM — its interpreter, a test run
 * with the kernel's BPF_PROG_TEST_RUN shape, and a direct run with register arguments.
 */
import { NotSupportedError } from '../../errors.js';
import { ProgramType } from '../../object/uapi-types.js';
import type { LoadedProgram, TestRunInput, TestRunOutput } from '../../object/loaded.js';
import type { ProgramSpec } from '../../object/spec.js';
import type { Interpreter, RunResult } from '../interpreter.js';
import type { MapRegistry } from '../maps/registry.js';
import type { Region } from '../memory.js';
import { contextModel, type ContextModels } from './context.js';
import type { VmAttachOptions, VmHooks, VmLink } from './hooks.js';
import { attachSocketProgram, type VmSocketAttachOptions } from '../sockets/attach.js';

/** A VM test run's outcome: the kernel's fields, and r0 whole with the instructions executed. */
export interface VmTestRunOutput extends TestRunOutput {
  /** r0 of the last run, all 64 bits. */
  readonly r0: bigint;
  /** Instructions the last run executed (tail-called programs included). */
  readonly instructions: number;
}

/** What a {@link VmProgram} needs from its object. */
export interface VmProgramParts {
  readonly spec: ProgramSpec;
  readonly registry: MapRegistry;
  readonly contexts: ContextModels;
  /**
   * The packet of the test run under way, shared by the object's programs (a tail-called
   * socket filter's ld_abs reads its caller's packet): the interpreters' `packet` option reads it.
   */
  readonly current: { packet: Region | undefined };
  /** Throws once the object is disposed. */
  readonly checkOpen: () => void;
  /** The object's hooks (tracepoints, probes, perf events) its tracing programs attach to. */
  readonly hooks: VmHooks;
}

/**
 * A program loaded into the VM.
 *
 * @example
 * const { retval } = obj.programs.count_syscall.testRun({ ctx: args });
 * obj.programs.on_packet.run(ctxAddress);          // r1 = ctxAddress
 */
export class VmProgram implements LoadedProgram<TestRunInput, VmTestRunOutput, VmAttachOptions, VmLink> {
  readonly name: string;
  readonly spec: ProgramSpec;
  /** The interpreter that runs it (shared registers and stack with the object's other programs). */
  readonly interpreter: Interpreter;
  readonly #parts: VmProgramParts;

  /** @internal Made by `loadObjectVm`. */
  constructor(interpreter: Interpreter, parts: VmProgramParts) {
    this.interpreter = interpreter;
    this.spec = parts.spec;
    this.name = parts.spec.name;
    this.#parts = parts;
  }

  /** `ProgramType.*`. */
  get type(): number {
    return this.spec.type;
  }

  /** The id program arrays hold for this program (the VM's counterpart of a program id). */
  get id(): number {
    return this.#parts.registry.registerProgram(this.interpreter);
  }

  /**
   * Runs the program once with r1..r5 (numbers or bigints; a context address, typically, in
   * r1). Throws a VmError on a fault.
   */
  run(r1: number | bigint = 0, r2: number | bigint = 0, r3: number | bigint = 0, r4: number | bigint = 0, r5: number | bigint = 0): RunResult {
    this.#parts.checkOpen();
    return this.interpreter.run(r1, r2, r3, r4, r5);
  }

  /**
   * Runs the program on `input` as BPF_PROG_TEST_RUN would: the context model of its type (see
   * context.ts) lays out `ctx` and `data`, the program runs `repeat` times, and the outputs come
   * back with `retval` (r0 truncated to 32 bits) and the mean duration. Throws
   * NotSupportedError when the VM has no context model for the program's type.
   */
  testRun(input: TestRunInput = {}): VmTestRunOutput {
    this.#parts.checkOpen();
    const target = { name: this.name, type: this.spec.type, expectedAttachType: this.spec.expectedAttachType };
    const memory = this.interpreter.memory;
    const prepared = contextModel(this.#parts.contexts, target)(memory, input, target);
    const current = this.#parts.current;
    try {
      current.packet = prepared.packet;
      const repeat = Math.max(1, input.repeat ?? 1);
      const start = performance.now();
      let result: RunResult | undefined;
      for (let i = 0; i < repeat; i++) result = this.interpreter.run(prepared.ctx);
      const durationNs = Math.round(((performance.now() - start) * 1e6) / repeat);
      const r0 = result!.r0;
      return { retval: Number(r0 & 0xffffffffn), ...prepared.finish(r0), durationNs, r0, instructions: result!.instructions };
    } finally {
      current.packet = undefined;
      prepared.release();
    }
  }

  /**
   * Attaches the program to the VM hook its type and section name (see hooks.ts): tracepoint
   * `category:name`, raw tracepoint, kprobe/uprobe function, perf event. Closing the link
   * detaches it. Throws NotSupportedError for program types the VM has no hook for.
   *
   * @example
   * using link = obj.programs.on_request.attach();     // SEC("tp/app/request")
   * obj.tracepoint('app:request', { status: 200 });
   */
  attach(options: VmAttachOptions & VmSocketAttachOptions = {}): VmLink {
    this.#parts.checkOpen();
    switch (this.spec.type) {
      case ProgramType.TRACEPOINT:
      case ProgramType.RAW_TRACEPOINT:
      case ProgramType.KPROBE:
      case ProgramType.PERF_EVENT:
        return this.#parts.hooks.attach(this, options);
      case ProgramType.SK_MSG:
      case ProgramType.SK_SKB:
      case ProgramType.SOCK_OPS:
        return attachSocketProgram(this, this.#parts.registry, options);
      default:
        throw new NotSupportedError(`attach program '${this.name}': the VM has no hook for its program type yet`);
    }
  }
}
