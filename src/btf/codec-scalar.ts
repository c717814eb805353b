/**
 * Codec nodes of scalar BTF types: ints (number up to 32 bits, bigint for 64 and 128),
 * bools, floats, pointers (bigint), enums (by name), bitfields, and raw bytes for what has
 * no JS counterpart (long double).
 */
import { readBits, writeBits, type BitRange } from './codec-bits.js';
import { CodecError } from './codec-error.js';

/** A decoded value: what `decodeValue` returns and `encodeValue` takes. */
export type BtfValue =
  | number
  | bigint
  | boolean
  | string
  | Uint8Array
  | readonly BtfValue[]
  | { readonly [name: string]: BtfValue };

/** One compiled type: its size and how to read and write it at a byte offset. */
export interface CodecNode {
  readonly size: number;
  /** How messages name the type (`unsigned int`, `struct iphdr`, `char[16]`). */
  readonly label: string;
  read(view: DataView, bytes: Uint8Array, off: number): BtfValue;
  /** Writes `value` into zeroed bytes; throws CodecError for a value that does not fit. */
  write(view: DataView, bytes: Uint8Array, off: number, value: unknown): void;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : String(value);
}

/** The integer in `value` (number or bigint) as a bigint, range-checked; throws CodecError. */
export function checkedBigInt(value: unknown, min: bigint, max: bigint, label: string): bigint {
  let v: bigint;
  if (typeof value === 'bigint') v = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) v = BigInt(value);
  else if (typeof value === 'number' && Number.isInteger(value)) {
    throw new CodecError(`${value} is not a safe integer; use a bigint for ${label}`);
  } else throw new CodecError(`expected an integer for ${label}, got ${describe(value)}`);
  if (v < min || v > max) throw new CodecError(`${v} is out of range for ${label} (${min}..${max})`);
  return v;
}

/** The integer in `value` as a number, range-checked (for types of at most 32 bits). */
export function checkedNumber(value: unknown, min: number, max: number, label: string): number {
  let v: number;
  if (typeof value === 'number' && Number.isInteger(value)) v = value;
  else if (typeof value === 'bigint' && value >= BigInt(min) && value <= BigInt(max)) v = Number(value);
  else if (typeof value === 'bigint') v = NaN;
  else throw new CodecError(`expected an integer for ${label}, got ${describe(value)}`);
  if (!(v >= min && v <= max)) throw new CodecError(`${describe(value)} is out of range for ${label} (${min}..${max})`);
  return v;
}

/** Range of a `bits`-wide integer. */
export function intRange(bits: number, signed: boolean): [min: bigint, max: bigint] {
  const b = BigInt(bits);
  return signed ? [-(1n << (b - 1n)), (1n << (b - 1n)) - 1n] : [0n, (1n << b) - 1n];
}

/** A 1, 2, 4, 8 or 16-byte integer (also pointers: 8 bytes, unsigned). */
export class IntNode implements CodecNode {
  private readonly min: bigint;
  private readonly max: bigint;
  constructor(
    readonly label: string,
    readonly size: 1 | 2 | 4 | 8 | 16,
    readonly signed: boolean,
    readonly littleEndian: boolean,
  ) {
    [this.min, this.max] = intRange(size * 8, signed);
  }

  read(view: DataView, _bytes: Uint8Array, off: number): number | bigint {
    const le = this.littleEndian;
    switch (this.size) {
      case 1: return this.signed ? view.getInt8(off) : view.getUint8(off);
      case 2: return this.signed ? view.getInt16(off, le) : view.getUint16(off, le);
      case 4: return this.signed ? view.getInt32(off, le) : view.getUint32(off, le);
      case 8: return this.signed ? view.getBigInt64(off, le) : view.getBigUint64(off, le);
      case 16: {
        const lo = view.getBigUint64(le ? off : off + 8, le);
        const hi = view.getBigUint64(le ? off + 8 : off, le);
        const u = (hi << 64n) | lo;
        return this.signed ? BigInt.asIntN(128, u) : u;
      }
    }
  }

