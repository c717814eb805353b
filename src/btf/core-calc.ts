/**
 * The value of a CO-RE relocation: what the instruction holds now (from the local spec) and
 * what it must hold on the target (from the matched target spec), or a request to poison it
 * (libbpf relo_core.c bpf_core_calc_field_relo / _type_relo / _enumval_relo, bpf_core_calc_relo,
 * and the candidate loop of bpf_core_calc_relo_insn).
 */
import type { Btf } from './btf.js';
import { CoreFault } from './core-error.js';
import { isAnyEnum, isComposite, resolveSize, skipModsAndTypedefs, typeById } from './core-btf.js';
import {
  CoreRelocationKind as K, isEnumValueBasedKind, isFieldBasedKind, isTypeBasedKind,
} from './core-kind.js';
import { formatCoreSpec, matchCoreSpec, parseCoreSpec, type CoreSpec } from './core-spec.js';
import { BTF_INT_SIGNED } from './types.js';

/** The outcome of computing one relocation (libbpf: struct bpf_core_relo_res). */
export interface CoreRelocationValue {
  /** Value the instruction is expected to hold now, computed from the local BTF. */
  readonly origValue: bigint;
  /** Value to patch in, computed from the target BTF. */
  readonly newValue: bigint;
  /** The relocation could not be satisfied: the instruction is to be poisoned. */
  readonly poison: boolean;
  /** Whether the instruction's current value must equal `origValue`. */
  readonly validate: boolean;
  /** Load/store width differs and may not be adjusted: poison a memory instruction. */
  readonly failMemszAdjust: boolean;
  /** Field (or array element) size on each side, for memory instructions; 0 when not tracked. */
  readonly origSize: number;
  readonly newSize: number;
  readonly origTypeId: number;
  readonly newTypeId: number;
}

/** One candidate target type: a type of `btf` whose essential name equals the local one. */
export interface CoreCandidate {
  readonly btf: Btf;
  readonly id: number;
}

interface FieldValue {
  value: bigint;
  size: number;
  typeId: number;
  validate: boolean;
}

/** Size of the innermost element of a (possibly multi-dimensional) array type, or of the type itself. */
function elementSize(btf: Btf, id: number): number {
  let [elemId, t] = skipModsAndTypedefs(btf, id);
  while (t.kind === 'array') [elemId, t] = skipModsAndTypedefs(btf, t.type);
  return resolveSize(btf, elemId);
}

/**
 * Field-based value for one spec (libbpf: bpf_core_calc_field_relo); 'poison' when `spec` is
 * undefined (the field is absent) for a kind other than FIELD_EXISTS.
 */
function calcField(spec: CoreSpec | undefined, kind: number, bigEndian: boolean): FieldValue | 'poison' {
  if (kind === K.FIELD_EXISTS) return { value: spec ? 1n : 0n, size: 0, typeId: 0, validate: true };
  if (spec === undefined) return 'poison';

  const acc = spec.accessors[spec.accessors.length - 1]!;
  if (acc.name === undefined) {
    // The spec ends in an array element: a[n].
    if (kind === K.FIELD_BYTE_OFFSET) {
      return {
        value: BigInt(Math.floor(spec.bitOffset / 8)),
        size: elementSize(spec.btf, acc.typeId), typeId: acc.typeId, validate: true,
      };
    }
    if (kind === K.FIELD_BYTE_SIZE) {
      return { value: BigInt(resolveSize(spec.btf, acc.typeId)), size: 0, typeId: 0, validate: true };
    }
    throw new CoreFault('EINVAL', `relocation kind ${kind} can't be applied to array access`);
  }

  const parent = typeById(spec.btf, acc.typeId);
  const m = isComposite(parent) ? parent.members[acc.idx] : undefined;
  if (m === undefined) throw new CoreFault('EINVAL', `accessor names no member of [${acc.typeId}]`);
  const [fieldTypeId, mt] = skipModsAndTypedefs(spec.btf, m.type);
  const bitOff = spec.bitOffset;
  let bitSize = m.bitfieldSize;
  const bitfield = bitSize > 0;
  let byteSize: number;
  let byteOff: number;
  if (bitfield) {
    if (!('size' in mt)) throw new CoreFault('EINVAL', `bitfield of kind ${mt.kind}`);
    byteSize = mt.size;
    byteOff = Math.floor(bitOff / 8 / byteSize) * byteSize;
    // The smallest naturally aligned load that holds the whole bitfield.
    while (bitOff + bitSize - byteOff * 8 > byteSize * 8) {
      if (byteSize >= 8) throw new CoreFault('E2BIG', `relocation kind ${kind} can't be satisfied for bitfield`);
      byteSize *= 2;
      byteOff = Math.floor(bitOff / 8 / byteSize) * byteSize;
    }
  } else {
    byteSize = resolveSize(spec.btf, fieldTypeId);
    byteOff = Math.floor(bitOff / 8);
    bitSize = byteSize * 8;
  }

  // Offsets and sizes of bitfields are the compiler's choice; only signedness and the right
  // shift are unambiguous there.
  const out: FieldValue = { value: 0n, size: 0, typeId: 0, validate: !bitfield };
  switch (kind) {
    case K.FIELD_BYTE_OFFSET:
      out.value = BigInt(byteOff);
      if (!bitfield) {
        out.size = elementSize(spec.btf, fieldTypeId);
        out.typeId = fieldTypeId;
      }
      break;
    case K.FIELD_BYTE_SIZE:
      out.value = BigInt(byteSize);
      break;
    case K.FIELD_SIGNED:
      out.value = (isAnyEnum(mt) && mt.signed) || (mt.kind === 'int' && (mt.encoding & BTF_INT_SIGNED) !== 0) ? 1n : 0n;
      out.validate = true;
      break;
    case K.FIELD_LSHIFT_U64:
      out.value = BigInt.asUintN(64, BigInt(bigEndian
        ? (8 - byteSize) * 8 + (bitOff - byteOff * 8)
        : 64 - (bitOff + bitSize - byteOff * 8)));
      break;
    case K.FIELD_RSHIFT_U64:
      out.value = BigInt.asUintN(64, BigInt(64 - bitSize));
      out.validate = true;
      break;
    default:
      throw new CoreFault('EOPNOTSUPP', `unrecognized CO-RE relocation kind ${kind}`);
  }
  return out;
}

