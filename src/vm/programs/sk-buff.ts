/**
 * `struct __sk_buff` (include/uapi/linux/bpf.h, Linux 6.18): the context of socket filters,
 * TC classifiers/actions and cgroup skb programs, as a table of fields, with the fields each
 * program type may write (kernel: net/core/filter.c sk_filter_is_valid_access,
 * tc_cls_act_is_valid_access, cg_skb_is_valid_access — confirmed against the running kernel
 * by test/vm/programs/access.test.ts).
 */
import { ProgramType } from '../../object/uapi-types.js';
import type { WritableRange } from './layout.js';

/** sizeof(struct __sk_buff). */
export const SK_BUFF_SIZE = 192;

type FieldType = 'u8' | 'u32' | 'u64' | 'u32[4]' | 'u32[5]';

/** The fields of `struct __sk_buff`: kernel name, byte offset, type. `flow_keys` and `sk` are pointers. */
export const SK_BUFF_FIELDS = [
  ['len', 0, 'u32'], ['pkt_type', 4, 'u32'], ['mark', 8, 'u32'], ['queue_mapping', 12, 'u32'],
  ['protocol', 16, 'u32'], ['vlan_present', 20, 'u32'], ['vlan_tci', 24, 'u32'], ['vlan_proto', 28, 'u32'],
  ['priority', 32, 'u32'], ['ingress_ifindex', 36, 'u32'], ['ifindex', 40, 'u32'], ['tc_index', 44, 'u32'],
  ['cb', 48, 'u32[5]'], ['hash', 68, 'u32'], ['tc_classid', 72, 'u32'], ['data', 76, 'u32'], ['data_end', 80, 'u32'],
  ['napi_id', 84, 'u32'], ['family', 88, 'u32'], ['remote_ip4', 92, 'u32'], ['local_ip4', 96, 'u32'],
  ['remote_ip6', 100, 'u32[4]'], ['local_ip6', 116, 'u32[4]'], ['remote_port', 132, 'u32'], ['local_port', 136, 'u32'],
  ['data_meta', 140, 'u32'], ['flow_keys', 144, 'u64'], ['tstamp', 152, 'u64'], ['wire_len', 160, 'u32'],
  ['gso_segs', 164, 'u32'], ['sk', 168, 'u64'], ['gso_size', 176, 'u32'], ['tstamp_type', 180, 'u8'], ['hwtstamp', 184, 'u64'],
] as const satisfies ReadonlyArray<readonly [string, number, FieldType]>;

type Fields = typeof SK_BUFF_FIELDS[number];
type ValueOf<T extends FieldType> = T extends 'u64' ? bigint : T extends 'u32[4]' | 'u32[5]' ? number[] : number;

/** A `struct __sk_buff` decoded: kernel field names; u64 fields as bigint, arrays as numbers. */
export type SkBuff = { -readonly [F in Fields as F[0]]: ValueOf<F[2]> };

/** Byte offset of each field, by kernel name (`SK_BUFF.cb` is 48). */
export const SK_BUFF = Object.fromEntries(SK_BUFF_FIELDS.map(([name, offset]) => [name, offset])) as { readonly [F in Fields as F[0]]: F[1] };

/** Fields holding pointers in the kernel (a packet pointer, a socket, flow keys), not values. */
export const SK_BUFF_POINTER_FIELDS: readonly string[] = ['data', 'data_end', 'data_meta', 'flow_keys', 'sk'];

/**
 * Fields the kernel keeps narrower than their 4 bytes in `struct __sk_buff` (the width of the
 * sk_buff/sock member bpf_convert_ctx_access loads): what it does to narrow loads and stores.
 * Observed with BPF_PROG_TEST_RUN for pkt_type, protocol, family, gso_segs and gso_size; the
 * others are always 0 there and are taken from net/core/filter.c.
 */
