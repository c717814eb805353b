/**
 * How a VM program receives its input in a test run: a context model lays the input out in VM
 * memory (a context struct, a packet) and reads the outputs back. Models for the packet
 * program types (`__sk_buff`, `xdp_md`) come from src/vm/programs through the
 * `contexts` option of `loadObjectVm`; the types whose context is plain bytes — syscall, raw
 * tracepoint, tracing (fentry …), kprobe and tracepoint programs — have one here.
 */
import { EbpfError, NotSupportedError } from '../../errors.js';
import type { TestRunInput } from '../../object/loaded.js';
import { ProgramType, programTypeName } from '../../object/uapi-types.js';
import type { Memory, Region } from '../memory.js';
import { flowDissectorContextModel } from './context-flow.js';
import { packetContextModels } from './context-packet.js';
import { skLookupContextModel } from './context-sk-lookup.js';

/** One run's input, laid out in VM memory. */
export interface PreparedRun {
  /** What r1 holds: the context's address (0 without a context). */
  readonly ctx: number;
  /** The packet that legacy `ld_abs`/`ld_ind` loads read (socket filters), if any. */
  readonly packet?: Region;
  /** After a run with result `r0`: the data and the context as BPF_PROG_TEST_RUN returns them. */
  finish(r0: bigint): { dataOut: Uint8Array; ctxOut: Uint8Array | undefined };
  /** Frees what the model allocated. */
  release(): void;
}

/** The program a context is made for. */
export interface ContextTarget {
  readonly name: string;
  readonly type: number;
  readonly expectedAttachType: number;
}

/** Lays out a test run's input for programs of one type. Throws (like the kernel's EINVAL) for input the type refuses. */
export type ContextModel = (memory: Memory, input: TestRunInput, program: ContextTarget) => PreparedRun;

/** Context models by program type (`ProgramType.*`). */
export type ContextModels = ReadonlyMap<number, ContextModel>;

/**
 * The context as plain bytes: `ctx` copied into a writable region whose address is r1 (r1 0
 * without one), read back as `ctxOut`. No data: as the kernel's raw_tp and syscall test runs,
 * input data is refused.
 */
export const rawContext: ContextModel = (memory, input, program) => {
  if (input.data !== undefined && input.data.length > 0) {
    throw new EbpfError(`test run program '${program.name}': ${programTypeName(program.type)} programs take no data, only a context`);
  }
  const bytes = input.ctx;
  const region = bytes === undefined || bytes.length === 0
    ? undefined
    : memory.alloc(bytes.length, { kind: 'context', name: `ctx of '${program.name}'`, init: bytes });
  return {
    ctx: region?.start ?? 0,
    finish: () => ({ dataOut: new Uint8Array(0), ctxOut: region === undefined ? undefined : memory.bytes.slice(region.start, region.end) }),
    release: () => { if (region !== undefined) memory.release(region); },
  };
};

/** The VM's models: program types whose context is plain bytes, and the packet types (context-packet.ts). */
export const defaultContextModels: ContextModels = new Map<number, ContextModel>([
  ...packetContextModels,
  [ProgramType.SYSCALL, rawContext],
  [ProgramType.RAW_TRACEPOINT, rawContext],
  [ProgramType.RAW_TRACEPOINT_WRITABLE, rawContext],
  [ProgramType.TRACING, rawContext],
  [ProgramType.KPROBE, rawContext],
  [ProgramType.TRACEPOINT, rawContext],
  [ProgramType.FLOW_DISSECTOR, flowDissectorContextModel],
  [ProgramType.SK_LOOKUP, skLookupContextModel],
]);

/** The model for `program`'s type, or a NotSupportedError saying none is there. */
export function contextModel(models: ContextModels, program: ContextTarget): ContextModel {
  const model = models.get(program.type);
  if (model === undefined) {
    throw new NotSupportedError(`test run program '${program.name}': the VM has no context model for ${programTypeName(program.type)} ` +
      '(pass one in the `contexts` option, or call run() with a context address)');
  }
  return model;
}
