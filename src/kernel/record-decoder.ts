/**
 * Ring-buffer and perf-buffer records as plain JavaScript objects: the record's C type is
 * found by name in an object's BTF (`'struct event'`) and its bytes go through the BTF value
 * codec (src/btf/codec.ts) — numbers, bigints, strings for `char[N]`, arrays, nested objects.
 */
import type { Btf } from '../btf/btf.js';
import { codecFor, type BtfValue } from '../btf/codec.js';
import { parseBtf } from '../btf/parse.js';
import type { BtfType } from '../btf/types.js';
import { EbpfError } from '../errors.js';
import { HOST_LITTLE_ENDIAN } from './attr.js';
import { KernelBtf } from './btf-load.js';

/** Turns the bytes of one record into a value (called with a view valid only during the call). */
export type RecordDecoder<T> = (record: Uint8Array) => T;

/** Kinds a record can have, when the name comes without `struct`/`union`/`enum`. */
const VALUE_KINDS: ReadonlySet<BtfType['kind']> = new Set(['struct', 'union', 'typedef', 'int', 'enum', 'enum64', 'float', 'array']);

/** The parsed BTF of `btf`: a KernelBtf's data is fetched from the kernel once per handle. */
const parsedKernelBtf = new WeakMap<KernelBtf, Btf>();

function parsedBtf(btf: Btf | KernelBtf): Btf {
  if (!(btf instanceof KernelBtf)) return btf;
  let parsed = parsedKernelBtf.get(btf);
  if (parsed === undefined) {
    const data = btf.info({ data: true }).data;
    if (data === undefined) throw new EbpfError(`BTF id ${btf.id}: the kernel gave no data`);
    parsed = parseBtf(data);
    parsedKernelBtf.set(btf, parsed);
  }
  return parsed;
}

/**
 * The id of the type `name` in `btf`: `'struct event'`, `'union value'`, `'enum state'`, or
 * a bare name (`'event'`, a struct, union, typedef…; a struct wins when several kinds share
 * it). Throws EbpfError when there is none — clang writes into an object's BTF only the types
 * that functions, maps and global variables use, so a record type needs such a use.
 */
export function findRecordType(btf: Btf, name: string): number {
  const m = /^\s*(struct|union|enum)\s+(\S+)\s*$/.exec(name);
  const kind = m?.[1] as 'struct' | 'union' | 'enum' | undefined;
  const bare = m?.[2] ?? name.trim();
  let ids = kind === undefined ? btf.findByName(bare).filter((id) => VALUE_KINDS.has(btf.type(id).kind)) : btf.findByName(bare, kind);
  if (kind === 'enum') ids = [...ids, ...btf.findByName(bare, 'enum64')];
  if (ids.length > 1 && kind === undefined) {
    const structs = ids.filter((id) => btf.type(id).kind === 'struct');
    if (structs.length > 0) ids = structs;
  }
  const id = ids[0];
  if (id === undefined) {
    throw new EbpfError(`no type '${name}' in the BTF: clang keeps only types that functions, maps or globals use (declare one, e.g. a const pointer to it)`);
  }
  return id;
}

/**
 * A decoder of records of type `type` (a name for {@link findRecordType}, or a type id) in
 * `btf` (parsed, or the object's BTF as the kernel holds it). Records shorter than the type
 * (a program that sends only the used part of a trailing array) are decoded as if padded
 * with zeros; bytes past the type's size are ignored.
 *
 * @example
 * const decode = recordDecoder(obj.spec.btf!, 'struct event');
 * decode(record);   // { pid: 42, comm: 'bash', … }
 */
export function recordDecoder<T = BtfValue>(btf: Btf | KernelBtf, type: string | number): RecordDecoder<T> {
  const parsed = parsedBtf(btf);
  const id = typeof type === 'number' ? type : findRecordType(parsed, type);
  const codec = codecFor<T>(parsed, id, { endianness: HOST_LITTLE_ENDIAN ? 'little' : 'big' });
  const size = codec.size;
  return (record) => {
    if (record.length >= size) return codec.decode(record, 0);
    const padded = new Uint8Array(size);
    padded.set(record);
    return codec.decode(padded);
  };
}
