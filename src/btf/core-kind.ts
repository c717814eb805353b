/**
 * CO-RE relocation kinds: the kernel's `enum bpf_core_relo_kind` (include/uapi/linux/bpf.h),
 * with libbpf's short names as its debug log prints them (relo_core.c core_relo_kind_str).
 */

/** BPF_CORE_* relocation kinds, with the kernel's names and numbers. */
export const CoreRelocationKind = {
  /** Byte offset of a field (`bpf_core_field_offset`, `BPF_CORE_READ`). */
  FIELD_BYTE_OFFSET: 0,
  /** Byte size of a field (`bpf_core_field_size`). */
  FIELD_BYTE_SIZE: 1,
  /** 1 when the field exists in the target (`bpf_core_field_exists`). */
  FIELD_EXISTS: 2,
  /** 1 when the field is a signed integer or signed enum. */
  FIELD_SIGNED: 3,
  /** Left shift that moves a bitfield to the top of a u64 (`BPF_CORE_READ_BITFIELD`). */
  FIELD_LSHIFT_U64: 4,
  /** Right shift that moves it back down, after the left shift. */
  FIELD_RSHIFT_U64: 5,
  /** The type's id in the program's own BTF (`bpf_core_type_id_local`). */
  TYPE_ID_LOCAL: 6,
  /** The type's id in the target BTF, 0 when absent (`bpf_core_type_id_kernel`). */
  TYPE_ID_TARGET: 7,
  /** 1 when a compatible type exists in the target (`bpf_core_type_exists`). */
  TYPE_EXISTS: 8,
  /** Size of the type in the target, 0 when absent (`bpf_core_type_size`). */
  TYPE_SIZE: 9,
  /** 1 when the enumerator exists in the target (`bpf_core_enum_value_exists`). */
  ENUMVAL_EXISTS: 10,
  /** The enumerator's value in the target (`bpf_core_enum_value`). */
  ENUMVAL_VALUE: 11,
  /** 1 when the type matches the target's in the stricter sense of `bpf_core_type_matches`. */
  TYPE_MATCHES: 12,
} as const;

export type CoreRelocationKindNumber = (typeof CoreRelocationKind)[keyof typeof CoreRelocationKind];

// libbpf: relo_core.c core_relo_kind_str, indexed by kind number.
const SHORT_NAMES = [
  'byte_off', 'byte_sz', 'field_exists', 'signed', 'lshift_u64', 'rshift_u64',
  'local_type_id', 'target_type_id', 'type_exists', 'type_size',
  'enumval_exists', 'enumval_value', 'type_matches',
] as const;

/**
 * libbpf's name of a relocation kind, as its log prints it (`byte_off`, `type_matches`, …);
 * `unknown` for a number that is no kind.
 */
export function coreRelocationKindName(kind: number): string {
  return SHORT_NAMES[kind] ?? 'unknown';
}

/** True for a number that is a known relocation kind. */
export function isCoreRelocationKind(kind: number): kind is CoreRelocationKindNumber {
  return Number.isInteger(kind) && kind >= 0 && kind < SHORT_NAMES.length;
}

/** Field-based kinds: the access string walks from the root type to a field or array element. */
export function isFieldBasedKind(kind: number): boolean {
  return kind >= CoreRelocationKind.FIELD_BYTE_OFFSET && kind <= CoreRelocationKind.FIELD_RSHIFT_U64;
}

/** Type-based kinds: the access string is always `0`. */
export function isTypeBasedKind(kind: number): boolean {
  return (kind >= CoreRelocationKind.TYPE_ID_LOCAL && kind <= CoreRelocationKind.TYPE_SIZE) ||
    kind === CoreRelocationKind.TYPE_MATCHES;
}

/** Enumerator-based kinds: the access string is the enumerator's index in the local enum. */
export function isEnumValueBasedKind(kind: number): boolean {
  return kind === CoreRelocationKind.ENUMVAL_EXISTS || kind === CoreRelocationKind.ENUMVAL_VALUE;
}
