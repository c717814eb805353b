/**
 * Small BTF queries shared by the CO-RE modules, with libbpf's failure mode: a bad id or a
 * looping chain is a `CoreFault('EINVAL')` rather than a `BtfError`.
 */
import { BtfError, type Btf } from './btf.js';
import { CoreFault } from './core-error.js';
import type { BtfType } from './types.js';

/** Skips typedefs and modifiers (libbpf: skip_mods_and_typedefs); returns the id reached and its type. */
export function skipModsAndTypedefs(btf: Btf, id: number): [number, BtfType] {
  try {
    const resolved = btf.resolve(id);
    return [resolved, btf.type(resolved)];
  } catch (err) {
    if (err instanceof BtfError) throw new CoreFault('EINVAL', err.message);
    throw err;
  }
}

/** The type with `id`, or a CoreFault for a bad id. */
export function typeById(btf: Btf, id: number): BtfType {
  try {
    return btf.type(id);
  } catch (err) {
    if (err instanceof BtfError) throw new CoreFault('EINVAL', err.message);
    throw err;
  }
}

/** Size of type `id` in bytes (libbpf: btf__resolve_size), or a CoreFault when it has none. */
export function resolveSize(btf: Btf, id: number): number {
  try {
    return btf.sizeof(id);
  } catch (err) {
    if (err instanceof BtfError) throw new CoreFault('EINVAL', err.message);
    throw err;
  }
}

export function isComposite(t: BtfType): t is Extract<BtfType, { kind: 'struct' | 'union' }> {
  return t.kind === 'struct' || t.kind === 'union';
}

export function isAnyEnum(t: BtfType): t is Extract<BtfType, { kind: 'enum' | 'enum64' }> {
  return t.kind === 'enum' || t.kind === 'enum64';
}

/** Same kind, or both enums of either width (libbpf: btf_kind_core_compat). */
export function kindsCoreCompatible(a: BtfType, b: BtfType): boolean {
  return a.kind === b.kind || (isAnyEnum(a) && isAnyEnum(b));
}

/** Number of members, params or enumerators (libbpf: btf_vlen). */
export function vlen(t: BtfType): number {
  switch (t.kind) {
    case 'struct': case 'union': return t.members.length;
    case 'enum': case 'enum64': return t.values.length;
    case 'func_proto': return t.params.length;
    case 'datasec': return t.vars.length;
    default: return 0;
  }
}

/**
 * A type as libbpf's messages name it: `[12] struct task_struct`, `[3] int <anon>`
 * (btf_kind_str spells kinds in lower case, as our `kind` field does).
 */
export function describeType(btf: Btf, id: number): string {
  if (!btf.has(id)) return `[${id}] <invalid>`;
  const t = btf.type(id);
  return `[${id}] ${t.kind} ${t.name === '' ? '<anon>' : t.name}`;
}

/**
 * Length of a name without its flavor suffix: `task_struct___old` → 11
 * (libbpf: bpf_core_essential_name_len). The suffix starts at the last `___` that has a
 * non-underscore character on each side.
 */
export function essentialNameLength(name: string): number {
  for (let i = name.length - 5; i >= 0; i--) {
    if (name[i] !== '_' && name.startsWith('___', i + 1) && name[i + 4] !== '_') return i + 1;
  }
  return name.length;
}

/** The name without its flavor suffix: `task_struct___old` → `task_struct`. */
export function essentialName(name: string): string {
  return name.slice(0, essentialNameLength(name));
}
