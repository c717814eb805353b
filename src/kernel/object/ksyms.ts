/**
 * `__ksym` externs, resolved as libbpf resolves them (bpf_object__resolve_ksyms_btf_id,
 * bpf_object__read_kallsyms_file): a typed variable or a kfunc by its name in the kernel's BTF
 * (vmlinux first, then modules), checked for a compatible type; a typeless variable by its
 * address in /proc/kallsyms. A weak extern the kernel lacks resolves to nothing (zero, or a
 * poisoned kfunc call); a strong one fails the load.
 */
import { readFileSync } from 'node:fs';
import type { Btf } from '../../btf/btf.js';
import { essentialName, typesAreCompatible } from '../../btf/core.js';
import { EbpfError } from '../../errors.js';
import type { ExternSpec } from '../../object/spec.js';
import type { Syscalls } from '../syscalls.js';
import { moduleBtfs, openModuleBtfFd, vmlinuxBtf } from './kernel-types.js';

type KsymExtern = Extract<ExternSpec, { kind: 'ksym' }>;

/** How one ksym extern resolved. */
export type KsymResolution =
  /** A BTF id in vmlinux (`btfObjFd` 0) or a module (its BTF fd, and for kfuncs its fd_array index). */
  | { readonly kind: 'btf'; readonly btfId: number; readonly btfObjFd: number; readonly fdIndex: number }
  /** A typeless variable's address. */
  | { readonly kind: 'address'; readonly address: bigint }
  /** A weak extern the kernel does not have. */
  | { readonly kind: 'unresolved' };

/** The resolved ksyms, and the fd_array kfunc calls into modules index (entry 0 unused). */
export interface ResolvedKsyms {
  readonly byName: ReadonlyMap<string, KsymResolution>;
  readonly fdArray: readonly number[];
}

/**
 * Resolves every ksym extern of an object whose BTF is `local`. Module BTF fds it opens are
 * handed to `own` (the caller closes them after loading the programs).
 */
export function resolveKsyms(externs: readonly ExternSpec[], local: Btf | undefined, syscalls: Syscalls, own: (fd: number) => void): ResolvedKsyms {
  const ksyms = externs.filter((e): e is KsymExtern => e.kind === 'ksym');
  const byName = new Map<string, KsymResolution>();
  const fdArray: number[] = [];
  if (ksyms.length === 0) return { byName, fdArray };
  const moduleFds = new Map<string, { fd: number; index: number }>();
  const moduleFd = (name: string): { fd: number; index: number } => {
    let entry = moduleFds.get(name);
    if (entry === undefined) {
      const fd = openModuleBtfFd(name, syscalls);
      own(fd);
      // libbpf: index 0 of fd_array means vmlinux to the verifier, so module fds start at 1.
      if (fdArray.length === 0) fdArray.push(0);
      entry = { fd, index: fdArray.length };
      fdArray.push(fd);
      moduleFds.set(name, entry);
    }
    return entry;
  };

  const typeless = ksyms.filter((k) => !k.func && k.typeId === 0);
  const addresses = typeless.length > 0 ? kallsymsAddresses(new Set(typeless.map((k) => k.name))) : new Map<string, bigint>();
  for (const ext of ksyms) {
    let resolution: KsymResolution | undefined;
    if (!ext.func && ext.typeId === 0) {
      const address = addresses.get(ext.name);
      if (address !== undefined) resolution = { kind: 'address', address };
    } else {
      if (local === undefined) throw new EbpfError(`extern '${ext.name}': a typed ksym needs the object's BTF`);
      const found = findKernelType(ext.func ? essentialName(ext.name) : ext.name, ext.func ? 'func' : 'var');
      if (found === undefined) {
        if (!ext.weak) {
          throw new EbpfError(ext.func
            ? `extern (func ksym) '${ext.name}': not found in kernel or module BTFs`
            : `extern (var ksym) '${ext.name}': not found in kernel BTF`);
        }
      } else {
        const target = found.btf.type(found.id) as { type: number };
        const targetType = ext.func ? target.type : found.btf.resolve(target.type);
        if (!typesAreCompatible(local, ext.typeId, found.btf, targetType)) {
          if (!ext.func || !ext.weak) {
            throw new EbpfError(ext.func
              ? `extern (func ksym) '${ext.name}': func_proto [${ext.typeId}] incompatible with ${found.module ?? 'vmlinux'} [${targetType}]`
              : `extern (var ksym) '${ext.name}': incompatible types, expected [${ext.typeId}] but kernel has [${targetType}]`);
          }
        } else if (found.module === undefined) {
          resolution = { kind: 'btf', btfId: found.id, btfObjFd: 0, fdIndex: 0 };
        } else {
          const mod = moduleFd(found.module);
          resolution = { kind: 'btf', btfId: found.id, btfObjFd: mod.fd, fdIndex: ext.func ? mod.index : 0 };
        }
      }
    }
    if (resolution === undefined && !ext.weak) throw new EbpfError(`extern '${ext.name}' (strong): not resolved`);
    byName.set(ext.name, resolution ?? { kind: 'unresolved' });
  }
  return { byName, fdArray };
}

/** libbpf: find_ksym_btf_id — vmlinux first, then each module's own types. */
function findKernelType(name: string, kind: 'var' | 'func'): { btf: Btf; id: number; module: string | undefined } | undefined {
  const vmlinux = vmlinuxBtf();
  const id = vmlinux.findByName(name, kind)[0];
  if (id !== undefined) return { btf: vmlinux, id, module: undefined };
  for (const mod of moduleBtfs()) {
    const own = mod.btf.findByName(name, kind).find((i) => i >= mod.btf.firstId);
    if (own !== undefined) return { btf: mod.btf, id: own, module: mod.name };
  }
  return undefined;
}

/**
 * Addresses of `names` in /proc/kallsyms (libbpf: kallsyms_cb). A name listed at two
 * addresses is ambiguous and fails, as in libbpf. Zero addresses (kptr_restrict) count as missing.
 */
export function kallsymsAddresses(names: ReadonlySet<string>): Map<string, bigint> {
  const out = new Map<string, bigint>();
  let text: string;
  try {
    text = readFileSync('/proc/kallsyms', 'utf8');
  } catch (err) {
    throw EbpfError.wrap('read /proc/kallsyms', err);
  }
  for (const line of text.split('\n')) {
    const sp1 = line.indexOf(' ');
    const sp2 = line.indexOf(' ', sp1 + 1);
    if (sp1 < 0 || sp2 < 0) continue;
    const end = line.indexOf('\t', sp2 + 1);
    const name = end < 0 ? line.slice(sp2 + 1) : line.slice(sp2 + 1, end);
    if (!names.has(name)) continue;
    const address = BigInt(`0x${line.slice(0, sp1)}`);
    if (address === 0n) continue;
    const seen = out.get(name);
    if (seen !== undefined && seen !== address) {
      throw new EbpfError(`extern (ksym) '${name}': resolution is ambiguous: 0x${seen.toString(16)} or 0x${address.toString(16)}`);
    }
    out.set(name, address);
  }
  return out;
}
