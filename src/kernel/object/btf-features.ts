/**
 * Which BTF kinds the running kernel accepts, found the way libbpf finds them (features.c
 * probe_kern_btf_*): load the smallest BTF that uses the kind and see whether BPF_BTF_LOAD takes
 * it. The answers decide what `sanitizeBtf` rewrites before an object's BTF goes to the kernel.
 * Cached per syscall layer.
 */
import { Btf } from '../../btf/btf.js';
import { serializeBtf } from '../../btf/serialize.js';
import { BTF_INT_SIGNED, BtfLinkage, type BtfType } from '../../btf/types.js';
import { loadBtf } from '../btf-load.js';
import { KernelError } from '../error.js';
import type { Syscalls } from '../syscalls.js';

/** What the kernel's BTF loader supports; false means "rewrite it away" (see sanitizeBtf). */
export interface BtfFeatures {
  /** BPF_BTF_LOAD at all (4.18+). */
  readonly btf: boolean;
  /** FUNC and FUNC_PROTO (4.20+). */
  readonly func: boolean;
  /** FUNC with global linkage (5.6+). */
  readonly globalFunc: boolean;
  /** VAR and DATASEC (5.2+). */
  readonly datasec: boolean;
  /** A DATASEC whose name starts with `?` (6.5+: `?.data` sections of optional globals). */
  readonly qmarkDatasec: boolean;
  readonly float: boolean;
  readonly declTag: boolean;
  readonly typeTag: boolean;
  readonly enum64: boolean;
}

/** Every kind supported: what a test without a kernel, or a current kernel, says. */
export const ALL_BTF_FEATURES: BtfFeatures = {
  btf: true, func: true, globalFunc: true, datasec: true, qmarkDatasec: true, float: true, declTag: true, typeTag: true, enum64: true,
};

const INT: BtfType = { kind: 'int', name: 'int', size: 4, encoding: BTF_INT_SIGNED, offset: 0, bits: 32 };

/** libbpf's probe types, one list per feature (ids start at 1). */
const PROBES: Readonly<Record<Exclude<keyof BtfFeatures, 'btf'>, readonly BtfType[]>> = {
  func: [INT, { kind: 'func_proto', name: '', returnType: 0, params: [{ name: 'a', type: 1 }] }, { kind: 'func', name: 'x', type: 2, linkage: BtfLinkage.STATIC }],
  globalFunc: [INT, { kind: 'func_proto', name: '', returnType: 0, params: [{ name: 'a', type: 1 }] }, { kind: 'func', name: 'x', type: 2, linkage: BtfLinkage.GLOBAL }],
  datasec: [INT, { kind: 'var', name: 'x', type: 1, linkage: BtfLinkage.STATIC }, { kind: 'datasec', name: '.data', size: 4, vars: [{ type: 2, offset: 0, size: 4 }] }],
  qmarkDatasec: [INT, { kind: 'var', name: 'x', type: 1, linkage: BtfLinkage.STATIC }, { kind: 'datasec', name: '?.data', size: 4, vars: [{ type: 2, offset: 0, size: 4 }] }],
  float: [{ kind: 'float', name: 'float', size: 4 }],
  declTag: [INT, { kind: 'var', name: 'x', type: 1, linkage: BtfLinkage.STATIC }, { kind: 'decl_tag', name: 'tag', type: 2, componentIdx: -1 }],
  typeTag: [INT, { kind: 'type_tag', name: 'tag', type: 1 }, { kind: 'ptr', name: '', type: 2 }],
  enum64: [{ kind: 'enum64', name: 'enum64', size: 8, signed: false, values: [] }],
};

const cache = new WeakMap<Syscalls, BtfFeatures>();

/** The BTF kinds this kernel accepts. Probed once per syscall layer (a dozen tiny BTF loads). */
export function probeBtfFeatures(syscalls: Syscalls): BtfFeatures {
  let features = cache.get(syscalls);
  if (features === undefined) {
    const btf = accepts(syscalls, [INT]);
    const probe = (types: readonly BtfType[]): boolean => btf && accepts(syscalls, types);
    features = {
      btf,
      func: probe(PROBES.func),
      globalFunc: probe(PROBES.globalFunc),
      datasec: probe(PROBES.datasec),
      qmarkDatasec: probe(PROBES.qmarkDatasec),
      float: probe(PROBES.float),
      declTag: probe(PROBES.declTag),
      typeTag: probe(PROBES.typeTag),
      enum64: probe(PROBES.enum64),
    };
    cache.set(syscalls, features);
  }
  return features;
}

/** Whether BPF_BTF_LOAD takes these types; errors other than a refusal (EPERM) propagate. */
function accepts(syscalls: Syscalls, types: readonly BtfType[]): boolean {
  try {
    loadBtf(serializeBtf(new Btf(types)), { syscalls }).close();
    return true;
  } catch (err) {
    if (err instanceof KernelError && err.code !== 'EPERM') return false;
    throw err;
  }
}
