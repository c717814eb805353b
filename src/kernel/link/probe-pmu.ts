/**
 * The kprobe and uprobe perf PMUs (4.17+): a dynamic perf event type whose number, and the
 * bit of `config` that makes a return probe, are published under
 * `/sys/bus/event_source/devices/<pmu>/`. A probe is then one perf_event_open with the target
 * in `config1` (a pointer to the symbol or file name) and `config2` (offset or address).
 */
import { readFileSync } from 'node:fs';
import { cString } from '../attr.js';
import { perfEventAttr, perfEventOpen } from '../perf-event.js';
import type { Syscalls } from '../syscalls.js';

/** The probe PMUs. */
export type ProbePmu = 'kprobe' | 'uprobe';

const PMU_DIR = '/sys/bus/event_source/devices';

/** The PMU's perf event type, or undefined when the kernel has none (no CONFIG_KPROBES, or before 4.17). */
export function probePmuType(pmu: ProbePmu): number | undefined {
  try {
    const type = Number.parseInt(readFileSync(`${PMU_DIR}/${pmu}/type`, 'utf8').trim(), 10);
    return Number.isInteger(type) ? type : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The `config` bit of a format field (`format/retprobe` reads `config:0`), or the first bit of
 * a range (`format/ref_ctr_offset` reads `config:32-63`).
 */
export function probePmuConfigBit(pmu: ProbePmu, field: string): number | undefined {
  try {
    const match = /^config:(\d+)/.exec(readFileSync(`${PMU_DIR}/${pmu}/format/${field}`, 'utf8').trim());
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** What one probe PMU event is placed on. */
export interface PmuProbe {
  pmu: ProbePmu;
  type: number;
  retprobe: boolean;
  /** The symbol (kprobe) or file path (uprobe); empty for a kprobe on a raw address. */
  name: string;
  /** Offset from the symbol or in the file, or the kprobe's address when `name` is empty. */
  offset: bigint;
  /** uprobe: offset of the USDT semaphore to count up while probed. */
  refCtrOffset?: bigint;
  pid: number;
  syscalls: Syscalls;
}

/** Opens the perf event of a probe on its PMU: a new fd the caller owns. */
export function openPmuProbe(probe: PmuProbe): number {
  let config = 0n;
  if (probe.retprobe) {
    const bit = probePmuConfigBit(probe.pmu, 'retprobe');
    if (bit === undefined) throw new Error(`${probe.pmu} PMU has no retprobe format bit`);
    config |= 1n << BigInt(bit);
  }
  if (probe.refCtrOffset) {
    const bit = probePmuConfigBit(probe.pmu, 'ref_ctr_offset');
    if (bit === undefined) throw new Error(`${probe.pmu} PMU has no ref_ctr_offset format field (kernel before 4.20)`);
    config |= probe.refCtrOffset << BigInt(bit);
  }
  const { syscalls } = probe;
  // The name pointer is read by the kernel during perf_event_open only.
  return syscalls.withMemory((memory) => {
    const name = probe.name === '' ? 0n : memory.input(cString(probe.name));
    const attr = perfEventAttr({ type: probe.type, config, config1: name, config2: probe.offset, samplePeriod: 1, wakeupEvents: 1 });
    // All processes: cpu 0 names the event, the probe fires on every CPU (as libbpf opens it).
    return perfEventOpen(attr, { pid: probe.pid, cpu: probe.pid === -1 ? 0 : -1, syscalls });
  });
}
