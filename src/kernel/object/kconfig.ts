/**
 * Values of `__kconfig` externs, as libbpf fills the `.kconfig` map (bpf_object__resolve_externs,
 * set_kcfg_value_*): `CONFIG_*` from the kernel's build configuration (/boot/config-RELEASE or
 * /proc/config.gz), and libbpf's virtual `LINUX_*` values. Unknown weak externs stay zero.
 */
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { EbpfError } from '../../errors.js';
import type { ExternSpec } from '../../object/spec.js';
import { HOST_LITTLE_ENDIAN } from '../attr.js';

type KconfigExtern = Extract<ExternSpec, { kind: 'kconfig' }>;

/** What the virtual `LINUX_*` externs need to know about the kernel. */
export interface KconfigContext {
  /** `CONFIG_*=...` lines given by the caller; read before the kernel's own configuration. */
  readonly extra?: string;
  readonly hasBpfCookie: () => boolean;
  readonly hasSyscallWrapper: () => boolean;
}

/** libbpf: enum libbpf_tristate. */
const TRI = { n: 0, y: 1, m: 2 } as const;

/**
 * Writes each kconfig extern's value into `data` (the `.kconfig` map's initial value). Throws
 * EbpfError naming the extern for values that do not fit its type, and for strong externs
 * that have none (`extern 'CONFIG_X' (strong): not resolved`).
 */
export function fillKconfig(externs: readonly KconfigExtern[], data: Uint8Array, ctx: KconfigContext): void {
  if (externs.length === 0) return;
  const set = new Set<string>();
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let needConfig = false;
  for (const ext of externs) {
    if (ext.name.startsWith('CONFIG_')) {
      needConfig = true;
      continue;
    }
    let value: bigint;
    if (ext.name === 'LINUX_KERNEL_VERSION') value = BigInt(kernelVersionCode());
    else if (ext.name === 'LINUX_HAS_BPF_COOKIE') value = ctx.hasBpfCookie() ? 1n : 0n;
    else if (ext.name === 'LINUX_HAS_SYSCALL_WRAPPER') value = ctx.hasSyscallWrapper() ? 1n : 0n;
    else if (ext.name.startsWith('LINUX_') && ext.weak) continue;
    else throw new EbpfError(`extern (kcfg) '${ext.name}': unrecognized virtual extern`);
    setNumber(ext, view, value);
    set.add(ext.name);
  }
  if (needConfig) {
    const byName = new Map(externs.map((e) => [e.name, e]));
    for (const text of [ctx.extra, readKernelConfig()]) {
      if (text === undefined) continue;
      for (const line of text.split('\n')) applyLine(line.trim(), byName, set, data, view);
    }
  }
  for (const ext of externs) {
    if (!set.has(ext.name) && !ext.weak) throw new EbpfError(`extern '${ext.name}' (strong): not resolved`);
  }
}

/** libbpf: KERNEL_VERSION(a, b, c) with the patch level capped at 255. */
export function kernelVersionCode(text: string = versionText()): number {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (m === null) throw new EbpfError(`extern (kcfg) 'LINUX_KERNEL_VERSION': cannot parse kernel release '${text}'`);
  return (Number(m[1]) << 16) + (Number(m[2]) << 8) + Math.min(Number(m[3] ?? 0), 255);
}

/** Ubuntu keeps the upstream version in /proc/version_signature (libbpf: get_ubuntu_kernel_version). */
function versionText(): string {
  try {
    const sig = readFileSync('/proc/version_signature', 'utf8').trim().split(/\s+/);
    const last = sig[sig.length - 1];
    if (last !== undefined && /^\d+\.\d+/.test(last)) return last;
  } catch { /* not Ubuntu */ }
  return release();
}

let kernelConfig: string | undefined | null;

