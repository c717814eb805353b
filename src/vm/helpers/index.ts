/**
 * Helper implementations by area. {@link mapHelpers} gathers those that work on maps.
 */
import type { Helper } from '../helpers.js';
import type { MapRegistry } from '../maps/registry.js';
import { mapElemHelpers } from './maps.js';
import { perfHelpers, type PerfHelperOptions } from './perf.js';
import { ringbufHelpers } from './ringbuf.js';

export * from './ids.js';
export * from './args.js';
export { mapElemHelpers } from './maps.js';
export { ringbufHelpers } from './ringbuf.js';
export { perfHelpers, type PerfHelperOptions } from './perf.js';
export * from './redirect-map.js';
export * from './stack.js';
export * from './cgroup.js';
export * from './environment.js';
export * from './for-each.js';
export * from './spin-lock.js';
export * from './timer.js';

/**
 * Every map helper — lookup/update/delete, push/pop/peek, lookup_percpu, the ring buffer
 * helpers and perf_event_output — for the maps of `registry`, as a `HelperTable` to give an
 * `Interpreter` running in `registry.memory` (merge it with other helpers as needed).
 */
export function mapHelpers(registry: MapRegistry, options: PerfHelperOptions = {}): Map<number, Helper> {
  return new Map<number, Helper>([...mapElemHelpers(registry), ...ringbufHelpers(registry), ...perfHelpers(registry, options)]);
}
export * from './names.js';
export * from './host.js';
export * from './trace-pipe.js';
export * from './bprintf.js';
export * from './core.js';
export * from './strings.js';
export * from './trace.js';
