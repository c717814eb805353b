/**
 * How a map's keys and values become JavaScript values, for both backends: the BTF codec of
 * the key and value types when the map has them (plain objects, numbers, bigints, strings),
 * u32 indexes for array-like maps, other objects (programs, maps; fds in the kernel, ids in the
 * VM) for the maps that hold them, raw bytes otherwise. Every side also takes a Uint8Array of
 * the exact size, so raw bytes always work.
 */
import type { Btf } from '../btf/btf.js';
import { codecFor, type BtfCodec } from '../btf/codec.js';
import { MapType } from './uapi-types.js';

/** The shape of a map, as its spec or the kernel's info gives it. */
export interface MapShape {
  readonly type: number;
  readonly keySize: number;
  /** One CPU's value size for per-CPU maps. */
  readonly valueSize: number;
  readonly keyTypeId: number;
  readonly valueTypeId: number;
}

/** Bytes ⇄ values for one side (key or value) of a map. */
export interface CodecSide {
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

/** A map's key and (one CPU's) value codec. */
export interface MapCodecSides {
  readonly key: CodecSide;
  readonly value: CodecSide;
}

/** What differs between the backends. */
export interface MapCodecOptions {
  /** Byte order of the map's bytes (the VM's is little-endian; the kernel's the host's). */
  readonly littleEndian: boolean;
  /** Map types whose 4-byte values stand for other objects (programs, maps, …). */
  readonly objectValued: ReadonlySet<number>;
  /** The number stored for such a value given as a JS value (a handle), or undefined if it is none. */
  readonly objectNumber: (value: unknown) => number | undefined;
  /** What such a map takes, for the error message. */
  readonly objectHint: string;
}

/** Maps indexed by a u32 (their keys are numbers even without BTF). */
export const ARRAY_LIKE_MAPS: ReadonlySet<number> = new Set([
  MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.PROG_ARRAY, MapType.PERF_EVENT_ARRAY, MapType.CGROUP_ARRAY,
  MapType.ARRAY_OF_MAPS, MapType.DEVMAP, MapType.CPUMAP, MapType.XSKMAP, MapType.SOCKMAP, MapType.REUSEPORT_SOCKARRAY,
]);

/** The key and value codecs of a map of `shape` whose types are in `btf`. */
export function mapCodecSides(shape: MapShape, btf: Btf | undefined, options: MapCodecOptions): MapCodecSides {
  return { key: keySide(shape, btf, options), value: valueSide(shape, btf, options) };
}

function keySide(shape: MapShape, btf: Btf | undefined, options: MapCodecOptions): CodecSide {
  if (shape.keySize === 0) return { encode: () => new Uint8Array(0), decode: () => undefined };
  return btfSide(btf, shape.keyTypeId, shape.keySize, 'key', options.littleEndian)
    ?? (shape.keySize === 4 && ARRAY_LIKE_MAPS.has(shape.type)
      ? u32Side(options.littleEndian, () => undefined, (v) => `key ${String(v)}: an array index is an integer from 0 to 2^32-1`)
      : rawSide(shape.keySize, 'key'));
}

function valueSide(shape: MapShape, btf: Btf | undefined, options: MapCodecOptions): CodecSide {
  if (options.objectValued.has(shape.type) && shape.valueSize === 4) {
    return u32Side(options.littleEndian, options.objectNumber, (v) => `value ${String(v)}: ${options.objectHint}`);
  }
  return btfSide(btf, shape.valueTypeId, shape.valueSize, 'value', options.littleEndian) ?? rawSide(shape.valueSize, 'value');
}

/** The BTF codec of `typeId`, when the type has exactly `size` bytes. */
function btfSide(btf: Btf | undefined, typeId: number, size: number, what: string, littleEndian: boolean): CodecSide | undefined {
  if (btf === undefined || typeId === 0) return undefined;
  let codec: BtfCodec;
  try {
    codec = codecFor(btf, typeId, { endianness: littleEndian ? 'little' : 'big' });
  } catch {
    return undefined;
  }
  if (codec.size !== size) return undefined;
  const raw = rawSide(size, what);
  return {
    encode: (v) => (v instanceof Uint8Array ? raw.encode(v) : codec.encode(v)),
    decode: (bytes) => codec.decode(bytes),
  };
}

function rawSide(size: number, what: string): CodecSide {
  return {
    encode: (v) => {
      if (!(v instanceof Uint8Array)) throw new TypeError(`the map has no BTF type for its ${what}: give ${size} bytes as a Uint8Array`);
      return v;
    },
    decode: (bytes) => bytes,
  };
}

/** A u32 (index, fd or id): a number, or what `toNumber` makes of another value. */
function u32Side(littleEndian: boolean, toNumber: (v: unknown) => number | undefined, message: (v: unknown) => string): CodecSide {
  return {
    encode: (v) => {
      if (v instanceof Uint8Array) return v;
      const n = typeof v === 'number' ? v : toNumber(v);
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffff_ffff) throw new TypeError(message(v));
      const out = new Uint8Array(4);
      new DataView(out.buffer).setUint32(0, n, littleEndian);
      return out;
    },
    decode: (bytes) => new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, littleEndian),
  };
}
