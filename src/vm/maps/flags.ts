/**
 * Flag values of the map commands and helpers (include/uapi/linux/bpf.h). The map types and
 * creation flags (`MapType`, `MapFlag`) are the object layer's tables, re-exported here.
 */
export { MapFlag, MapType, mapTypeName } from '../../object/uapi-types.js';

/** `flags` of BPF_MAP_UPDATE_ELEM / bpf_map_update_elem(). */
export const UpdateFlag = {
  /** Create a new element or update an existing one. */
  ANY: 0,
  /** Create a new element only if it did not exist. */
  NOEXIST: 1,
  /** Update an existing element only. */
  EXIST: 2,
  /** Take the value's `bpf_spin_lock` for the copy (maps whose value has one). */
  F_LOCK: 4,
} as const;

export const BPF_ANY = 0n;
export const BPF_NOEXIST = 1n;
export const BPF_EXIST = 2n;
export const BPF_F_LOCK = 4n;

/** `flags` of bpf_ringbuf_output/submit/discard. */
export const RingbufFlag = {
  /** Do not notify the consumer. */
  NO_WAKEUP: 1,
  /** Notify the consumer even if it is not waiting for this record. */
  FORCE_WAKEUP: 2,
} as const;

/** `flags` of bpf_ringbuf_query. */
export const RingbufQuery = {
  AVAIL_DATA: 0,
  RING_SIZE: 1,
  CONS_POS: 2,
  PROD_POS: 3,
} as const;

/** bpf_perf_event_output: the low 32 bits of `flags` select the slot; this value means "this CPU". */
export const BPF_F_INDEX_MASK = 0xffffffffn;
export const BPF_F_CURRENT_CPU = 0xffffffffn;
/** bpf_perf_event_output from skb/xdp programs: bytes of the packet to append, in bits 32..51. */
export const BPF_F_CTXLEN_MASK = 0xfffffn << 32n;
