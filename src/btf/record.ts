/**
 * Ring-buffer and perf-buffer records as plain JavaScript objects, for both backends: the
 * record's C type is found by name in an object's BTF (`'struct event'`) and its bytes go
 * through the BTF value codec (codec.ts) — numbers, bigints, strings for `char[N]`, arrays,
 * nested objects.
 */
import { BtfError, type Btf } from './btf.js';
import { codecFor, type BtfValue } from './codec.js';
import type { BtfType } from './types.js';

/** Turns the bytes of one record into a value (called with a view valid only during the call). */
export type RecordDecoder<T> = (record: Uint8Array) => T;

/** Kinds a record can have, when the name comes without `struct`/`union`/`enum`. */
const VALUE_KINDS: ReadonlySet<BtfType['kind']> = new Set(['struct', 'union', 'typedef', 'int', 'enum', 'enum64', 'float', 'array']);

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
    throw new BtfError(`no type '${name}' in the BTF: clang keeps only types that functions, maps or globals use (declare one, e.g. a const pointer to it)`);
  }
  return id;
}

/**
 * A decoder of records of type `type` (a name for {@link findRecordType}, or a type id) in
 * `btf`, whose bytes are in the given order. Records shorter than the type (a program that
 * sends only the used part of a trailing array) are decoded as if padded with zeros; bytes
 * past the type's size are ignored.
 */
export function btfRecordDecoder<T = BtfValue>(btf: Btf, type: string | number, littleEndian: boolean): RecordDecoder<T> {
  const id = typeof type === 'number' ? type : findRecordType(btf, type);
  const codec = codecFor<T>(btf, id, { endianness: littleEndian ? 'little' : 'big' });
  const size = codec.size;
  return (record) => {
    if (record.length >= size) return codec.decode(record, 0);
    const padded = new Uint8Array(size);
    padded.set(record);
    return codec.decode(padded);
  };
}
