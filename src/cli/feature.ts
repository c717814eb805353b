/**
 * `ebpf feature list`: what the userspace VM implements — its map types (from the map type table
 * of src/vm/maps/create.ts, probed through `createMap`: a type without an implementation is
 * refused with NotSupportedError) and its helpers (the Linux helper-name table against the helper
 * tables `loadObjectVm` wires in, plus the XDP packet helpers `ebpf run` adds).
 */
import { parseArgs } from 'node:util';
import { NotSupportedError } from '../errors.js';
import { MapType, mapTypeShortName } from '../object/uapi-types.js';
import { callbackHelpers } from '../vm/callbacks.js';
import type { Helper } from '../vm/helpers.js';
import { coreHelpers } from '../vm/helpers/core.js';
import { VmHost } from '../vm/helpers/host.js';
import { HELPER_NAMES, mapHelpers } from '../vm/helpers/index.js';
import { stringHelpers } from '../vm/helpers/strings.js';
import { traceHelpers } from '../vm/helpers/trace.js';
import { socketHelpers } from '../vm/helpers/sock.js';
import { forEachHelpers } from '../vm/helpers/for-each.js';
import { spinLockHelpers } from '../vm/helpers/spin-lock.js';
import { timerHelpers } from '../vm/helpers/timer.js';
import { cgroupHelpers } from '../vm/helpers/cgroup.js';
import { redirectMapHelpers } from '../vm/helpers/redirect-map.js';
import { stackHelpers } from '../vm/helpers/stack.js';
import { createMap } from '../vm/maps/create.js';
import { MapRegistry } from '../vm/maps/registry.js';
import { xdpHelpers } from '../vm/programs/xdp-helpers.js';
import { skbResizeHelpers } from '../vm/programs/skb-resize.js';
import { netHelpers } from '../vm/programs/fib.js';
import { type Command, UsageError } from './command.js';
import { toJson } from './json-value.js';
import { takeOutputFlags } from './map.js';

const USAGE = `Usage: ebpf feature list [-j [-p]]

list    the VM's map types and helpers, each 'implemented' or 'not implemented'
        (helpers marked 'ebpf run' are wired by ebpf run, or by passing them to loadObjectVm)
  -j    JSON: {mapTypes: [{id, name, status}], helpers: [{id, name, status}]}`;

export type FeatureStatus = 'implemented' | 'not implemented' | 'ebpf run';

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

/** The helper tables `loadObjectVm` wires in (src/vm/object/load.ts), by id. */
export function vmHelperIds(): Set<number> {
  const registry = new MapRegistry();
  const host = new VmHost();
  try {
    const tables: Array<ReadonlyMap<number, Helper>> = [
      mapHelpers(registry), callbackHelpers as ReadonlyMap<number, Helper>, coreHelpers(host, { registry }),
      traceHelpers(host), stringHelpers(host),
      forEachHelpers(registry), spinLockHelpers(registry), timerHelpers(registry, host),
      redirectMapHelpers(registry, host), stackHelpers(registry, host), cgroupHelpers(registry, host),
      socketHelpers(registry),
      skbResizeHelpers as ReadonlyMap<number, Helper>, netHelpers(host) as ReadonlyMap<number, Helper>,
    ];
    return new Set(tables.flatMap((t) => [...t.keys()]));
  } finally {
    registry[Symbol.dispose]();
  }
}

/** Every Linux helper with its status in the VM. */
export function vmHelpers(): Feature[] {
  const wired = vmHelperIds();
  const runOnly = new Set((xdpHelpers as ReadonlyMap<number, Helper>).keys());
  return HELPER_NAMES.flatMap((name, id) => (id === 0 ? [] : [{
    id, name: `bpf_${name}`,
    status: wired.has(id) ? 'implemented' as const : runOnly.has(id) ? 'ebpf run' as const : 'not implemented' as const,
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
