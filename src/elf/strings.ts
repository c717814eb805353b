/** String tables (SHT_STRTAB): NUL-terminated names addressed by byte offset. */
import { ParseError } from '../errors.js';

const utf8 = new TextDecoder('utf-8');

/**
 * The NUL-terminated string at `index` of the string table `table`. `at` is the file offset
 * of the field that holds `index`, which a `ParseError` names.
 */
export function readString(table: Uint8Array, index: number, at: number, what: string): string {
  if (index === 0 && table.length === 0) return ''; // an empty table names nothing
  if (index >= table.length) {
    throw new ParseError(`${what}: string offset ${index} is outside its ${table.length}-byte string table`, at);
  }
  const end = table.indexOf(0, index);
  if (end < 0) throw new ParseError(`${what}: string at offset ${index} is not NUL-terminated`, at);
  return utf8.decode(table.subarray(index, end));
}
