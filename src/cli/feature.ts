/**
 * `ebpf feature list`: what the userspace VM implements — its map types (from the map type table
 * of src/vm/maps/create.ts, probed through `createMap`: a type without an implementation is
 * refused with NotSupportedError) and its helpers (the Linux helper-name table against the helper
 * tables `loadObjectVm` wires in).
 */
import { parseArgs } from 'node:util';
import { NotSupportedError } from '../errors.js';
import { MapType, mapTypeShortName } from '../object/uapi-types.js';
import { VmHost } from '../vm/helpers/host.js';
import { HELPER_NAMES } from '../vm/helpers/index.js';
import { createMap } from '../vm/maps/create.js';
import { MapRegistry } from '../vm/maps/registry.js';
import { mergeHelperTables, vmHelperTables } from '../vm/object/helper-tables.js';
import { type Command, UsageError } from './command.js';
import { toJson } from './json-value.js';
import { takeOutputFlags } from './map.js';

const USAGE = `Usage: ebpf feature list [-j [-p]]

list    the VM's map types and helpers, each 'implemented' or 'not implemented' (what
        loadObjectVm gives a program; an object using a helper not implemented is refused at load)
  -j    JSON: {mapTypes: [{id, name, status}], helpers: [{id, name, status}]}`;

export type FeatureStatus = 'implemented' | 'not implemented';

export interface Feature {
  readonly id: number;
  readonly name: string;
  readonly status: FeatureStatus;
}

/** The VM's map types, by probing `createMap` with each UAPI map type. */
export function vmMapTypes(): Feature[] {
  const registry = new MapRegistry();
  const out: Feature[] = [];
  try {
    for (const [name, id] of Object.entries(MapType)) {
      if (id === 0) continue;
      let status: FeatureStatus = 'implemented';
      try {
        createMap(registry, { type: id, keySize: 4, valueSize: 4, maxEntries: 1, name: 'probe' });
      } catch (err) {
        if (err instanceof NotSupportedError) status = 'not implemented';
      }
      out.push({ id, name: mapTypeShortName(id) || name.toLowerCase(), status });
    }
  } finally {
    registry[Symbol.dispose]();
  }
  return out.sort((a, b) => a.id - b.id);
}

/** The helpers `loadObjectVm` wires in (src/vm/object/helper-tables.ts, the one list), by id. */
export function vmHelperIds(): Set<number> {
  const registry = new MapRegistry();
  const host = new VmHost();
  try {
    return new Set(mergeHelperTables(vmHelperTables({ registry, host })).keys());
  } finally {
    registry[Symbol.dispose]();
  }
}

/** Every Linux helper with its status in the VM. */
export function vmHelpers(): Feature[] {
  const wired = vmHelperIds();
  return HELPER_NAMES.flatMap((name, id) => (id === 0 ? [] : [{
    id, name: `bpf_${name}`, status: wired.has(id) ? 'implemented' as const : 'not implemented' as const,
  }]));
}

export const featureCommand: Command = {
  name: 'feature',
  summary: "the VM's map types and helpers, implemented or not",
  usage: USAGE,
  async run(args, io) {
    const flags = takeOutputFlags(args);
    const { positionals } = parseArgs({ args: flags.rest, allowPositionals: true, options: {} });
    const [sub, ...extra] = positionals;
    if (sub !== 'list' || extra.length > 0) throw new UsageError(sub === undefined ? 'expected a subcommand (list)' : `unknown subcommand '${sub}'`);
    const mapTypes = vmMapTypes();
    const helpers = vmHelpers();
    if (flags.json) {
      io.out(`${toJson({ mapTypes, helpers }, flags.pretty ? 2 : undefined)}\n`);
      return 0;
    }
    const section = (title: string, items: Feature[]): string => {
      const done = items.filter((f) => f.status !== 'not implemented').length;
      const width = Math.max(...items.map((f) => f.name.length));
      return `${title} (${done} of ${items.length}):\n${items.map((f) => `  ${String(f.id).padStart(3)}  ${f.name.padEnd(width)}  ${f.status}`).join('\n')}\n`;
    };
    io.out(`${section('map types', mapTypes)}\n${section('helpers', helpers)}`);
    return 0;
  },
};