/** Type-based value (libbpf: bpf_core_calc_type_relo); 0 when the type is absent. */
function calcType(spec: CoreSpec | undefined, kind: number): { value: bigint; validate: boolean } {
  if (spec === undefined) return { value: 0n, validate: true };
  switch (kind) {
    case K.TYPE_ID_TARGET:
      // Type ids embedded in instructions may change during linking: never validated.
      return { value: BigInt(spec.rootTypeId), validate: false };
    case K.TYPE_EXISTS:
    case K.TYPE_MATCHES:
      return { value: 1n, validate: true };
    case K.TYPE_SIZE:
      return { value: BigInt(resolveSize(spec.btf, spec.rootTypeId)), validate: true };
    default:
      throw new CoreFault('EOPNOTSUPP', `unrecognized CO-RE relocation kind ${kind}`);
  }
}

/** Enumerator-based value (libbpf: bpf_core_calc_enumval_relo). */
function calcEnumValue(spec: CoreSpec | undefined, kind: number): bigint | 'poison' {
  if (kind === K.ENUMVAL_EXISTS) return spec ? 1n : 0n;
  if (kind !== K.ENUMVAL_VALUE) throw new CoreFault('EOPNOTSUPP', `unrecognized CO-RE relocation kind ${kind}`);
  if (spec === undefined) return 'poison';
  const acc = spec.accessors[0]!;
  const t = typeById(spec.btf, acc.typeId);
  const e = isAnyEnum(t) ? t.values[acc.idx] : undefined;
  if (e === undefined || !isAnyEnum(t)) throw new CoreFault('EINVAL', `accessor names no enumerator of [${acc.typeId}]`);
  // A 32-bit enumerator is an s32 widened to u64, as libbpf's __s32 -> __u64 assignment does.
  return t.kind === 'enum' ? BigInt.asUintN(64, BigInt(Number(e.value) | 0)) : BigInt.asUintN(64, BigInt(e.value));
}

const NO_VALUE: CoreRelocationValue = {
  origValue: 0n, newValue: 0n, poison: false, validate: true, failMemszAdjust: false,
  origSize: 0, newSize: 0, origTypeId: 0, newTypeId: 0,
};

/**
 * Computes a relocation for one local/target spec pair (libbpf: bpf_core_calc_relo); `target`
 * undefined means no candidate matched.
 */
