/**
 * Per-CPU map values as the syscall side sees them: one slot per *possible* CPU, each slot the
 * value size rounded up to 8 bytes (kernel: bpf_percpu_hash_copy, `round_up(value_size, 8)`).
 * The possible CPUs are read once from /sys/devices/system/cpu/possible.
 */
import { readFileSync } from 'node:fs';

/**
 * A kernel CPU list (`0-3,8,10-11`, as in /sys/devices/system/cpu/{possible,online}) → the CPU
 * numbers in order. Throws a `SyntaxError` on anything else.
 */
export function parseCpuList(text: string): number[] {
  const cpus: number[] = [];
  const trimmed = text.trim();
  if (trimmed === '') return cpus;
  for (const part of trimmed.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new SyntaxError(`bad CPU list '${trimmed}'`);
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (last < first) throw new SyntaxError(`bad CPU range '${part}'`);
    for (let cpu = first; cpu <= last; cpu++) cpus.push(cpu);
  }
  return cpus;
}

let possible: readonly number[] | undefined;

/** The possible CPUs of this machine (those a per-CPU value has a slot for), read once. */
export function possibleCpus(): readonly number[] {
  possible ??= Object.freeze(parseCpuList(readFileSync('/sys/devices/system/cpu/possible', 'utf8')));
  return possible;
}

/** The online CPUs now (re-read each call: CPUs come and go). */
export function onlineCpus(): number[] {
  return parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8'));
}

/** The number of possible CPUs: the count of slots in a per-CPU value. */
export function possibleCpuCount(): number {
  return possibleCpus().length;
}

/** The bytes of one CPU's slot: the value size rounded up to 8. */
export function perCpuSlotSize(valueSize: number): number {
  return (valueSize + 7) & ~7;
}

/** The bytes of a whole per-CPU value for `cpus` CPUs. */
export function perCpuValueSize(valueSize: number, cpus: number = possibleCpuCount()): number {
  return perCpuSlotSize(valueSize) * cpus;
}

/** A whole per-CPU value → one `valueSize`-byte copy per CPU slot. */
export function splitPerCpu(bytes: Uint8Array, valueSize: number, cpus: number = possibleCpuCount()): Uint8Array[] {
  const slot = perCpuSlotSize(valueSize);
  if (bytes.length !== slot * cpus) throw new RangeError(`per-CPU value is ${bytes.length} bytes, expected ${slot} × ${cpus} CPUs`);
  const out: Uint8Array[] = [];
  for (let i = 0; i < cpus; i++) out.push(bytes.slice(i * slot, i * slot + valueSize));
  return out;
}

/** One value per CPU → the whole per-CPU value the kernel expects (slots padded with zeros). */
export function joinPerCpu(values: readonly Uint8Array[], valueSize: number, cpus: number = possibleCpuCount()): Uint8Array {
  if (values.length !== cpus) throw new RangeError(`${values.length} per-CPU values for ${cpus} possible CPUs`);
  const slot = perCpuSlotSize(valueSize);
  const out = new Uint8Array(slot * cpus);
  values.forEach((value, i) => {
    if (value.length !== valueSize) throw new RangeError(`per-CPU value ${i} is ${value.length} bytes, the map's value size is ${valueSize}`);
    out.set(value, i * slot);
  });
  return out;
}
