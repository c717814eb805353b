/**
 * CO-RE access specs (libbpf relo_core.c bpf_core_parse_spec, bpf_core_spec_match,
 * bpf_core_format_spec). An access string such as `0:1:2:3` is the low-level ("raw") spec: the
 * first number indexes the root pointer as an array, each later one a member (through anonymous
 * structs and unions too) or an array element. The high-level spec keeps only what carries
 * meaning across BTFs: named members and array indexes, which are then looked up by name in the
 * target type.
 */
import type { Btf } from './btf.js';
import { CoreFault } from './core-error.js';
import { fieldsAreCompatible, typesAreCompatible, typesMatch } from './core-compat.js';
import {
  essentialNameLength, isAnyEnum, isComposite, resolveSize, skipModsAndTypedefs, typeById, vlen,
} from './core-btf.js';
import {
  CoreRelocationKind, coreRelocationKindName, isEnumValueBasedKind, isFieldBasedKind, isTypeBasedKind,
} from './core-kind.js';
import type { BtfArray } from './types.js';

/** Maximum length of an access string, and of the nesting a target match may go through. */
export const CORE_SPEC_MAX_LEN = 64;

/** One high-level step of a spec: a named member of a struct/union, or an array element. */
export interface CoreAccessor {
  /** Struct/union id for a member (modifiers skipped); element type id for an array index. */
  readonly typeId: number;
  /** Member index, enumerator index, or array index. */
  readonly idx: number;
  /** Member or enumerator name; undefined for an array index. */
  readonly name: string | undefined;
}

/** A parsed (local) or matched (target) access spec. */
export interface CoreSpec {
  readonly btf: Btf;
  /** The root type id as the relocation (or candidate) gives it, typedefs not skipped. */
  readonly rootTypeId: number;
  readonly kind: number;
  /** High-level spec: named members and array indexes. */
  readonly accessors: readonly CoreAccessor[];
  /** Low-level spec: one index per step, anonymous members included. */
  readonly raw: readonly number[];
  /** Bit offset of the field from the root pointer. */
  readonly bitOffset: number;
}

interface MutableSpec {
  btf: Btf;
  rootTypeId: number;
  kind: number;
  accessors: CoreAccessor[];
  raw: number[];
  bitOffset: number;
}

const newSpec = (btf: Btf, rootTypeId: number, kind: number): MutableSpec =>
  ({ btf, rootTypeId, kind, accessors: [], raw: [], bitOffset: 0 });

// libbpf keeps bit offsets in a __u32.
const u32 = (n: number): number => n >>> 0;

/**
 * A flexible array member: zero-length, and the last member of the struct named by the
 * accessor before it (libbpf: is_flex_arr).
 */
function isFlexArray(btf: Btf, prev: CoreAccessor | undefined, arr: BtfArray): boolean {
  if (prev?.name === undefined || arr.nelems > 0) return false;
  return prev.idx === vlen(typeById(btf, prev.typeId)) - 1;
}

/** Splits an access string into numbers the way libbpf's sscanf("%d") loop does. */
function parseAccessString(accessStr: string): number[] {
  const raw: number[] = [];
  let rest = accessStr;
  while (rest !== '') {
    if (rest.startsWith(':')) rest = rest.slice(1);
    const m = /^\s*([+-]?\d+)/.exec(rest);
    if (m === null) throw new CoreFault('EINVAL', `invalid access string '${accessStr}'`);
    const n = Number(m[1]);
    if (n < 0 || n > 0x7fffffff) throw new CoreFault('EINVAL', `invalid access index ${m[1]} in '${accessStr}'`);
    if (raw.length === CORE_SPEC_MAX_LEN) throw new CoreFault('E2BIG', `access string '${accessStr}' is longer than ${CORE_SPEC_MAX_LEN}`);
    raw.push(n);
    rest = rest.slice(m[0].length);
  }
  return raw;
}

/**
 * Parses a relocation's access string against the local BTF into a spec, computing the field's
 * bit offset along the way (libbpf: bpf_core_parse_spec). Throws `CoreFault` where libbpf fails.
 */
