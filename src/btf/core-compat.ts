/**
 * The three type relations of CO-RE (libbpf relo_core.c):
 *
 * - `fieldsAreCompatible`: may a local field be relocated to a target field of that name?
 *   (bpf_core_fields_are_compat; used while matching field access strings)
 * - `typesAreCompatible`: the loose relation behind TYPE_EXISTS, TYPE_SIZE, TYPE_ID_TARGET
 *   (bpf_core_types_are_compat)
 * - `typesMatch`: the strict relation behind TYPE_MATCHES (bpf_core_types_match)
 *
 * Each returns a boolean, or throws `CoreFault('EINVAL')` where libbpf returns -EINVAL
 * (bad ids, recursion too deep) — which fails the whole relocation.
 */
import type { Btf } from './btf.js';
import { CoreFault } from './core-error.js';
import {
  essentialNameLength, isAnyEnum, isComposite, kindsCoreCompatible, skipModsAndTypedefs, typeById,
} from './core-btf.js';
import { BTF_INT_SIGNED, type BtfType } from './types.js';

/** libbpf's recursion limits: 32 steps of pointer/array chains and 32 levels of nesting. */
const MAX_DEPTH = 32;

const tooDeep = (): never => {
  throw new CoreFault('EINVAL', 'type graph too deep for CO-RE compatibility check');
};

/** Essential names equal, or either anonymous (for enums and forward declarations). */
function flavorlessNamesEqualOrAnon(a: string, b: string): boolean {
  const la = essentialNameLength(a);
  const lb = essentialNameLength(b);
  return la === 0 || lb === 0 || (la === lb && a.slice(0, la) === b.slice(0, lb));
}

/**
 * Whether a local field type may be relocated to a target field type (after a name match):
 * any two structs/unions; pointers; floats; ints (unless a legacy bit-offset int); enums and
 * forward declarations with the same essential name (or one anonymous); arrays whose element
 * types are compatible, whatever their lengths.
 */
export function fieldsAreCompatible(localBtf: Btf, localId: number, targetBtf: Btf, targetId: number): boolean {
  for (;;) {
    const [, local] = skipModsAndTypedefs(localBtf, localId);
    const [, target] = skipModsAndTypedefs(targetBtf, targetId);
    if (isComposite(local) && isComposite(target)) return true;
    if (!kindsCoreCompatible(local, target)) return false;
    switch (local.kind) {
      case 'ptr':
      case 'float':
        return true;
      case 'fwd':
      case 'enum':
      case 'enum64':
        return flavorlessNamesEqualOrAnon(local.name, target.name);
      case 'int':
        return local.offset === 0 && (target as typeof local).offset === 0;
      case 'array':
        localId = local.type;
        targetId = (target as typeof local).type;
        break;
      default:
        return false;
    }
  }
}

/**
 * The loose compatibility of type-based relocations (the root names were already matched by the
 * candidate search; below the root, names are ignored): same kind (or enum/enum64), ints
 * without a bit offset, pointers and arrays by their targets, function prototypes by arity and
 * by compatible return and parameter types; modifiers and typedefs are skipped.
 */
export function typesAreCompatible(localBtf: Btf, localId: number, targetBtf: Btf, targetId: number, level = MAX_DEPTH): boolean {
  if (!kindsCoreCompatible(typeById(localBtf, localId), typeById(targetBtf, targetId))) return false;
  for (let depth = MAX_DEPTH; ; ) {
    if (--depth < 0) tooDeep();
    const [, local] = skipModsAndTypedefs(localBtf, localId);
    const [, target] = skipModsAndTypedefs(targetBtf, targetId);
    if (!kindsCoreCompatible(local, target)) return false;
    switch (local.kind) {
      case 'void': case 'struct': case 'union': case 'enum': case 'enum64': case 'fwd':
        return true;
      case 'int':
        return local.offset === 0 && (target as typeof local).offset === 0;
      case 'ptr':
      case 'array':
        localId = local.type;
        targetId = (target as typeof local).type;
        break;
      case 'func_proto': {
        const t = target as typeof local;
        if (local.params.length !== t.params.length) return false;
        for (let i = 0; i < local.params.length; i++) {
          if (level <= 0) tooDeep();
          const lp = skipModsAndTypedefs(localBtf, local.params[i]!.type)[0];
          const tp = skipModsAndTypedefs(targetBtf, t.params[i]!.type)[0];
          if (!typesAreCompatible(localBtf, lp, targetBtf, tp, level - 1)) return false;
        }
        localId = skipModsAndTypedefs(localBtf, local.returnType)[0];
        targetId = skipModsAndTypedefs(targetBtf, t.returnType)[0];
        break;
      }
      default:
        // libbpf warns "unexpected kind %s relocated" and treats it as incompatible.
        return false;
    }
  }
}

