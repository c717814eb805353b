/**
 * Ring-buffer and perf-buffer records as plain JavaScript objects (src/btf/record.ts), with
 * the BTF as the kernel holds it too, in the host's byte order.
 */
import type { Btf } from '../btf/btf.js';
import type { BtfValue } from '../btf/codec.js';
import { parseBtf } from '../btf/parse.js';
import { btfRecordDecoder, type RecordDecoder } from '../btf/record.js';
import { EbpfError } from '../errors.js';
import { HOST_LITTLE_ENDIAN } from './attr.js';
import { KernelBtf } from './btf-load.js';

export { findRecordType, type RecordDecoder } from '../btf/record.js';

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
 * A decoder of records of type `type` (a name for `findRecordType`, or a type id) in
 * `btf` (parsed, or the object's BTF as the kernel holds it). Records shorter than the type
 * (a program that sends only the used part of a trailing array) are decoded as if padded
 * with zeros; bytes past the type's size are ignored.
 *
 * @example
 * const decode = recordDecoder(obj.spec.btf!, 'struct event');
 * decode(record);   // { pid: 42, comm: 'bash', … }
 */
export function recordDecoder<T = BtfValue>(btf: Btf | KernelBtf, type: string | number): RecordDecoder<T> {
  return btfRecordDecoder<T>(parsedBtf(btf), type, HOST_LITTLE_ENDIAN);
}