  write(view: DataView, _bytes: Uint8Array, off: number, value: unknown): void {
    const le = this.littleEndian;
    if (this.size <= 4) {
      const v = checkedNumber(value, Number(this.min), Number(this.max), this.label);
      if (this.size === 1) view.setUint8(off, v & 0xff);
      else if (this.size === 2) view.setUint16(off, v & 0xffff, le);
      else view.setUint32(off, v >>> 0, le);
      return;
    }
    const v = BigInt.asUintN(this.size * 8, checkedBigInt(value, this.min, this.max, this.label));
    if (this.size === 8) {
      view.setBigUint64(off, v, le);
    } else {
      view.setBigUint64(le ? off : off + 8, v & 0xffffffffffffffffn, le);
      view.setBigUint64(le ? off + 8 : off, v >> 64n, le);
    }
  }
}

/** `_Bool` (BTF_INT_BOOL): any non-zero byte is true; true is written as 1. */
export class BoolNode implements CodecNode {
  constructor(readonly label: string, readonly size: number, readonly littleEndian: boolean) {}

  read(_view: DataView, bytes: Uint8Array, off: number): boolean {
    for (let i = 0; i < this.size; i++) if (bytes[off + i] !== 0) return true;
    return false;
  }

  write(_view: DataView, bytes: Uint8Array, off: number, value: unknown): void {
    if (value === true || value === 1) bytes[this.littleEndian ? off : off + this.size - 1] = 1;
    else if (value !== false && value !== 0) throw new CodecError(`expected a boolean for ${this.label}, got ${describe(value)}`);
  }
}

/** `float` and `double`. */
export class FloatNode implements CodecNode {
  constructor(readonly label: string, readonly size: 4 | 8, readonly littleEndian: boolean) {}

  read(view: DataView, _bytes: Uint8Array, off: number): number {
    return this.size === 4 ? view.getFloat32(off, this.littleEndian) : view.getFloat64(off, this.littleEndian);
  }

  write(view: DataView, _bytes: Uint8Array, off: number, value: unknown): void {
    if (typeof value !== 'number') throw new CodecError(`expected a number for ${this.label}, got ${describe(value)}`);
    if (this.size === 4) view.setFloat32(off, value, this.littleEndian);
    else view.setFloat64(off, value, this.littleEndian);
  }
}

/** Bytes as they are, for types with no JS counterpart (long double, odd-sized ints). */
export class RawNode implements CodecNode {
  constructor(readonly label: string, readonly size: number) {}

  read(_view: DataView, bytes: Uint8Array, off: number): Uint8Array {
    return bytes.slice(off, off + this.size);
  }

  write(_view: DataView, bytes: Uint8Array, off: number, value: unknown): void {
    if (!(value instanceof Uint8Array)) throw new CodecError(`expected a Uint8Array for ${this.label}, got ${describe(value)}`);
    if (value.length > this.size) throw new CodecError(`${value.length} bytes do not fit in ${this.label} (${this.size} bytes)`);
    bytes.set(value, off);
  }
}

/** Enumerators of an enum, by value and by name; values normalized to how they are read. */
export class EnumValues {
  private readonly byValue = new Map<number | bigint, string>();
  private readonly byName = new Map<string, number | bigint>();

  /** @param wide values are bigints (8-byte enums) */
  constructor(readonly label: string, values: readonly { name: string; value: number | bigint }[], readonly bits: number, readonly signed: boolean, readonly wide: boolean) {
    for (const v of values) {
      const big = BigInt(v.value);
      const norm = signed ? BigInt.asIntN(bits, big) : BigInt.asUintN(bits, big);
      const key = wide ? norm : Number(norm);
      if (!this.byValue.has(key)) this.byValue.set(key, v.name);
      if (!this.byName.has(v.name)) this.byName.set(v.name, key);
    }
  }

