/** The error an object file's content raises: a ParseError that also names the ELF section and symbol. */
import { ParseError } from '../errors.js';

/**
 * Bad or unsupported content of an eBPF object: a relocation to an undefined symbol, a
 * relocation outside its section, a bad map definition, a program libbpf would refuse. The
 * message names the section and symbol; `offset` is the byte offset in the file.
 */
export class ObjectError extends ParseError {
  override name = 'ObjectError';
  /** ELF section the problem is in ('' when none applies). */
  readonly section: string;
  /** Symbol, map or program the problem concerns ('' when none applies). */
  readonly symbol: string;
  constructor(message: string, offset: number, context: { section?: string; symbol?: string; cause?: unknown } = {}) {
    super(message, offset, context.cause === undefined ? undefined : { cause: context.cause });
    this.section = context.section ?? '';
    this.symbol = context.symbol ?? '';
  }
}
