/**
 * The error of a failed system call: which operation, the errno (number and name), and for
 * program loads the verifier's log.
 */
import { EbpfError } from '../errors.js';
import { errnoMessage, errnoName } from './errno.js';

/**
 * A system call failed. Branch on `code` (`'EACCES'`, `'EINVAL'`, `'ENOTSUPP'`, …) or `errno`;
 * `log` holds the verifier log when a program load failed. The message reads as a chain:
 * `load program 'xdp_pass': EACCES (Permission denied): R0 !read_ok`.
 */
export class KernelError extends EbpfError {
  override name = 'KernelError';
  /** The errno the kernel returned (positive). */
  readonly errno: number;
  /** Its name, as in the kernel headers: `'EPERM'`, `'ENOTSUPP'`, or `'E<n>'` when unknown. */
  readonly code: string;
  /** The verifier log of a failed program load, when one was requested or retried for. */
  readonly log: string | undefined;

  /**
   * @param context what was being done (`load program 'x'`, `BPF_PROG_TEST_RUN`)
   * @param errno the positive errno
   * @param detail a last part of the message, such as the verifier's error line
   */
  constructor(context: string, errno: number, options: { log?: string; detail?: string; cause?: unknown } = {}) {
    const code = errnoName(errno);
    const detail = options.detail ? `: ${options.detail}` : '';
    super(`${context}: ${code} (${errnoMessage(errno)})${detail}`, { cause: options.cause });
    this.errno = errno;
    this.code = code;
    this.log = options.log;
  }
}
