/**
 * Tracepoint contexts: the raw trace record of an event, laid out as its format file says
 * (/sys/kernel/tracing/events/<category>/<event>/format). The record starts with the common
 * fields (common_type, common_flags, common_preempt_count, common_pid); dynamic arrays
 * (`__data_loc char[] filename`) are stored after the fixed fields and located by a u32 whose low
 * half is their offset in the record and high half their length. The program may read the
 * record but not write it — and not its first 8 bytes (kernel: tp_prog_is_valid_access).
 */
import { ParseError } from '../../errors.js';
import type { Memory } from '../memory.js';
import { HostContext } from './host-context.js';

/** One field of a tracepoint format. */
export interface TracepointField {
  /** Name without an array suffix (`prev_comm`). */
  readonly name: string;
  /** C type as the format file writes it, without the name (`char[16]`, `__data_loc char[]`, `pid_t`). */
  readonly type: string;
  readonly offset: number;
  readonly size: number;
  readonly signed: boolean;
  /** Element count of a fixed array field. */
  readonly arrayLength?: number;
  /** A dynamic array: `__data_loc` (offset from the record's start) or `__rel_loc` (from the field's end). */
  readonly dynamic?: 'data_loc' | 'rel_loc';
}

/** A parsed format file. */
export interface TracepointFormat {
  readonly name: string;
  /** The event id (`common_type` of its records). */
  readonly id: number;
  readonly fields: readonly TracepointField[];
  /** Size of the fixed part of a record. */
  readonly size: number;
}

/** A value for a field: an integer, text or bytes for char arrays and dynamic arrays, or elements of an array. */
export type TracepointValue = number | bigint | string | Uint8Array | ReadonlyArray<number | bigint>;

const FIELD = /^\s*field:(.+?);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);/;

/** Parses a tracepoint format file; throws `ParseError` (offset: character index) on a malformed field line. */
export function parseTracepointFormat(text: string): TracepointFormat {
  let name = '';
  let id = 0;
  const fields: TracepointField[] = [];
  let at = 0;
  for (const line of text.split('\n')) {
    const here = at;
    at += line.length + 1;
    if (line.startsWith('name:')) name = line.slice(5).trim();
    else if (line.startsWith('ID:')) id = Number(line.slice(3).trim());
    else if (line.trimStart().startsWith('field:')) {
      const m = FIELD.exec(line);
      if (!m) throw new ParseError(`malformed tracepoint field line '${line.trim()}'`, here);
      const decl = m[1]!.trim();
      const split = /^(.*?)\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\[(\d*)\])?$/.exec(decl);
      if (!split) throw new ParseError(`cannot split '${decl}' into a type and a name`, here);
      const [, base, fieldName, length] = split;
      const dynamic = base!.startsWith('__data_loc') ? 'data_loc' : base!.startsWith('__rel_loc') ? 'rel_loc' : undefined;
      fields.push({
        name: fieldName!, type: length === undefined ? base! : `${base}[${length}]`, offset: Number(m[2]), size: Number(m[3]),
        signed: m[4] === '1', ...(length && !dynamic ? { arrayLength: Number(length) } : {}), ...(dynamic && { dynamic }),
      });
    }
  }
  const size = fields.reduce((n, f) => Math.max(n, f.offset + f.size), 0);
  return { name, id, fields, size };
}

/**
 * The bytes of a record of `format` with `values` by field name (missing fields are 0;
 * `common_type` defaults to the event id). Dynamic arrays are appended after the fixed part.
 */
export function encodeTracepointRecord(format: TracepointFormat, values: Readonly<Record<string, TracepointValue>>): Uint8Array {
  for (const key of Object.keys(values)) {
    if (!format.fields.some((f) => f.name === key)) throw new TypeError(`${format.name || 'tracepoint'} has no field '${key}'`);
  }
  const tail: Uint8Array[] = [];
  let tailSize = 0;
  const dynamicBytes = new Map<TracepointField, Uint8Array>();
  for (const f of format.fields) {
    if (f.dynamic === undefined) continue;
    const value = values[f.name] ?? new Uint8Array(0);
    const bytes = typeof value === 'string' ? new TextEncoder().encode(`${value}\0`) : value instanceof Uint8Array ? value : undefined;
    if (bytes === undefined) throw new TypeError(`field '${f.name}' is a dynamic array: give a string or bytes`);
    dynamicBytes.set(f, bytes);
    tail.push(bytes);
    tailSize += bytes.length;
  }
  const out = new Uint8Array(format.size + tailSize);
  const v = new DataView(out.buffer);
  let dynamicAt = format.size;
  for (const f of format.fields) {
    const value = f.name === 'common_type' ? values[f.name] ?? format.id : values[f.name];
    if (f.dynamic !== undefined) {
      const bytes = dynamicBytes.get(f)!;
      const offset = f.dynamic === 'data_loc' ? dynamicAt : dynamicAt - (f.offset + f.size);
      v.setUint32(f.offset, ((bytes.length << 16) | offset) >>> 0, true);
      out.set(bytes, dynamicAt);
      dynamicAt += bytes.length;
    } else if (value === undefined) {
      continue;
    } else if (typeof value === 'string' || value instanceof Uint8Array) {
      const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value;
      out.set(bytes.subarray(0, f.size), f.offset);
    } else if (typeof value === 'number' || typeof value === 'bigint') {
      writeInt(v, f.offset, f.size, value, f.name);
    } else {
      const count = f.arrayLength ?? 1;
      const element = f.size / count;
      if (value.length > count) throw new RangeError(`field '${f.name}' has ${count} elements, got ${value.length}`);
      value.forEach((x, i) => writeInt(v, f.offset + i * element, element, x, f.name));
    }
  }
  return out;
}

function writeInt(v: DataView, offset: number, size: number, value: number | bigint, name: string): void {
  const big = BigInt.asUintN(64, BigInt(value));
  switch (size) {
    case 1: v.setUint8(offset, Number(big & 0xffn)); break;
    case 2: v.setUint16(offset, Number(big & 0xffffn), true); break;
    case 4: v.setUint32(offset, Number(big & 0xffffffffn), true); break;
    case 8: v.setBigUint64(offset, big, true); break;
    default: throw new RangeError(`field '${name}' of ${size} bytes is not an integer; give a string, bytes or elements`);
  }
}

/**
 * A read-only tracepoint context: a record of `format` filled from `values`.
 *
 * @example
 * const format = parseTracepointFormat(readFileSync('/sys/kernel/tracing/events/sched/sched_switch/format', 'utf8'));
 * using ctx = tracepointContext(memory, format, { prev_comm: 'bash', prev_pid: 42, next_pid: 0 });
 */
export function tracepointContext(memory: Memory, format: TracepointFormat, values: Readonly<Record<string, TracepointValue>> = {}): HostContext {
  return new HostContext(memory, `tracepoint ${format.name}`.trim(), encodeTracepointRecord(format, values), false);
}
