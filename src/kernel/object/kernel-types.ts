/**
 * The running kernel's own BTF: /sys/kernel/btf/vmlinux and the split BTF of each loaded module
 * beside it — the target of CO-RE relocations, typed ksyms, kfuncs and BTF attach points.
 * Parsed once per process (vmlinux is several MB; parsing takes a fraction of a second).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Btf } from '../../btf/btf.js';
import { parseBtf } from '../../btf/parse.js';
import { NotSupportedError } from '../../errors.js';
import { btfIds } from '../ids.js';
import { vmlinuxBtf as sharedVmlinuxBtf } from '../link/btf-target.js';
import { btfInfo } from '../info.js';
import { fdById } from '../ids.js';
import type { Syscalls } from '../syscalls.js';

/** Where the kernel publishes its BTF. */
export const KERNEL_BTF_DIR = '/sys/kernel/btf';

/** One module's BTF (split on vmlinux). */
export interface ModuleBtf {
  readonly name: string;
  readonly btf: Btf;
}

let modules: readonly ModuleBtf[] | undefined;

const readBytes = (path: string): Uint8Array => {
  const buf = readFileSync(path);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
};

/**
 * The kernel's BTF (/sys/kernel/btf/vmlinux), parsed once per process — shared with the attach
 * code (kernel/link/btf-target.ts), so the several-MB parse happens once.
 */
export function vmlinuxBtf(): Btf {
  if (!existsSync(join(KERNEL_BTF_DIR, 'vmlinux'))) {
    throw new NotSupportedError(`${KERNEL_BTF_DIR}/vmlinux not found: the kernel was built without CONFIG_DEBUG_INFO_BTF`);
  }
  return sharedVmlinuxBtf();
}

/** The BTF of every loaded module, parsed on first use (split on vmlinux). */
export function moduleBtfs(): readonly ModuleBtf[] {
  if (modules === undefined) {
    const base = vmlinuxBtf();
    const names = readdirSync(KERNEL_BTF_DIR).filter((n) => n !== 'vmlinux').sort();
    modules = names.map((name) => ({ name, btf: parseBtf(readBytes(join(KERNEL_BTF_DIR, name)), { base }) }));
  }
  return modules;
}

/** vmlinux, then every module: the target list of `applyCoreRelocations`. */
export function kernelBtfs(): readonly Btf[] {
  return [vmlinuxBtf(), ...moduleBtfs().map((m) => m.btf)];
}

/** The module that `btf` belongs to, or undefined for vmlinux. */
export function moduleOf(btf: Btf): ModuleBtf | undefined {
  return modules?.find((m) => m.btf === btf);
}

/**
 * A new fd for the kernel BTF object of module `name` (its id found by walking BTF ids):
 * what kfunc calls (fd_array) and BTF attach points in modules name it by. The caller owns it.
 */
export function openModuleBtfFd(name: string, syscalls: Syscalls): number {
  for (const id of btfIds({ syscalls })) {
    let fd: number;
    try {
      fd = fdById('btf', id, { syscalls });
    } catch {
      continue; // gone between listing and opening
    }
    let keep = false;
    try {
      const info = btfInfo(fd, { syscalls });
      keep = info.kernelBtf && info.name === name;
    } finally {
      if (!keep) syscalls.close(fd);
    }
    if (keep) return fd;
  }
  throw new NotSupportedError(`no kernel BTF object for module '${name}'`);
}
