/**
 * The helpers an object loaded into the VM gets: one table per area, merged in this order
 * (a later table's entry for an id replaces an earlier one's).
 */
import { callbackHelpers } from '../callbacks.js';
import type { Helper, HelperTable } from '../helpers.js';
import { cgroupHelpers } from '../helpers/cgroup.js';
import { coreHelpers } from '../helpers/core.js';
import { forEachHelpers } from '../helpers/for-each.js';
import { spinLockHelpers } from '../helpers/spin-lock.js';
import { timerHelpers } from '../helpers/timer.js';
import type { VmHost } from '../helpers/host.js';
import { mapHelpers } from '../helpers/index.js';
import { socketHelpers } from '../helpers/sock.js';
import { redirectMapHelpers } from '../helpers/redirect-map.js';
import { stackHelpers } from '../helpers/stack.js';
import { stringHelpers } from '../helpers/strings.js';
import { traceHelpers } from '../helpers/trace.js';
import type { MapRegistry } from '../maps/registry.js';
import { netHelpers } from '../programs/fib.js';
import { skbHelpers } from '../programs/skb-helpers.js';
import { xdpHelpers, xdpOnlyHelpers } from '../programs/xdp-helpers.js';
import { ProgramType } from '../../object/uapi-types.js';

/** What the helper tables are made for: the object's maps and its host. */
export interface HelperTableParts {
  readonly registry: MapRegistry;
  readonly host: VmHost;
}

/** Every helper table of the VM, one line per area. */
export function vmHelperTables({ registry, host }: HelperTableParts): HelperTable[] {
  return [
    mapHelpers(registry),
    callbackHelpers,
    coreHelpers(host, { registry }),
    traceHelpers(host),
    stringHelpers(host),
    xdpHelpers,
    skbHelpers,
    netHelpers(host),
    socketHelpers(registry),
    forEachHelpers(registry),
    spinLockHelpers(registry),
    timerHelpers(registry, host),
    redirectMapHelpers(registry, host),
    stackHelpers(registry, host),
    cgroupHelpers(registry, host),
  ];
}

/**
 * Helpers that differ by program type under one id (the kernel's func_proto of the type picks
 * them): merged over the common table for programs of that type.
 */
export function programTypeHelpers(progType: number): HelperTable | undefined {
  return progType === ProgramType.XDP ? xdpOnlyHelpers : undefined;
}

/** The tables merged into one map by helper id. */
export function mergeHelperTables(tables: readonly (HelperTable | undefined)[]): Map<number, Helper> {
  const merged = new Map<number, Helper>();
  for (const table of tables) {
    if (table === undefined) continue;
    const entries: Iterable<[number, Helper]> = table instanceof Map
      ? (table as ReadonlyMap<number, Helper>).entries()
      : Object.entries(table as Readonly<Record<number, Helper>>).map(([id, fn]): [number, Helper] => [Number(id), fn]);
    for (const [id, fn] of entries) merged.set(id, fn);
  }
  return merged;
}