export function parseCoreSpec(btf: Btf, typeId: number, accessStr: string, kind: number): CoreSpec {
  if (accessStr === '' || accessStr.startsWith(':')) throw new CoreFault('EINVAL', `invalid access string '${accessStr}'`);
  const spec = newSpec(btf, typeId, kind);
  // Type-based relocations have no field access string.
  if (isTypeBasedKind(kind)) {
    if (accessStr !== '0') throw new CoreFault('EINVAL', `type-based relocation needs access string '0', not '${accessStr}'`);
    return spec;
  }
  const raw = parseAccessString(accessStr);
  spec.raw = raw;

  let [id, t] = skipModsAndTypedefs(btf, typeId);
  const first = raw[0]!;
  if (isEnumValueBasedKind(kind)) {
    if (!isAnyEnum(t) || raw.length > 1 || first >= t.values.length) {
      throw new CoreFault('EINVAL', `access string '${accessStr}' names no enumerator of [${typeId}] ${t.kind}`);
    }
    spec.accessors.push({ typeId: id, idx: first, name: t.values[first]!.name });
    return spec;
  }
  if (!isFieldBasedKind(kind)) throw new CoreFault('EINVAL', `unknown relocation kind ${kind}`);

  spec.accessors.push({ typeId: id, idx: first, name: undefined });
  spec.bitOffset = u32(first * resolveSize(btf, id) * 8);

  for (let i = 1; i < raw.length; i++) {
    [id, t] = skipModsAndTypedefs(btf, id);
    const idx = raw[i]!;
    if (isComposite(t)) {
      const m = t.members[idx];
      if (m === undefined) throw new CoreFault('EINVAL', `member index ${idx} out of range for [${id}] ${t.kind} ${t.name}`);
      spec.bitOffset = u32(spec.bitOffset + m.bitOffset);
      if (m.name !== '') spec.accessors.push({ typeId: id, idx, name: m.name });
      id = m.type;
    } else if (t.kind === 'array') {
      const arr = t;
      [id, t] = skipModsAndTypedefs(btf, arr.type);
      const flex = isFlexArray(btf, spec.accessors[spec.accessors.length - 1], arr);
      if (!flex && idx >= arr.nelems) throw new CoreFault('EINVAL', `array index ${idx} out of range (${arr.nelems} elements)`);
      spec.accessors.push({ typeId: id, idx, name: undefined });
      spec.bitOffset = u32(spec.bitOffset + idx * resolveSize(btf, id) * 8);
    } else {
      throw new CoreFault('EINVAL', `relo for [${typeId}] ${accessStr} (at idx ${i}) captures type [${id}] of unexpected kind ${t.kind}`);
    }
  }
  return spec;
}

/**
 * Looks for the local accessor's member, by name, in target composite `targetId`, descending
 * into anonymous members; extends `spec` with the target's raw steps and bit offset
 * (libbpf: bpf_core_match_member). Returns the matched member's type id, or undefined.
 */
function matchMember(local: CoreSpec, acc: CoreAccessor, targetBtf: Btf, targetId: number, spec: MutableSpec): number | undefined {
  const [tid, target] = skipModsAndTypedefs(targetBtf, targetId);
  if (!isComposite(target)) return undefined;
  const localType = typeById(local.btf, acc.typeId);
  const localMember = isComposite(localType) ? localType.members[acc.idx] : undefined;
  if (localMember === undefined) throw new CoreFault('EINVAL', `accessor names no member of [${acc.typeId}]`);

  for (let i = 0; i < target.members.length; i++) {
    const m = target.members[i]!;
    if (spec.raw.length === CORE_SPEC_MAX_LEN) throw new CoreFault('E2BIG', 'struct/union/array nesting too deep');
    // Speculate that this member is the one.
    spec.bitOffset = u32(spec.bitOffset + m.bitOffset);
    spec.raw.push(i);
    if (m.name === '') {
      const found = matchMember(local, acc, targetBtf, m.type, spec);
      if (found !== undefined) return found;
    } else if (m.name === localMember.name) {
      spec.accessors.push({ typeId: tid, idx: i, name: m.name });
      if (fieldsAreCompatible(local.btf, localMember.type, targetBtf, m.type)) return m.type;
      // libbpf pops the accessor but leaves the raw step and bit offset: the match has failed.
      spec.accessors.pop();
      return undefined;
    }
    spec.bitOffset = u32(spec.bitOffset - m.bitOffset);
    spec.raw.pop();
  }
  return undefined;
}

/**
 * Matches a local spec against candidate `targetId` of `targetBtf` (libbpf: bpf_core_spec_match).
 * Returns the target spec, or undefined when the candidate does not match. Throws `CoreFault`
 * where libbpf returns an error.
 */
