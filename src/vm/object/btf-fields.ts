/**
 * Where a map value's `struct bpf_spin_lock` and `struct bpf_timer` are, from the value's BTF
 * (kernel/bpf/btf.c btf_parse_fields): members of the value struct, of structs nested in it,
 * and of the variables of a global-data section. The kernel allows one of each per value.
 * One walk serves the VM's maps (which keep those fields out of copies) and the verifier
 * (which checks accesses to them, and refuses values with special fields it does not model).
 */
import type { Btf } from '../../btf/btf.js';
import { EbpfError } from '../../errors.js';
import type { MapSpec } from '../../object/spec.js';
import type { MapInfo } from '../../verifier/index.js';
import type { ValueFields } from '../maps/value-fields.js';

/** kernel: btf_parse_fields — the struct names that make a map value hold special fields. */
const SPECIAL_FIELDS = /^(bpf_spin_lock|bpf_res_spin_lock|bpf_timer|bpf_wq|bpf_list_head|bpf_list_node|bpf_rb_root|bpf_rb_node|bpf_refcount|bpf_task_work)$/;
/** The special fields the VM and the verifier model. */
const MODELLED_FIELDS: readonly string[] = ['bpf_spin_lock', 'bpf_timer'];
const FIELD_NAMES = { bpf_spin_lock: 'spinLock', bpf_timer: 'timer' } as const;
const MAX_DEPTH = 8;

/** What {@link findValueFields} finds. */
interface FoundFields {
  spinLock?: number;
  timer?: number;
  /** The name of a struct found a second time (the first place is kept). */
  repeated?: string;
  /** An array whose elements hold a special field (more than one of it). */
  inArray: boolean;
}

/** The lock and timer of the value type `valueTypeId`, by offset. */
function findValueFields(btf: Btf, valueTypeId: number): FoundFields {
  const found: FoundFields = { inArray: false };
  const visit = (id: number, offset: number, depth: number): void => {
    if (depth > MAX_DEPTH || !btf.has(id)) return;
    const t = btf.type(btf.skipModifiers(id));
    if (t.kind === 'struct' || t.kind === 'union') {
      const key = t.kind === 'struct' ? FIELD_NAMES[t.name as keyof typeof FIELD_NAMES] : undefined;
      if (key !== undefined) {
        if (found[key] !== undefined) found.repeated ??= t.name;
        else found[key] = offset;
        return;
      }
      for (const m of t.members) if (m.bitfieldSize === 0) visit(m.type, offset + m.bitOffset / 8, depth + 1);
    } else if (t.kind === 'datasec') {
      for (const v of t.vars) {
        const variable = btf.type(v.type);
        if (variable.kind === 'var') visit(variable.type, offset + v.offset, depth + 1);
      }
    } else if (t.kind === 'array') {
      if (hasSpecialFields(btf, t.type)) found.inArray = true;
    }
  };
  visit(valueTypeId, 0, 0);
  return found;
}

/** The special fields of `spec`'s value for the VM's map, or undefined when it has none (or no BTF). */
export function mapValueFields(btf: Btf | undefined, spec: MapSpec): ValueFields | undefined {
  if (btf === undefined || spec.valueTypeId === 0) return undefined;
  const found = findValueFields(btf, spec.valueTypeId);
  if (found.repeated !== undefined) throw new EbpfError(`map '${spec.name}': the value has more than one struct ${found.repeated}`);
  if (found.spinLock === undefined && found.timer === undefined) return undefined;
  return { ...(found.spinLock !== undefined ? { spinLock: found.spinLock } : {}), ...(found.timer !== undefined ? { timer: found.timer } : {}) };
}

/**
 * What the verifier needs of a map value's special fields: the offsets of its lock and timer,
 * and whether it also holds fields the verifier does not model (kptrs, lists, …), or more
 * than one lock or timer.
 */
export function mapFieldInfo(btf: Btf | undefined, valueTypeId: number): Pick<MapInfo, 'hasSpecialFields' | 'spinLockOff' | 'timerOff'> {
  if (btf === undefined || valueTypeId === 0 || !btf.has(valueTypeId)) return {};
  const found = findValueFields(btf, valueTypeId);
  const other = found.repeated !== undefined || found.inArray || hasSpecialFields(btf, valueTypeId, MODELLED_FIELDS);
  return {
    ...(other ? { hasSpecialFields: true } : {}),
    ...(found.spinLock !== undefined ? { spinLockOff: found.spinLock } : {}),
    ...(found.timer !== undefined ? { timerOff: found.timer } : {}),
  };
}

/**
 * Whether the BTF type `id` (a map's value) holds a special field, or a kptr (`__kptr` type tag);
 * struct names in `except` do not count.
 */
export function hasSpecialFields(btf: Btf | undefined, id: number, except: readonly string[] = []): boolean {
  if (btf === undefined || id === 0 || !btf.has(id)) return false;
  const seen = new Set<number>();
  const walk = (tid: number): boolean => {
    if (seen.has(tid) || !btf.has(tid)) return false;
    seen.add(tid);
    const t = btf.type(tid);
    switch (t.kind) {
      case 'struct':
      case 'union':
        if (except.includes(t.name)) return false;
        if (SPECIAL_FIELDS.test(t.name)) return true;
        return t.members.some((m) => walk(m.type));
      case 'typedef': case 'const': case 'volatile': case 'restrict':
        return walk(t.type);
      case 'type_tag':
        return t.name === 'kptr' || t.name === 'kptr_untrusted' || t.name === 'percpu_kptr' || walk(t.type);
      case 'array':
        return walk(t.type);
      case 'datasec':
        return t.vars.some((v) => walk(v.type));
      case 'var':
        return walk(t.type);
      case 'ptr':
        return walk(t.type);
      default:
        return false;
    }
  };
  return walk(id);
}
