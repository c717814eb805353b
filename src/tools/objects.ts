/**
 * The tools' eBPF objects: compiled from bpf/tools/*.c by scripts/build-bpf.sh and shipped in
 * the package (`files: ["bpf", …]`), found relative to this module — dist/src/tools/ is three
 * levels below the package root — so the tools work from any working directory.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EbpfError } from '../errors.js';
import { loadObject, type KernelObject, type KernelObjectOptions } from '../kernel/object/index.js';

/** The tools' objects, by file name (bpf/tools/NAME.o). */
export type ToolObjectName = 'execsnoop' | 'opensnoop' | 'hello' | 'xdp_firewall' | 'tc_redirect' | 'sockmap_accel';

/** The path of bpf/tools/NAME.o in this package. */
export function toolObjectPath(name: ToolObjectName): string {
  return fileURLToPath(new URL(`../../../bpf/tools/${name}.o`, import.meta.url));
}

/** Loads bpf/tools/NAME.o into the kernel (named NAME, so its .rodata map is `NAME.rodata`). */
export function loadToolObject(name: ToolObjectName, options: KernelObjectOptions = {}): KernelObject {
  const path = toolObjectPath(name);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (err) {
    throw EbpfError.wrap(`read the tool's object ${path} (rebuild with scripts/build-bpf.sh)`, err);
  }
  try {
    return loadObject(bytes, { objectName: name, ...options });
  } catch (err) {
    throw EbpfError.wrap(`load ${path}`, err);
  }
}
