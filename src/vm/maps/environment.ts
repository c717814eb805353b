/**
 * What the network and cgroup maps refer to outside the VM: the devices a DEVMAP holds (by
 * ifindex), the cgroups a CGROUP_ARRAY holds (by cgroup id), the AF_XDP sockets an XSKMAP holds.
 * In the kernel such a value is a file descriptor (or an ifindex looked up in the caller's
 * network namespace); in the VM it is an id from tables the host gives — usually through the
 * `VmHost` options `devices`, `cgroups` and `xskSockets`, which {@link setMapEnvironment} binds
 * to a registry. Without one, a registry sees {@link DEFAULT_MAP_ENVIRONMENT}: the loopback
 * device (ifindex 1, present in every network namespace) and the root cgroup (id 1).
 */
import type { MapRegistry } from './registry.js';

/** A network device: the target of a devmap entry or of bpf_redirect_map. */
export interface VmDevice {
  readonly ifindex: number;
  readonly name?: string;
  /**
   * The ifindexes of the devices stacked on this one (a bond or bridge master): a broadcast
   * redirect with BPF_F_EXCLUDE_INGRESS skips them too (kernel: get_upper_ifindexes).
   */
  readonly upper?: readonly number[];
}

/** A cgroup (v2): its id (the kernel's cgroup inode number, as bpf_get_current_cgroup_id reports) and its parent's. */
export interface VmCgroup {
  readonly id: bigint;
  /** The parent cgroup's id; none for the root. */
  readonly parent?: bigint;
  readonly path?: string;
}

/** A bound AF_XDP socket an XSKMAP can hold; `id` stands in for its fd. */
export interface VmXskSocket {
  readonly id: number;
  /** Device and queue the socket is bound to. */
  readonly ifindex: number;
  readonly queueId: number;
}

/** The tables the maps resolve their values in. */
export interface MapEnvironment {
  readonly devices: readonly VmDevice[];
  readonly cgroups: readonly VmCgroup[];
  readonly xskSockets: readonly VmXskSocket[];
}

/** The cgroup v2 root's id. */
export const ROOT_CGROUP_ID = 1n;

/** A network namespace with only `lo`, the root cgroup, no AF_XDP sockets. */
export const DEFAULT_MAP_ENVIRONMENT: MapEnvironment = Object.freeze({
  devices: Object.freeze([Object.freeze({ ifindex: 1, name: 'lo' })]),
  cgroups: Object.freeze([Object.freeze({ id: ROOT_CGROUP_ID, path: '/' })]),
  xskSockets: Object.freeze([]),
});

const environments = new WeakMap<MapRegistry, MapEnvironment>();

/**
 * Makes the maps of `registry` resolve devices, cgroups and sockets in `environment` (read at
 * each operation, so a `VmHost` whose tables change is seen as it changes).
 */
export function setMapEnvironment(registry: MapRegistry, environment: MapEnvironment): void {
  environments.set(registry, environment);
}

/** The environment of `registry`'s maps. */
export function mapEnvironment(registry: MapRegistry): MapEnvironment {
  return environments.get(registry) ?? DEFAULT_MAP_ENVIRONMENT;
}

/** The device with `ifindex`, if the environment has it (kernel: dev_get_by_index). */
export function findDevice(env: MapEnvironment, ifindex: number): VmDevice | undefined {
  return env.devices.find((d) => d.ifindex === ifindex);
}

/** The cgroup with `id`. */
export function findCgroup(env: MapEnvironment, id: bigint): VmCgroup | undefined {
  return env.cgroups.find((c) => c.id === id);
}

/**
 * Whether cgroup `id` is `ancestor` or below it (kernel: cgroup_is_descendant). Unknown ids
 * are under nothing; a parent chain that loops ends the walk.
 */
export function cgroupIsDescendant(env: MapEnvironment, id: bigint, ancestor: bigint): boolean {
  let at: bigint | undefined = id;
  for (let depth = 0; at !== undefined && depth <= env.cgroups.length; depth++) {
    if (at === ancestor) return true;
    at = findCgroup(env, at)?.parent;
  }
  return false;
}