/** The running kernel's build configuration, or undefined when neither file exists. */
function readKernelConfig(): string | undefined {
  if (kernelConfig === undefined) {
    const boot = `/boot/config-${release()}`;
    if (existsSync(boot)) kernelConfig = readFileSync(boot, 'utf8');
    else if (existsSync('/proc/config.gz')) kernelConfig = gunzipSync(readFileSync('/proc/config.gz')).toString('utf8');
    else kernelConfig = null;
  }
  return kernelConfig ?? undefined;
}

/** libbpf: bpf_object__process_kconfig_line. */
function applyLine(line: string, byName: ReadonlyMap<string, KconfigExtern>, set: Set<string>, data: Uint8Array, view: DataView): void {
  if (!line.startsWith('CONFIG_')) return;
  const eq = line.indexOf('=');
  if (eq < 0 || eq === line.length - 1) return;
  const ext = byName.get(line.slice(0, eq));
  if (ext === undefined || set.has(ext.name)) return;
  const value = line.slice(eq + 1);
  const fail = (why: string): never => { throw new EbpfError(`extern (kcfg) '${ext.name}': ${why}`); };
  const first = value[0]!;
  if (first === 'y' || first === 'n' || first === 'm') {
    if (ext.type === 'bool') {
      if (first === 'm') fail(`value '${first}' implies tristate or char type`);
      data[ext.offset] = first === 'y' ? 1 : 0;
    } else if (ext.type === 'tristate') {
      view.setUint32(ext.offset, TRI[first], HOST_LITTLE_ENDIAN);
    } else if (ext.type === 'char') {
      data[ext.offset] = first.charCodeAt(0);
    } else {
      fail(`value '${first}' implies bool, tristate, or char type`);
    }
  } else if (first === '"') {
    if (ext.type !== 'char_array') fail(`value '${value}' implies char array type`);
    if (value.length < 2 || !value.endsWith('"')) fail(`invalid string config '${value}'`);
    const bytes = new TextEncoder().encode(value.slice(1, -1)).subarray(0, ext.size - 1);
    data.fill(0, ext.offset, ext.offset + ext.size);
    data.set(bytes, ext.offset);
  } else {
    let num: bigint;
    try {
      num = BigInt.asUintN(64, BigInt(value));
    } catch {
      return fail(`value '${value}' isn't a valid integer`);
    }
    if (ext.type !== 'int' && ext.type !== 'char') fail(`value '${value}' implies integer type`);
    setNumber(ext, view, num);
  }
  set.add(ext.name);
}

/** libbpf: set_kcfg_value_num — range-checked by the extern's size and signedness. */
function setNumber(ext: KconfigExtern, view: DataView, value: bigint): void {
  if (ext.type !== 'int' && ext.type !== 'char' && ext.type !== 'bool') {
    throw new EbpfError(`extern (kcfg) '${ext.name}': value '${value}' implies integer, char, or boolean type`);
  }
  if (ext.type === 'bool' && value > 1n) throw new EbpfError(`extern (kcfg) '${ext.name}': value '${value}' isn't boolean compatible`);
  const bits = BigInt(ext.size * 8);
  const fits = ext.size === 8 || (ext.signed
    ? BigInt.asUintN(64, value + (1n << (bits - 1n))) < (1n << bits)
    : value >> bits === 0n);
  if (!fits) throw new EbpfError(`extern (kcfg) '${ext.name}': value '${value}' doesn't fit in ${ext.size} bytes`);
  switch (ext.size) {
    case 1: view.setUint8(ext.offset, Number(value & 0xffn)); break;
    case 2: view.setUint16(ext.offset, Number(value & 0xffffn), HOST_LITTLE_ENDIAN); break;
    case 4: view.setUint32(ext.offset, Number(value & 0xffff_ffffn), HOST_LITTLE_ENDIAN); break;
    case 8: view.setBigUint64(ext.offset, value, HOST_LITTLE_ENDIAN); break;
    default: throw new EbpfError(`extern (kcfg) '${ext.name}': unsupported size ${ext.size}`);
  }
}
