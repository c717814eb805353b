/**
 * The error of a CO-RE relocation that cannot be applied, in the cases where libbpf fails the
 * whole load (a relocation it can resolve to "absent" poisons its instruction instead).
 */
import { EbpfError } from '../errors.js';
import { coreRelocationKindName } from './core-kind.js';

/** Errno names libbpf returns for a failed relocation. */
export type CoreErrorCode = 'EINVAL' | 'E2BIG' | 'ERANGE' | 'EOPNOTSUPP';

/** What a `CoreError` is about; every field that was known when it failed. */
export interface CoreErrorContext {
  /** Program name, when the caller gave one. */
  readonly program?: string | undefined;
  /** Index of the relocation in the list given to `applyCoreRelocations`. */
  readonly relocationIndex: number;
  /** Slot index (8-byte units) of the relocated instruction, when it was found. */
  readonly insnIndex?: number | undefined;
  /** The relocation kind (`CoreRelocationKind`). */
  readonly kind: number;
  /** Local root type id. */
  readonly typeId: number;
  /** Local root type as libbpf names it: `[12] struct task_struct`. */
  readonly typeName: string;
  readonly accessStr: string;
}

/**
 * A CO-RE relocation libbpf would refuse: a malformed access string, ambiguous candidates,
 * an instruction that does not hold the expected value, a value that does not fit. The message
 * reads like libbpf's, with the relocation named:
 * `prog 'x': relo #3 at insn #7: [12] struct task_struct + 0:1 (byte_off): field offset ambiguity: 64 != 128`.
 */
export class CoreError extends EbpfError {
  override name = 'CoreError';
  readonly code: CoreErrorCode;
  readonly program: string | undefined;
  readonly relocationIndex: number;
  readonly insnIndex: number | undefined;
  readonly kind: number;
  readonly typeId: number;
  readonly typeName: string;
  readonly accessStr: string;
  /** The reason alone, in libbpf's words where it has some (`field offset ambiguity: 64 != 128`). */
  readonly reason: string;

  constructor(code: CoreErrorCode, reason: string, context: CoreErrorContext, options?: { cause?: unknown }) {
    const prog = context.program === undefined ? '' : `prog '${context.program}': `;
    const insn = context.insnIndex === undefined ? '' : ` at insn #${context.insnIndex}`;
    const what = `${context.typeName} + ${context.accessStr} (${coreRelocationKindName(context.kind)})`;
    super(`${prog}relo #${context.relocationIndex}${insn}: ${what}: ${reason}`, options);
    this.code = code;
    this.reason = reason;
    this.program = context.program;
    this.relocationIndex = context.relocationIndex;
    this.insnIndex = context.insnIndex;
    this.kind = context.kind;
    this.typeId = context.typeId;
    this.typeName = context.typeName;
    this.accessStr = context.accessStr;
  }
}

/**
 * Internal: a failure deep in spec parsing/matching/patching, before the relocation's context
 * is attached. `applyCoreRelocations` turns it into a `CoreError`.
 */
export class CoreFault extends Error {
  override name = 'CoreFault';
  constructor(readonly code: CoreErrorCode, message: string) {
    super(message);
  }
}