  /** The enumerator's name, or the value itself when no enumerator has it. */
  name(value: number | bigint): number | bigint | string {
    return this.byValue.get(value) ?? value;
  }

  /** The value for a name or an integer (range-checked against `bits`). */
  value(value: unknown): number | bigint {
    if (typeof value === 'string') {
      const v = this.byName.get(value);
      if (v === undefined) throw new CodecError(`'${value}' is not an enumerator of ${this.label}`);
      return v;
    }
    const [min, max] = intRange(this.bits, this.signed);
    if (this.wide) return checkedBigInt(value, min, max, this.label);
    return checkedNumber(value, Number(min), Number(max), this.label);
  }
}

/** An enum of 1, 2, 4 or 8 bytes: decodes to the enumerator's name. */
export class EnumNode implements CodecNode {
  private readonly int: IntNode;
  constructor(readonly label: string, readonly size: 1 | 2 | 4 | 8, readonly values: EnumValues, littleEndian: boolean) {
    this.int = new IntNode(label, size, values.signed, littleEndian);
  }

  read(view: DataView, bytes: Uint8Array, off: number): number | bigint | string {
    return this.values.name(this.int.read(view, bytes, off));
  }

  write(view: DataView, bytes: Uint8Array, off: number, value: unknown): void {
    this.int.write(view, bytes, off, this.values.value(value));
  }
}

/** What the bits of a bitfield mean. */
export type BitsMeaning =
  | { readonly kind: 'int'; readonly signed: boolean }
  | { readonly kind: 'bool' }
  | { readonly kind: 'enum'; readonly values: EnumValues };

/**
 * A bitfield (or an int whose BTF `bits`/`offset` do not cover its storage): a number when
 * at most 32 bits wide, else a bigint; a boolean for `_Bool`; an enumerator name for enums.
 * `base` of read/write is the byte offset of the containing struct.
 */
export class BitsField {
  private readonly min: bigint;
  private readonly max: bigint;
  private readonly signed: boolean;
  constructor(readonly label: string, readonly range: BitRange, readonly meaning: BitsMeaning) {
    this.signed = meaning.kind === 'int' ? meaning.signed : meaning.kind === 'enum' ? meaning.values.signed : false;
    [this.min, this.max] = intRange(range.width, this.signed);
  }

  read(bytes: Uint8Array, base: number): number | bigint | boolean | string {
    const u = readBits(bytes, base, this.range);
    const m = this.meaning;
    if (m.kind === 'bool') return u !== 0 && u !== 0n;
    const w = this.range.width;
    let v: number | bigint;
    if (w <= 32) {
      const n = Number(u);
      v = this.signed && n >= this.range.modulus / 2 ? n - this.range.modulus : n;
    } else {
      v = this.signed ? BigInt.asIntN(w, BigInt(u)) : BigInt(u);
    }
    if (m.kind === 'int') return v;
    // Enumerators are keyed by number or bigint as their enum is read whole.
    return m.values.name(m.values.wide ? BigInt(v) : Number(v));
  }

  write(bytes: Uint8Array, base: number, value: unknown): void {
    const m = this.meaning;
    let v: unknown = value;
    if (m.kind === 'bool') {
      if (value === true || value === 1) v = 1;
      else if (value === false || value === 0) v = 0;
      else throw new CodecError(`expected a boolean for ${this.label}, got ${describe(value)}`);
    } else if (m.kind === 'enum' && typeof value === 'string') {
      v = m.values.value(value);
    }
    const label = `${this.label}:${this.range.width}`;
    if (this.range.width <= 32) {
      const n = checkedNumber(v, Number(this.min), Number(this.max), label);
      writeBits(bytes, base, this.range, n < 0 ? n + this.range.modulus : n);
      return;
    }
    const big = checkedBigInt(v, this.min, this.max, label);
    writeBits(bytes, base, this.range, BigInt.asUintN(this.range.width, big));
  }
}
