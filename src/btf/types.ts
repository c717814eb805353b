/**
 * The BTF type model: one readonly object per type, as a discriminated union on `kind`
 * (kernel: include/uapi/linux/btf.h, Documentation/bpf/btf.rst). Type ids are indexes into
 * `Btf.types`; id 0 is `void`. In split BTF (module BTF on vmlinux) ids continue after the
 * base's last id.
 */

/** BTF_KIND_* numbers, with the kernel's names. */
export const BtfKind = {
  UNKN: 0,
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
  DECL_TAG: 17,
  TYPE_TAG: 18,
  ENUM64: 19,
} as const;
export type BtfKindNumber = (typeof BtfKind)[keyof typeof BtfKind];

/** BTF_INT_* encoding bits of an INT type. */
export const BTF_INT_SIGNED = 1 << 0;
export const BTF_INT_CHAR = 1 << 1;
export const BTF_INT_BOOL = 1 << 2;

/** Linkage of FUNC (btf_func_linkage) and VAR (BTF_VAR_*) types. */
export const BtfLinkage = { STATIC: 0, GLOBAL: 1, EXTERN: 2 } as const;

export interface BtfVoid {
  readonly kind: 'void';
  readonly name: '';
}

export interface BtfInt {
  readonly kind: 'int';
  readonly name: string;
  /** Size in bytes. */
  readonly size: number;
  /** BTF_INT_SIGNED | BTF_INT_CHAR | BTF_INT_BOOL. */
  readonly encoding: number;
  /** Bit offset of the value inside the storage (BTF_INT_OFFSET). */
  readonly offset: number;
  /** Number of value bits (BTF_INT_BITS). */
  readonly bits: number;
}

export interface BtfPtr {
  readonly kind: 'ptr';
  readonly name: string;
  readonly type: number;
}

export interface BtfArray {
  readonly kind: 'array';
  readonly name: string;
  /** Element type id. */
  readonly type: number;
  readonly indexType: number;
  readonly nelems: number;
}

export interface BtfMember {
  readonly name: string;
  readonly type: number;
  /** Offset from the start of the struct, in bits. */
  readonly bitOffset: number;
  /** Bitfield width in bits, 0 when not a bitfield (only with the kind flag set). */
  readonly bitfieldSize: number;
}

export interface BtfComposite {
  readonly kind: 'struct' | 'union';
  readonly name: string;
  readonly size: number;
  /** The kind flag: member offsets encode bitfield sizes. */
  readonly kindFlag: boolean;
  readonly members: readonly BtfMember[];
}

export interface BtfEnumValue {
  readonly name: string;
  /** ENUM: a 32-bit number (signed or unsigned as `signed` says); ENUM64: a bigint. */
  readonly value: number | bigint;
}

export interface BtfEnum {
  readonly kind: 'enum' | 'enum64';
  readonly name: string;
  readonly size: number;
  /** The kind flag: values are signed. */
  readonly signed: boolean;
  readonly values: readonly BtfEnumValue[];
}

export interface BtfFwd {
  readonly kind: 'fwd';
  readonly name: string;
  /** Forward declaration of a union (kind flag) rather than a struct. */
  readonly union: boolean;
}

/** Types that only qualify or rename another type. */
export interface BtfRef {
  readonly kind: 'typedef' | 'volatile' | 'const' | 'restrict' | 'type_tag';
  readonly name: string;
  readonly type: number;
  /**
   * type_tag only, present when true: the kind flag, meaning the tag is a plain C attribute
   * (`__attribute__((address_space(1)))`) rather than `btf_type_tag("name")` (kernel 6.14+).
   */
  readonly attribute?: boolean;
}

export interface BtfFunc {
  readonly kind: 'func';
  readonly name: string;
  /** The FUNC_PROTO type id. */
  readonly type: number;
  /** BtfLinkage value. */
  readonly linkage: number;
}

export interface BtfParam {
  readonly name: string;
  /** Type id; 0 as the last parameter means `...`. */
  readonly type: number;
}

export interface BtfFuncProto {
  readonly kind: 'func_proto';
  readonly name: string;
  readonly returnType: number;
  readonly params: readonly BtfParam[];
}

export interface BtfVar {
  readonly kind: 'var';
  readonly name: string;
  readonly type: number;
  /** BtfLinkage value. */
  readonly linkage: number;
}

export interface BtfVarSecinfo {
  /** The VAR (or FUNC, for .ksyms) type id. */
  readonly type: number;
  readonly offset: number;
  readonly size: number;
}

export interface BtfDatasec {
  readonly kind: 'datasec';
  readonly name: string;
  readonly size: number;
  readonly vars: readonly BtfVarSecinfo[];
}

export interface BtfFloat {
  readonly kind: 'float';
  readonly name: string;
  readonly size: number;
}

export interface BtfDeclTag {
  readonly kind: 'decl_tag';
  readonly name: string;
  readonly type: number;
  /** Member or parameter index the tag applies to; -1 for the type itself. */
  readonly componentIdx: number;
  /**
   * Present when true: the kind flag, meaning the tag is a plain C attribute
   * (`__attribute__((name))`) rather than `btf_decl_tag("name")` (kernel 6.14+).
   */
  readonly attribute?: boolean;
}

export type BtfType =
  | BtfVoid
  | BtfInt
  | BtfPtr
  | BtfArray
  | BtfComposite
  | BtfEnum
  | BtfFwd
  | BtfRef
  | BtfFunc
  | BtfFuncProto
  | BtfVar
  | BtfDatasec
  | BtfFloat
  | BtfDeclTag;

export type BtfTypeKind = BtfType['kind'];

/** The BTF_KIND_* number of a type. */
export function kindNumber(t: BtfType): BtfKindNumber {
  switch (t.kind) {
    case 'void': return BtfKind.UNKN;
    case 'int': return BtfKind.INT;
    case 'ptr': return BtfKind.PTR;
    case 'array': return BtfKind.ARRAY;
    case 'struct': return BtfKind.STRUCT;
    case 'union': return BtfKind.UNION;
    case 'enum': return BtfKind.ENUM;
    case 'enum64': return BtfKind.ENUM64;
    case 'fwd': return BtfKind.FWD;
    case 'typedef': return BtfKind.TYPEDEF;
    case 'volatile': return BtfKind.VOLATILE;
    case 'const': return BtfKind.CONST;
    case 'restrict': return BtfKind.RESTRICT;
    case 'type_tag': return BtfKind.TYPE_TAG;
    case 'func': return BtfKind.FUNC;
    case 'func_proto': return BtfKind.FUNC_PROTO;
    case 'var': return BtfKind.VAR;
    case 'datasec': return BtfKind.DATASEC;
    case 'float': return BtfKind.FLOAT;
    case 'decl_tag': return BtfKind.DECL_TAG;
  }
}

/** Kernel spelling of a kind, as bpftool prints it (`STRUCT`, `FUNC_PROTO`, …). */
export function kindName(t: BtfType): string {
  return t.kind === 'void' ? 'VOID' : t.kind.toUpperCase();
}
