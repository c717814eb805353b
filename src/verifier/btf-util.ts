/** BTF walks the verifier's tracing and exception code share. */
import type { Btf } from '../btf/index.js';

/** Kinds that only qualify or rename another type. */
export const BTF_MODIFIERS: ReadonlySet<string> = new Set(['typedef', 'volatile', 'const', 'restrict', 'type_tag']);

/** kernel: btf_type_skip_modifiers (typedefs included): the id reached (at most 32 steps). */
export function skipModifiers(btf: Btf, id: number): number {
  for (let i = 0; i < 32; i++) {
    const t = btf.type(id);
    if (!BTF_MODIFIERS.has(t.kind)) return id;
    id = (t as { type: number }).type;
  }
  return id;
}