export function matchCoreSpec(local: CoreSpec, targetBtf: Btf, targetId: number): CoreSpec | undefined {
  const spec = newSpec(targetBtf, targetId, local.kind);
  if (isTypeBasedKind(local.kind)) {
    const ok = local.kind === CoreRelocationKind.TYPE_MATCHES
      ? typesMatch(local.btf, local.rootTypeId, targetBtf, targetId)
      : typesAreCompatible(local.btf, local.rootTypeId, targetBtf, targetId);
    return ok ? spec : undefined;
  }

  const first = local.accessors[0];
  if (first === undefined) throw new CoreFault('EINVAL', 'empty local spec');
  if (isEnumValueBasedKind(local.kind)) {
    const [tid, target] = skipModsAndTypedefs(targetBtf, targetId);
    if (!isAnyEnum(target)) return undefined;
    const name = first.name ?? '';
    const len = essentialNameLength(name);
    for (let i = 0; i < target.values.length; i++) {
      const tname = target.values[i]!.name;
      if (essentialNameLength(tname) !== len || tname.slice(0, len) !== name.slice(0, len)) continue;
      spec.accessors.push({ typeId: tid, idx: i, name: tname });
      spec.raw.push(i);
      return spec;
    }
    return undefined;
  }
  if (!isFieldBasedKind(local.kind)) throw new CoreFault('EINVAL', `unknown relocation kind ${local.kind}`);

  let id = targetId;
  for (let i = 0; i < local.accessors.length; i++) {
    const acc = local.accessors[i]!;
    let t;
    [id, t] = skipModsAndTypedefs(targetBtf, id);
    if (acc.name !== undefined) {
      const next = matchMember(local, acc, targetBtf, id, spec);
      if (next === undefined) return undefined;
      id = next;
      continue;
    }
    // Index 0 indexes the root pointer; later ones need an array in the target.
    if (i > 0) {
      if (t.kind !== 'array') return undefined;
      const flex = isFlexArray(targetBtf, spec.accessors[i - 1], t);
      if (!flex && acc.idx >= t.nelems) return undefined;
      id = skipModsAndTypedefs(targetBtf, t.type)[0];
    }
    if (spec.raw.length === CORE_SPEC_MAX_LEN) throw new CoreFault('E2BIG', 'struct/union/array nesting too deep');
    spec.accessors.push({ typeId: id, idx: acc.idx, name: undefined });
    spec.raw.push(acc.idx);
    spec.bitOffset = u32(spec.bitOffset + acc.idx * resolveSize(targetBtf, id) * 8);
  }
  return spec;
}

/**
 * libbpf's view of a spec, as its debug log prints it (bpf_core_format_spec):
 * `<byte_off> [7] struct task_struct.comm[1] (0:93:1 @ offset 3001)`,
 * `<enumval_value> [5] enum bpf_func_id::BPF_FUNC_map_lookup_elem = 1`,
 * `<type_size> [9] struct sk_buff`.
 */
export function formatCoreSpec(spec: CoreSpec): string {
  const root = spec.btf.has(spec.rootTypeId) ? spec.btf.type(spec.rootTypeId) : undefined;
  let out = `<${coreRelocationKindName(spec.kind)}> [${spec.rootTypeId}] ${root?.kind ?? '?'} ${root?.name || '<anon>'}`;
  if (isTypeBasedKind(spec.kind)) return out;
  if (isEnumValueBasedKind(spec.kind)) {
    const [, t] = skipModsAndTypedefs(spec.btf, spec.rootTypeId);
    const e = isAnyEnum(t) ? t.values[spec.raw[0] ?? 0] : undefined;
    if (e === undefined || !isAnyEnum(t)) return out;
    const v = t.kind === 'enum'
      ? (t.signed ? Number(e.value) | 0 : Number(e.value) >>> 0)
      : (t.signed ? BigInt.asIntN(64, BigInt(e.value)) : BigInt.asUintN(64, BigInt(e.value)));
    return `${out}::${e.name} = ${v}`;
  }
  if (!isFieldBasedKind(spec.kind)) return out;
  spec.accessors.forEach((a, i) => {
    if (a.name !== undefined) out += `.${a.name}`;
    else if (i > 0 || a.idx > 0) out += `[${a.idx}]`;
  });
  const bits = spec.bitOffset % 8;
  const bytes = Math.floor(spec.bitOffset / 8);
  return `${out} (${spec.raw.join(':')} @ offset ${bits ? `${bytes}.${bits}` : bytes})`;
}
