/**
 * Batch operations on a map (BPF_MAP_LOOKUP_BATCH, _LOOKUP_AND_DELETE_BATCH, _UPDATE_BATCH,
 * _DELETE_BATCH, Linux 5.6+): many elements per system call. Map types without them answer
 * ENOTSUPP; {@link batchEntries} then falls back to key-by-key iteration.
 */
import { Attr, MAP_BATCH } from './attr.js';
import { Errno } from './errno.js';
import { KernelError } from './error.js';
import { MapSizeError, isNotSupported } from './map-errors.js';
import type { KernelMap } from './map.js';
import { mapTypeName } from './map-types.js';
import { Command } from './types.js';

/** Flags of a batch call. */
export interface BatchOptions {
  /** Per element: `UpdateFlag.*` for updates, `UpdateFlag.F_LOCK` for lookups. */
  elemFlags?: number;
  /** For the whole call (none defined yet). */
  flags?: number;
}

/** Where a batch lookup resumes; opaque (a bucket index for hash maps, a key for arrays). */
export interface BatchCursor {
  readonly map: KernelMap;
  readonly bytes: Uint8Array;
}

/** One batch of a lookup: keys and values side by side, and where the next batch starts. */
export interface BatchLookupResult {
  readonly keys: Uint8Array[];
  readonly values: Uint8Array[];
  /** The cursor for the next call, or undefined when the map has no more elements. */
  readonly next: BatchCursor | undefined;
}

function label(map: KernelMap): string {
  return `${map.name ? `'${map.name}' ` : ''}(${mapTypeName(map.type)})`;
}

/**
 * Up to `count` elements from `cursor` on (from the start without one). The kernel says
 * ENOSPC when a hash bucket holds more than `count` elements: ask for more.
 */
export function lookupBatch(map: KernelMap, count: number, cursor?: BatchCursor, options: BatchOptions = {}): BatchLookupResult {
  return lookupBatchCmd(map, Command.MAP_LOOKUP_BATCH, 'look up batch in', count, cursor, options);
}

/** As {@link lookupBatch}, deleting what it returns (hash maps; arrays cannot delete). */
export function lookupAndDeleteBatch(map: KernelMap, count: number, cursor?: BatchCursor, options: BatchOptions = {}): BatchLookupResult {
  return lookupBatchCmd(map, Command.MAP_LOOKUP_AND_DELETE_BATCH, 'look up and delete batch in', count, cursor, options);
}

function lookupBatchCmd(map: KernelMap, cmd: number, op: string, count: number, cursor: BatchCursor | undefined, options: BatchOptions): BatchLookupResult {
  if (!Number.isInteger(count) || count <= 0) throw new RangeError(`${op} map ${label(map)}: batch count ${count}`);
  if (cursor && cursor.map !== map) throw new TypeError(`${op} map ${label(map)}: the cursor is of another map`);
  // Array and LPM maps use a key-sized cursor, hash maps a u32 bucket: room for both.
  const cursorSize = Math.max(map.keySize, 4);
  const syscalls = map.syscalls;
  const { ret, filled, keys, values, out } = syscalls.withMemory((memory) => {
    const outBatch = memory.output(cursorSize);
    const keyBuf = memory.output(count * map.keySize);
    const valueBuf = memory.output(count * map.valueBytes);
    const attr = new Attr(MAP_BATCH.SIZE)
      .u64(MAP_BATCH.in_batch, cursor ? memory.input(cursor.bytes) : 0n)
      .u64(MAP_BATCH.out_batch, outBatch.address)
      .u64(MAP_BATCH.keys, keyBuf.address)
      .u64(MAP_BATCH.values, valueBuf.address)
      .u32(MAP_BATCH.count, count)
      .u32(MAP_BATCH.map_fd, map.fd)
      .u64(MAP_BATCH.elem_flags, BigInt(options.elemFlags ?? 0))
      .u64(MAP_BATCH.flags, BigInt(options.flags ?? 0));
    const r = syscalls.bpf(cmd, attr.bytes);
    return { ret: r, filled: attr.readU32(MAP_BATCH.count), keys: keyBuf.read(), values: valueBuf.read(), out: outBatch.read() };
  });
  // ENOENT: the walk reached the end; `count` still says how many this call returned.
  if (ret < 0 && ret !== -Errno.ENOENT) throw new KernelError(`${op} map ${label(map)}`, -ret);
  const n = Math.min(filled, count);
  const result: BatchLookupResult = {
    keys: Array.from({ length: n }, (_, i) => keys.slice(i * map.keySize, (i + 1) * map.keySize)),
    values: Array.from({ length: n }, (_, i) => values.slice(i * map.valueBytes, (i + 1) * map.valueBytes)),
    next: ret === -Errno.ENOENT ? undefined : { map, bytes: out },
  };
  return result;
}

/**
 * Sets `keys[i]` to `values[i]` in one call; `elemFlags` applies to each (`UpdateFlag.*`).
 * Returns how many were written; a failure part-way throws with that count in the message.
 */
