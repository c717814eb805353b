/**
 * Sentinel checks for the errors of map operations (cilium/ebpf's `ErrKeyNotExist`,
 * `ErrKeyExist`, …, as predicates over {@link KernelError}), and the error of a key or value of
 * the wrong size, raised before any system call.
 */
import { EbpfError } from '../errors.js';
import { Errno } from './errno.js';
import { KernelError } from './error.js';

function hasErrno(err: unknown, ...errnos: number[]): err is KernelError {
  return err instanceof KernelError && errnos.includes(err.errno);
}

/** The key is not in the map (ENOENT): a lookup, delete or `EXIST` update missed, or iteration ended. */
export function isKeyNotExist(err: unknown): err is KernelError {
  return hasErrno(err, Errno.ENOENT);
}

/** The key is already in the map (EEXIST): an update with `NOEXIST` found it. */
export function isKeyExist(err: unknown): err is KernelError {
  return hasErrno(err, Errno.EEXIST);
}

/** The map is full (E2BIG): a hash without room, or an array index at or past `max_entries`. */
export function isMapFull(err: unknown): err is KernelError {
  return hasErrno(err, Errno.E2BIG);
}

/** The kernel does not support this (ENOTSUPP, EOPNOTSUPP): an operation a map type lacks, a missing feature. */
export function isNotSupported(err: unknown): err is KernelError {
  return hasErrno(err, Errno.ENOTSUPP, Errno.EOPNOTSUPP);
}

/** The object does not exist (ENOENT): no map, program or BTF with that id, no pin at that path. */
export function isNotExist(err: unknown): err is KernelError {
  return hasErrno(err, Errno.ENOENT);
}

/**
 * A key or value whose length is not what the map was created with. Raised before the system
 * call, because the kernel would read or write the map's size from a buffer of another size.
 */
export class MapSizeError extends EbpfError {
  override name = 'MapSizeError';
  /** Kernel-style errno name of this condition. */
  readonly code = 'EINVAL';
  /** Which buffer was wrong. */
  readonly what: 'key' | 'value';
  readonly expected: number;
  readonly actual: number;

  constructor(context: string, what: 'key' | 'value', expected: number, actual: number) {
    super(`${context}: ${what} is ${actual} bytes, the map's ${what} size is ${expected}`);
    this.what = what;
    this.expected = expected;
    this.actual = actual;
  }
}
