/**
 * `__kconfig` externs in the VM: there is no running kernel to read LINUX_KERNEL_VERSION or
 * CONFIG_* from, so the host gives the values (option `kconfig`), encoded into the `.kconfig`
 * map the way libbpf encodes them (bpf_object__process_kconfig_line: bools as 0/1, tristates
 * as enum libbpf_tristate, chars, integers, strings). A weak extern without a value stays 0;
 * a strong one is an error, as libbpf's "value not found".
 */
import { EbpfError, NotSupportedError } from '../../errors.js';
import type { ExternSpec } from '../../object/spec.js';

/** A kconfig value: a number or bigint, a boolean, `'y'`/`'n'`/`'m'` for tristates, a string for char arrays. */
export type KconfigValue = number | bigint | boolean | string;

/** enum libbpf_tristate. */
const TRISTATE: Readonly<Record<string, number>> = { n: 0, y: 1, m: 2 };

/** Writes the values of `externs` into `data` (the `.kconfig` map's bytes). */
export function fillKconfig(externs: readonly ExternSpec[], data: Uint8Array, values: Readonly<Record<string, KconfigValue>>): void {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (const e of externs) {
    if (e.kind !== 'kconfig') continue;
    const value = values[e.name];
    if (value === undefined) {
      if (e.weak) continue;
      throw new NotSupportedError(`extern '${e.name}' (__kconfig) has no value in the VM (give it in the \`kconfig\` option)`);
    }
    const fail = (why: string): never => {
      throw new EbpfError(`kconfig '${e.name}': ${JSON.stringify(typeof value === 'bigint' ? String(value) : value)} ${why}`);
    };
    switch (e.type) {
      case 'bool':
        if (typeof value === 'boolean') data[e.offset] = value ? 1 : 0;
        else if (value === 'y' || value === 'n') data[e.offset] = value === 'y' ? 1 : 0;
        else fail('is not a boolean');
        break;
      case 'tristate': {
        const n = typeof value === 'boolean' ? Number(value) : typeof value === 'string' ? TRISTATE[value] : undefined;
        if (n === undefined) fail('is not y, n or m');
        view.setInt32(e.offset, n!, true);
        break;
      }
      case 'char_array': {
        if (typeof value !== 'string') fail('is not a string');
        const bytes = new TextEncoder().encode(value as string);
        data.fill(0, e.offset, e.offset + e.size);
        data.set(bytes.subarray(0, e.size - 1), e.offset);
        break;
      }
      default: {
        if (typeof value !== 'number' && typeof value !== 'bigint') fail('is not a number');
        const n = BigInt(value as number | bigint);
        const bits = e.size * 8;
        if (e.type === 'char' && e.size !== 1) fail('does not fit a char');
        if (e.signed ? BigInt.asIntN(bits, n) !== n : BigInt.asUintN(bits, n) !== n) fail(`does not fit ${e.size} byte${e.size === 1 ? '' : 's'}`);
        for (let i = 0; i < e.size; i++) data[e.offset + i] = Number((BigInt.asUintN(bits, n) >> BigInt(8 * i)) & 0xffn);
      }
    }
  }
}
