/**
 * Special fields of a map value (the kernel's `btf_record`, kernel/bpf/btf.c btf_parse_fields):
 * a `struct bpf_spin_lock` and a `struct bpf_timer` the value's BTF places in it. The kernel
 * never copies these between the program's or the host's buffers and the map
 * (include/linux/bpf.h copy_map_value skips them), shows them as zeros to the host
 * (check_and_init_map_value after a lookup), and frees them with their element
 * (bpf_obj_free_fields: a freed timer's word becomes NULL).
 */
import { NotSupportedError } from '../../errors.js';
import { Errno } from './errno.js';
import { MapType, mapTypeName } from './flags.js';

/** Storage maps whose values may hold a bpf_spin_lock in the kernel (map_check_btf). */
const LOCAL_STORAGE: ReadonlySet<number> = new Set([
  MapType.CGROUP_STORAGE, MapType.SK_STORAGE, MapType.INODE_STORAGE, MapType.TASK_STORAGE, MapType.CGRP_STORAGE,
]);

/** sizeof(struct bpf_spin_lock). */
export const BPF_SPIN_LOCK_SIZE = 4;
/** sizeof(struct bpf_timer). */
export const BPF_TIMER_SIZE = 16;

/** Byte offsets of the special fields in a map value. */
export interface ValueFields {
  /** Offset of the value's `struct bpf_spin_lock`. */
  readonly spinLock?: number;
  /** Offset of the value's `struct bpf_timer`. */
  readonly timer?: number;
}

/** The fields as [offset, size] ranges, sorted. */
export function fieldRanges(fields: ValueFields | undefined): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  if (fields?.spinLock !== undefined) out.push([fields.spinLock, BPF_SPIN_LOCK_SIZE]);
  if (fields?.timer !== undefined) out.push([fields.timer, BPF_TIMER_SIZE]);
  return out.sort((a, b) => a[0] - b[0]);
}

/** Whether `fields` names any field. */
export function hasFields(fields: ValueFields | undefined): fields is ValueFields {
  return fields !== undefined && (fields.spinLock !== undefined || fields.timer !== undefined);
}

/**
 * copy_map_value: `src` (a value of `size` bytes) into `dst` at `at`, except the special
 * fields, which keep what `dst` holds.
 */
export function copyMapValue(fields: ValueFields | undefined, dst: Uint8Array, at: number, src: Uint8Array, size: number): void {
  let from = 0;
  for (const [off, len] of fieldRanges(fields)) {
    dst.set(src.subarray(from, off), at + from);
    from = off + len;
  }
  dst.set(src.subarray(from, size), at + from);
}

/** Zeroes the special fields of the value at `at` of `bytes` (check_and_init_map_value, bpf_obj_free_fields). */
export function zeroFields(fields: ValueFields | undefined, bytes: Uint8Array, at = 0): void {
  for (const [off, len] of fieldRanges(fields)) bytes.fill(0, at + off, at + off + len);
}

/**
 * bpf_obj_free_fields: what freeing an element's fields does to its value — the timer is
 * cancelled and its word becomes NULL; a lock is left as it is (unlocked).
 */
export function freeFields(fields: ValueFields | undefined, bytes: Uint8Array, at = 0): void {
  if (fields?.timer !== undefined) bytes.fill(0, at + fields.timer, at + fields.timer + BPF_TIMER_SIZE);
}

/**
 * map_check_btf: which map types may hold which field, and that each fits the value.
 * 0 or -errno (EOPNOTSUPP for a type that cannot hold the field, EACCES with BPF_F_RDONLY_PROG
 * or BPF_F_WRONLY_PROG, EINVAL for a field outside the value).
 */
export function checkValueFields(fields: ValueFields | undefined, type: number, valueSize: number, flags: number): number {
  if (!hasFields(fields)) return 0;
  for (const [off, len] of fieldRanges(fields)) {
    if (!Number.isInteger(off) || off < 0 || off + len > valueSize || off % 4 !== 0) return -Errno.EINVAL;
  }
  // BPF_F_RDONLY_PROG (1 << 7) | BPF_F_WRONLY_PROG (1 << 8)
  if (flags & ((1 << 7) | (1 << 8))) return -Errno.EACCES;
  if (fields.spinLock !== undefined && LOCAL_STORAGE.has(type)) {
    // The kernel takes a lock in these values; the VM's storage maps do not keep it apart yet.
    throw new NotSupportedError(`a bpf_spin_lock in a ${mapTypeName(type)} value is not supported by the VM`);
  }
  if (fields.spinLock !== undefined && type !== MapType.HASH && type !== MapType.ARRAY) return -Errno.EOPNOTSUPP;
  if (fields.timer !== undefined && type !== MapType.HASH && type !== MapType.LRU_HASH && type !== MapType.ARRAY) return -Errno.EOPNOTSUPP;
  return 0;
}
