/**
 * Ties a registry's maps to a {@link VmHost}: devmaps resolve ifindexes in the host's network
 * (`VmHostOptions.network`), cgroup arrays cgroup ids in `cgroups`, XSKMAPs socket ids in
 * `xskSockets` — read live, so changing the host's tables changes what later updates accept.
 */
import { setMapEnvironment, type MapEnvironment } from '../maps/environment.js';
import type { MapRegistry } from '../maps/registry.js';
import type { VmHost } from './host.js';

/** The map environment a host's tables make. */
export function hostMapEnvironment(host: VmHost): MapEnvironment {
  return {
    get devices() { return host.network.devices; },
    get cgroups() { return host.cgroups; },
    get xskSockets() { return host.xskSockets; },
  };
}

/** Makes `registry`'s maps resolve their values in `host`'s tables (see the module comment). */
export function bindHostEnvironment(registry: MapRegistry, host: VmHost): void {
  setMapEnvironment(registry, hostMapEnvironment(host));
}
