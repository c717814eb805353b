/** The error of the BTF value codec. */
import { EbpfError } from '../errors.js';

/**
 * A value that does not fit its BTF type, or bytes of the wrong size: says where, as a path
 * from the root (`value.hdr.proto`, `value.slots[3]`), and why.
 */
export class CodecError extends EbpfError {
  override name = 'CodecError';
  /** What is wrong, without the path. */
  readonly reason: string;
  private readonly segments: string[];

  constructor(reason: string, options?: { cause?: unknown }) {
    super(`value: ${reason}`, options);
    this.reason = reason;
    this.segments = [];
  }

  /** Where the problem is: `value`, then `.member` and `[index]` steps. */
  get path(): string {
    return `value${this.segments.join('')}`;
  }

  /** Puts `segment` (`.name`, `[3]`) in front of the path; used while unwinding. */
  within(segment: string): this {
    this.segments.unshift(segment);
    this.message = `${this.path}: ${this.reason}`;
    return this;
  }
}

/** Rethrows `err` with `segment` in front of its path when it is a CodecError. */
export function rethrowWithin(err: unknown, segment: string): never {
  if (err instanceof CodecError) throw err.within(segment);
  throw err;
}
