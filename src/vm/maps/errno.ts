/**
 * The error numbers the VM's maps and helpers return, with the kernel's names and the numbers
 * of include/uapi/asm-generic/errno*.h (x86, arm64, riscv) plus the kernel-internal ENOTSUPP
 * (include/linux/errno.h) that bpf() leaks. Programs see them negated (`-ENOENT`).
 *
 * A subset on purpose: `src/vm` may not import `src/kernel`, whose table is complete.
 */

/** errno name → number. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOSPC: 28,
  EOVERFLOW: 75,
  ENOTSOCK: 88,
  EOPNOTSUPP: 95,
  /** Kernel-internal "operation not supported" (524), distinct from EOPNOTSUPP. */
  ENOTSUPP: 524,
} as const;
export type ErrnoName = keyof typeof Errno;

const NAMES = new Map<number, ErrnoName>(Object.entries(Errno).map(([k, v]) => [v, k as ErrnoName]));

const MESSAGES: Readonly<Record<ErrnoName, string>> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  E2BIG: 'Argument list too long',
  EBADF: 'Bad file descriptor',
  EAGAIN: 'Resource temporarily unavailable',
  ENOMEM: 'Cannot allocate memory',
  EACCES: 'Permission denied',
  EFAULT: 'Bad address',
  EBUSY: 'Device or resource busy',
  EEXIST: 'File exists',
  ENODEV: 'No such device',
  EINVAL: 'Invalid argument',
  ENOSPC: 'No space left on device',
  EOVERFLOW: 'Value too large for defined data type',
  ENOTSOCK: 'Socket operation on non-socket',
  EOPNOTSUPP: 'Operation not supported',
  ENOTSUPP: 'Operation is not supported',
};

/** Name of a (positive) errno: `2` → `'ENOENT'`, unknown ones as `'E<n>'`. */
export function errnoName(errno: number): string {
  return NAMES.get(errno) ?? `E${errno}`;
}

/** strerror()-style text of a (positive) errno. */
export function errnoMessage(errno: number): string {
  const name = NAMES.get(errno);
  return name ? MESSAGES[name] : `errno ${errno}`;
}
