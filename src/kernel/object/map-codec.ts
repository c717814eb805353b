/**
 * How a loaded map's keys and values become JavaScript values: through the BTF codec of the
 * map's key and value types when it has them (plain objects, numbers, bigints, strings), as
 * u32 indexes for array-like maps, as fds in and ids out for maps of programs and maps, and as
 * raw bytes otherwise. The same rules serve maps loaded from an object and maps opened by id
 * or pin (whose BTF comes from the kernel).
 */
import type { Btf } from '../../btf/btf.js';
import { codecFor, type BtfCodec } from '../../btf/codec.js';
import { HOST_LITTLE_ENDIAN } from '../attr.js';
import type { MapCodec } from '../map-typed.js';
import { MapType } from '../map-types.js';

/** The shape of a map, as its spec or the kernel's info gives it. */
export interface MapShape {
  readonly type: number;
  readonly keySize: number;
  /** One CPU's value size for per-CPU maps. */
  readonly valueSize: number;
  readonly keyTypeId: number;
  readonly valueTypeId: number;
}

/** Maps indexed by a u32 (their keys are numbers even without BTF). */
const ARRAY_LIKE: ReadonlySet<number> = new Set([
  MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.PROG_ARRAY, MapType.PERF_EVENT_ARRAY, MapType.CGROUP_ARRAY,
  MapType.ARRAY_OF_MAPS, MapType.DEVMAP, MapType.CPUMAP, MapType.XSKMAP, MapType.SOCKMAP, MapType.REUSEPORT_SOCKARRAY,
]);

/** Maps whose values are kernel objects: written as fds (or handles with `fd`), read back as ids. */
const FD_VALUED: ReadonlySet<number> = new Set([
  MapType.PROG_ARRAY, MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS, MapType.PERF_EVENT_ARRAY, MapType.CGROUP_ARRAY,
]);

/** One side (key or value) of a map codec. */
interface Side {
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

/**
 * The codec for a map of `shape` whose types are in `btf`. Every side also accepts a
 * Uint8Array of the exact size, so raw bytes always work.
 */
export function mapCodec(shape: MapShape, btf: Btf | undefined): MapCodec<unknown, unknown> {
  const key = keySide(shape, btf);
  const value = valueSide(shape, btf);
  return { encodeKey: key.encode, decodeKey: key.decode, encodeValue: value.encode, decodeValue: value.decode };
}

function keySide(shape: MapShape, btf: Btf | undefined): Side {
  if (shape.keySize === 0) return { encode: () => new Uint8Array(0), decode: () => undefined };
  const typed = btfSide(btf, shape.keyTypeId, shape.keySize, 'key');
  if (typed !== undefined) return typed;
  if (shape.keySize === 4 && ARRAY_LIKE.has(shape.type)) return u32Side('key');
  return rawSide(shape.keySize, 'key');
}

function valueSide(shape: MapShape, btf: Btf | undefined): Side {
  if (FD_VALUED.has(shape.type) && shape.valueSize === 4) return fdSide();
  return btfSide(btf, shape.valueTypeId, shape.valueSize, 'value') ?? rawSide(shape.valueSize, 'value');
}

/** The BTF codec of `typeId`, when the type has exactly `size` bytes. */
function btfSide(btf: Btf | undefined, typeId: number, size: number, what: string): Side | undefined {
  if (btf === undefined || typeId === 0) return undefined;
  let codec: BtfCodec;
  try {
    codec = codecFor(btf, typeId, { endianness: HOST_LITTLE_ENDIAN ? 'little' : 'big' });
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

function rawSide(size: number, what: string): Side {
  return {
    encode: (v) => {
      if (!(v instanceof Uint8Array)) throw new TypeError(`the map has no BTF type for its ${what}: give ${size} bytes as a Uint8Array`);
      return v;
    },
    decode: (bytes) => bytes,
  };
}

function u32Side(what: string): Side {
  const raw = rawSide(4, what);
  return {
    encode: (v) => {
      if (v instanceof Uint8Array) return raw.encode(v);
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff_ffff) {
        throw new TypeError(`${what} ${String(v)}: an array index is an integer from 0 to 2^32-1`);
      }
      return u32(v);
    },
    decode: (bytes) => new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, HOST_LITTLE_ENDIAN),
  };
}

/** Program arrays and maps of maps: a handle or fd in, the object's id out. */
function fdSide(): Side {
  return {
    encode: (v) => {
      if (v instanceof Uint8Array) return v;
      const fd = typeof v === 'number' ? v : (v as { fd?: unknown } | null)?.fd;
      if (typeof fd !== 'number') throw new TypeError('a program array or map of maps takes a program or map (or its fd)');
      return u32(fd);
    },
    decode: (bytes) => new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, HOST_LITTLE_ENDIAN),
  };
}

function u32(v: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, v, HOST_LITTLE_ENDIAN);
  return out;
}