export function updateBatch(map: KernelMap, keys: readonly Uint8Array[], values: readonly Uint8Array[], options: BatchOptions = {}): number {
  const op = 'update batch in';
  if (keys.length !== values.length) throw new RangeError(`${op} map ${label(map)}: ${keys.length} keys and ${values.length} values`);
  for (const value of values) {
    if (value.length !== map.valueBytes) throw new MapSizeError(`${op} map ${label(map)}`, 'value', map.valueBytes, value.length);
  }
  return writeBatch(map, Command.MAP_UPDATE_BATCH, op, keys, concat(values, map.valueBytes), options);
}

/** Deletes `keys` in one call; returns how many were deleted (a missing key stops the batch with ENOENT). */
export function deleteBatch(map: KernelMap, keys: readonly Uint8Array[], options: BatchOptions = {}): number {
  return writeBatch(map, Command.MAP_DELETE_BATCH, 'delete batch from', keys, undefined, options);
}

function writeBatch(map: KernelMap, cmd: number, op: string, keys: readonly Uint8Array[], values: Uint8Array | undefined, options: BatchOptions): number {
  for (const key of keys) {
    if (key.length !== map.keySize) throw new MapSizeError(`${op} map ${label(map)}`, 'key', map.keySize, key.length);
  }
  if (keys.length === 0) return 0;
  const syscalls = map.syscalls;
  const { ret, done } = syscalls.withMemory((memory) => {
    const attr = new Attr(MAP_BATCH.SIZE)
      .u64(MAP_BATCH.keys, memory.input(concat(keys, map.keySize)))
      .u64(MAP_BATCH.values, values ? memory.input(values) : 0n)
      .u32(MAP_BATCH.count, keys.length)
      .u32(MAP_BATCH.map_fd, map.fd)
      .u64(MAP_BATCH.elem_flags, BigInt(options.elemFlags ?? 0))
      .u64(MAP_BATCH.flags, BigInt(options.flags ?? 0));
    const r = syscalls.bpf(cmd, attr.bytes);
    return { ret: r, done: attr.readU32(MAP_BATCH.count) };
  });
  // The kernel writes `count` back only once it has started on the elements.
  if (ret < 0) {
    throw new KernelError(`${op} map ${label(map)}`, -ret, done < keys.length ? { detail: `after ${done} of ${keys.length} elements` } : {});
  }
  return done;
}

function concat(parts: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(parts.length * size);
  parts.forEach((part, i) => out.set(part, i * size));
  return out;
}

/** Options of {@link batchEntries}. */
export interface BatchEntriesOptions extends BatchOptions {
  /** Elements per call; default 256 (grown when a hash bucket is larger). */
  batchSize?: number;
}

/**
 * Every `[key, value]` of the map, fetched a batch at a time. Falls back to key-by-key
 * iteration ({@link KernelMap.entries}) when the map type or kernel has no batch lookup.
 */
export function* batchEntries(map: KernelMap, options: BatchEntriesOptions = {}): Generator<[Uint8Array, Uint8Array], void, undefined> {
  let size = Math.max(1, options.batchSize ?? 256);
  let cursor: BatchCursor | undefined;
  let first = true;
  for (;;) {
    let batch: BatchLookupResult;
    try {
      batch = lookupBatch(map, size, cursor, options);
    } catch (err) {
      if (first && (isNotSupported(err) || (err instanceof KernelError && err.errno === Errno.EINVAL && cursor === undefined && !batchCommandKnown(map)))) {
        yield* map.entries();
        return;
      }
      if (err instanceof KernelError && err.errno === Errno.ENOSPC && size < 1 << 20) {
        size *= 2; // a hash bucket with more elements than the batch
        continue;
      }
      throw err;
    }
    first = false;
    for (let i = 0; i < batch.keys.length; i++) yield [batch.keys[i]!, batch.values[i]!];
    if (batch.next === undefined) return;
    cursor = batch.next;
  }
}

/**
 * Whether BPF_MAP_LOOKUP_BATCH exists in this kernel, telling "no such command" (EINVAL before
 * 5.6) from "not for this map type" (ENOTSUPP): a batch lookup on a tiny hash map succeeds or
 * ends with ENOENT where the command exists.
 */
const batchKnown = new WeakMap<object, boolean>();
function batchCommandKnown(map: KernelMap): boolean {
  const cached = batchKnown.get(map.syscalls);
  if (cached !== undefined) return cached;
  let known = true;
  const syscalls = map.syscalls;
  const ret = syscalls.withMemory((memory) => {
    const keys = memory.output(4);
    const values = memory.output(4);
    const out = memory.output(4);
    // A bad fd with a valid layout: EBADF where the command exists, EINVAL where it does not.
    const attr = new Attr(MAP_BATCH.SIZE)
      .u64(MAP_BATCH.out_batch, out.address)
      .u64(MAP_BATCH.keys, keys.address)
      .u64(MAP_BATCH.values, values.address)
      .u32(MAP_BATCH.count, 1)
      .u32(MAP_BATCH.map_fd, 0xffff_ffff);
    return syscalls.bpf(Command.MAP_LOOKUP_BATCH, attr.bytes);
  });
  if (ret === -Errno.EINVAL) known = false;
  batchKnown.set(syscalls, known);
  return known;
}
