/** The error of a failed host-side map operation, with the kernel's errno. */
import { EbpfError } from '../../errors.js';
import { errnoMessage, errnoName } from './errno.js';

/**
 * A map operation failed the way bpf() would fail it: branch on `code` (`'ENOENT'`, `'E2BIG'`,
 * `'EEXIST'`, …) or `errno`. The message names the map and the operation:
 * `update map 'counts': E2BIG (Argument list too long)`.
 */
export class MapError extends EbpfError {
  override name = 'MapError';
  /** The positive errno, as bpf() would set it. */
  readonly errno: number;
  /** Its kernel name: `'ENOENT'`, `'ENOTSUPP'`, or `'E<n>'`. */
  readonly code: string;

  constructor(context: string, errno: number, options?: { detail?: string; cause?: unknown }) {
    const detail = options?.detail ? `: ${options.detail}` : '';
    super(`${context}: ${errnoName(errno)} (${errnoMessage(errno)})${detail}`, { cause: options?.cause });
    this.errno = errno;
    this.code = errnoName(errno);
  }
}
