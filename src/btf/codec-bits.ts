/**
 * Reading and writing bitfields. A BTF bit offset counts in memory order: on little-endian
 * targets bit 0 is the least significant bit of byte 0, on big-endian targets the most
 * significant one (as DWARF's DW_AT_data_bit_offset; libbpf: btf_dump_get_bitfield_value).
 * So a field is the `width` bits starting `bit` bits into the bytes from `start`, read as
 * one integer in the target's byte order.
 *
 * Fields whose bytes span at most 6 bytes (all but the widest) use float arithmetic, exact
 * below 2^53; the rest use bigint.
 */

const MAX_NUMBER_SPAN = 6;

/** Where a bitfield lies: first byte (from the struct's start), bit inside it, width, and the bytes it touches. */
export interface BitRange {
  readonly start: number;
  readonly bit: number;
  readonly width: number;
  readonly span: number;
  readonly littleEndian: boolean;
  /** 2^shift, where shift is the position of the field's lowest bit in its span's integer. */
  readonly scale: number;
  /** 2^width (Infinity past 1023 bits, never reached: the number path is for spans of ≤ 6 bytes). */
  readonly modulus: number;
}

/** The range of a field `width` bits wide at `bitOffset` bits from the start of its struct. */
export function bitRange(bitOffset: number, width: number, littleEndian: boolean): BitRange {
  const start = Math.floor(bitOffset / 8);
  const bit = bitOffset % 8;
  const span = Math.ceil((bit + width) / 8);
  const shift = littleEndian ? bit : span * 8 - bit - width;
  return { start, bit, width, span, littleEndian, scale: 2 ** shift, modulus: 2 ** width };
}

/** Shift of the field's lowest bit inside the integer made of its span. */
function shiftOf(r: BitRange): number {
  return r.littleEndian ? r.bit : r.span * 8 - r.bit - r.width;
}

/** The unsigned value of the field of the struct at `base`, as a number (span ≤ 6 bytes) or a bigint. */
export function readBits(bytes: Uint8Array, base: number, r: BitRange): number | bigint {
  const start = base + r.start;
  if (r.span === 1) return Math.floor(bytes[start]! / r.scale) % r.modulus;
  if (r.span <= MAX_NUMBER_SPAN) {
    let acc = 0;
    for (let i = 0; i < r.span; i++) {
      const b = bytes[start + (r.littleEndian ? r.span - 1 - i : i)]!;
      acc = acc * 256 + b;
    }
    return Math.floor(acc / r.scale) % r.modulus;
  }
  let acc = 0n;
  for (let i = 0; i < r.span; i++) {
    acc = (acc << 8n) | BigInt(bytes[start + (r.littleEndian ? r.span - 1 - i : i)]!);
  }
  return (acc >> BigInt(shiftOf(r))) & ((1n << BigInt(r.width)) - 1n);
}

/** Stores the unsigned `value` (already range-checked, < 2^width) into the field of the struct at `base`. */
export function writeBits(bytes: Uint8Array, base: number, r: BitRange, value: number | bigint): void {
  const start = base + r.start;
  if (r.span <= MAX_NUMBER_SPAN) {
    let acc = 0;
    for (let i = 0; i < r.span; i++) acc = acc * 256 + bytes[start + (r.littleEndian ? r.span - 1 - i : i)]!;
    const scale = r.scale;
    const old = Math.floor(acc / scale) % r.modulus;
    acc += (Number(value) - old) * scale;
    for (let i = r.span - 1; i >= 0; i--) {
      bytes[start + (r.littleEndian ? r.span - 1 - i : i)] = acc % 256;
      acc = Math.floor(acc / 256);
    }
    return;
  }
  let acc = 0n;
  for (let i = 0; i < r.span; i++) acc = (acc << 8n) | BigInt(bytes[start + (r.littleEndian ? r.span - 1 - i : i)]!);
  const shift = BigInt(shiftOf(r));
  const mask = ((1n << BigInt(r.width)) - 1n) << shift;
  acc = (acc & ~mask) | ((BigInt(value) << shift) & mask);
  for (let i = r.span - 1; i >= 0; i--) {
    bytes[start + (r.littleEndian ? r.span - 1 - i : i)] = Number(acc & 0xffn);
    acc >>= 8n;
  }
}