export function calcCoreRelocation(local: CoreSpec, target: CoreSpec | undefined, kind: number, bigEndian: boolean): CoreRelocationValue {
  if (isFieldBasedKind(kind)) {
    const orig = calcField(local, kind, bigEndian);
    if (orig === 'poison') return { ...NO_VALUE, poison: true };
    const next = calcField(target, kind, bigEndian);
    if (next === 'poison') return { ...NO_VALUE, origValue: orig.value, validate: orig.validate, origSize: orig.size, origTypeId: orig.typeId, poison: true };
    let failMemszAdjust = false;
    if (orig.size !== next.size) {
      // A width change is safe only for pointers (a 32-bit kernel's pointers) and for unsigned
      // integers, which zero-extend; anything else would read a wrong value.
      const o = typeById(local.btf, orig.typeId);
      const n = typeById(target!.btf, next.typeId);
      const ptrs = o.kind === 'ptr' && n.kind === 'ptr';
      const unsignedInts = o.kind === 'int' && n.kind === 'int' && o.encoding !== BTF_INT_SIGNED && n.encoding !== BTF_INT_SIGNED;
      failMemszAdjust = !ptrs && !unsignedInts;
    }
    return {
      origValue: orig.value, newValue: next.value, poison: false, validate: orig.validate, failMemszAdjust,
      origSize: orig.size, newSize: next.size, origTypeId: orig.typeId, newTypeId: next.typeId,
    };
  }
  if (isTypeBasedKind(kind)) {
    const orig = calcType(local, kind);
    const next = calcType(target, kind);
    return { ...NO_VALUE, origValue: orig.value, newValue: next.value, validate: orig.validate };
  }
  if (isEnumValueBasedKind(kind)) {
    const orig = calcEnumValue(local, kind);
    if (orig === 'poison') return { ...NO_VALUE, poison: true };
    const next = calcEnumValue(target, kind);
    if (next === 'poison') return { ...NO_VALUE, origValue: orig, poison: true };
    return { ...NO_VALUE, origValue: orig, newValue: next };
  }
  throw new CoreFault('EOPNOTSUPP', `unrecognized CO-RE relocation kind ${kind}`);
}

/** What resolving one relocation against its candidates found. */
export interface CoreResolution {
  readonly value: CoreRelocationValue;
  readonly localSpec: CoreSpec;
  /** Spec of the first matching candidate; undefined when none matched (or TYPE_ID_LOCAL). */
  readonly targetSpec: CoreSpec | undefined;
  /** Candidates that matched, in order, with their specs; the candidate list is pruned to these when any did. */
  readonly matched: readonly CoreMatch[];
}

/** A candidate that matched the local spec, and the target spec it gave. */
export interface CoreMatch {
  readonly candidate: CoreCandidate;
  readonly spec: CoreSpec;
}

/**
 * Resolves one relocation (libbpf: bpf_core_calc_relo_insn): parses the local spec, matches it
 * against every candidate, and checks that all matching candidates agree on the bit offset and on
 * the value. `candidates` is pruned in place to the matching ones when at least one matched, as
 * libbpf prunes its per-type candidate cache. Throws `CoreFault` for the hard failures.
 */
export function resolveCoreRelocation(
  localBtf: Btf, typeId: number, accessStr: string, kind: number,
  candidates: CoreCandidate[] | undefined, bigEndian: boolean,
): CoreResolution {
  typeById(localBtf, typeId); // a bad root id fails every kind, TYPE_ID_LOCAL included
  const localSpec = parseCoreSpec(localBtf, typeId, accessStr, kind);
  if (kind === K.TYPE_ID_LOCAL) {
    // The id embedded in the instruction may have changed during linking: not validated.
    const id = BigInt(typeId);
    return { value: { ...NO_VALUE, origValue: id, newValue: id, validate: false }, localSpec, targetSpec: undefined, matched: [] };
  }
  if (candidates === undefined) throw new CoreFault('EINVAL', 'no candidate list');

  let first: { spec: CoreSpec; value: CoreRelocationValue } | undefined;
  const matched: CoreMatch[] = [];
  for (const cand of candidates) {
    let spec: CoreSpec | undefined;
    try {
      spec = matchCoreSpec(localSpec, cand.btf, cand.id);
    } catch (err) {
      if (err instanceof CoreFault) {
        throw new CoreFault(err.code, `error matching candidate [${cand.id}]: ${err.message}`);
      }
      throw err;
    }
    if (spec === undefined) continue;
    const value = calcCoreRelocation(localSpec, spec, kind, bigEndian);
    if (first === undefined) {
      first = { spec, value };
    } else if (spec.bitOffset !== first.spec.bitOffset) {
      throw new CoreFault('EINVAL', `field offset ambiguity: ${spec.bitOffset} != ${first.spec.bitOffset} ` +
        `(${formatCoreSpec(spec)} vs ${formatCoreSpec(first.spec)})`);
    } else if (value.poison !== first.value.poison || value.newValue !== first.value.newValue) {
      const say = (v: CoreRelocationValue): string => `${v.poison ? 'failure' : 'success'} ${v.newValue}`;
      throw new CoreFault('EINVAL', `relocation decision ambiguity: ${say(value)} != ${say(first.value)} ` +
        `(${formatCoreSpec(spec)} vs ${formatCoreSpec(first.spec)})`);
    }
    matched.push({ candidate: cand, spec });
  }
  if (first === undefined) {
    // Nothing matched: existence checks give 0, the rest poison their instruction.
    return { value: calcCoreRelocation(localSpec, undefined, kind, bigEndian), localSpec, targetSpec: undefined, matched };
  }
  candidates.splice(0, candidates.length, ...matched.map((m) => m.candidate));
  return { value: first.value, localSpec, targetSpec: first.spec, matched };
}
