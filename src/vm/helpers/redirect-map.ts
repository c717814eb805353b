/**
 * bpf_redirect_map (#51) for XDP programs (include/linux/filter.h __bpf_xdp_redirect_map and the
 * map_redirect of devmap.c, cpumap.c, xskmap.c): looks the key up in a DEVMAP, DEVMAP_HASH,
 * CPUMAP or XSKMAP and returns XDP_REDIRECT, remembering the target (the kernel's per-CPU
 * bpf_redirect_info) for the XDP run to report; on a miss it returns the action in the flags'
 * low two bits. Devmaps also take BPF_F_BROADCAST (every entry, found or not, missing key
 * included) and BPF_F_EXCLUDE_INGRESS (not back out of the receiving device or the devices
 * above it). Any other flag bit gives XDP_ABORTED.
 */
import { VmError } from '../errors.js';
import type { Helper } from '../helpers.js';
import type { Memory } from '../memory.js';
import { CpuMap } from '../maps/cpumap.js';
import { DevMap, DevMapHash } from '../maps/devmap.js';
import { findDevice, mapEnvironment, type VmXskSocket } from '../maps/environment.js';
import { mapTypeName } from '../maps/flags.js';
import type { VmMap } from '../maps/map.js';
import type { MapRegistry } from '../maps/registry.js';
import { XskMap } from '../maps/xskmap.js';
import { mapArg, sameMemory } from './args.js';
import { bindHostEnvironment } from './environment.js';
import type { VmHost } from './host.js';

export const BPF_FUNC_redirect_map = 51;
/** bpf_redirect_map flags for devmaps. */
export const BPF_F_BROADCAST = 1 << 3;
export const BPF_F_EXCLUDE_INGRESS = 1 << 4;
/** XDP_ABORTED | XDP_DROP | XDP_PASS | XDP_TX: the fallback actions the low bits may name. */
const ACTION_MASK = 3n;
const XDP_ABORTED = 0, XDP_REDIRECT = 4;

/** What a successful bpf_redirect_map left behind (the VM's bpf_redirect_info). */
export interface XdpMapRedirectRecord {
  readonly map: VmMap;
  readonly key: number;
  readonly flags: number;
}

/** Where an XDP_REDIRECT verdict sends the frame. */
export interface XdpRedirect {
  /** The map bpf_redirect_map used (none for bpf_redirect's plain ifindex). */
  readonly mapId?: number;
  readonly mapType?: number;
  readonly key?: number;
  readonly flags: number;
  /** Devices the frame leaves by: one, or for a broadcast every devmap entry not excluded, in the kernel's order. */
  readonly ifindexes?: readonly number[];
  /** CPUMAP: the CPU whose queue gets it. */
  readonly cpu?: number;
  /** XSKMAP: the AF_XDP socket. */
  readonly xsk?: VmXskSocket;
  /** The program the devmap/cpumap entry runs on the frame there (registered id), if any. */
  readonly programId?: number;
}

const records = new WeakMap<Memory, XdpMapRedirectRecord>();

/** Forgets the redirect of a previous run in `memory`. */
export function clearXdpMapRedirect(memory: Memory): void {
  records.delete(memory);
}

/**
 * The target of the last successful bpf_redirect_map in `memory` (cleared by reading it), as
 * xdp_do_redirect would resolve it for a frame received on `ingressIfindex`. Undefined when
 * there is none or the entry went away.
 */
export function takeXdpMapRedirect(memory: Memory, ingressIfindex: number): XdpRedirect | undefined {
  const r = records.get(memory);
  records.delete(memory);
  if (r === undefined || !r.map.open) return undefined;
  const base = { mapId: r.map.id, mapType: r.map.type, key: r.key, flags: r.flags };
  const map = r.map;
  if (map instanceof DevMap || map instanceof DevMapHash) {
    if (r.flags & BPF_F_BROADCAST) {
      const excluded = new Set<number>();
      if (r.flags & BPF_F_EXCLUDE_INGRESS) {
        excluded.add(ingressIfindex);
        const ingress = findDevice(mapEnvironment(map.registry), ingressIfindex);
        for (const up of ingress?.upper ?? []) excluded.add(up);
      }
      return { ...base, ifindexes: map.entriesInOrder().map((e) => e.device.ifindex).filter((i) => !excluded.has(i)) };
    }
    const e = map.entry(r.key);
    return e === undefined ? undefined : { ...base, ifindexes: [e.device.ifindex], ...(e.programId ? { programId: e.programId } : {}) };
  }
  if (map instanceof CpuMap) {
    const e = map.entry(r.key);
    return e === undefined ? undefined : { ...base, cpu: e.cpu, ...(e.programId ? { programId: e.programId } : {}) };
  }
  if (map instanceof XskMap) {
    const e = map.entry(r.key);
    return e === undefined ? undefined : { ...base, xsk: e.socket };
  }
  return undefined;
}

/** bpf_redirect_map for the maps of `registry`, devices from `host`. */
export function redirectMapHelpers(registry: MapRegistry, host: VmHost): Map<number, Helper> {
  bindHostEnvironment(registry, host);
  return new Map<number, Helper>([
    [BPF_FUNC_redirect_map, (ctx) => {
      sameMemory(registry, ctx);
      const map = mapArg(registry, ctx, 1);
      const index = ctx.argU32(2);
      const flags = ctx.arg(3);
      let found: boolean;
      let flagMask = 0n;
      if (map instanceof DevMap || map instanceof DevMapHash) {
        flagMask = BigInt(BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS);
        found = map.entry(index) !== undefined;
      } else if (map instanceof CpuMap || map instanceof XskMap) {
        found = map.entry(index) !== undefined;
      } else {
        throw new VmError(`bpf_redirect_map: ${mapTypeName(map.type)} is not a devmap, cpumap or xskmap (the verifier refuses it)`, ctx.index);
      }
      if (flags & ~(ACTION_MASK | flagMask)) return XDP_ABORTED;
      if (!found && !(flags & BigInt(BPF_F_BROADCAST))) {
        records.delete(ctx.memory);
        return Number(flags & ACTION_MASK);
      }
      records.set(ctx.memory, { map, key: index, flags: Number(flags) });
      return XDP_REDIRECT;
    }],
  ]);
}
