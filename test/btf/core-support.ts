/** Hand-built BTF for the CO-RE unit tests: small constructors for types, ids by position. */
import {
  Btf, BTF_INT_SIGNED, type BtfComposite, type BtfEnum, type BtfInt, type BtfMember, type BtfType,
} from '../../src/btf/index.js';

/** A base BTF whose first type has id 1, the next id 2, … */
export const btf = (...types: BtfType[]): Btf => new Btf([{ kind: 'void', name: '' }, ...types]);

export const int = (name: string, size = 4, signed = true): BtfInt =>
  ({ kind: 'int', name, size, encoding: signed ? BTF_INT_SIGNED : 0, offset: 0, bits: size * 8 });

export const member = (name: string, type: number, bitOffset: number, bitfieldSize = 0): BtfMember =>
  ({ name, type, bitOffset, bitfieldSize });

export const struct = (name: string, size: number, members: BtfMember[], kind: 'struct' | 'union' = 'struct'): BtfComposite =>
  ({ kind, name, size, kindFlag: members.some((m) => m.bitfieldSize > 0), members });

export const union = (name: string, size: number, members: BtfMember[]): BtfComposite => struct(name, size, members, 'union');

export const enumType = (name: string, values: [string, number | bigint][], options: { size?: number; signed?: boolean; kind?: 'enum' | 'enum64' } = {}): BtfEnum => ({
  kind: options.kind ?? 'enum', name, size: options.size ?? (options.kind === 'enum64' ? 8 : 4), signed: options.signed ?? false,
  values: values.map(([n, value]) => ({ name: n, value })),
});

export const ptr = (type: number): BtfType => ({ kind: 'ptr', name: '', type });
export const typedef = (name: string, type: number): BtfType => ({ kind: 'typedef', name, type });
export const array = (type: number, nelems: number, indexType = 1): BtfType => ({ kind: 'array', name: '', type, indexType, nelems });
export const fwd = (name: string, isUnion = false): BtfType => ({ kind: 'fwd', name, union: isUnion });
export const constOf = (type: number): BtfType => ({ kind: 'const', name: '', type });
