/**
 * Where a map value's `struct bpf_spin_lock` and `struct bpf_timer` are, from the value's BTF
 * (kernel/bpf/btf.c btf_parse_fields): members of the value struct, of structs nested in it,
 * and of the variables of a global-data section. The kernel allows one of each per value.
 */
import type { Btf } from '../../btf/btf.js';
import { EbpfError } from '../../errors.js';
import type { MapSpec } from '../../object/spec.js';
import type { ValueFields } from '../maps/value-fields.js';

const FIELD_NAMES = { bpf_spin_lock: 'spinLock', bpf_timer: 'timer' } as const;
const MAX_DEPTH = 8;

/** The special fields of `spec`'s value, or undefined when it has none (or no BTF). */
export function mapValueFields(btf: Btf | undefined, spec: MapSpec): ValueFields | undefined {
  if (btf === undefined || spec.valueTypeId === 0) return undefined;
  const found: { spinLock?: number; timer?: number } = {};
  const visit = (id: number, offset: number, depth: number): void => {
    if (depth > MAX_DEPTH) return;
    const t = btf.type(btf.skipModifiers(id));
    if (t.kind === 'struct' || t.kind === 'union') {
      const key = t.kind === 'struct' ? FIELD_NAMES[t.name as keyof typeof FIELD_NAMES] : undefined;
      if (key !== undefined) {
        if (found[key] !== undefined) throw new EbpfError(`map '${spec.name}': the value has more than one struct ${t.name}`);
        found[key] = offset;
        return;
      }
      for (const m of t.members) if (m.bitfieldSize === 0) visit(m.type, offset + m.bitOffset / 8, depth + 1);
    } else if (t.kind === 'datasec') {
      for (const v of t.vars) {
        const variable = btf.type(v.type);
        if (variable.kind === 'var') visit(variable.type, offset + v.offset, depth + 1);
      }
    }
  };
  visit(spec.valueTypeId, 0, 0);
  return found.spinLock === undefined && found.timer === undefined ? undefined : found;
}
