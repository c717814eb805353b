/**
 * Candidate search for CO-RE (libbpf libbpf.c bpf_core_find_cands, bpf_core_add_cands): the
 * target types whose essential name (flavor suffix `___…` dropped) equals the local type's, of a
 * compatible kind. vmlinux is searched first; module BTFs only when vmlinux has no candidate.
 */
import type { Btf } from './btf.js';
import { CoreFault } from './core-error.js';
import type { CoreCandidate } from './core-calc.js';
import { essentialName, kindsCoreCompatible, typeById } from './core-btf.js';

/**
 * Candidate lists by local root type id, shared by the relocations of one object against one
 * target (libbpf's cand_cache): resolving a relocation prunes its type's list to the candidates
 * that matched, so later relocations of the same type only see those. Pass the same map to every
 * `applyCoreRelocations` call of one object to get libbpf's results exactly.
 */
export type CoreCandidateCache = Map<number, CoreCandidate[]>;

// Per target BTF: essential name -> ids of its own types, in id order. Built once per Btf.
const nameIndexes = new WeakMap<Btf, Map<string, number[]>>();

function nameIndex(btf: Btf): Map<string, number[]> {
  let index = nameIndexes.get(btf);
  if (index !== undefined) return index;
  index = new Map();
  btf.own.forEach((t, i) => {
    if (t.name === '') return;
    const key = essentialName(t.name);
    const list = index!.get(key);
    if (list === undefined) index!.set(key, [btf.firstId + i]);
    else list.push(btf.firstId + i);
  });
  nameIndexes.set(btf, index);
  return index;
}

/**
 * Candidates for local type `localId` in `targets` (the first is vmlinux, the rest module BTFs
 * split on it): every type of the first target with the same essential name and a compatible
 * kind; the module BTFs' own types only when vmlinux has none.
 */
export function findCoreCandidates(localBtf: Btf, localId: number, targets: readonly Btf[]): CoreCandidate[] {
  const local = typeById(localBtf, localId);
  if (local.name === '') throw new CoreFault('EINVAL', 'relocation doesn\'t support anonymous types');
  const key = essentialName(local.name);
  const out: CoreCandidate[] = [];
  for (let i = 0; i < targets.length; i++) {
    // Modules are searched only when vmlinux has no candidate.
    if (i === 1 && out.length > 0) break;
    const btf = targets[i]!;
    for (const id of nameIndex(btf).get(key) ?? []) {
      if (id === 0) continue;
      if (kindsCoreCompatible(btf.type(id), local)) out.push({ btf, id });
    }
  }
  return out;
}