/** Name equality for `typesMatch`: an anonymous target only matches an anonymous local. */
function namesMatch(local: string, target: string): boolean {
  if (target === '') return local === '';
  const lt = essentialNameLength(target);
  const ll = essentialNameLength(local);
  return lt === ll && local.slice(0, ll) === target.slice(0, lt);
}

function enumsMatch(local: Extract<BtfType, { kind: 'enum' | 'enum64' }>, target: Extract<BtfType, { kind: 'enum' | 'enum64' }>): boolean {
  if (local.size !== target.size) return false;
  if (local.values.length > target.values.length) return false;
  return local.values.every((lv) => target.values.some((tv) => namesMatch(lv.name, tv.name)));
}

function compositesMatch(
  localBtf: Btf, local: Extract<BtfType, { kind: 'struct' | 'union' }>,
  targetBtf: Btf, target: Extract<BtfType, { kind: 'struct' | 'union' }>,
  behindPtr: boolean, level: number,
): boolean {
  if (local.members.length > target.members.length) return false;
  for (const lm of local.members) {
    let matched = false;
    for (const tm of target.members) {
      if (!namesMatch(lm.name, tm.name)) continue;
      if (matchTypes(localBtf, lm.type, targetBtf, tm.type, behindPtr, level - 1)) {
        matched = true;
        break;
      }
    }
    if (!matched) return false;
  }
  return true;
}

function matchTypes(localBtf: Btf, localId: number, targetBtf: Btf, targetId: number, behindPtr: boolean, level: number): boolean {
  if (level <= 0) tooDeep();
  for (let depth = MAX_DEPTH; ; ) {
    if (--depth < 0) tooDeep();
    const [, local] = skipModsAndTypedefs(localBtf, localId);
    const [, target] = skipModsAndTypedefs(targetBtf, targetId);
    if (!namesMatch(local.name, target.name)) return false;
    switch (local.kind) {
      case 'void':
        return target.kind === 'void';
      case 'fwd':
        if (behindPtr) {
          if (target.kind === 'fwd') return local.union === target.union;
          // A forward declaration's kind flag says struct (0) or union (1).
          return (target.kind === 'struct' && !local.union) || (target.kind === 'union' && local.union);
        }
        return target.kind === 'fwd' && local.union === target.union;
      case 'enum':
      case 'enum64':
        return isAnyEnum(target) && enumsMatch(local, target);
      case 'struct':
      case 'union':
        if (behindPtr) {
          if (local.kind === target.kind) return true;
          return target.kind === 'fwd' && (local.kind === 'union') === target.union;
        }
        if (local.kind !== target.kind) return false;
        return compositesMatch(localBtf, local, targetBtf, target as typeof local, behindPtr, level);
      case 'int':
        if (target.kind !== 'int') return false;
        return local.size === target.size &&
          (local.encoding & BTF_INT_SIGNED) === (target.encoding & BTF_INT_SIGNED);
      case 'ptr':
        if (target.kind !== 'ptr') return false;
        behindPtr = true;
        localId = local.type;
        targetId = target.type;
        break;
      case 'array':
        if (target.kind !== 'array' || local.nelems !== target.nelems) return false;
        localId = local.type;
        targetId = target.type;
        break;
      case 'func_proto': {
        if (target.kind !== 'func_proto' || local.params.length !== target.params.length) return false;
        for (let i = 0; i < local.params.length; i++) {
          if (!matchTypes(localBtf, local.params[i]!.type, targetBtf, target.params[i]!.type, behindPtr, level - 1)) return false;
        }
        localId = local.returnType;
        targetId = target.returnType;
        break;
      }
      default:
        // libbpf warns "unexpected kind %s relocated" and reports no match.
        return false;
    }
  }
}

/**
 * The strict relation of TYPE_MATCHES (root names already matched): modifiers and typedefs
 * skipped; same kinds, except that behind a pointer a struct/union matches a forward
 * declaration of the same kind, and enum matches enum64; ints by size and signedness; arrays by
 * length and element; pointers by target; structs/unions when every local member has a
 * same-named matching target member (members behind pointers only by name and kind); enums when
 * sizes are equal and every local enumerator name exists in the target; function prototypes by
 * arity, parameters and return type.
 */
export function typesMatch(localBtf: Btf, localId: number, targetBtf: Btf, targetId: number): boolean {
  return matchTypes(localBtf, localId, targetBtf, targetId, false, MAX_DEPTH);
}