export const SK_BUFF_STORAGE: Readonly<Record<string, 1 | 2>> = {
  pkt_type: 1, queue_mapping: 2, protocol: 2, vlan_tci: 2, vlan_proto: 2, tc_index: 2, tc_classid: 2,
  family: 2, local_port: 2, gso_segs: 2, gso_size: 2, tstamp_type: 1,
};

/**
 * What the kernel's rewritten context load returns for a read of `size` bytes at byte `offset`
 * of a field holding `value` in `storage` bytes (kernel: convert_ctx_accesses narrows — shifts
 * and masks — only a load smaller than the member it reads; a load at least as wide returns the
 * whole member wherever in the field it was aimed). A VM that reads the struct as plain memory
 * agrees except when `size >= storage` and `offset > 0`; rewriting such loads is the verifier's.
 */
export function skBuffNarrowLoad(value: number, storage: number, offset: number, size: number): number {
  if (size >= storage) return value;
  return (value >>> (8 * offset)) & (2 ** (8 * size) - 1);
}

const range = (name: string, size = 4): WritableRange => [name, SK_BUFF[name as keyof typeof SK_BUFF], size];

/** The ranges of `struct __sk_buff` each program type may write (others: none). */
export const SK_BUFF_WRITABLE: ReadonlyMap<number, readonly WritableRange[]> = new Map<number, readonly WritableRange[]>([
  [ProgramType.SOCKET_FILTER, [range('cb', 20)]],
  [ProgramType.SCHED_CLS, [range('mark'), range('queue_mapping'), range('priority'), range('tc_index'), range('cb', 20), range('tc_classid'), range('tstamp', 8)]],
  [ProgramType.SCHED_ACT, [range('mark'), range('queue_mapping'), range('priority'), range('tc_index'), range('cb', 20), range('tc_classid'), range('tstamp', 8)]],
  [ProgramType.CGROUP_SKB, [range('mark'), range('priority'), range('cb', 20), range('tstamp', 8)]],
  // kernel: lwt_is_valid_access — mark, priority and cb[] are writable.
  [ProgramType.LWT_IN, [range('mark'), range('priority'), range('cb', 20)]],
  [ProgramType.LWT_OUT, [range('mark'), range('priority'), range('cb', 20)]],
  [ProgramType.LWT_XMIT, [range('mark'), range('priority'), range('cb', 20)]],
]);

/** Writes `fields` into a 192-byte `struct __sk_buff` image (missing fields stay as they are). */
export function encodeSkBuff(fields: Partial<SkBuff>, into: Uint8Array = new Uint8Array(SK_BUFF_SIZE)): Uint8Array {
  const v = new DataView(into.buffer, into.byteOffset, into.byteLength);
  for (const [name, offset, type] of SK_BUFF_FIELDS) {
    const value = fields[name];
    if (value === undefined) continue;
    if (type === 'u64') v.setBigUint64(offset, BigInt.asUintN(64, value as bigint), true);
    else if (type === 'u8') v.setUint8(offset, value as number);
    else if (Array.isArray(value)) value.forEach((w, i) => v.setUint32(offset + 4 * i, w >>> 0, true));
    else v.setUint32(offset, (value as number) >>> 0, true);
  }
  return into;
}

/** Decodes a `struct __sk_buff` image. */
export function decodeSkBuff(bytes: Uint8Array): SkBuff {
  if (bytes.length < SK_BUFF_SIZE) throw new RangeError(`struct __sk_buff needs ${SK_BUFF_SIZE} bytes, got ${bytes.length}`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, SK_BUFF_SIZE);
  const out: Record<string, unknown> = {};
  for (const [name, offset, type] of SK_BUFF_FIELDS) {
    out[name] = type === 'u64' ? v.getBigUint64(offset, true)
      : type === 'u8' ? v.getUint8(offset)
        : type === 'u32' ? v.getUint32(offset, true)
          : Array.from({ length: type === 'u32[4]' ? 4 : 5 }, (_, i) => v.getUint32(offset + 4 * i, true));
  }
  return out as SkBuff;
}
