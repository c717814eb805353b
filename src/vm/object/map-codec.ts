/**
 * How a VM map's keys and values become JavaScript values: the kernel backend's rules
 * (src/object/map-codec.ts), little-endian, with program or map handles in and ids out for
 * program arrays and maps of maps.
 */
import type { Btf } from '../../btf/btf.js';
import { mapCodecSides, type MapCodecSides, type MapShape } from '../../object/map-codec.js';
import { MapType } from '../maps/flags.js';

export type { CodecSide, MapShape } from '../../object/map-codec.js';

/** A map's key and (one CPU's) value codec. */
export type VmMapCodec = MapCodecSides;

/** Maps whose values are programs or maps: `toId` turns a handle into the id the VM map stores. */
const OBJECT_VALUED: ReadonlySet<number> = new Set([MapType.PROG_ARRAY, MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS]);

/** The codec for a map of `shape` typed by `btf`; `toId` resolves program and map handles (-1 for neither). */
export function mapCodec(shape: MapShape, btf: Btf | undefined, toId: (handle: unknown) => number): VmMapCodec {
  return mapCodecSides(shape, btf, {
    littleEndian: true,
    objectValued: OBJECT_VALUED,
    objectNumber: (v) => {
      const id = toId(v);
      return id < 0 ? undefined : id;
    },
    objectHint: 'expected an integer from 0 to 2^32-1 or a program or map of this object',
  });
}
