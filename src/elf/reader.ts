/**
 * A bounds-checked view of the file's bytes. Every read names the byte offset it wanted, and
 * a read past the end is a `ParseError` at that offset, never a `RangeError`.
 */
import { ParseError } from '../errors.js';

/** Reads fixed-size integers of one byte order from a byte array. */
export class ByteReader {
  readonly bytes: Uint8Array;
  readonly littleEndian: boolean;
  private readonly view: DataView;

  constructor(bytes: Uint8Array, littleEndian: boolean) {
    this.bytes = bytes;
    this.littleEndian = littleEndian;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.length;
  }

  /** Throws unless `size` bytes from `offset` lie inside the input. */
  need(offset: number, size: number, what: string): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || size < 0 || offset + size > this.bytes.length) {
      throw new ParseError(`${what} at ${offset}+${size} is past the end of the ${this.bytes.length}-byte input`, Math.min(Math.max(offset, 0), this.bytes.length));
    }
  }

  u8(offset: number, what = 'byte'): number {
    this.need(offset, 1, what);
    return this.view.getUint8(offset);
  }

  u16(offset: number, what = 'u16'): number {
    this.need(offset, 2, what);
    return this.view.getUint16(offset, this.littleEndian);
  }

  u32(offset: number, what = 'u32'): number {
    this.need(offset, 4, what);
    return this.view.getUint32(offset, this.littleEndian);
  }

  /** A u64 as a number; a value above 2^53 - 1 is a `ParseError` (no eBPF object needs one). */
  u64(offset: number, what = 'u64'): number {
    this.need(offset, 8, what);
    const value = this.view.getBigUint64(offset, this.littleEndian);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new ParseError(`${what} 0x${value.toString(16)} is too large`, offset);
    }
    return Number(value);
  }

  /** An i64 as a number; a magnitude above 2^53 - 1 is a `ParseError`. */
  i64(offset: number, what = 'i64'): number {
    this.need(offset, 8, what);
    const value = this.view.getBigInt64(offset, this.littleEndian);
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new ParseError(`${what} ${value} is too large`, offset);
    }
    return Number(value);
  }

  /** A zero-copy slice; throws unless it lies inside the input. */
  slice(offset: number, size: number, what: string): Uint8Array {
    this.need(offset, size, what);
    return this.bytes.subarray(offset, offset + size);
  }
}
