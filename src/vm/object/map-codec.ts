/**
 * How a VM map's keys and values become JavaScript values — the same rules as the kernel
 * backend's (src/kernel/object/map-codec.ts): the BTF codec of the key and value types when
 * the map has them, u32 indexes for array-like maps, program or map handles in and ids out for
 * program arrays and maps of maps, raw bytes otherwise. Every side also takes a Uint8Array of
 * the exact size. The VM is little-endian.
 */
import type { Btf } from '../../btf/btf.js';
import { codecFor, type BtfCodec } from '../../btf/codec.js';
import { MapType } from '../maps/flags.js';

/** Bytes ⇄ values for one side of a map. */
export interface CodecSide {
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

/** A map's key and (one CPU's) value codec. */
export interface VmMapCodec {
  readonly key: CodecSide;
  readonly value: CodecSide;
}

/** The shape of a map, from its spec. */
export interface MapShape {
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly keyTypeId: number;
  readonly valueTypeId: number;
}

/** Maps indexed by a u32 (numbers even without BTF). */
const ARRAY_LIKE: ReadonlySet<number> = new Set([
  MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.PROG_ARRAY, MapType.PERF_EVENT_ARRAY, MapType.ARRAY_OF_MAPS,
]);

/** Maps whose values are programs or maps: `toId` turns a handle into the id the VM map stores. */
const OBJECT_VALUED: ReadonlySet<number> = new Set([MapType.PROG_ARRAY, MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS]);

/** The codec for a map of `shape` typed by `btf`; `toId` resolves program and map handles. */
export function mapCodec(shape: MapShape, btf: Btf | undefined, toId: (handle: unknown) => number): VmMapCodec {
  return { key: keySide(shape, btf), value: valueSide(shape, btf, toId) };
}

function keySide(shape: MapShape, btf: Btf | undefined): CodecSide {
  if (shape.keySize === 0) return { encode: () => new Uint8Array(0), decode: () => undefined };
  return btfSide(btf, shape.keyTypeId, shape.keySize, 'key')
    ?? (shape.keySize === 4 && ARRAY_LIKE.has(shape.type) ? u32Side('key', (v) => v) : rawSide(shape.keySize, 'key'));
}

function valueSide(shape: MapShape, btf: Btf | undefined, toId: (handle: unknown) => number): CodecSide {
  if (OBJECT_VALUED.has(shape.type) && shape.valueSize === 4) return u32Side('value', toId);
  return btfSide(btf, shape.valueTypeId, shape.valueSize, 'value') ?? rawSide(shape.valueSize, 'value');
}

function btfSide(btf: Btf | undefined, typeId: number, size: number, what: string): CodecSide | undefined {
  if (btf === undefined || typeId === 0) return undefined;
  let codec: BtfCodec;
  try {
    codec = codecFor(btf, typeId, { endianness: 'little' });
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

/** A u32 (index or id); `resolve` maps other values (handles) to a number first. */
function u32Side(what: string, resolve: (v: unknown) => unknown): CodecSide {
  return {
    encode: (v) => {
      if (v instanceof Uint8Array) return v;
      const n = typeof v === 'number' ? v : resolve(v);
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffff_ffff) {
        throw new TypeError(`${what} ${String(v)}: expected an integer from 0 to 2^32-1${what === 'value' ? ' or a program or map of this object' : ''}`);
      }
      const out = new Uint8Array(4);
      new DataView(out.buffer).setUint32(0, n, true);
      return out;
    },
    decode: (bytes) => new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true),
  };
}
