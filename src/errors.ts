/**
 * Error classes shared by every layer. Each error reads as a chain of context
 * (`load program 'x': verifier rejected it: R2 !read_ok (insn 7)`) and carries
 * structured fields a caller can branch on.
 *
 * This module is a leaf: any folder may import it.
 */

/** Base class of every error this package throws on purpose. */
export class EbpfError extends Error {
  override name = 'EbpfError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }

  /** Prefixes the message with context, keeping the original as `cause`. */
  static wrap(context: string, err: unknown): EbpfError {
    const message = err instanceof Error ? err.message : String(err);
    const wrapped = new EbpfError(`${context}: ${message}`, { cause: err });
    return wrapped;
  }
}

/** Bad bytes in a binary format (ELF, BTF, bytecode): says what and at which byte offset. */
export class ParseError extends EbpfError {
  override name = 'ParseError';
  /** Byte offset in the input where the problem was found. */
  readonly offset: number;
  constructor(message: string, offset: number, options?: { cause?: unknown }) {
    super(`${message} (at byte offset ${offset})`, options);
    this.offset = offset;
  }
}

/**
 * Bytecode that does not decode to a valid instruction: unknown opcode, bad register,
 * reserved field in use, truncated `lddw`, jump out of range. `index` is the slot index
 * (8-byte unit) of the offending instruction.
 */
export class InstructionError extends ParseError {
  override name = 'InstructionError';
  readonly index: number;
  constructor(message: string, index: number, options?: { cause?: unknown }) {
    super(`insn ${index}: ${message}`, index * 8, options);
    this.index = index;
  }
}

/** Assembly text that does not assemble; names the 1-based line and column. */
export class AsmError extends EbpfError {
  override name = 'AsmError';
  readonly line: number;
  readonly column: number;
  constructor(message: string, line: number, column: number, options?: { cause?: unknown }) {
    super(`line ${line}, column ${column}: ${message}`, options);
    this.line = line;
    this.column = column;
  }
}

/** A feature (helper, map type, instruction form) that is known but not implemented here. */
export class NotSupportedError extends EbpfError {
  override name = 'NotSupportedError';
  /** Kernel-style errno name used for this condition. */
  readonly code = 'ENOTSUPP';
}

/**
 * A program the verifier refused: the verifier's message, the instruction (slot index) where it
 * stopped, and the log (kernel format). Thrown by the VM's loader, which verifies every program.
 */
export class VerifierError extends EbpfError {
  override name = 'VerifierError';
  /** Slot index of the refused instruction. */
  readonly insn: number;
  /** The verifier's words for the problem (`R0 invalid mem access 'map_value_or_null'`). */
  readonly reason: string;
  /** The verifier log (level 1 or 2), for tools and people. */
  readonly log: string;

  constructor(context: string, reason: string, insn: number, log: string, options?: { cause?: unknown }) {
    super(`${context}: verifier rejected it: ${reason} (insn ${insn})`, options);
    this.insn = insn;
    this.reason = reason;
    this.log = log;
  }
}
