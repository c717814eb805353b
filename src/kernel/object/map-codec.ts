/**
 * How a loaded map's keys and values become JavaScript values (src/object/map-codec.ts), with
 * the kernel's choices: the host's byte order, and fds in (a number or a handle with `fd`),
 * ids out, for maps of programs, maps, perf events and cgroups. The same rules serve maps
 * loaded from an object and maps opened by id or pin (whose BTF comes from the kernel).
 */
import type { Btf } from '../../btf/btf.js';
import { mapCodecSides, type MapShape } from '../../object/map-codec.js';
import { HOST_LITTLE_ENDIAN } from '../attr.js';
import type { MapCodec } from '../map-typed.js';
import { MapType } from '../map-types.js';

export type { MapShape } from '../../object/map-codec.js';

/** Maps whose values are kernel objects: written as fds (or handles with `fd`), read back as ids. */
const FD_VALUED: ReadonlySet<number> = new Set([
  MapType.PROG_ARRAY, MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS, MapType.PERF_EVENT_ARRAY, MapType.CGROUP_ARRAY,
]);

/** The codec for a map of `shape` whose types are in `btf`. */
export function mapCodec(shape: MapShape, btf: Btf | undefined): MapCodec<unknown, unknown> {
  const { key, value } = mapCodecSides(shape, btf, {
    littleEndian: HOST_LITTLE_ENDIAN,
    objectValued: FD_VALUED,
    objectNumber: (v) => {
      const fd = (v as { fd?: unknown } | null)?.fd;
      return typeof fd === 'number' ? fd : undefined;
    },
    objectHint: 'a program array or map of maps takes a program or map (or its fd)',
  });
  return { encodeKey: key.encode, decodeKey: key.decode, encodeValue: value.encode, decodeValue: value.decode };
}
